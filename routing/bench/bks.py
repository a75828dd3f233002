"""Best-known solutions (BKS) from the ``bks_*.csv`` tables next to the instance folders.

Only the column of the instance's own convention is read: DIMACS distance-only for
Solomon and Gehring & Homberger (``dimacs_*``), rounded EUC_2D for CVRP X (``bks_cost``), DIMACS
for Yang's multi-trip instances (``bks_cost``, written in tenths: 15006 is 1500.6).
Comparing across conventions (e.g. a trucks-first ``hier_*`` BKS) makes gaps meaningless.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from routing.errors import InputFileError

# convention -> (file, vehicles column, cost column)
_TABLES: dict[str, list[tuple[str, str, str]]] = {
    "dimacs_mtvrptwr": [("bks_mtvrptwr.csv", "routes_in_bks", "bks_cost")],
    "dimacs": [
        ("bks_solomon.csv", "dimacs_vehicles", "dimacs_distance_trunc1"),
        ("bks_gehring_homberger.csv", "dimacs_vehicles", "dimacs_distance_trunc1"),
    ],
    "euc2d_round": [("bks_cvrplib_X.csv", "routes_in_bks", "bks_cost")],
}
_COST_UNIT = {"dimacs_mtvrptwr": 0.1}  # the table's cost unit in instance distance, when not 1


@dataclass(frozen=True)
class Bks:
    """A best-known solution: vehicles used and objective, in one convention."""

    instance: str
    vehicles: int
    cost: float
    table: Path


def find_bks_dir(instance_path: Path) -> Path | None:
    """The nearest folder above the instance that holds ``bks_*.csv`` tables."""
    for folder in Path(instance_path).resolve().parents:
        if any(folder.glob("bks_*.csv")):
            return folder
    return None


def load_bks_table(path: Path, *, vehicles_column: str, cost_column: str, cost_unit: float = 1.0) -> dict[str, Bks]:
    """All rows of one BKS table keyed by instance name.

    Parameters
    ----------
    path : Path
        A ``bks_*.csv`` table with an ``instance`` column.
    vehicles_column, cost_column : str
        The columns holding the vehicles used and the objective of the table's convention.
    cost_unit : float
        The cost column's unit in instance distance (0.1: the table writes tenths).

    Returns
    -------
    dict of str to Bks
        One entry per row, keyed by instance name.

    Raises
    ------
    InputFileError
        If a row lacks a numeric value in either column (named with file:line).
    """
    table: dict[str, Bks] = {}
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for line, row in enumerate(reader, start=2):
            name = (row.get("instance") or "").strip()
            try:
                table[name] = Bks(
                    instance=name,
                    vehicles=int(row[vehicles_column]),
                    cost=round(float(row[cost_column]) * cost_unit, 6),
                    table=Path(path),
                )
            except (KeyError, TypeError, ValueError):
                raise InputFileError(
                    f"{path}:{line}: instance {name!r} lacks a numeric {vehicles_column}/{cost_column}"
                ) from None
    return table


def lookup_bks(name: str, *, convention: str, bks_dir: Path) -> Bks | None:
    """The best known solution of an instance.

    Parameters
    ----------
    name : str
        The instance name.
    convention : str
        The objective convention (a key of the BKS tables).
    bks_dir : Path
        The folder of the BKS tables.

    Returns
    -------
    Bks or None
        None when no table lists it.
    """
    for filename, vehicles_column, cost_column in _TABLES[convention]:
        path = Path(bks_dir) / filename
        if path.exists():
            table = load_bks_table(
                path,
                vehicles_column=vehicles_column,
                cost_column=cost_column,
                cost_unit=_COST_UNIT.get(convention, 1.0),
            )
            found = table.get(name)
            if found is not None:
                return found
    return None
