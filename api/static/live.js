// 清运 Qingyun map page, the supervisor's live view: trucks moving as their fixes arrive (/live, /live/stream),
// alarms appearing with a highlight and a beep (/alarms/stream), an alarm's evidence and its truck's last
// 30 minutes, acknowledge and handle (处置), the found-and-handled rate, and a text to the terminal (0x8300).
import { $, api, chinaIso, clockOf, html, ll, renderers, shown, state } from "./core.js";
import { SEVERITY, evidenceLayer } from "./plans.js";
import { follow } from "./stream.js";

export const trucks = new Map();   // device → Leaflet marker, its latest truck object in marker.truck
export const alarms = new Map();   // alarm id → the latest alarm object
const view = { selected: null, trail: null, kpiTimer: null, audio: null, alarmsRead: false };
const STATE = { open: "未处理 / open", acknowledged: "已确认 / acknowledged", handled: "已处置 / handled", closed: "已关闭 / closed" };
const EVENT = { start: "报警开始 / started", update: "已更新 / updated", end: "已结束 / ended", withdrawn: "已撤销 / withdrawn", acknowledged: "已确认 / acknowledged", handled: "已处置 / handled" };
const COMMAND = { queued: "已排队 / queued", sent: "已发送 / sent", answered: "已应答 / answered", expired: "已过期 / expired", failed: "失败 / failed" };
const TRAIL_MS = 30 * 60 * 1000;

// --- trucks ---------------------------------------------------------------------------------------
function truckLabel(t) {
  return `${t.plate || t.device} · ${t.company || "—"} · ${Math.round(t.speed_kmh)} km/h · ${shown(t.time)}` +
    (t.online ? "" : " · 离线 / offline") + (t.open_alarms ? ` · 报警 / alarms ${t.open_alarms}` : "");
}

/** Place or move a truck's marker; a fix older than the one shown (a late upload) never moves it back. */
export function placeTruck(t) {
  let marker = trucks.get(t.device);
  if (marker && Date.parse(t.time) < Date.parse(marker.truck.time)) return;
  if (!marker) {
    const icon = L.divIcon({ className: "truck", html: "<i></i>", iconSize: [18, 18] });
    marker = L.marker(ll(t.lon, t.lat), { icon, pane: "trucks", keyboard: false }).bindTooltip("").addTo(state.map);
    marker.getElement().dataset.device = t.device;
    marker.on("click", () => { $("track-vehicle").value = t.device; $("command-phone").value = t.device; });
    trucks.set(t.device, marker);
  }
  marker.truck = t;
  marker.setLatLng(ll(t.lon, t.lat));
  marker.setTooltipContent(truckLabel(t));
  const el = marker.getElement();
  el.classList.toggle("offline", !t.online);
  markAlarmed(t.device);
  el.firstChild.style.transform = `rotate(${t.heading || 0}deg)`;
  el.dataset.time = t.time;
  liveStatus();
}

const unhandled = a => !a.withdrawn && (a.state === "open" || a.state === "acknowledged");

/** Red while the truck has an alarm nobody handled: from the alarm list when the key reads alarms, else from /live. */
function markAlarmed(device) {
  const marker = trucks.get(device);
  if (!marker) return;
  const alarmed = view.alarmsRead
    ? [...alarms.values()].some(a => a.device === device && unhandled(a))
    : marker.truck.open_alarms > 0;
  marker.getElement().classList.toggle("alarm", alarmed);
}

function liveStatus() {
  const waiting = [...alarms.values()].filter(unhandled).length;
  const online = [...trucks.values()].filter(m => m.truck.online).length;
  $("live-count").textContent = `车辆 / trucks ${trucks.size} · 在线 / online ${online} · 待处置报警 / alarms to handle ${waiting}`;
}

