// 清运 Qingyun map page: a small SVG renderer, no external library (nothing is fetched from the internet).
// Draws the road network, each truck's route in its own colour with numbered stops and ETAs, the plan's
// KPIs, violations with their evidence points and explanation, and track playback with a time slider.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const MAJOR = new Set(["motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary"]);
const KPI_LABELS = [
  ["clearance_rate", "清运率 / clearance rate", v => (100 * v).toFixed(1) + " %"],
  ["collected_t", "收运量 / collected", v => v.toFixed(1) + " t"],
  ["demand_t", "产生量 / demand", v => v.toFixed(1) + " t"],
  ["distance_km", "行驶里程 / distance", v => v.toFixed(1) + " km"],
  ["hours", "工时 / crew hours", v => v.toFixed(1) + " h"],
  ["stops", "收集点 / stops", v => String(v)],
  ["unload_visits", "卸载次数 / unloads", v => String(v)],
  ["vehicles_used", "出车 / trucks used", v => String(v)],
  ["utilisation", "装载率 / utilisation", v => (100 * v).toFixed(1) + " %"],
  ["overtime_h", "加班 / overtime", v => v.toFixed(1) + " h"],
  ["longest_shift_h", "最长班次 / longest shift", v => v.toFixed(2) + " h"],
  ["shortest_shift_h", "最短班次 / shortest shift", v => v.toFixed(2) + " h"],
];
const SEVERITY = { high: "严重 / severe", medium: "一般 / moderate", low: "轻微 / minor" };

const state = { key: localStorage.getItem("qingyun.key") || "", origin: null, k: 1, view: null, track: [], timer: null };
const $ = id => document.getElementById(id);

function el(name, attrs = {}, parent = null, ns = SVG_NS) {
  const node = ns ? document.createElementNS(ns, name) : document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}
const html = (name, attrs, parent) => el(name, attrs, parent, null);

