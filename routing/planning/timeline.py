"""The per-truck timeline chart (``timeline.png``): one row per truck over the day, local time.

A dispatcher sees at a glance what the map cannot show: who drives, serves, unloads, takes the
break, stands waiting, and works past the standard shift. Segments come from the timed stops
alone (:class:`routing.planning.plan.Route`): driving from one place's departure to the next
place's arrival, then the entry's own span by kind. Labels are Chinese with English beside when
the machine has a CJK font (:mod:`routing.network.mapdraw`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from routing.network.mapdraw import drawable, label, use_cjk_font
from routing.planning.kpis import STANDARD_SHIFT_H

if TYPE_CHECKING:
    from routing.planning.plan import Plan
    from routing.planning.problem import Problem
    from routing.planning.timed import Route

SEGMENTS = {  # kind: (colour, zh, en)
    "driving": ("#9ecae1", "行驶", "driving"),
    "service": ("#2ca02c", "收运", "service"),
    "unloading": ("#8c564b", "卸料", "unloading"),
    "break": ("#ffbf00", "午休", "break"),
    "waiting": ("#d62728", "等待", "waiting"),
}
STOP_SEGMENT = {"site": "service", "facility": "unloading", "break": "break", "wait": "waiting"}
OVERTIME_COLOUR = "#7f0000"


def route_segments(route: Route) -> list[tuple[str, int, int]]:
    """(segment kind, start s, end s) of one truck's day, in order; zero-length spans are left out.

    Parameters
    ----------
    route : Route
        A timed route.

    Returns
    -------
    list of tuple of (str, int, int)
        Kinds are the keys of :data:`SEGMENTS`.
    """
    segments = []
    for previous, stop in zip(route.stops, route.stops[1:]):
        if stop.arrival > previous.departure:
            segments.append(("driving", previous.departure, stop.arrival))
        kind = STOP_SEGMENT.get(stop.kind)
        if kind is not None and stop.departure > stop.start:
            segments.append((kind, stop.start, stop.departure))
    return segments


def _box(begin: float, end: float, low: float, high: float) -> list[tuple[float, float]]:
    """A segment's rectangle in hours × rows, corners as ``Axes.broken_barh`` draws them."""
    return [(begin / 3600, low), (begin / 3600, high), (end / 3600, high), (end / 3600, low)]


def write_timeline_png(
    plan: Plan, problem: Problem, path: Path, *, standard_shift_h: float = STANDARD_SHIFT_H, title: str = ""
) -> None:
    """One row per truck: driving, service, unloading, break, waiting, and overtime beyond the standard shift.

    Parameters
    ----------
    plan, problem
        The checked plan and its problem (clock times: seconds after local midnight of its day).
    path : Path
        The PNG file.
    standard_shift_h : float
        Shift hours after which the rest of the day is marked as overtime.
    title : str
        Chart title; by default the scenario name.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    cjk = use_cjk_font()
    routes = plan.routes
    fig, ax = plt.subplots(figsize=(14, max(3.0, 0.32 * len(routes) + 1.6)), dpi=110)
    # one collection, boxes in the order they were drawn one call each: a call per segment re-scaled the
    # axes over all earlier ones (O(segments²): a 10,000-stop day spent 262 s here, now 8 s)
    boxes: list[list[tuple[float, float]]] = []
    colours: list[str] = []
    for row, route in enumerate(routes):
        for kind, begin, end in route_segments(route):
            boxes.append(_box(begin, end, row - 0.35, row + 0.35))
            colours.append(SEGMENTS[kind][0])
        overtime_from = route.start + standard_shift_h * 3600
        if route.end > overtime_from:
            boxes.append(_box(overtime_from, route.end, row + 0.38, row + 0.52))
            colours.append(OVERTIME_COLOUR)
    if boxes:
        ax.add_collection(PolyCollection(boxes, facecolors=colours, edgecolors=colours))
    ax.set_yticks(range(len(routes)), [r.vehicle_id for r in routes], fontsize=7)
    ax.set_ylim(len(routes) - 0.4, -0.6)
    if routes:
        first = min(r.start for r in routes) // 3600
        last = -(-max(r.end for r in routes) // 3600)
        ax.set_xlim(first, last)
        ax.set_xticks(range(first, last + 1), [f"{h % 24:02d}:00" for h in range(first, last + 1)])
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    offset = problem.day_start.strftime("%z")
    ax.set_xlabel(label("当地时间", "local time", cjk=cjk) + f" (UTC{offset[:3]}:{offset[3:]})")
    handles = [Patch(color=c, label=label(zh, en, cjk=cjk)) for c, zh, en in SEGMENTS.values()]
    overtime = label("加班", "overtime", cjk=cjk) + f" (> {standard_shift_h:g} h)"
    handles.append(Patch(color=OVERTIME_COLOUR, label=overtime))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=len(handles), fontsize=8)
    name = drawable(problem.name, cjk=cjk, fallback=plan.scenario)
    ax.set_title(title or f"{name}: {label('车辆时间线', 'truck timeline', cjk=cjk)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs a user's id may have that no installed font draws
        fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