// --- alarms ---------------------------------------------------------------------------------------
/** A short two-tone beep (WebAudio, no sound file); a page without audio keeps the visual cue only. */
export function beep() {
  if (!$("alarm-sound").checked) return;
  try {
    view.audio = view.audio || new AudioContext();
    if (view.audio.state === "suspended") view.audio.resume();
    const t = view.audio.currentTime, gain = view.audio.createGain();
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.3, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.45);
    gain.connect(view.audio.destination);
    for (const [freq, at] of [[880, 0], [660, 0.22]]) {
      const osc = view.audio.createOscillator();
      osc.frequency.value = freq;
      osc.connect(gain);
      osc.start(t + at); osc.stop(t + at + 0.2);
    }
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
  } catch (e) { /* no audio output: the highlighted row remains the cue */ }
}

function alarmText(a) {
  const truck = trucks.get(a.device);
  const who = truck && truck.truck.plate ? `${truck.truck.plate} (${a.device})` : a.device;
  return `${clockOf(a.started_at)} ${a.evidence.type_label} · ${who} · ${SEVERITY[a.severity] || a.severity} · ` +
    (a.withdrawn ? "已撤销 / withdrawn" : STATE[a.state]) + (a.late ? " · 迟到 / late" : "");
}

/** Add or refresh an alarm's row (newest on top); a new alarm flashes and beeps. */
export function showAlarm(a, { fresh = false } = {}) {
  alarms.set(a.id, a);
  let li = document.querySelector(`#alarm-list li[data-alarm="${a.id}"]`);
  if (!li) {
    li = html("li", { "data-alarm": String(a.id) });
    $("alarm-list").prepend(li);
    li.addEventListener("click", () => selectAlarm(a.id));
  }
  li.className = `sev-${a.severity} state-${a.state}` + (a.withdrawn ? " withdrawn" : "") + (li.classList.contains("selected") ? " selected" : "");
  li.textContent = alarmText(a);
  if (fresh) {
    li.classList.add("flash");
    setTimeout(() => li.classList.remove("flash"), 6000);
    beep();
  }
  if (view.selected === a.id) alarmDetail(a);
  markAlarmed(a.device);
  liveStatus();
}

function onAlarmEvent(type, data) {
  if (type !== "alarm") return;
  // a start replayed after a reconnect, or one older than 5 minutes, is shown without the cue
  const recent = Date.now() - Date.parse(data.published_at || data.raised_at) < 300_000;
  showAlarm(data, { fresh: data.event === "start" && recent && !alarms.has(data.id) });
  $("alarm-last").textContent = `${EVENT[data.event] || data.event} · ${clockOf(data.published_at || data.raised_at)}`;
  if (view.alarmsRead && ["start", "handled", "withdrawn"].includes(data.event)) refreshKpis();
}

/** Today's found-and-handled rate (handled ÷ raised, withdrawn alarms not counted), China time. */
export function refreshKpis() {
  clearTimeout(view.kpiTimer);
  view.kpiTimer = setTimeout(async () => {
    const since = chinaIso(Date.now()).slice(0, 10) + "T00:00:00+08:00";
    try {
      const k = (await api(`/alarms/kpis?since=${encodeURIComponent(since)}`)).total;
      const rate = k.handled_rate === null ? "—" : (100 * k.handled_rate).toFixed(1) + " %";
      const el = $("alarm-rate");
      el.textContent = rate;
      el.dataset.rate = k.handled_rate === null ? "" : String(k.handled_rate);
      $("alarm-rate-detail").textContent = `已处置 / handled ${k.handled} · 报警 / raised ${k.raised}` +
        (k.to_handle.median_s === null ? "" : ` · 处置用时中位 / median to handle ${Math.round(k.to_handle.median_s / 60)} min`);
    } catch (e) { $("alarm-rate-detail").textContent = e.message; }
  }, 200);
}

/** Restricted zones (red) and registered sites (green) under the trucks, their name and schedule on hover. */
async function drawZones() {
  let zones;
  try { zones = await api("/zones"); } catch (e) { return; }  // a role that may not read zones sees none
  const group = L.layerGroup().addTo(state.map);
  for (const f of zones.features) {
    const p = f.properties, restricted = p.kind === "restricted";
    const polygons = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
    const hours = (p.schedule || []).map(w => `${w.start.slice(0, 5)}–${w.end.slice(0, 5)}`).join(", ") || "全天 / all day";
    L.polygon(polygons.map(rings => rings.map(ring => ring.map(c => ll(c[0], c[1])))), {
      renderer: renderers.zones, pane: "zones", className: restricted ? "zone-restricted" : "zone-site",
      color: restricted ? "#d0021b" : "#0b8f4d", weight: 1.5, fillOpacity: 0.12,
    }).bindTooltip(`${restricted ? "禁区 / restricted" : "核准场所 / approved site"} · ${p.name || p.id} · ${hours}`).addTo(group);
  }
}

