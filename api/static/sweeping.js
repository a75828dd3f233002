// 清运 Qingyun map page, the sweeping and washing layer (清扫/洒水): a finished sweeping plan's served kerbs in each
// vehicle's colour, its deadheading dashed, a legend per vehicle, and the plan's kerb-km, deadhead ratio and
// planned mechanised-sweeping rate (机械化清扫率). Positions are WGS-84; ll() shifts them for a GCJ-02 basemap.
import { $, api, hideLegend, html, legend, ll, renderers, state } from "./core.js";

const KIND = { sweeper: "清扫车 / sweeper", washer: "洒水车 / washer" };
const PLACE = { depot: "车场 / depot", station: "转运站 / transfer station", water: "取水点 / water point" };
export const sweepView = { layer: null };  // the drawn layer (tests read its positions)
const pct = v => (100 * v).toFixed(1) + " %";

/** The plan's numbers as a supervision platform reports them, per vehicle kind: ``sweep`` (with the planned
 * mechanised-sweeping rate, 机械化清扫率) or ``wash``. */
function kpiRows(table, kpis, kind) {
  const sweep = kind === "sweep";
  const head = html("tr", { class: "head" }, table);
  html("th", { colspan: "2" }, head).textContent = sweep ? "清扫 / sweeping" : "洒水 / washing";
  const rows = [
    ["kerb_km_served", "路沿公里 / kerb-km served", k => `${k.kerb_km_served.toFixed(2)} / ${k.kerb_km_in_scope.toFixed(2)} km`],
    ["km_driven", "行驶里程 / km driven", k => k.km_driven.toFixed(2) + " km"],
    ["deadhead_ratio", "空驶率 / deadhead ratio", k => pct(k.deadhead_ratio)],
    ["planned_rate", sweep ? "机械化清扫率（计划）/ planned mechanised-sweeping rate" : "洒水覆盖率（计划）/ planned washing rate", k => pct(k.planned_rate)],
  ];
  for (const [key, label, format] of rows) {
    const tr = html("tr", {}, table);
    html("td", {}, tr).textContent = label;
    html("td", { class: "v", "data-sweep-kpi": `${kind}.${key}` }, tr).textContent = format(kpis);
  }
}

/** Served kerbs solid in the vehicle's colour, deadheading dashed; the depot, stations and water points.
 * Washers wash the kerbs sweepers sweep: their lines go first, wide and light, the sweepers' narrow on top. */
function drawPlan(geo) {
  const group = L.layerGroup().addTo(state.map);
  const vehicles = new Map();
  const washerFirst = [...geo.features].sort((a, b) => (b.properties.vehicle_kind === "washer") - (a.properties.vehicle_kind === "washer"));
  for (const f of washerFirst) {
    const p = f.properties;
    if (f.geometry.type === "LineString") {
      const serve = p.kind === "kerb", wash = p.vehicle_kind === "washer";
      const line = L.polyline(f.geometry.coordinates.map(c => ll(c[0], c[1])), {
        renderer: renderers.sweep, pane: "sweep", color: p.colour,
        weight: serve ? (wash ? 9 : 3.5) : 2, opacity: serve ? (wash ? .45 : .95) : .7,
        dashArray: serve ? null : "6 5", className: serve ? "sweep-kerb" : "sweep-deadhead",
      }).bindTooltip(`${p.vehicle_id} · ${p.street} · ${serve ? "清扫 / served" : "空驶 / deadhead"} · ${p.start.slice(11, 16)}–${p.end.slice(11, 16)}`)
        .addTo(group);
      line.getElement().dataset.vehicle = p.vehicle_id;
      const v = vehicles.get(p.vehicle_id) || { colour: p.colour, kind: p.vehicle_kind, kerbs: 0, km: 0 };
      if (serve) { v.kerbs += 1; v.km += p.km; }
      vehicles.set(p.vehicle_id, v);
    } else if (f.geometry.type === "Point") {
      const [lon, lat] = f.geometry.coordinates;
      L.circleMarker(ll(lon, lat), { renderer: renderers.sweep, pane: "sweep", className: `sweep-${p.kind}`, radius: 6, color: "#000", weight: 1.5, fillColor: p.kind === "water" ? "#4aa3df" : "#fff", fillOpacity: 1 })
        .bindTooltip(`${PLACE[p.kind] || p.kind} ${p.name || p.id || ""}`).addTo(group);
    }
  }
  return { group, vehicles };
}

