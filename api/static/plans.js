// 清运 Qingyun map page, the dispatcher's and the auditor's layers: a plan's routes coloured by territory (网格),
// each territory's service area and a legend naming it with its trucks, numbered stops with ETAs and KPIs; the
// audit's violations with their evidence; a truck's track played back on a slider.
import { $, api, clockOf, hideLegend, html, legend, ll, renderers, shown, state } from "./core.js";

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
export const SEVERITY = { high: "严重 / severe", medium: "一般 / moderate", low: "轻微 / minor" };
const PLACE = { depot: "车场 / depot", facility: "卸 / unload", break: "休 / break", wait: "等 / wait" };

const layers = { plan: null, violations: null, evidence: null, track: null, head: null, points: [], timer: null };
const hm = iso => iso.slice(11, 16);

function clear(name) {
  if (layers[name]) layers[name].remove();
  layers[name] = null;
}

/** A marker whose icon is a styled element (stops, facilities, violations), its title shown on hover. */
function badge(lon, lat, { kind, text = "", colour = null, title = "", pane }) {
  const icon = L.divIcon({ className: kind, html: text, iconSize: null });
  const marker = L.marker(ll(lon, lat), { icon, pane, title, keyboard: false });
  marker.on("add", () => { if (colour) marker.getElement().style.background = colour; });
  return marker;
}

function kpiTable(plan) {
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
}

/** The plan's territories: from its service-area features, or (a plan stored before territories) one per route. */
function territoriesOf(geo) {
  const routes = geo.features.filter(f => f.properties.kind === "route").map(f => f.properties);
  const areas = geo.features.filter(f => f.properties.kind === "territory").map(f => f.properties);
  const listed = areas.map(a => ({ id: a.territory, label: a.label, colour: a.colour, grid: a.grid, vehicles: a.vehicles }));
  for (const r of routes) {
    const id = r.territory ?? r.vehicle_id;
    if (!listed.some(t => t.id === id)) listed.push({ id, label: r.territory_label ?? id, colour: r.colour, grid: false, vehicles: [r.vehicle_id] });
  }
  return listed;
}

/** The territory legend: each territory's colour, its name (zh / en) and, for a grid, its trucks; a click shows
 * that territory alone (its area, routes and stops), a second click all again. */
function territoryLegend(territories, trucks) {
  const box = legend("plan-legend", { title: `片区 / territories ${territories.length} · 车辆 / trucks ${trucks}` });
  const list = html("ul", {}, box);
  const owner = Object.fromEntries(territories.flatMap(t => t.vehicles.map(v => [v, t.id])));
  for (const t of territories) {
    const li = html("li", { "data-territory": t.id, title: "点击只看此片区 / click to show this territory alone" }, list);
    html("span", { class: "swatch", style: `background:${t.colour}` }, li);
    li.append(t.grid ? `${t.label}: ${t.vehicles.join(", ")}` : t.label);
    li.addEventListener("click", () => {
      const alone = !li.classList.contains("selected");
      for (const other of list.children) other.classList.toggle("selected", alone && other === li);
      for (const el of document.querySelectorAll("#territories path.territory, #routes path.route, #stops .leaflet-marker-icon")) {
        const of = el.dataset.territory ?? owner[el.dataset.vehicle];
        el.classList.toggle("dim", alone && of !== t.id);
      }
    });
  }
}

/** One plan: every route in its territory's colour over the territory's service area, numbered stops with ETAs,
 * the territory legend, the KPI table and the route list. */
