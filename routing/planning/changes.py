"""What a re-plan changed: the stability figures and, per driver, a sheet of only what changed.

A site *kept its truck* when the truck that had it before the re-plan serves it after; it *kept
its order* when it is also in the longest common subsequence of that truck's remaining sites
before and after (so one site moved ahead does not count every other site as reordered). The
shares are over the remaining sites whose truck is still in service, the ones that could keep it.

A driver's change sheet (``changes.csv``, and ``changes/changes_<vehicle>.csv`` per truck with
changes) lists: sites added to the truck (taken over, or urgent), sites taken off it (to which
truck, cancelled, or now unserved), sites served in another order, sites whose service start moved
by :data:`RETIMED_MIN` minutes or more, and a truck out of service. UTF-8 CSV with a byte-order mark,
bilingual headers, as the route sheets.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from routing.planning.document import MovedSite, PlanDocument
from routing.planning.exports import sheet_csv
from routing.planning.scenario import STREAM_LABELS_ZH

RETIMED_MIN = 15
"""A kept site whose service start moved by this many minutes or more is on the driver's change sheet."""

CHANGE_HEADER = [
    "车辆 vehicle",
    "变化 change",
    "编号 id",
    "名称 name",
    "地址 address",
    "品类 stream",
    "原计划 before",
    "新计划 after",
    "相关车辆 other truck",
]
CHANGE_LABELS = {
    "out_of_service": "停运 out of service",
    "added": "新增 added",
    "taken_over": "接收 taken over",
    "moved": "移出 moved",
    "cancelled": "取消 cancelled",
    "unserved": "未安排 unserved",
    "reordered": "顺序调整 reordered",
    "retimed": "时间调整 time changed",
}


def kept_in_order(before: list[str], after: list[str]) -> set[str]:
    """The sites of a longest common subsequence of two visiting orders (dynamic programming, O(n·m)).

    Parameters
    ----------
    before, after
        Site ids in visiting order.

    Returns
    -------
    set of str
    """
    n, m = len(before), len(after)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if before[i] == after[j]:
                table[i][j] = table[i + 1][j + 1] + 1
            else:
                table[i][j] = max(table[i + 1][j], table[i][j + 1])
    kept, i, j = set(), 0, 0
    while i < n and j < m:
        if before[i] == after[j]:
            kept.add(before[i])
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return kept


def site_orders(document: PlanDocument, *, skip: set[str] = frozenset()) -> dict[str, list[str]]:
    """Per truck, its sites in visiting order (without ``skip``, e.g. the re-plan's start sites)."""
    return {r.vehicle_id: [s.id for s in r.stops if s.kind == "site" and s.id not in skip] for r in document.routes}


def stability(before: Mapping[str, list[str]], after: Mapping[str, list[str]]) -> dict:
    """How many remaining sites kept their truck and their order.

    Parameters
    ----------
    before
        Per truck still in service, its remaining sites in the replaced plan's order.
    after
        Per truck, its sites in the re-plan's order.

    Returns
    -------
    dict
        ``keepable_sites``, ``kept_truck``, ``kept_truck_share``, ``kept_order``, ``kept_order_share`` and
        ``moved`` (:class:`MovedSite` of every keepable site now elsewhere), as :class:`ReplanLink` fields.
    """
    truck_of = {sid: vid for vid, sites in after.items() for sid in sites}
    keepable = kept = ordered = 0
    moved = []
    for vid, sites in before.items():
        now = after.get(vid, [])
        keepable += len(sites)
        kept += sum(1 for s in sites if truck_of.get(s) == vid)
        ordered += len(kept_in_order(sites, now))
        moved += [
            MovedSite(site_id=s, from_vehicle=vid, to_vehicle=truck_of.get(s)) for s in sites if truck_of.get(s) != vid
        ]
    return {
        "keepable_sites": keepable,
        "kept_truck": kept,
        "kept_truck_share": round(kept / keepable, 4) if keepable else None,
        "kept_order": ordered,
        "kept_order_share": round(ordered / keepable, 4) if keepable else None,
        "moved": moved,
    }


def _starts(document: PlanDocument) -> dict[tuple[str, str], str]:
    """Service start (HH:MM) per (truck, site)."""
    return {
        (r.vehicle_id, s.id): s.start.strftime("%H:%M") for r in document.routes for s in r.stops if s.kind == "site"
    }