async function api(path) {
  const response = await fetch(path, { headers: { "X-API-Key": state.key } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch (e) { /* not JSON */ }
    throw new Error(`${response.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  return response.json();
}

// --- projection: equirectangular around the network's centre, metres, y up -> SVG y down ---------
function project(lon, lat) {
  const [lon0, lat0] = state.origin;
  return [(lon - lon0) * 111320 * Math.cos(lat0 * Math.PI / 180), -(lat - lat0) * 110540];
}
const pathOf = coords => coords.map((c, i) => (i ? "L" : "M") + project(c[0], c[1]).map(v => v.toFixed(1)).join(" ")).join("");

function fit(bbox) {
  const [a, b] = [project(bbox[0], bbox[1]), project(bbox[2], bbox[3])];
  state.view = { x: Math.min(a[0], b[0]), y: Math.min(a[1], b[1]), w: Math.abs(b[0] - a[0]), h: Math.abs(b[1] - a[1]) };
  applyView();
}

function applyView() {
  const svg = $("map"), v = state.view;
  svg.setAttribute("viewBox", `${v.x} ${v.y} ${v.w} ${v.h}`);
  const box = svg.getBoundingClientRect();
  state.k = Math.max(v.w / Math.max(box.width, 1), v.h / Math.max(box.height, 1));  // metres per pixel
  for (const c of document.querySelectorAll("circle[data-px]")) c.setAttribute("r", c.dataset.px * state.k);
  for (const t of document.querySelectorAll("text[data-px]")) t.setAttribute("font-size", t.dataset.px * state.k);
  for (const r of document.querySelectorAll("rect[data-px]")) {
    const s = r.dataset.px * state.k;
    r.setAttribute("width", 2 * s); r.setAttribute("height", 2 * s);
    r.setAttribute("x", r.dataset.cx - s); r.setAttribute("y", r.dataset.cy - s);
  }
  for (const p of document.querySelectorAll("path[data-marker]")) {
    const s = 7 * state.k, [x, y] = [Number(p.dataset.cx), Number(p.dataset.cy)];
    p.setAttribute("d", `M${x} ${y - s}L${x + s} ${y + s * .8}L${x - s} ${y + s * .8}Z`);
  }
}

function enablePanZoom() {
  const svg = $("map");
  svg.addEventListener("wheel", e => {
    e.preventDefault();
    const box = svg.getBoundingClientRect(), v = state.view, f = e.deltaY > 0 ? 1.25 : 0.8;
    const mx = v.x + (e.clientX - box.left) / box.width * v.w, my = v.y + (e.clientY - box.top) / box.height * v.h;
    state.view = { x: mx - (mx - v.x) * f, y: my - (my - v.y) * f, w: v.w * f, h: v.h * f };
    applyView();
  }, { passive: false });
  let drag = null;
  svg.addEventListener("mousedown", e => { drag = { x: e.clientX, y: e.clientY, v: { ...state.view } }; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", e => {
    if (!drag) return;
    const box = svg.getBoundingClientRect();
    state.view = { ...drag.v, x: drag.v.x - (e.clientX - drag.x) / box.width * drag.v.w, y: drag.v.y - (e.clientY - drag.y) / box.height * drag.v.h };
    applyView();
  });
  window.addEventListener("resize", applyView);
}

// --- layers ---------------------------------------------------------------------------------------
async function drawRoads() {
  const net = await api("/network/roads");
  state.origin = [(net.bbox[0] + net.bbox[2]) / 2, (net.bbox[1] + net.bbox[3]) / 2];
  const major = [], minor = [];
  for (const [highway, coords] of net.roads) (MAJOR.has(highway) ? major : minor).push(pathOf(coords));
  const g = $("roads");
  g.replaceChildren();
  el("path", { class: "road minor", d: minor.join("") }, g);
  el("path", { class: "road major", d: major.join("") }, g);
  g.dataset.roads = String(net.roads.length);
  fit(net.bbox);
}

function marker(parent, kind, lon, lat, colour, px, label) {
  const [x, y] = project(lon, lat);
  const g = el("g", { class: kind }, parent);
  if (kind === "stop") {
    el("circle", { cx: x, cy: y, r: px * state.k, fill: colour, "data-px": px }, g);
    if (label) { const t = el("text", { x, y, "data-px": 9, "font-size": 9 * state.k }, g); t.textContent = label; }
  } else {
    el("rect", { fill: colour, "data-px": px, "data-cx": x, "data-cy": y, x: x - px * state.k, y: y - px * state.k, width: 2 * px * state.k, height: 2 * px * state.k }, g);
  }
  return g;
}

const clock = iso => iso.slice(11, 16);

async function showPlan(id) {
  $("routes").replaceChildren(); $("stops").replaceChildren(); $("kpi").replaceChildren();
  $("route-list").replaceChildren(); $("stop-table").replaceChildren();
  if (!id) return;
  const body = await api(`/plans/${id}`);
  $("plan-status").textContent = `状态 / status: ${body.status}` + (body.progress && body.progress.best_cost ? ` · 当前最优成本 / best cost ${body.progress.best_cost}` : "");
  if (body.status !== "succeeded") return;
  const plan = body.plan, geo = await api(`/plans/${id}/routes.geojson`);
  for (const [key, label, format] of KPI_LABELS) {
    if (plan.kpi[key] === undefined) continue;
    const tr = html("tr", {}, $("kpi"));
    html("td", {}, tr).textContent = label;
    html("td", { class: "v", "data-kpi": key }, tr).textContent = format(plan.kpi[key]);
  }
  if (plan.unserved.length) {
    const tr = html("tr", {}, $("kpi"));
    html("td", {}, tr).textContent = "未收运 / unserved";
    html("td", { class: "v" }, tr).textContent = plan.unserved.length;
  }
  for (const f of geo.features) {
    const p = f.properties;
    if (p.kind === "route") {
      el("path", { class: "route", d: pathOf(f.geometry.coordinates), stroke: p.colour, "data-vehicle": p.vehicle_id }, $("routes"));
    } else {
      const [lon, lat] = f.geometry.coordinates;
      const g = marker($("stops"), p.kind === "site" ? "stop" : p.kind, lon, lat, p.kind === "site" ? p.colour : (p.kind === "depot" ? "#000" : "#fff"),
        p.kind === "site" ? 6 : 5, p.kind === "site" ? String(p.number) : null);
      g.dataset.vehicle = p.vehicle_id;
      const title = el("title", {}, g);
      title.textContent = `${p.kind_label} ${p.id}${p.number ? " #" + p.number : ""} · ${p.vehicle_id} · 到达 / ETA ${clock(p.arrival)}`;
    }
  }
  for (const route of plan.routes) {
    const li = html("li", { "data-vehicle": route.vehicle_id }, $("route-list"));
    const sites = route.stops.filter(s => s.kind === "site").length;
    const km = route.stops.reduce((a, s) => a + s.leg_distance_m, 0) / 1000;
    html("span", { class: "swatch", style: `background:${route.colour}` }, li);
    li.append(`${route.vehicle_id} · ${sites} 点 stops · ${km.toFixed(1)} km · ${clock(route.stops[0].departure)}–${clock(route.stops[route.stops.length - 1].arrival)}`);
    li.addEventListener("click", () => selectRoute(route, li));
  }
  applyView();
}

function selectRoute(route, li) {
  for (const other of document.querySelectorAll("#route-list li")) other.classList.toggle("selected", other === li);
  for (const path of document.querySelectorAll("#routes .route")) path.classList.toggle("dim", path.dataset.vehicle !== route.vehicle_id);
  for (const stop of document.querySelectorAll("#stops g")) stop.classList.toggle("dim", stop.dataset.vehicle !== route.vehicle_id);
  const table = $("stop-table");
  table.replaceChildren();
  const head = html("tr", {}, table);
  for (const h of ["#", "到达 / ETA", "离开 / leaves", "地点 / place"]) html("th", {}, head).textContent = h;
  let n = 0;
  for (const s of route.stops) {
    const tr = html("tr", {}, table);
    html("td", {}, tr).textContent = s.kind === "site" ? ++n : { depot: "车场", facility: "卸", break: "休" }[s.kind];
    html("td", {}, tr).textContent = clock(s.arrival);
    html("td", {}, tr).textContent = clock(s.departure);
    html("td", {}, tr).textContent = s.id;
  }
}

async function showViolations() {
  const list = $("violation-list"), layer = $("violations");
  list.replaceChildren(); layer.replaceChildren();
  let body;
  try { body = await api("/violations?limit=200"); } catch (e) { $("violation-status").textContent = `无权限或无数据 / not available: ${e.message}`; return; }
  $("violation-status").textContent = `共 / total ${body.total}`;
  for (const v of body.items) {
    const li = html("li", { class: `sev-${v.severity}`, "data-violation": v.id }, list);
    li.textContent = `${v.start.slice(5, 16).replace("T", " ")} ${v.type_label} · ${v.device} · ${SEVERITY[v.severity] || v.severity}`;
    const [x, y] = project(v.lon, v.lat);
    const g = el("g", { class: "violation", "data-violation": v.id }, layer);
    el("path", { "data-marker": 1, "data-cx": x, "data-cy": y }, g);
    const pick = () => showViolation(v, li);
    li.addEventListener("click", pick);
    g.addEventListener("click", pick);
  }
  applyView();
}

function showViolation(v, li) {
  for (const other of document.querySelectorAll("#violation-list li")) other.classList.toggle("selected", other === li);
  for (const old of document.querySelectorAll("#violations .evidence")) old.remove();
  const g = el("g", { class: "evidence" }, $("violations"));
  el("polyline", { points: v.evidence.map(p => project(p.lon, p.lat).join(",")).join(" ") }, g);
  for (const p of v.evidence) {
    const [x, y] = project(p.lon, p.lat);
    const c = el("circle", { cx: x, cy: y, r: 4 * state.k, "data-px": 4 }, g);
    el("title", {}, c).textContent = `${p.time.slice(11, 19)} · ${p.speed_kmh} km/h`;
  }
  const d = $("violation-detail");
  d.replaceChildren();
  html("b", {}, d).textContent = `${v.type_label} · ${v.severity_label}`;
  html("div", {}, d).textContent = `${v.device} · ${v.company || "—"} · ${v.start.slice(0, 19).replace("T", " ")} – ${v.end.slice(11, 19)}`;
  html("p", {}, d).textContent = v.explanation.zh;
  html("p", { class: "muted" }, d).textContent = v.explanation.en;
  html("div", { class: "muted" }, d).textContent = `证据点 / evidence points: ${v.evidence.length}`;
}

async function loadTrack(vehicle) {
  const body = await api(`/vehicles/${encodeURIComponent(vehicle)}/track`);
  state.track = body.points;
  const layer = $("track");
  layer.replaceChildren();
  if (!state.track.length) { $("track-time").textContent = "无轨迹 / no positions"; return; }
  el("path", { class: "track-line", d: pathOf(state.track.map(p => [p.lon, p.lat])) }, layer);
  el("circle", { id: "track-head", class: "track-head", r: 6 * state.k, "data-px": 6 }, layer);
  const slider = $("track-slider");
  slider.max = String(state.track.length - 1); slider.value = "0"; slider.disabled = false; $("track-play").disabled = false;
  moveHead(0);
}

function moveHead(i) {
  const p = state.track[i], [x, y] = project(p.lon, p.lat), head = $("track-head");
  head.setAttribute("cx", x); head.setAttribute("cy", y);
  $("track-time").textContent = `${p.time.replace("T", " ")} · ${p.speed_kmh.toFixed(0)} km/h · 载重 / load ${p.load}`;
}

function togglePlay() {
  if (state.timer) { clearInterval(state.timer); state.timer = null; return; }
  const slider = $("track-slider");
  state.timer = setInterval(() => {
    const i = Number(slider.value) + 1;
    if (i >= state.track.length) { clearInterval(state.timer); state.timer = null; return; }
    slider.value = String(i); moveHead(i);
  }, 100);
}

async function start() {
  $("key").value = state.key;
  enablePanZoom();
  if (!state.key) { $("plan-status").textContent = "请先输入 API 密钥 / enter an API key first"; return; }
  await drawRoads();
  const wanted = new URLSearchParams(location.search).get("plan");
  let plans = [];
  try { plans = (await api("/plans?limit=100")).items; } catch (e) { $("plan-status").textContent = `方案不可用 / plans not available: ${e.message}`; }
  const select = $("plan-select");
  select.replaceChildren();
  for (const p of plans) {
    const option = html("option", { value: p.id }, select);
    option.textContent = `${p.name} · ${p.created_at.slice(0, 16).replace("T", " ")} · ${p.status}`;
  }
  const first = plans.find(p => p.id === wanted) || plans.find(p => p.status === "succeeded");
  if (first) { select.value = first.id; await showPlan(first.id); }
  select.addEventListener("change", () => showPlan(select.value));
  await showViolations();
  document.body.dataset.ready = "1";
}

$("key-form").addEventListener("submit", e => { e.preventDefault(); localStorage.setItem("qingyun.key", $("key").value.trim()); location.reload(); });
$("track-form").addEventListener("submit", e => { e.preventDefault(); loadTrack($("track-vehicle").value.trim()).catch(err => { $("track-time").textContent = err.message; }); });
$("track-slider").addEventListener("input", e => moveHead(Number(e.target.value)));
$("track-play").addEventListener("click", togglePlay);
start().catch(err => { $("plan-status").textContent = `错误 / error: ${err.message}`; document.body.dataset.ready = "error"; });
