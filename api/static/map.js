// 清运 Qingyun map page (Leaflet, vendored under /static/vendor/leaflet: nothing is fetched from the internet).
// Offline by default it draws the service's road network; a basemap set with QINGYUN_MAP_TILE_URL goes under it.
import { $, api, drawRoads, initMap, state } from "./core.js";
import { startLive } from "./live.js";
import { loadTrack, moveHead, showPlan, showViolations, togglePlay } from "./plans.js";
import { sweepPlans } from "./sweeping.js";

async function plans() {
  const wanted = new URLSearchParams(location.search).get("plan");
  let items = [];
  try { items = (await api("/plans?limit=100")).items; } catch (e) { $("plan-status").textContent = `方案不可用 / plans not available: ${e.message}`; }
  const select = $("plan-select");
  select.replaceChildren();
  for (const p of items) {
    const option = document.createElement("option");
    option.value = p.id;
    option.textContent = `${p.name} · ${p.created_at.slice(0, 16).replace("T", " ")} · ${p.status}`;
    select.appendChild(option);
  }
  const first = items.find(p => p.id === wanted) || items.find(p => p.status === "succeeded");
  if (first) { select.value = first.id; await showPlan(first.id); }
  select.addEventListener("change", () => showPlan(select.value));
}

async function start() {
  $("key").value = state.key;
  if (!state.key) {
    initMap({ tile_url: null });
    $("plan-status").textContent = "请先输入 API 密钥 / enter an API key first";
    return;
  }
  initMap(await api("/map/config"));
  await drawRoads();
  await plans();
  await sweepPlans();
  await showViolations();
  await startLive();
  document.body.dataset.ready = "1";
}

$("key-form").addEventListener("submit", e => { e.preventDefault(); localStorage.setItem("qingyun.key", $("key").value.trim()); location.reload(); });
$("track-form").addEventListener("submit", e => { e.preventDefault(); loadTrack($("track-vehicle").value.trim()).catch(err => { $("track-time").textContent = err.message; }); });
$("track-slider").addEventListener("input", e => moveHead(Number(e.target.value)));
$("track-play").addEventListener("click", togglePlay);
start().catch(err => { $("plan-status").textContent = `错误 / error: ${err.message}`; document.body.dataset.ready = "error"; });
