// Server-sent events read with fetch() streaming, because EventSource cannot send the X-API-Key header.
// A dropped connection is opened again (backoff 1 s → 15 s) with Last-Event-ID, so no event is lost;
// a refused key (401/403) stops the stream and says why.
import { state } from "./core.js";

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

function parse(block) {
  const event = { id: null, type: "message", data: [] };
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;  // ": keep-alive" comments
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") event.id = value;
    else if (field === "event") event.type = value;
    else if (field === "data") event.data.push(value);
  }
  return event.data.length ? { ...event, data: event.data.join("\n") } : null;
}

/**
 * Follow an event stream for as long as the page lives.
 * onEvent(type, data, id) gets each event (data parsed as JSON); onState("open" | "retry" | "refused", detail).
 */
export async function follow(path, { onEvent, onState }) {
  let lastId = null, delay = 1000;
  for (;;) {
    try {
      const headers = { "X-API-Key": state.key, Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const response = await fetch(path, { headers, cache: "no-store" });
      if (response.status === 401 || response.status === 403) {
        onState("refused", `${response.status}`);
        return;
      }
      if (!response.ok) throw new Error(`${response.status}`);
      onState("open", "");
      delay = 1000;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer = (buffer + value).replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = parse(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (!event) continue;
          if (event.id) lastId = event.id;
          onEvent(event.type, JSON.parse(event.data), event.id);
        }
      }
      onState("retry", "closed");
    } catch (error) {
      onState("retry", error.message);
    }
    await sleep(delay);
    delay = Math.min(2 * delay, 15000);
  }
}
