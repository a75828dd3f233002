"""Files of the sweeping audit: coverage.json, a per-street CSV with zh/en headers and a map.

The map draws every required kerb, offset a few metres to its own side so the two kerbs of a
two-way street are both seen: swept green, missed red, driven too fast orange, swept too few
times (a twice-a-shift kerb swept once) purple.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import shapely

from fleet.audit.sweeping import SweepAudit

STREET_COLUMNS = [
    ("street", "道路"),
    ("highway", "道路等级"),
    ("label", "等级名称"),
    ("kerbs", "路沿数"),
    ("required_km", "应扫公里"),
    ("served_km", "已扫公里"),
    ("status", "状态"),
    ("status_label", "状态说明"),
]
COLOURS = {"served": "#2e9e44", "missed": "#d62728", "too_fast": "#ff8c00", "partial": "#8e44ad"}


def write_streets_csv(audit: SweepAudit, path: Path) -> None:
    """One row per street, headers ``道路 / street`` …; UTF-8 with BOM so spreadsheet programs read the Chinese."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"{zh} / {en}" for en, zh in STREET_COLUMNS])
        for street in audit.streets:
            row = street.model_dump()
            writer.writerow([row[en] for en, _ in STREET_COLUMNS])


def draw_sweep_map(audit: SweepAudit, *, network: object, path: Path, title: str = "") -> None:
    """PNG map of the kerbs by audit status, with a legend (zh/en where a CJK font exists) and a scale bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from routing.network.mapdraw import add_scale_bar, drawable, label, use_cjk_font

    cjk = use_cjk_font()
    fig, ax = plt.subplots(figsize=(9, 9), dpi=110)
    geoms = network.edge_geometry  # type: ignore[attr-defined]
    xs = []
    for kerb in audit.kerbs:
        line = geoms[kerb.edge]
        side = shapely.offset_curve(line, -4.0 if kerb.side == "right" else 4.0)
        xy = (
            np.asarray(side.coords) if not side.is_empty and side.geom_type == "LineString" else np.asarray(line.coords)
        )
        xs.append(xy)
        ax.plot(xy[:, 0], xy[:, 1], color=COLOURS[kerb.status], linewidth=2.2, solid_capstyle="round")
    if xs:
        allxy = np.vstack(xs)
        pad = 80.0
        x0, y0 = allxy.min(axis=0) - pad
        x1, y1 = allxy.max(axis=0) + pad
        near = shapely.STRtree(geoms).query(shapely.box(x0, y0, x1, y1))
        for line in geoms[near]:  # the other streets, for orientation
            xy = np.asarray(line.coords)
            ax.plot(xy[:, 0], xy[:, 1], color="#c8c8c8", linewidth=0.7, zorder=0)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    names = {"served": ("已清扫", "swept"), "missed": ("漏扫", "missed"), "too_fast": ("车速过快", "too fast")}
    names["partial"] = ("次数不足", "too few passes")
    handles = [
        Line2D([0], [0], color=COLOURS[k], linewidth=3, label=label(*names[k], cjk=cjk))
        for k in ("served", "missed", "too_fast", "partial")
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=8)
    head = label("机械化清扫率", "mechanised sweeping rate", cjk=cjk)
    ax.set_title(f"{drawable(title, cjk=cjk)}  {head}: {audit.achieved_rate:.1%}".strip(), fontsize=11)
    add_scale_bar(ax, metres_per_unit=1.0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_sweep_outputs(audit: SweepAudit, *, network: object, out: Path, title: str = "") -> dict[str, Path]:
    """coverage.json, streets.csv and map.png in ``out`` (created); their paths by name."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"coverage": out / "coverage.json", "streets": out / "streets.csv", "map": out / "map.png"}
    paths["coverage"].write_text(json.dumps(audit.model_dump(), ensure_ascii=False, indent=1), encoding="utf-8")
    write_streets_csv(audit, paths["streets"])
    draw_sweep_map(audit, network=network, path=paths["map"], title=title)
    return paths