// --- one alarm ------------------------------------------------------------------------------------
function row(parent, label, value) {
  const tr = html("tr", {}, parent);
  html("th", {}, tr).textContent = label;
  html("td", {}, tr).textContent = value;
}

function alarmDetail(a) {
  const v = a.evidence, box = $("alarm-info");
  box.replaceChildren();
  html("b", {}, box).textContent = `${v.type_label} · ${v.severity_label}`;
  const table = html("table", { class: "kv" }, box);
  row(table, "车辆 / truck", `${a.device} · ${a.company || "—"}` + (a.permit_id ? ` · 核准 / permit ${a.permit_id}` : ""));
  if (a.zone_id) row(table, "区域 / zone", a.zone_id);
  row(table, "开始 / started", shown(a.started_at));
  row(table, "结束 / ended", a.ended_at ? shown(a.ended_at) : "进行中 / ongoing");
  row(table, "报警 / raised", shown(a.raised_at) + (a.late ? " · 迟到上传 / uploaded late" : ""));
  row(table, "状态 / state", a.withdrawn ? "已撤销 / withdrawn" : STATE[a.state]);
  if (a.acknowledged_at) row(table, "确认 / acknowledged", `${shown(a.acknowledged_at)} · ${a.acknowledged_by}`);
  if (a.handled_at) row(table, "处置 / handled", `${shown(a.handled_at)} · ${a.handled_by} · ${a.note}`);
  html("p", { class: "zh" }, box).textContent = v.explanation.zh;
  html("p", { class: "muted en" }, box).textContent = v.explanation.en;
  html("div", { class: "muted" }, box).textContent = `证据点 / evidence fixes: ${v.evidence.length}`;
  const done = a.withdrawn || ["handled", "closed"].includes(a.state);
  $("alarm-ack").disabled = done || a.state === "acknowledged";
  $("alarm-handle").disabled = done;
}

/** The truck's last 30 minutes up to its latest fix (or the episode's last evidence), and the evidence fixes. */
async function drawTrail(a) {
  if (view.trail) view.trail.remove();
  const group = L.layerGroup().addTo(state.map);
  view.trail = group;
  const points = a.evidence.evidence;
  const ends = [a.ended_at, points.length ? points[points.length - 1].time : null, trucks.get(a.device)?.truck.time];
  const end = Math.max(...ends.filter(Boolean).map(Date.parse));
  const query = `from=${encodeURIComponent(chinaIso(end - TRAIL_MS))}&to=${encodeURIComponent(chinaIso(end + 1000))}`;
  const track = await api(`/vehicles/${encodeURIComponent(a.device)}/track?${query}`);
  const line = track.points.map(p => ll(p.lon, p.lat));
  if (line.length) L.polyline(line, { renderer: renderers.alarm, pane: "alarm", className: "alarm-trail", color: "#1f5fbf", weight: 3 }).addTo(group);
  evidenceLayer(points, { pane: "alarm", className: "alarm-evidence" }).addTo(group);
  $("alarm-trail-note").textContent = `近 30 分钟轨迹 / last 30 min: ${track.points.length} 点 / fixes, ${shown(chinaIso(end - TRAIL_MS))} – ${clockOf(chinaIso(end))}`;
  const bounds = L.latLngBounds([...line, ...points.map(p => ll(p.lon, p.lat))]);
  if (bounds.isValid()) state.map.fitBounds(bounds, { maxZoom: 17, padding: [30, 30] });
}

