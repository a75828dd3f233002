"""Compliance rules for construction-waste trucks (渣土车): permits, geofences, violations.

A permit fixes the truck, company, source site, disposal site(s), approved route and
allowed hours; geofences with schedules mark restricted zones and registered sites.
Each rule turns a cleaned ``Track`` into debounced episodes — one violation per
episode, never one per fix — with the evidence fixes and an explanation in zh-CN and
English. All thresholds are ``ComplianceSettings`` (defaults from DOMAIN.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Literal

import numpy as np
import shapely
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from shapely.geometry import shape

from fleet.tracks.track import (
    LOCAL_OFFSET_S,
    Projector,
    Track,
    TrackSettings,
    epoch_s,
    find_gaps,
    find_stops,
    find_trips,
    iso_local,
)
from routing.errors import InputFileError, QingyunError

ViolationType = Literal[
    "off_route",
    "restricted_zone",
    "outside_hours",
    "speeding",
    "suspected_dumping",
    "trip_not_closed",
    "no_permit",
    "reporting_gap",
]
Severity = Literal["low", "medium", "high"]

TYPE_LABELS: dict[str, tuple[str, str]] = {
    "off_route": ("偏离核准路线", "off the approved route"),
    "restricted_zone": ("闯禁区", "entered a restricted zone"),
    "outside_hours": ("非核准时段运输", "loaded outside permitted hours"),
    "speeding": ("超速", "speeding"),
    "suspected_dumping": ("疑似偷倒", "suspected illegal dumping"),
    "trip_not_closed": ("联单未闭合", "trip ended away from the disposal site"),
    "no_permit": ("无证运输", "loaded without a valid permit"),
    "reporting_gap": ("行驶中断线", "reporting gap while moving"),
}
SEVERITY_LABELS: dict[str, tuple[str, str]] = {
    "low": ("轻微", "minor"),
    "medium": ("一般", "moderate"),
    "high": ("严重", "severe"),
}


class ComplianceSettings(BaseSettings):
    """Thresholds of the rules (env prefix ``QINGYUN_COMPLIANCE_``); DOMAIN.md values where it gives one."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_COMPLIANCE_")

    corridor_m: float = Field(
        50.0,
        gt=0,
        description="DOMAIN: off the approved corridor by more than 50 m raises an alert (a permit may set its own)",
    )
    off_route_min_s: float = Field(120.0, ge=0, description="off the corridor this long is a violation")
    off_route_medium_s: float = Field(
        600.0, ge=0, description="DOMAIN: back within 10 min is a warning; longer is moderate"
    )
    off_route_high_s: float = Field(900.0, ge=0, description="DOMAIN: more than 15 min off route is severe")
    zone_margin_m: float = Field(
        20.0,
        ge=0,
        description="hysteresis band: entering needs this depth inside, leaving this distance outside (no storms on roads along an edge)",
    )
    zone_enter_min_fixes: int = Field(
        2, ge=1, description="fixes this deep inside, during the schedule, confirm an entry"
    )
    zone_rejoin_s: float = Field(120.0, ge=0, description="a re-entry within this time after leaving is the same entry")
    merge_gap_s: float = Field(
        60.0, ge=0, description="episodes of one rule separated by at most this are one violation"
    )
    hours_min_s: float = Field(
        60.0, ge=0, description="moving loaded outside permitted hours at least this long is a violation"
    )
    default_speed_limit_kmh: float = Field(
        60.0, gt=0, description="speed limit when the permit sets none (product default)"
    )
    speeding_min_s: float = Field(30.0, ge=0, description="over the limit for at least this long")
    speeding_medium_ratio: float = Field(1.2, gt=1, description="peak speed above limit × this is moderate")
    speeding_high_ratio: float = Field(1.5, gt=1, description="peak speed above limit × this is severe")
    dumping_min_stop_s: float = Field(
        180.0, ge=0, description="DOMAIN: a loaded stop of 3–5 min outside approved sites is suspect (default 3 min)"
    )
    site_margin_m: float = Field(30.0, ge=0, description="a fix this close to a site polygon counts as at the site")
    unload_window_s: float = Field(120.0, ge=0, description="a load drop this soon after a suspect stop belongs to it")
    no_permit_min_s: float = Field(60.0, ge=0, description="moving loaded without a valid permit at least this long")
    gap_high_s: float = Field(1800.0, gt=0, description="a reporting gap longer than this is severe")
    evidence_max_points: int = Field(60, ge=2, description="evidence fixes kept per violation (evenly thinned)")