def change_rows(
    *,
    before: Mapping[str, list[str]],
    old: PlanDocument,
    new: PlanDocument,
    skip: set[str],
    out_of_service: Mapping[str, str],
    cancelled: set[str],
    sites: Mapping[str, object],
) -> list[list[str]]:
    """Rows under :data:`CHANGE_HEADER`: per truck, only what the re-plan changed for its driver.

    Parameters
    ----------
    before
        Per truck, its remaining sites in the replaced plan's order (trucks out of service included).
    old, new
        The replaced plan and the re-plan.
    skip
        The re-plan's start sites (not shown).
    out_of_service
        Truck id → the time (HH:MM) it broke down.
    cancelled
        Sites cancelled by the events.
    sites
        Site records by id (name, address, stream), old and new.

    Returns
    -------
    list of list of str
        Trucks in the replaced plan's order, then trucks new to the day.
    """
    after = site_orders(new, skip=skip)
    truck_of = {sid: vid for vid, ids in after.items() for sid in ids}
    was_on = {sid: vid for vid, ids in before.items() for sid in ids}
    old_at, new_at = _starts(old), _starts(new)
    rows: list[list[str]] = []

    def row(vid: str, change: str, sid: str = "", was: str = "", now: str = "", other: str = "") -> None:
        site = sites.get(sid)
        stream = getattr(site, "stream", "")
        rows.append(
            [
                vid,
                CHANGE_LABELS[change],
                sid,
                getattr(site, "name", ""),
                getattr(site, "address", ""),
                f"{STREAM_LABELS_ZH[stream]} {stream}" if stream else "",
                was,
                now,
                other,
            ]
        )

    for vid in [*before, *(v for v in after if v not in before)]:
        if vid in out_of_service:
            row(vid, "out_of_service", was=out_of_service[vid])
        was, now = before.get(vid, []), after.get(vid, [])
        in_order = kept_in_order(was, now)
        for sid in now:
            if sid not in was:
                source = was_on.get(sid, "")
                row(vid, "taken_over" if source else "added", sid, now=new_at[vid, sid], other=source)
            elif sid not in in_order:
                row(vid, "reordered", sid, was=old_at.get((vid, sid), ""), now=new_at[vid, sid])
            elif _minutes_apart(old_at.get((vid, sid)), new_at[vid, sid]) >= RETIMED_MIN:
                row(vid, "retimed", sid, was=old_at[vid, sid], now=new_at[vid, sid])
        for sid in was:
            if sid in truck_of and truck_of[sid] != vid:
                row(vid, "moved", sid, was=old_at.get((vid, sid), ""), other=truck_of[sid])
            elif sid not in truck_of:
                row(vid, "cancelled" if sid in cancelled else "unserved", sid, was=old_at.get((vid, sid), ""))
    return rows


def _minutes_apart(a: str | None, b: str) -> int:
    if a is None:
        return 0
    return abs((int(a[:2]) * 60 + int(a[3:])) - (int(b[:2]) * 60 + int(b[3:])))


def write_change_sheets(rows: list[list[str]], *, out: Path) -> dict[str, Path]:
    """``changes.csv`` (every truck) and ``changes/changes_<vehicle>.csv`` (each truck with changes) in ``out``.

    Parameters
    ----------
    rows
        :func:`change_rows`.
    out
        The re-plan's output folder.

    Returns
    -------
    dict
        ``changes`` (the file) and ``change_sheets`` (the folder).
    """
    folder = Path(out) / "changes"
    folder.mkdir(parents=True, exist_ok=True)
    header = sheet_csv([CHANGE_HEADER]).encode("utf-8")
    for path in sorted(folder.glob("changes_*.csv")):  # an earlier re-plan's sheets, never another file
        if path.read_bytes()[: len(header)] == header:
            path.unlink()
    all_file = Path(out) / "changes.csv"
    all_file.write_text(sheet_csv([CHANGE_HEADER, *rows]), encoding="utf-8", newline="")
    for vid in dict.fromkeys(r[0] for r in rows):
        sheet = [CHANGE_HEADER, *(r for r in rows if r[0] == vid)]
        (folder / f"changes_{vid}.csv").write_text(sheet_csv(sheet), encoding="utf-8", newline="")
    return {"changes": all_file, "change_sheets": folder}
