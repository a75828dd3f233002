"""The supervisor's printable HTML report: scores, coverage, and every violation with its own small map.

Maps are inline SVG drawn from coordinates (roads, zone, approved route, track, evidence),
so the report opens offline and prints; no tile server is contacted.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import shapely

from fleet.audit.coverage import CoverageReport
from fleet.audit.geometry import CompiledPermit, Zone
from fleet.audit.pipeline import AuditResult, AuditSummary
from fleet.audit.scores import CompanyScore
from fleet.audit.violations import Violation
from fleet.tracks.track import Projector, Track
from routing.localtime import CHINA_TZ

MAP_W, MAP_H, PAD_M = 360, 240, 150.0
CONTEXT_S = 300.0

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:24px;color:#222}
h1{font-size:20px}h2{font-size:16px;border-bottom:1px solid #999;margin-top:28px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}td,th{border:1px solid #bbb;padding:3px 6px;text-align:left}
th{background:#eee}.bad{color:#b00;font-weight:bold}.v{display:flex;gap:12px;border:1px solid #ccc;padding:8px;margin:8px 0;page-break-inside:avoid}
.v p{margin:2px 0;font-size:12px}.sev-high{color:#b00}.sev-medium{color:#c60}.sev-low{color:#666}svg{background:#fafafa;border:1px solid #ddd}
@media print{body{margin:8mm}}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def violation_svg(
    violation: Violation,
    *,
    track: Track | None,
    projector: Projector,
    permits: list[CompiledPermit],
    zones: list[Zone],
    roads: tuple[np.ndarray, shapely.STRtree] | None = None,
) -> str:
    """A small map of one violation: roads, zones, approved route, the track around it, the evidence fixes.

    Parameters
    ----------
    violation
        The violation drawn; its evidence fixes (or its own position) set the view.
    track
        The vehicle's track, drawn grey within ``CONTEXT_S`` seconds either side; None to omit.
    projector
        Projects the evidence lon/lat into the track's metres.
    permits, zones
        Approved sources, destinations, routes and zones, drawn where they meet the view.
    roads
        Projected road geometries and their STRtree, drawn light grey; None to omit.

    Returns
    -------
    str
        An inline ``<svg>`` element (``MAP_W`` × ``MAP_H`` px) with a scale bar.
    """
    ev_lon = np.array([p.lon for p in violation.evidence] or [violation.lon])
    ev_lat = np.array([p.lat for p in violation.evidence] or [violation.lat])
    ex, ey = projector.to_xy(ev_lon, ev_lat)
    ex, ey = np.atleast_1d(ex), np.atleast_1d(ey)
    context = None
    if track is not None and len(track):
        t0 = datetime.fromisoformat(violation.start).timestamp() - CONTEXT_S
        t1 = datetime.fromisoformat(violation.end).timestamp() + CONTEXT_S
        sel = (track.t >= t0) & (track.t <= t1)
        if sel.any():
            context = (track.x[sel], track.y[sel])
    minx, maxx = float(ex.min()) - PAD_M, float(ex.max()) + PAD_M
    miny, maxy = float(ey.min()) - PAD_M, float(ey.max()) + PAD_M
    scale = min(MAP_W / (maxx - minx), MAP_H / (maxy - miny))
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    view = shapely.box(cx - MAP_W / 2 / scale, cy - MAP_H / 2 / scale, cx + MAP_W / 2 / scale, cy + MAP_H / 2 / scale)

    def pts(xs: np.ndarray, ys: np.ndarray) -> str:
        px = (np.asarray(xs) - cx) * scale + MAP_W / 2
        py = MAP_H / 2 - (np.asarray(ys) - cy) * scale
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py))

    def lines(geom: shapely.Geometry, style: str) -> list[str]:
        geom = geom.intersection(view)
        out = []
        for part in getattr(geom, "geoms", [geom]):
            if part.is_empty:
                continue
            if part.geom_type == "Polygon":
                xy = np.asarray(part.exterior.coords)
                out.append(f'<polygon points="{pts(xy[:, 0], xy[:, 1])}" {style}/>')
            elif part.geom_type == "LineString":
                xy = np.asarray(part.coords)
                out.append(f'<polyline points="{pts(xy[:, 0], xy[:, 1])}" fill="none" {style}/>')
        return out

    body: list[str] = []
    if roads is not None:
        geoms, tree = roads
        for i in tree.query(view):
            body += lines(geoms[i], 'stroke="#ccc" stroke-width="2"')
    for zone in zones:
        if zone.polygon.intersects(view):
            colour = "#f55" if zone.kind == "restricted" else "#5a5"
            body += lines(zone.polygon, f'fill="{colour}" fill-opacity="0.18" stroke="{colour}"')
    for permit in permits:
        for geom, colour in ((permit.source, "#5a5"), (permit.destinations, "#36c")):
            if geom.intersects(view):
                body += lines(geom, f'fill="{colour}" fill-opacity="0.15" stroke="{colour}"')
        if permit.route is not None and permit.route.intersects(view):
            body += lines(permit.route.buffer(permit.corridor_m), 'fill="#36c" fill-opacity="0.08" stroke="none"')
            body += lines(permit.route, 'stroke="#36c" stroke-width="2" stroke-dasharray="6,3"')
    if context is not None:
        body.append(f'<polyline points="{pts(*context)}" fill="none" stroke="#888" stroke-width="1"/>')
    body.append(f'<polyline points="{pts(ex, ey)}" fill="none" stroke="#d00" stroke-width="2"/>')
    for a, b in zip(ex, ey):
        body.append(
            f'<circle cx="{(a - cx) * scale + MAP_W / 2:.1f}" cy="{MAP_H / 2 - (b - cy) * scale:.1f}" r="2" fill="#d00"/>'
        )
    bar_m = 100.0 if MAP_W / scale < 1500 else 500.0
    body.append(
        f'<line x1="8" y1="{MAP_H - 8}" x2="{8 + bar_m * scale:.1f}" y2="{MAP_H - 8}" stroke="#000" stroke-width="2"/>'
    )
    body.append(f'<text x="8" y="{MAP_H - 12}" font-size="10">{bar_m:.0f} m</text>')
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{MAP_W}" height="{MAP_H}" viewBox="0 0 {MAP_W} {MAP_H}">{"".join(body)}</svg>'


def _coverage_html(coverage: CoverageReport) -> list[str]:
    """The coverage section: achieved clearance, stops visited, street coverage, one row per planned stop."""
    parts: list[str] = []
    parts.append("<h2>收运覆盖 / Collection coverage</h2>")
    rate = "—" if coverage.achieved_clearance_rate is None else f"{coverage.achieved_clearance_rate:.1%}"
    street = "—" if coverage.street_coverage is None else f"{coverage.street_coverage:.1%}"
    parts.append(
        f"<p>清运率 / clearance rate achieved: <b>{rate}</b> · 到点率 / stops visited "
        f"{coverage.stops_visited}/{coverage.stops_planned} · 道路覆盖率 / street coverage {street}</p>"
    )
    parts.append(
        "<table><tr><th>车辆 / vehicle</th><th>站点 / stop</th><th>状态 / status</th><th>计划到达 / planned</th>"
        "<th>实际 / visited</th><th>停留 s / dwell s</th><th>最近 m / closest m</th></tr>"
    )
    for r in coverage.routes:
        for st in r.stops:
            cls = "" if st.status == "visited" else " class='bad'"
            parts.append(
                f"<tr><td>{_e(r.vehicle_id)}</td><td>{_e(st.stop_id)}</td><td{cls}>{_e(st.status_label)}</td>"
                f"<td>{_e(st.planned_arrival or '')}</td><td>{_e(st.visit_start or '')}</td>"
                f"<td>{st.dwell_s:g}</td><td>{'' if st.closest_m is None else f'{st.closest_m:g}'}</td></tr>"
            )
    parts.append("</table>")
    return parts


def render_report(
    *,
    violations: list[Violation],
    scores: list[CompanyScore],
    coverage: CoverageReport | None,
    tracks: dict[str, Track],
    projector: Projector,
    permits: dict[str, list[CompiledPermit]],
    zones: list[Zone],
    network: object | None = None,
    notes: list[str] | None = None,
) -> str:
    """The whole report as one self-contained HTML page.

    Parameters
    ----------
    violations, scores, coverage
        What the audit found.
    tracks
        Tracks by device (drawn around each violation).
    projector
        WGS-84 ↔ metric conversions of the tracks.
    permits, zones
        Compiled permits by device and zones (approved routes and zones drawn on the maps).
    network
        The road network drawn under each map, if any.
    notes
        Lines listed under the title (rejected rows, trucks without permits).

    Returns
    -------
    str
        The HTML page; it contacts no server.
    """
    now = datetime.now(tz=CHINA_TZ).isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        "<title>渣土车合规稽查报告 / Compliance audit report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>渣土车合规稽查报告 / Compliance audit report</h1>",
        f"<p>生成时间 / generated {_e(now)} · 车辆 / trucks {len(tracks)} · 违规 / violations {len(violations)}</p>",
    ]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{_e(n)}</li>" for n in notes) + "</ul>")
    parts.append(
        "<h2>企业评分 / Company scores</h2><table><tr><th>企业 / company</th><th>周期 / period</th>"
        "<th>得分 / score</th><th>黑榜 / blacklisted</th><th>违规 / violations</th><th>扣分明细 / deductions</th></tr>"
    )
    for s in scores:
        detail = "; ".join(f"{d.type_label} ({d.severity_label}) ×{d.count}: −{d.points:g}" for d in s.deductions)
        flag = "<span class='bad'>是 / yes</span>" if s.blacklisted else "否 / no"
        parts.append(
            f"<tr><td>{_e(s.company)}</td><td>{_e(s.period)}</td><td>{s.score:g}</td><td>{flag}</td>"
            f"<td>{s.violations}</td><td>{_e(detail)}</td></tr>"
        )
    parts.append("</table>")
    if coverage is not None:
        parts += _coverage_html(coverage)
    parts.append("<h2>违规明细 / Violations</h2>")
    counts: dict[str, int] = {}
    for v in violations:
        counts[v.type_label] = counts.get(v.type_label, 0) + 1
    parts.append("<p>" + " · ".join(f"{_e(k)}: {n}" for k, n in sorted(counts.items())) + "</p>")
    roads = None
    if network is not None:
        geoms = network.edge_geometry  # type: ignore[attr-defined]
        roads = (geoms, shapely.STRtree(geoms))
    for k, v in enumerate(violations, 1):
        svg = violation_svg(
            v,
            track=tracks.get(v.device),
            projector=projector,
            permits=permits.get(v.device, []),
            zones=zones,
            roads=roads,
        )
        parts.append(
            f"<div class='v'>{svg}<div><p><b>#{k} {_e(v.type_label)}</b> "
            f"<span class='sev-{v.severity}'>[{_e(v.severity_label)}]</span></p>"
            f"<p>车辆 / truck {_e(v.device)} · 企业 / company {_e(v.company or '—')} · 核准证 / permit {_e(v.permit_id or '—')}</p>"
            f"<p>{_e(v.start)} → {_e(v.end)} ({v.duration_s / 60:.1f} min) · {v.lon:.6f}, {v.lat:.6f}</p>"
            f"<p>{_e(v.explanation['zh'])}</p><p>{_e(v.explanation['en'])}</p>"
            f"<p>证据点 / evidence fixes: {len(v.evidence)}</p></div></div>"
        )
    parts.append("<p style='font-size:10px'>道路数据 / road data © OpenStreetMap contributors (ODbL)</p></body></html>")
    return "".join(parts)


MAX_NOTES = 50  # rejected rows listed in the report (all of them are in summary.json)


def _notes(result: AuditResult) -> list[str]:
    """Rejected rows (the first ``MAX_NOTES``), and trucks audited without a permit nor a load signal."""
    notes = [f"{r.where}: {r.reason}" for r in result.rejected[:MAX_NOTES]]
    if len(result.rejected) > MAX_NOTES:
        notes.append(f"… {len(result.rejected) - MAX_NOTES} more rejected rows (summary.json)")
    by_device = {t.device: t for t in result.tracks}
    unpermitted = sorted(d for d in result.audited if d not in result.permits)
    notes += [f"{d}: 无核准证 / no permit on file" for d in unpermitted if not by_device[d].has_load]
    return notes


def write_report(result: AuditResult, out: Path, *, network: object) -> AuditSummary:
    """Write an audit's files: violations.json, scores.json, coverage.json, matched.json, summary.json, report.html.

    Parameters
    ----------
    result
        The audit (``fleet.audit.pipeline.run_audit``).
    out
        The output folder (created).
    network
        The road network the audit ran on (projection and the roads under each map).

    Returns
    -------
    AuditSummary
        What summary.json holds.
    """
    out.mkdir(parents=True, exist_ok=True)

    def dump(name: str, document: object) -> None:
        (out / name).write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")

    dump("violations.json", [v.model_dump(mode="json") for v in result.violations])
    dump("scores.json", [s.model_dump(mode="json") for s in result.scores])
    if result.coverage is not None:
        dump("coverage.json", result.coverage.model_dump(mode="json"))
    if result.matched is not None:
        dump("matched.json", result.matched)
    page = render_report(
        violations=result.violations,
        scores=result.scores,
        coverage=result.coverage,
        tracks={t.device: t for t in result.tracks},
        projector=network,
        permits=result.permits,
        zones=result.zones,
        network=network,
        notes=_notes(result),
    )
    (out / "report.html").write_text(page, encoding="utf-8")
    summary = result.summary()
    dump("summary.json", summary.model_dump(mode="json"))
    return summary
