// 清运 Qingyun map page, shared parts: the API key and calls, the Leaflet map and its panes, the datum
// shift (positions are WGS-84; a GCJ-02 basemap gets them shifted), the road network, China time.

import { wgs84ToGcj02 } from "./gcj02.js";

export const state = { key: localStorage.getItem("qingyun.key") || "", crs: "wgs84", map: null };
export const $ = id => document.getElementById(id);

export function html(name, attrs = {}, parent = null) {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

/** The service answer as JSON; an error names the status and the service's own message. */
export async function api(path, { method = "GET", body = undefined } = {}) {
  const headers = { "X-API-Key": state.key };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = (await response.json()).detail; } catch (e) { /* not JSON */ }
    const error = new Error(`${response.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

// --- China time (UTC+8, no daylight saving) -----------------------------------------------------
const CHINA_MS = 8 * 3600 * 1000;
/** A moment (ms since the epoch) as ISO 8601 in China time with its offset. */
export const chinaIso = ms => new Date(ms + CHINA_MS).toISOString().slice(0, 19) + "+08:00";
/** Any ISO time from the service, shown as "YYYY-MM-DD HH:MM:SS +08:00". */
export const shown = iso => (iso ? chinaIso(Date.parse(iso)).replace("T", " ").replace("+08:00", " +08:00") : "—");
/** Only the clock, "HH:MM:SS", China time. */
export const clockOf = iso => chinaIso(Date.parse(iso)).slice(11, 19);

// --- map ------------------------------------------------------------------------------------------
/** Leaflet [lat, lng] of a WGS-84 position, shifted to GCJ-02 when the basemap is drawn in it. */
export function ll(lon, lat) {
  if (state.crs === "gcj02") [lon, lat] = wgs84ToGcj02(lon, lat);
  return [lat, lon];
}

const PANES = {
  roads: 250, territories: 280, zones: 300, sweep: 405, routes: 410, track: 420, violations: 430, alarm: 440,
  stops: 610, trucks: 620,
};
export const renderers = {};
const legends = {};

/** A legend box on the map (a Leaflet control with the element id ``id``), emptied; created on first use. */
export function legend(id, { position = "bottomright", title = "" } = {}) {
  if (!legends[id]) {
    const control = L.control({ position });
    control.onAdd = () => { const div = L.DomUtil.create("div", "legend"); div.id = id; L.DomEvent.disableScrollPropagation(div); L.DomEvent.disableClickPropagation(div); return div; };
    control.addTo(state.map);
    legends[id] = control;
  }
  const box = legends[id].getContainer();
  box.replaceChildren();
  box.hidden = false;
  if (title) html("b", {}, box).textContent = title;
  return box;
}

/** Hide a legend box (its layer is off). */
export function hideLegend(id) {
  if (legends[id]) { legends[id].getContainer().replaceChildren(); legends[id].getContainer().hidden = true; }
}

/** The map with one pane per layer family (so each is found by id) and the basemap, if one is set. */
export function initMap(config) {
  state.crs = config.tile_url ? config.tile_crs : "wgs84";
  const map = L.map("map", { zoomSnap: 0.25, attributionControl: true });
  for (const [name, z] of Object.entries(PANES)) {
    const pane = map.createPane(name);
    pane.style.zIndex = String(z);
    pane.id = name;
    renderers[name] = name === "roads" ? L.canvas({ pane: name }) : L.svg({ pane: name });
  }
  map.attributionControl.setPrefix('<a href="/static/vendor/leaflet/LICENSE">Leaflet</a>');
  map.attributionControl.addAttribution("路网 / roads © OpenStreetMap contributors");
  if (config.tile_url) {
    L.tileLayer(config.tile_url, {
      attribution: config.attribution, subdomains: config.subdomains, maxZoom: config.max_zoom,
    }).addTo(map);
  }
  $("map").dataset.crs = state.crs;
  state.map = map;
  return map;
}

const MAJOR = new Set(["motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link", "secondary"]);

/** The service's road network on a canvas (thousands of lines stay fast), major roads above minor ones. */
export async function drawRoads() {
  const net = await api("/network/roads");
  const major = [], minor = [];
  for (const [highway, coords] of net.roads) (MAJOR.has(highway) ? major : minor).push(coords.map(c => ll(c[0], c[1])));
  const options = { renderer: renderers.roads, interactive: false, pane: "roads" };
  L.polyline(minor, { ...options, color: "#ffffff", weight: 1.2 }).addTo(state.map);
  L.polyline(major, { ...options, color: "#f0c36d", weight: 2.4 }).addTo(state.map);
  $("roads").dataset.roads = String(net.roads.length);
  const [west, south, east, north] = net.bbox;
  state.map.fitBounds([ll(west, south), ll(east, north)]);
}