export async function selectAlarm(id) {
  view.selected = id;
  for (const li of document.querySelectorAll("#alarm-list li")) li.classList.toggle("selected", li.dataset.alarm === String(id));
  const a = alarms.get(id);
  $("alarm-detail").hidden = false;
  $("alarm-action-status").textContent = "";
  $("command-phone").value = a.device;
  alarmDetail(a);
  try { await drawTrail(a); } catch (e) { $("alarm-trail-note").textContent = `轨迹不可用 / track not available: ${e.message}`; }
}

async function act(path, body) {
  const status = $("alarm-action-status");
  try {
    showAlarm(await api(path, { method: "POST", body }));
    status.textContent = "已保存 / saved";
    refreshKpis();
  } catch (e) { status.textContent = `失败 / failed: ${e.message}`; }
}

function handleBody() {
  const note = $("alarm-note").value.trim(), text = $("alarm-evidence").value.trim();
  let evidence = null;
  if (text) {
    try { evidence = JSON.parse(text); } catch (e) { evidence = null; }
    if (evidence === null || typeof evidence !== "object" || Array.isArray(evidence)) evidence = { text };
  }
  return { note, evidence };
}

// --- text to the terminal (JT/T 808 0x8300) ----------------------------------------------------------
function commandState(c) {
  const out = $("command-state");
  const seen = c.last_seen ? ` · 终端最后上报 / terminal last seen ${shown(c.last_seen)}` : " · 终端未上报 / terminal never seen";
  out.textContent = `${COMMAND[c.state] || c.state} (${c.outcome}) · ${shown(c.answered_at || c.sent_at || c.created_at)}` +
    (c.state === "queued" ? ` · 有效至 / expires ${shown(c.expires_at)}${seen}` : "");
  out.dataset.state = c.state;
}

/** Queue the text, then follow it until the terminal answers (0x0001) or it expires (polled every 2 s, up to 2 min). */
async function sendText(event) {
  event.preventDefault();
  const phone = $("command-phone").value.trim(), text = $("command-text").value.trim(), out = $("command-state");
  try {
    const [command] = await api(`/terminals/${encodeURIComponent(phone)}/commands`, { method: "POST", body: { kind: "text", text } });
    commandState(command);
    for (let i = 0; i < 60 && ["queued", "sent"].includes(out.dataset.state); i++) {
      await new Promise(resolve => setTimeout(resolve, 2000));
      commandState(await api(`/commands/${command.id}`));
    }
  } catch (e) { out.textContent = `失败 / failed: ${e.message}`; out.dataset.state = "error"; }
}

/** Trucks and alarms as they are now, then both streams; a role without alarms still sees its trucks. */
export async function startLive() {
  $("alarm-ack").addEventListener("click", () => act(`/alarms/${view.selected}/ack`, undefined));
  $("alarm-handle-form").addEventListener("submit", e => { e.preventDefault(); act(`/alarms/${view.selected}/handle`, handleBody()); });
  $("command-form").addEventListener("submit", sendText);
  document.addEventListener("click", () => view.audio && view.audio.resume(), { once: true });
  try {
    for (const t of (await api("/live")).trucks) placeTruck(t);
    liveStatus();
  } catch (e) { $("live-count").textContent = `实时位置不可用 / live positions not available: ${e.message}`; }
  const shownState = (el) => (kind, detail) => { el.textContent = { open: "已连接 / connected", retry: `重连中 / reconnecting (${detail})`, refused: `无权限 / not permitted (${detail})` }[kind]; el.dataset.state = kind; };
  follow("/live/stream", { onEvent: (type, data) => { if (type === "position") placeTruck(data); }, onState: shownState($("live-stream")) });
  try {  // the stored list and the KPIs are the supervisor's; a dispatcher still gets its own fleet's alarms live
    const listed = (await api("/alarms?limit=100")).reverse();
    view.alarmsRead = true;
    for (const a of listed) showAlarm(a);
    refreshKpis();
    await drawZones();
  } catch (e) { $("alarm-last").textContent = `报警列表不可用 / alarm list not available: ${e.message}`; }
  follow("/alarms/stream", { onEvent: onAlarmEvent, onState: shownState($("alarm-stream")) });
}