# --- input schemas ------------------------------------------------------------
class TimeWindow(BaseModel):
    """A daily window in China time; ``end`` before ``start`` crosses midnight (e.g. 21:00–06:00)."""

    start: time
    end: time
    days: list[int] | None = Field(
        None, description="ISO weekdays 1=Mon … 7=Sun on which the window starts; all days when absent"
    )

    @model_validator(mode="after")
    def _check(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError(f"window start {self.start} equals end: use 00:00–23:59:59 for all day")
        if self.days and any(d < 1 or d > 7 for d in self.days):
            raise ValueError(f"days {self.days}: ISO weekdays are 1 (Mon) … 7 (Sun)")
        return self


class PolygonGeometry(BaseModel):
    """A GeoJSON Polygon or MultiPolygon in WGS-84 lon/lat."""

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list


class LineGeometry(BaseModel):
    """A GeoJSON LineString in WGS-84 lon/lat."""

    type: Literal["LineString"]
    coordinates: list[list[float]] = Field(min_length=2)


class Permit(BaseModel):
    """A construction-waste transport permit (核准证) as issued."""

    permit_id: str
    device: str = Field(description="terminal id or plate, as in the positions' ``device`` column")
    company: str
    plate: str | None = None
    valid_from: datetime = Field(description="ISO 8601; without offset China time")
    valid_until: datetime
    source_site: PolygonGeometry = Field(description="工地 the waste comes from")
    destination_sites: list[PolygonGeometry] = Field(min_length=1, description="消纳场 where it may be unloaded")
    route: LineGeometry | None = Field(None, description="approved route as a line (WGS-84)")
    route_nodes: list[int] | None = Field(
        None, description="approved route as a sequence of OSM node ids (needs --osm)"
    )
    corridor_m: float | None = Field(None, gt=0, description="corridor half-width; settings default 50 m")
    time_windows: list[TimeWindow] = Field(default_factory=list, description="allowed hours; empty: any time")
    speed_limit_kmh: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _check(self) -> Permit:
        if epoch_s(self.valid_until) <= epoch_s(self.valid_from):
            raise ValueError(f"valid_until {self.valid_until} is not after valid_from {self.valid_from}")
        if self.route is not None and self.route_nodes is not None:
            raise ValueError("give the approved route as `route` or as `route_nodes`, not both")
        return self


class PermitsFile(BaseModel):
    """permits.json"""

    permits: list[Permit]


class ZoneProperties(BaseModel):
    id: str
    name: str = ""
    kind: Literal["restricted", "approved_site"] = Field(
        description="restricted: no entry during the schedule; approved_site: a registered site where stops and unloading are allowed"
    )
    schedule: list[TimeWindow] = Field(
        default_factory=list, description="when a restricted zone applies; empty: always"
    )


class ZoneFeature(BaseModel):
    type: Literal["Feature"]
    properties: ZoneProperties
    geometry: PolygonGeometry


class ZonesFile(BaseModel):
    """zones.geojson: a GeoJSON FeatureCollection of zones."""

    type: Literal["FeatureCollection"]
    features: list[ZoneFeature]


# --- output ---------------------------------------------------------------------
class EvidencePoint(BaseModel):
    time: str
    lon: float
    lat: float
    speed_kmh: float
    load: int | None


class Violation(BaseModel):
    """One violation: what, how bad, who, when, where, the fixes that show it, in plain words."""

    type: ViolationType
    type_label: str
    severity: Severity
    severity_label: str
    device: str
    company: str | None
    permit_id: str | None
    start: str
    end: str
    duration_s: float
    lon: float
    lat: float
    evidence: list[EvidencePoint]
    explanation: dict[str, str] = Field(description="zh and en")
    details: dict[str, float | str] = Field(default_factory=dict)


# --- reading inputs -------------------------------------------------------------
def _validation_message(exc: ValidationError, *, path: Path, items: list, key: str) -> str:
    parts = []
    for err in exc.errors()[:20]:
        loc = list(err["loc"])
        where = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == key and isinstance(loc[1], int) and loc[1] < len(items):
            item = items[loc[1]]
            ident = item.get("permit_id") if key == "permits" else (item.get("properties") or {}).get("id")
            if ident is not None:
                where += f" (id {ident})"
        parts.append(f"{where}: {err['msg']}")
    return f"{path}: " + "; ".join(parts)


def _read_json(path: Path) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputFileError(f"file not found: {path}") from None
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def read_permits(path: Path | str) -> list[Permit]:
    """permits.json → permits; an error names every bad field with the permit's index and id."""
    path = Path(path)
    data = _read_json(path)
    try:
        parsed = PermitsFile.model_validate(data)
    except ValidationError as exc:
        items = data.get("permits", []) if isinstance(data, dict) else []
        raise InputFileError(
            _validation_message(exc, path=path, items=items if isinstance(items, list) else [], key="permits")
        ) from None
    seen: dict[str, int] = {}
    for i, p in enumerate(parsed.permits):
        if p.permit_id in seen:
            raise InputFileError(f"{path}: permits.{i}: permit_id {p.permit_id!r} repeats permits.{seen[p.permit_id]}")
        seen[p.permit_id] = i
    return parsed.permits


def read_zones(path: Path | str) -> list[ZoneFeature]:
    """zones.geojson → zone features; an error names every bad field with the feature's index and id."""
    path = Path(path)
    data = _read_json(path)
    try:
        return ZonesFile.model_validate(data).features
    except ValidationError as exc:
        items = data.get("features", []) if isinstance(data, dict) else []
        raise InputFileError(
            _validation_message(exc, path=path, items=items if isinstance(items, list) else [], key="features")
        ) from None


# --- compiled geometry ----------------------------------------------------------
def _project_geometry(geometry: dict, projector: Projector, *, what: str) -> shapely.Geometry:
    try:
        geom = shape(geometry)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise QingyunError(f"{what}: malformed geometry ({exc})") from None
    if geom.is_empty:
        raise QingyunError(f"{what}: empty geometry")
    projected = shapely.transform(geom, lambda xy: np.column_stack(projector.to_xy(xy[:, 0], xy[:, 1])))
    if not projected.is_valid:
        projected = shapely.make_valid(projected)
    return projected


@dataclass
class Zone:
    id: str
    name: str
    kind: str
    polygon: shapely.Geometry  # projected
    schedule: list[TimeWindow]


@dataclass
class CompiledPermit:
    permit: Permit
    start_s: float
    end_s: float
    source: shapely.Geometry
    destinations: shapely.Geometry  # union, projected
    route: shapely.Geometry | None  # projected LineString
    corridor_m: float
    speed_limit_kmh: float
    corridor: shapely.Geometry | None = None  # route buffered by the corridor width, prepared

    def in_corridor(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether each point lies within the corridor of the approved route (bulk point-in-polygon)."""
        if self.corridor is None:
            self.corridor = self.route.buffer(self.corridor_m, quad_segs=8)
            shapely.prepare(self.corridor)
        return shapely.contains_xy(self.corridor, x, y)


def compile_zones(zones: list[ZoneFeature], *, projector: Projector) -> list[Zone]:
    out = []
    for z in zones:
        poly = _project_geometry(z.geometry.model_dump(), projector, what=f"zone {z.properties.id}")
        shapely.prepare(poly)
        out.append(Zone(z.properties.id, z.properties.name, z.properties.kind, poly, z.properties.schedule))
    return out


def compile_permit(
    permit: Permit, *, projector: Projector, settings: ComplianceSettings, route_xy: np.ndarray | None = None
) -> CompiledPermit:
    """Project a permit's geometry; ``route_xy`` is the approved route when given as road nodes."""
    what = f"permit {permit.permit_id}"
    source = _project_geometry(permit.source_site.model_dump(), projector, what=f"{what} source_site")
    dests = shapely.union_all(
        [
            _project_geometry(d.model_dump(), projector, what=f"{what} destination_sites.{i}")
            for i, d in enumerate(permit.destination_sites)
        ]
    )
    route = None
    if permit.route is not None:
        route = _project_geometry(permit.route.model_dump(), projector, what=f"{what} route")
    elif route_xy is not None:
        route = shapely.linestrings(route_xy)
    elif permit.route_nodes is not None:
        raise QingyunError(f"{what}: route_nodes needs a road network (--osm) to become a line")
    for geom in (source, dests, route):
        if geom is not None:
            shapely.prepare(geom)
    return CompiledPermit(
        permit=permit,
        start_s=epoch_s(permit.valid_from),
        end_s=epoch_s(permit.valid_until),
        source=source,
        destinations=dests,
        route=route,
        corridor_m=permit.corridor_m or settings.corridor_m,
        speed_limit_kmh=permit.speed_limit_kmh or settings.default_speed_limit_kmh,
    )


def route_from_nodes(permit: Permit, *, network: object) -> np.ndarray:
    """Approved route given as OSM node ids → projected coordinates along the roads between them."""
    graph = network.graph  # type: ignore[attr-defined]
    coords: list[tuple[float, float]] = []
    nodes = permit.route_nodes or []
    for a, b in zip(nodes, nodes[1:]):
        if a not in graph or b not in graph:
            bad = a if a not in graph else b
            raise QingyunError(f"permit {permit.permit_id}: route_nodes: OSM node {bad} is not in the road network")
        if not graph.has_edge(a, b):
            raise QingyunError(f"permit {permit.permit_id}: route_nodes: no road from node {a} to node {b}")
        key = min(graph[a][b], key=lambda k: graph[a][b][k]["length"])
        part = list(graph[a][b][key]["geometry"].coords)
        coords.extend(part if not coords else part[1:])
    if len(coords) < 2:
        raise QingyunError(f"permit {permit.permit_id}: route_nodes needs at least two connected nodes")
    return np.asarray(coords, dtype=float)


# --- schedules ------------------------------------------------------------------
def in_windows(t: np.ndarray, windows: list[TimeWindow]) -> np.ndarray:
    """Which epoch times fall in any window (China time); no windows means always."""
    if not windows:
        return np.ones(len(t), dtype=bool)
    local = t + LOCAL_OFFSET_S
    sod = np.mod(local, 86400.0)
    day = np.floor_divide(local, 86400.0).astype(np.int64)
    weekday = (day + 3) % 7 + 1  # 1970-01-01 was a Thursday; ISO 1 = Monday
    result = np.zeros(len(t), dtype=bool)
    for w in windows:
        s = w.start.hour * 3600 + w.start.minute * 60 + w.start.second
        e = w.end.hour * 3600 + w.end.minute * 60 + w.end.second
        days = np.asarray(w.days or range(1, 8))
        if s < e:
            result |= (sod >= s) & (sod < e) & np.isin(weekday, days)
        else:  # crosses midnight: the early part belongs to the previous day's window
            prev = (weekday - 2) % 7 + 1
            result |= ((sod >= s) & np.isin(weekday, days)) | ((sod < e) & np.isin(prev, days))
    return result


# --- helpers ----------------------------------------------------------------------
def _runs(mask: np.ndarray, t: np.ndarray, merge_gap_s: float) -> list[tuple[int, int]]:
    """Runs of True as inclusive (first, last) indices; runs closer in time than ``merge_gap_s`` are joined."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    splits = np.flatnonzero((np.diff(idx) > 1) & (t[idx[1:]] - t[idx[:-1]] > merge_gap_s)) + 1
    return [(int(g[0]), int(g[-1])) for g in np.split(idx, splits)]


def _majority3(flags: np.ndarray) -> np.ndarray:
    """Majority of each fix and its two neighbours: one noisy fix neither starts nor breaks an episode."""
    if len(flags) < 3:
        return flags
    padded = np.concatenate(([flags[0]], flags, [flags[-1]])).astype(np.int8)
    return (padded[:-2] + padded[1:-1] + padded[2:]) >= 2


def _points(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Shapely points from coordinate arrays (the 2-column form is several times faster)."""
    return shapely.points(np.column_stack([x, y]))


def _near(geom: shapely.Geometry | None, x: np.ndarray, y: np.ndarray, margin: float) -> np.ndarray:
    if geom is None or geom.is_empty:
        return np.zeros(len(x), dtype=bool)
    inside = shapely.contains_xy(geom, x, y)
    if margin <= 0:
        return inside
    out = ~inside
    if out.any():
        minx, miny, maxx, maxy = geom.bounds
        cand = out & (x >= minx - margin) & (x <= maxx + margin) & (y >= miny - margin) & (y <= maxy + margin)
        if cand.any():
            inside[cand] = shapely.distance(geom, _points(x[cand], y[cand])) <= margin
    return inside


def loaded_mask(track: Track, permit: CompiledPermit | None, *, settings: ComplianceSettings) -> np.ndarray:
    """Loaded state per fix: the terminal's load signal (gaps filled forward), else inferred from the permit's sites.

    Without a load signal a permitted truck counts as loaded from leaving its source site until it
    reaches a destination — the manifest's own definition of a haul.
    """
    n = len(track)
    if track.has_load:
        known = track.load >= 0
        idx = np.where(known, np.arange(n), 0)
        np.maximum.accumulate(idx, out=idx)
        filled = track.load[idx]
        first = int(np.argmax(known))
        filled[:first] = track.load[first]
        return filled == 1
    if permit is None:
        return np.zeros(n, dtype=bool)
    at_source = _near(permit.source, track.x, track.y, settings.site_margin_m)
    at_dest = _near(permit.destinations, track.x, track.y, settings.site_margin_m)
    loaded = np.zeros(n, dtype=bool)
    state = False
    was_at_source = False
    for i in range(n):
        if at_dest[i]:
            state = False
        elif at_source[i]:
            was_at_source = True
        elif was_at_source:
            state, was_at_source = True, False
        loaded[i] = state
    return loaded


@dataclass
class _Ctx:
    """One device (or one permit's share of it) with what every rule needs."""

    track: Track
    company: str | None
    permit: CompiledPermit | None
    loaded: np.ndarray
    moving: np.ndarray
    settings: ComplianceSettings
    track_settings: TrackSettings
    permit_at: list[str | None] | None = None  # permit id valid at each fix (device-wide rules)


def _violation(
    ctx: _Ctx,
    kind: str,
    severity: str,
    first: int,
    last: int,
    zh: str,
    en: str,
    *,
    at: int | None = None,
    details: dict | None = None,
) -> Violation:
    tr = ctx.track
    at = first if at is None else at
    idx = np.arange(first, last + 1)
    limit = ctx.settings.evidence_max_points
    if idx.size > limit:
        idx = idx[np.unique(np.linspace(0, idx.size - 1, limit).round().astype(int))]
    evidence = [
        EvidencePoint(
            time=iso_local(tr.t[i]),
            lon=round(float(tr.lon[i]), 7),
            lat=round(float(tr.lat[i]), 7),
            speed_kmh=round(float(tr.speed_kmh[i]), 1),
            load=None if tr.load[i] < 0 else int(tr.load[i]),
        )
        for i in idx
    ]
    return Violation(
        type=kind,  # type: ignore[arg-type]
        type_label=" / ".join(TYPE_LABELS[kind]),
        severity=severity,  # type: ignore[arg-type]
        severity_label=" / ".join(SEVERITY_LABELS[severity]),
        device=tr.device,
        company=ctx.company,
        permit_id=ctx.permit.permit.permit_id if ctx.permit else (ctx.permit_at[first] if ctx.permit_at else None),
        start=iso_local(tr.t[first]),
        end=iso_local(tr.t[last]),
        duration_s=float(tr.t[last] - tr.t[first]),
        lon=round(float(tr.lon[at]), 7),
        lat=round(float(tr.lat[at]), 7),
        evidence=evidence,
        explanation={"zh": zh, "en": en},
        details=details or {},
    )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f}"


# --- rules on a permit's share of a track ------------------------------------------
def _off_route(ctx: _Ctx, at_site: np.ndarray) -> list[Violation]:
    p, s, tr = ctx.permit, ctx.settings, ctx.track
    if p is None or p.route is None:
        return []
    outside = ~p.in_corridor(tr.x, tr.y)
    off = ctx.loaded & ~at_site & _majority3(outside)
    out = []
    for a, b in _runs(off, tr.t, s.merge_gap_s):
        dur = tr.t[b] - tr.t[a]
        if dur < s.off_route_min_s:
            continue
        sev = "high" if dur > s.off_route_high_s else "medium" if dur > s.off_route_medium_s else "low"
        dist = np.zeros(len(tr))
        dist[a : b + 1] = shapely.distance(p.route, _points(tr.x[a : b + 1], tr.y[a : b + 1]))
        far = a + int(np.argmax(dist[a : b + 1]))
        out.append(
            _violation(
                ctx,
                "off_route",
                sev,
                a,
                b,
                f"载重行驶偏离核准路线 {_minutes(dur)} 分钟，最远偏离 {dist[far]:.0f} 米（走廊 {p.corridor_m:.0f} 米）。",
                f"Drove loaded off the approved route for {_minutes(dur)} min, up to {dist[far]:.0f} m away (corridor {p.corridor_m:.0f} m).",
                at=far,
                details={"max_distance_m": round(float(dist[far]), 1), "corridor_m": p.corridor_m},
            )
        )
    return out


def _outside_hours(ctx: _Ctx) -> list[Violation]:
    p, s, tr = ctx.permit, ctx.settings, ctx.track
    if p is None or not p.permit.time_windows:
        return []
    outside = ctx.loaded & ~in_windows(tr.t, p.permit.time_windows)
    out = []
    windows = ", ".join(f"{w.start:%H:%M}–{w.end:%H:%M}" for w in p.permit.time_windows)
    for a, b in _runs(outside, tr.t, s.merge_gap_s):
        moving = np.flatnonzero(ctx.moving[a : b + 1]) + a
        if moving.size < 2:
            continue
        a, b = int(moving[0]), int(moving[-1])
        dur = tr.t[b] - tr.t[a]
        if dur < s.hours_min_s:
            continue
        out.append(
            _violation(
                ctx,
                "outside_hours",
                "medium",
                a,
                b,
                f"在核准时段（{windows}）之外载重行驶 {_minutes(dur)} 分钟。",
                f"Moved loaded for {_minutes(dur)} min outside the permitted hours ({windows}).",
                details={"permitted_hours": windows},
            )
        )
    return out


def _dumping(ctx: _Ctx, at_site: np.ndarray, trip_last: set[int]) -> list[Violation]:
    s, tr = ctx.settings, ctx.track
    out = []
    drops = np.flatnonzero((tr.load[:-1] == 1) & (tr.load[1:] == 0)) + 1 if tr.has_load else np.array([], dtype=int)
    used_drops: set[int] = set()
    trip_ends = sorted(trip_last)
    for stop in find_stops(tr, settings=ctx.track_settings, min_s=s.dumping_min_stop_s):
        ends_trip = any(stop.first <= e <= stop.last for e in trip_ends) or stop.last >= len(tr) - 1
        if ends_trip or not ctx.loaded[stop.first] or at_site[stop.first : stop.last + 1].mean() > 0.5:
            continue
        horizon = tr.t[stop.last] + s.unload_window_s
        unload = [int(d) for d in drops if stop.first < d and tr.t[d] <= horizon]
        used_drops.update(unload)
        dur = stop.duration_s
        if unload:
            zh = f"载重在核准场地外停留 {_minutes(dur)} 分钟，期间载重状态由重车变为空车：疑似偷倒。"
            en = f"Stopped loaded for {_minutes(dur)} min outside approved sites and the load state went from loaded to empty: suspected dumping."
        else:
            zh = f"载重在核准场地外停留 {_minutes(dur)} 分钟（≥ {_minutes(s.dumping_min_stop_s)} 分钟）：疑似偷倒，需核查。"
            en = f"Stopped loaded for {_minutes(dur)} min (≥ {_minutes(s.dumping_min_stop_s)} min) outside approved sites: possible dumping, to be checked."
        out.append(
            _violation(
                ctx,
                "suspected_dumping",
                "high" if unload else "medium",
                stop.first,
                stop.last,
                zh,
                en,
                at=(stop.first + stop.last) // 2,
                details={"stop_s": round(dur, 1), "unloaded": "yes" if unload else "no"},
            )
        )
    for d in drops:
        if int(d) in used_drops or at_site[d] or at_site[d - 1]:
            continue
        out.append(
            _violation(
                ctx,
                "suspected_dumping",
                "high",
                int(d) - 1,
                int(d),
                "载重状态在核准场地外由重车变为空车：疑似偷倒。",
                "The load state went from loaded to empty outside approved sites: suspected dumping.",
                at=int(d),
                details={"unloaded": "yes"},
            )
        )
    return out


def _trip_not_closed(ctx: _Ctx, trips: list[tuple[int, int]]) -> list[Violation]:
    p, s, tr = ctx.permit, ctx.settings, ctx.track
    if p is None:
        return []
    at_dest = _near(p.destinations, tr.x, tr.y, s.site_margin_m)
    at_source = _near(p.source, tr.x, tr.y, s.site_margin_m)
    out = []
    for first, last in trips:
        if not ctx.loaded[last] or at_dest[last] or at_source[last]:
            continue
        if last == len(tr) - 1 and ctx.moving[last]:
            continue  # the data ends while the truck is still driving: the trip has not ended
        loaded = ctx.loaded[first : last + 1]
        start = last - int(np.argmin(loaded[::-1])) + 1 if not loaded.all() else first
        haul = np.arange(start, last + 1)
        if at_source[haul].all():
            continue
        left = int(haul[np.argmax(~at_source[haul])])
        dur = tr.t[last] - tr.t[left]
        out.append(
            _violation(
                ctx,
                "trip_not_closed",
                "medium",
                left,
                last,
                f"载重出场后行程在核准消纳场之外结束（{_minutes(dur)} 分钟后），电子联单未闭合。",
                f"Left the site loaded and the trip ended {_minutes(dur)} min later away from the permitted disposal site: the manifest is not closed.",
                at=last,
            )
        )
    return out


# --- rules on a whole device track ------------------------------------------------
def _speeding(ctx: _Ctx, limit_kmh: np.ndarray) -> list[Violation]:
    s, tr = ctx.settings, ctx.track
    over = tr.speed_kmh > limit_kmh
    out = []
    for a, b in _runs(over, tr.t, s.merge_gap_s):
        dur = tr.t[b] - tr.t[a]
        if dur < s.speeding_min_s:
            continue
        peak = a + int(np.argmax(tr.speed_kmh[a : b + 1]))
        ratio = tr.speed_kmh[peak] / limit_kmh[peak]
        sev = "high" if ratio >= s.speeding_high_ratio else "medium" if ratio >= s.speeding_medium_ratio else "low"
        out.append(
            _violation(
                ctx,
                "speeding",
                sev,
                a,
                b,
                f"超速 {_minutes(dur)} 分钟，最高 {tr.speed_kmh[peak]:.0f} km/h（限速 {limit_kmh[peak]:.0f} km/h）。",
                f"Over the limit for {_minutes(dur)} min, peak {tr.speed_kmh[peak]:.0f} km/h (limit {limit_kmh[peak]:.0f} km/h).",
                at=peak,
                details={"peak_kmh": round(float(tr.speed_kmh[peak]), 1), "limit_kmh": float(limit_kmh[peak])},
            )
        )
    return out


def zone_entries(track: Track, zone: Zone, *, settings: ComplianceSettings) -> list[tuple[int, int]]:
    """Debounced entries into a zone during its schedule, as (first, last) fix indices.

    Hysteresis: an entry starts only ``zone_margin_m`` deep inside, ends only that far
    outside, needs ``zone_enter_min_fixes`` deep fixes, and re-entries within
    ``zone_rejoin_s`` join the previous entry — a road along the edge gives one entry, not a storm.
    """
    x, y, t = track.x, track.y, track.t
    m = settings.zone_margin_m
    minx, miny, maxx, maxy = zone.polygon.bounds
    near = (x >= minx - m) & (x <= maxx + m) & (y >= miny - m) & (y <= maxy + m)
    if not near.any():
        return []
    depth = np.full(len(t), -np.inf)
    idx = np.flatnonzero(near)
    pts = _points(x[idx], y[idx])
    inside = shapely.contains_xy(zone.polygon, x[idx], y[idx])
    dist = shapely.distance(zone.polygon.boundary, pts)
    depth[idx] = np.where(inside, dist, -dist)
    depth[~in_windows(t, zone.schedule)] = -np.inf
    # hysteresis state: in after a deep fix, out after a fix clearly outside
    event = np.where(depth >= m, 1, np.where(depth <= -m, 0, -1))
    has_event = event >= 0
    last_event = np.where(has_event, np.arange(len(t)), -1)
    np.maximum.accumulate(last_event, out=last_event)
    state = np.where(last_event >= 0, event[np.maximum(last_event, 0)], 0) == 1
    episodes: list[list[int]] = []
    for a, b in _runs(state, t, 0.0):
        inside_idx = np.flatnonzero(depth[a : b + 1] > 0) + a
        b = int(inside_idx[-1])
        while a > 0 and depth[a - 1] > 0:  # the entry began at the boundary crossing
            a -= 1
        if episodes and t[a] - t[episodes[-1][1]] <= settings.zone_rejoin_s:
            episodes[-1][1] = b
        else:
            episodes.append([a, b])
    return [(a, b) for a, b in episodes if np.count_nonzero(depth[a : b + 1] >= m) >= settings.zone_enter_min_fixes]


def _zones(ctx: _Ctx, zones: list[Zone]) -> list[Violation]:
    out = []
    tr = ctx.track
    for zone in zones:
        if zone.kind != "restricted":
            continue
        for a, b in zone_entries(tr, zone, settings=ctx.settings):
            dur = tr.t[b] - tr.t[a]
            label = zone.name or zone.id
            out.append(
                _violation(
                    ctx,
                    "restricted_zone",
                    "high",
                    a,
                    b,
                    f"在禁行时段驶入禁区「{label}」，停留 {_minutes(dur)} 分钟。",
                    f"Entered restricted zone '{label}' during its schedule and stayed {_minutes(dur)} min.",
                    details={"zone_id": zone.id},
                )
            )
    return out


def _no_permit(ctx: _Ctx, valid: np.ndarray) -> list[Violation]:
    s, tr = ctx.settings, ctx.track
    out = []
    for a, b in _runs(ctx.loaded & ~valid, tr.t, s.merge_gap_s):
        moving = np.flatnonzero(ctx.moving[a : b + 1]) + a
        if moving.size < 2:
            continue
        a, b = int(moving[0]), int(moving[-1])
        dur = tr.t[b] - tr.t[a]
        if dur < s.no_permit_min_s:
            continue
        out.append(
            _violation(
                ctx,
                "no_permit",
                "high",
                a,
                b,
                f"无有效核准证载重行驶 {_minutes(dur)} 分钟（未经核准）。",
                f"Moved loaded for {_minutes(dur)} min without a valid permit.",
            )
        )
    return out


def _gaps(ctx: _Ctx) -> list[Violation]:
    s, tr = ctx.settings, ctx.track
    out = []
    for gap in find_gaps(tr, settings=ctx.track_settings):
        sev = "high" if gap.duration_s > s.gap_high_s else "medium"
        out.append(
            _violation(
                ctx,
                "reporting_gap",
                sev,
                gap.before,
                gap.after,
                f"行驶中 {_minutes(gap.duration_s)} 分钟无定位上报，前后位置相距 {gap.distance_m:.0f} 米。",
                f"No position reported for {_minutes(gap.duration_s)} min while moving; the truck reappeared {gap.distance_m:.0f} m away.",
                details={"gap_s": gap.duration_s, "jump_m": round(gap.distance_m, 1)},
            )
        )
    return out


def _subtrack(track: Track, mask: np.ndarray) -> Track:
    return Track(
        track.device,
        track.t[mask],
        track.lon[mask],
        track.lat[mask],
        track.x[mask],
        track.y[mask],
        track.speed_kmh[mask],
        track.load[mask],
        track.ignition[mask],
        track.speed_reported[mask],
        track.dropped,
    )


def audit_track(
    track: Track,
    *,
    permits: list[CompiledPermit],
    zones: list[Zone],
    settings: ComplianceSettings | None = None,
    track_settings: TrackSettings | None = None,
) -> list[Violation]:
    """Every violation of one construction-waste truck, in time order.

    ``permits`` are this device's permits; fixes outside every permit's validity are
    audited as unpermitted (no route, hours or manifest rules; registered sites still allow stops).
    """
    settings = settings or ComplianceSettings()
    track_settings = track_settings or TrackSettings()
    if len(track) == 0:
        return []
    company = permits[0].permit.company if permits else None
    moving = track.moving(track_settings)
    approved_sites = shapely.union_all([z.polygon for z in zones if z.kind == "approved_site"]) if zones else None
    if approved_sites is not None:
        shapely.prepare(approved_sites)
    at_registered = _near(approved_sites, track.x, track.y, settings.site_margin_m)
    permit_of = np.full(len(track), -1)
    for k, p in enumerate(permits):
        permit_of[(permit_of < 0) & (track.t >= p.start_s) & (track.t <= p.end_s)] = k
    limit = np.full(len(track), settings.default_speed_limit_kmh)
    for k, p in enumerate(permits):
        limit[permit_of == k] = p.speed_limit_kmh

    ids = [p.permit.permit_id for p in permits]
    whole = _Ctx(
        track,
        company,
        None,
        loaded_mask(track, None, settings=settings),
        moving,
        settings,
        track_settings,
        [ids[k] if k >= 0 else None for k in permit_of.tolist()],
    )
    violations = _speeding(whole, limit) + _zones(whole, zones) + _gaps(whole)
    violations += _no_permit(whole, permit_of >= 0) if track.has_load else []

    for k in [*range(len(permits)), -1]:
        mask = permit_of == k
        if mask.sum() < 2:
            continue
        sub = _subtrack(track, mask)
        permit = permits[k] if k >= 0 else None
        ctx = _Ctx(
            sub, company, permit, loaded_mask(sub, permit, settings=settings), moving[mask], settings, track_settings
        )
        at_site = at_registered[mask].copy()
        if permit is not None:
            at_site |= _near(permit.source, sub.x, sub.y, settings.site_margin_m)
            at_site |= _near(permit.destinations, sub.x, sub.y, settings.site_margin_m)
        trips = find_trips(sub, settings=track_settings)
        violations += _off_route(ctx, at_site) + _outside_hours(ctx) + _trip_not_closed(ctx, trips)
        if sub.has_load or permit is not None:
            violations += _dumping(ctx, at_site, {b for _, b in trips})
    return sorted(violations, key=lambda v: (v.start, v.type))


def compile_permits(
    permits: list[Permit], *, projector: Projector, settings: ComplianceSettings, network: object | None = None
) -> dict[str, list[CompiledPermit]]:
    """Permits projected and grouped by device (earliest first); road-node routes resolved on ``network``."""
    by_device: dict[str, list[CompiledPermit]] = {}
    for p in sorted(permits, key=lambda p: epoch_s(p.valid_from)):
        route_xy = route_from_nodes(p, network=network) if p.route_nodes is not None and network is not None else None
        by_device.setdefault(p.device, []).append(
            compile_permit(p, projector=projector, settings=settings, route_xy=route_xy)
        )
    return by_device


def _audit_chunk(args: tuple) -> list[Violation]:
    tracks, permits, zones, settings, track_settings = args
    out: list[Violation] = []
    for track in tracks:
        out += audit_track(
            track, permits=permits.get(track.device, []), zones=zones, settings=settings, track_settings=track_settings
        )
    return out


def audit_fleet(
    tracks: list[Track],
    *,
    permits: dict[str, list[CompiledPermit]],
    zones: list[Zone],
    settings: ComplianceSettings | None = None,
    track_settings: TrackSettings | None = None,
    workers: int = 1,
) -> list[Violation]:
    """Violations of many trucks, in (device, start) order; ``workers`` > 1 spreads trucks over processes."""
    settings = settings or ComplianceSettings()
    track_settings = track_settings or TrackSettings()
    if workers <= 1 or len(tracks) < 2:
        result = _audit_chunk((tracks, permits, zones, settings, track_settings))
    else:
        from concurrent.futures import ProcessPoolExecutor

        chunks = [tracks[i :: workers * 4] for i in range(workers * 4)]
        jobs = [
            (c, {t.device: permits.get(t.device, []) for t in c}, zones, settings, track_settings) for c in chunks if c
        ]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            result = [v for part in pool.map(_audit_chunk, jobs) for v in part]
    return sorted(result, key=lambda v: (v.device, v.start, v.type))