/** One legend row per vehicle (colour, id, kind, kerbs and km served) and the solid/dashed key. */
function vehicleLegend(vehicles, order) {
  const box = legend("sweep-legend", { position: "bottomleft", title: "清扫/洒水 / sweeping & washing" });
  const list = html("ul", {}, box);
  for (const id of order.filter(id => vehicles.has(id))) {
    const v = vehicles.get(id);
    const li = html("li", { "data-vehicle": id }, list);
    html("span", { class: "swatch", style: `background:${v.colour}` }, li);
    li.append(`${id} · ${KIND[v.kind] || v.kind} · ${v.kerbs} 段路沿 / kerbs · ${v.km.toFixed(2)} km`);
  }
  const key = html("div", { class: "muted" }, box);
  key.innerHTML = '<span class="swatch key-solid"></span>清扫路沿 / kerb served <span class="swatch key-dashed"></span>空驶 / deadhead';
}

/** Show the sweeping plan ``id`` (none: the layer is off). */
export async function showSweep(id) {
  if (sweepView.layer) sweepView.layer.remove();
  sweepView.layer = null;
  hideLegend("sweep-legend");
  const table = $("sweep-kpi"), status = $("sweep-status");
  table.replaceChildren();
  status.textContent = "";
  delete $("sweep-panel").dataset.drawn;
  $("map").classList.remove("sweeping");
  if (!id) return;
  const body = await api(`/sweeping/plans/${id}`);
  if (body.status !== "succeeded") { status.textContent = `状态 / status: ${body.status}`; return; }
  const geo = await api(`/sweeping/plans/${id}/routes.geojson`);
  const { group, vehicles } = drawPlan(geo);
  sweepView.layer = group;
  vehicleLegend(vehicles, body.plan.vehicles.map(v => v.vehicle_id));
  kpiRows(table, body.plan.kpis, "sweep");
  if (body.plan.wash_kpis) kpiRows(table, body.plan.wash_kpis, "wash");
  const unserved = body.plan.unserved.length;
  status.textContent = `${body.plan.name} · ${body.plan.certified ? "已核验 / certified" : "未核验 / not certified"}` +
    (unserved ? ` · 未清扫路沿 / kerbs not served ${unserved}` : "");
  const bounds = group.getLayers().filter(l => l.getBounds).reduce((b, l) => b.extend(l.getBounds()), L.latLngBounds([]));
  if (bounds.isValid()) state.map.fitBounds(bounds, { maxZoom: 17, padding: [20, 20] });
  $("sweep-panel").dataset.drawn = String(group.getLayers().length);
  $("map").classList.add("sweeping");  // the collection plan fades under it (both use the same palette)
}

/** The finished sweeping plans to pick from; ``?sweep=ID`` shows one at once. A key without the dispatcher's
 * role sees the reason instead. */
export async function sweepPlans() {
  const select = $("sweep-select");
  let items = [];
  try { items = (await api("/sweeping/plans?limit=100")).items; } catch (e) { $("sweep-status").textContent = `清扫计划不可用 / sweeping plans not available: ${e.message}`; return; }
  select.replaceChildren();
  html("option", { value: "" }, select).textContent = items.length ? "— 不显示 / off —" : "— 无清扫计划 / no sweeping plans —";
  for (const p of items) {
    const option = html("option", { value: p.id }, select);
    option.textContent = `${p.name} · ${p.created_at.slice(0, 16).replace("T", " ")} · ${p.status}`;
    option.disabled = p.status !== "succeeded";
  }
  select.addEventListener("change", () => showSweep(select.value).catch(e => { $("sweep-status").textContent = `错误 / error: ${e.message}`; }));
  const wanted = new URLSearchParams(location.search).get("sweep");
  if (wanted && items.some(p => p.id === wanted && p.status === "succeeded")) { select.value = wanted; await showSweep(wanted); }
}