export async function showPlan(id) {
  clear("plan");
  hideLegend("plan-legend");
  $("kpi").replaceChildren(); $("route-list").replaceChildren(); $("stop-table").replaceChildren();
  if (!id) return;
  const body = await api(`/plans/${id}`);
  $("plan-status").textContent = `状态 / status: ${body.status}` + (body.progress && body.progress.best_cost ? ` · 当前最优成本 / best cost ${body.progress.best_cost}` : "");
  if (body.status !== "succeeded") return;
  const plan = body.plan, geo = await api(`/plans/${id}/routes.geojson`);
  kpiTable(plan);
  const group = L.layerGroup().addTo(state.map);
  layers.plan = group;
  const colours = {};
  const areas = geo.features.filter(f => f.properties.kind === "territory").length;
  const fill = Math.min(.12, Math.max(.03, 1 / Math.max(areas, 1)));  // many overlapping areas stay readable
  for (const f of geo.features) {
    const p = f.properties;
    if (p.kind === "territory") {
      const area = L.polygon(f.geometry.coordinates.map(ring => ring.map(c => ll(c[0], c[1]))), {
        renderer: renderers.territories, pane: "territories", className: "territory", color: p.colour,
        weight: 1, opacity: .6, fillColor: p.colour, fillOpacity: fill, interactive: true,
      }).bindTooltip(`${p.label} · ${p.vehicles.join(", ")} · ${p.area_km2} km²`).addTo(group);
      area.getElement().dataset.territory = p.territory;
    } else if (p.kind === "route") {
      colours[p.vehicle_id] = p.colour;
      const line = L.polyline(f.geometry.coordinates.map(c => ll(c[0], c[1])), {
        renderer: renderers.routes, pane: "routes", color: p.colour, weight: 3, opacity: .85, className: "route",
      }).addTo(group);
      line.getElement().dataset.vehicle = p.vehicle_id;
      line.getElement().dataset.territory = p.territory ?? p.vehicle_id;
    } else if (f.geometry.type === "Point") {
      const [lon, lat] = f.geometry.coordinates;
      const site = p.kind === "site";
      const marker = badge(lon, lat, {
        kind: site ? "stop" : p.kind, text: site ? String(p.number) : "", colour: site ? p.colour : null, pane: "stops",
        title: `${p.kind_label} ${p.id}${p.number ? " #" + p.number : ""} · ${p.vehicle_id} · 到达 / ETA ${hm(p.arrival)}`,
      }).addTo(group);
      marker.getElement().dataset.vehicle = p.vehicle_id;
    }
  }
  territoryLegend(territoriesOf(geo), plan.routes.length);
  for (const route of plan.routes) {
    const li = html("li", { "data-vehicle": route.vehicle_id }, $("route-list"));
    const sites = route.stops.filter(s => s.kind === "site").length;
    const km = route.stops.reduce((a, s) => a + s.leg_distance_m, 0) / 1000;
    html("span", { class: "swatch", style: `background:${colours[route.vehicle_id] || route.colour}` }, li);
    li.append(`${route.vehicle_id} · ${sites} 点 / stops · ${km.toFixed(1)} km · ${hm(route.stops[0].departure)}–${hm(route.stops[route.stops.length - 1].arrival)}`);
    li.addEventListener("click", () => selectRoute(route, li));
  }
}

function selectRoute(route, li) {
  for (const other of document.querySelectorAll("#route-list li")) other.classList.toggle("selected", other === li);
  for (const el of document.querySelectorAll("#routes path.route, #stops .leaflet-marker-icon")) {
    el.classList.toggle("dim", el.dataset.vehicle !== route.vehicle_id);
  }
  const table = $("stop-table");
  table.replaceChildren();
  const head = html("tr", {}, table);
  for (const h of ["#", "到达 / ETA", "离开 / leaves", "地点 / place"]) html("th", {}, head).textContent = h;
  let n = 0;
  for (const s of route.stops) {
    const tr = html("tr", {}, table);
    html("td", {}, tr).textContent = s.kind === "site" ? ++n : (PLACE[s.kind] || s.kind);  // a stop kind added later shows by name
    html("td", {}, tr).textContent = hm(s.arrival);
    html("td", {}, tr).textContent = hm(s.departure);
    html("td", {}, tr).textContent = s.id;
  }
}

/** The audit's violations as triangles on the map and a list; a click shows the evidence. */
export async function showViolations() {
  clear("violations"); clear("evidence");
  const list = $("violation-list");
  list.replaceChildren();
  let body;
  try { body = await api("/violations?limit=200"); } catch (e) { $("violation-status").textContent = `无权限或无数据 / not available: ${e.message}`; return; }
  $("violation-status").textContent = `共 / total ${body.total}`;
  layers.violations = L.layerGroup().addTo(state.map);
  for (const v of body.items) {
    const li = html("li", { class: `sev-${v.severity}`, "data-violation": v.id }, list);
    li.textContent = `${shown(v.start).slice(5, 16)} ${v.type_label} · ${v.device} · ${SEVERITY[v.severity] || v.severity}`;
    const marker = badge(v.lon, v.lat, { kind: "violation", pane: "violations", title: v.type_label }).addTo(layers.violations);
    const pick = () => showViolation(v, li);
    li.addEventListener("click", pick);
    marker.on("click", pick);
  }
}

/** Evidence fixes (circles, their time on hover) joined by a dashed line; shared with the alarm view. */
export function evidenceLayer(points, { pane, className }) {
  const group = L.layerGroup();
  const renderer = renderers[pane];
  L.polyline(points.map(p => ll(p.lon, p.lat)), { renderer, pane, className: `${className}-line`, color: "#b00020", weight: 2, dashArray: "3 2" }).addTo(group);
  for (const p of points) {
    L.circleMarker(ll(p.lon, p.lat), { renderer, pane, className, radius: 5, color: "#b00020", fillColor: "#ff5a5a", fillOpacity: 1, weight: 1 })
      .bindTooltip(`${shown(p.time)} · ${p.speed_kmh} km/h`).addTo(group);
  }
  return group;
}

function showViolation(v, li) {
  for (const other of document.querySelectorAll("#violation-list li")) other.classList.toggle("selected", other === li);
  clear("evidence");
  layers.evidence = evidenceLayer(v.evidence, { pane: "violations", className: "evidence" }).addTo(state.map);
  const d = $("violation-detail");
  d.replaceChildren();
  html("b", {}, d).textContent = `${v.type_label} · ${v.severity_label}`;
  html("div", {}, d).textContent = `${v.device} · ${v.company || "—"} · ${shown(v.start)} – ${clockOf(v.end)}`;
  html("p", {}, d).textContent = v.explanation.zh;
  html("p", { class: "muted" }, d).textContent = v.explanation.en;
  html("div", { class: "muted" }, d).textContent = `证据点 / evidence points: ${v.evidence.length}`;
}

/** A truck's stored fixes as a dashed line and a head the slider or the play button moves. */
export async function loadTrack(vehicle) {
  const body = await api(`/vehicles/${encodeURIComponent(vehicle)}/track`);
  layers.points = body.points;
  clear("track"); clear("head");
  if (!layers.points.length) { $("track-time").textContent = "无轨迹 / no positions"; return; }
  const line = layers.points.map(p => ll(p.lon, p.lat));
  layers.track = L.polyline(line, { renderer: renderers.track, pane: "track", className: "track-line", color: "#333", weight: 2, dashArray: "4 2" }).addTo(state.map);
  layers.head = L.circleMarker(line[0], { renderer: renderers.track, pane: "track", className: "track-head", radius: 6, color: "#000", fillColor: "#ffd400", fillOpacity: 1, weight: 1 }).addTo(state.map);
  layers.head.getElement().id = "track-head";
  state.map.fitBounds(layers.track.getBounds(), { maxZoom: 16 });
  const slider = $("track-slider");
  slider.max = String(layers.points.length - 1); slider.value = "0"; slider.disabled = false; $("track-play").disabled = false;
  moveHead(0);
}

export function moveHead(i) {
  const p = layers.points[i];
  layers.head.setLatLng(ll(p.lon, p.lat));
  $("track-time").textContent = `${shown(p.time)} · ${p.speed_kmh.toFixed(0)} km/h · 载重 / load ${p.load ?? "—"}`;
}

export function togglePlay() {
  if (layers.timer) { clearInterval(layers.timer); layers.timer = null; return; }
  const slider = $("track-slider");
  layers.timer = setInterval(() => {
    const i = Number(slider.value) + 1;
    if (i >= layers.points.length) { clearInterval(layers.timer); layers.timer = null; return; }
    slider.value = String(i); moveHead(i);
  }, 100);
}
