"""VRPLIB ``.vrp`` instances and ``.sol`` solutions (Solomon, Gehring & Homberger, CVRP X).

The objective convention is part of the instance, because mixing conventions makes
every gap meaningless (see ../shared/README.md):

- ``dimacs`` (VRPTW, type CVRPTW): d_ij = floor(10·euclid)/10, travel time = distance,
  objective = total distance, fleet free up to VEHICLES.
- ``euc2d_round`` (CVRP X, type CVRP): each arc rounded to the nearest integer
  (TSPLIB EUC_2D), distance only, fleet unlimited.

Distances are held as exact integers in ``1/scale`` units (tenths for DIMACS), so
objectives are sums of integers and compare exactly with the published ``Cost`` lines.
Node 1 of the file is the depot and becomes index 0; a ``.sol`` numbers customers with
the same indices (customer k of a ``.sol`` is file node k+1).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from routing.errors import InputFileError

Convention = Literal["dimacs", "euc2d_round"]

_SCALE: dict[str, int] = {"dimacs": 10, "euc2d_round": 1}
_CONVENTION_BY_TYPE: dict[str, Convention] = {"CVRPTW": "dimacs", "VRPTW": "dimacs", "CVRP": "euc2d_round"}
_SECTIONS = {
    "NODE_COORD_SECTION": 3,
    "DEMAND_SECTION": 2,
    "TIME_WINDOW_SECTION": 3,
    "SERVICE_TIME_SECTION": 2,
    "DEPOT_SECTION": 1,
}


@dataclass(frozen=True)
class VrpInstance:
    """One VRPLIB instance; index 0 is the depot, 1..n the customers."""

    name: str
    source: Path
    problem_type: str
    convention: Convention
    coords: np.ndarray  # (n+1, 2) float
    demand: np.ndarray  # (n+1,) int, depot 0
    capacity: int
    fleet_size: int  # VEHICLES, or one vehicle per customer when the fleet is unlimited
    service_time: np.ndarray  # (n+1,) float, depot 0
    time_windows: np.ndarray | None  # (n+1, 2) float [earliest start, latest start]; None for CVRP
    arc_units: np.ndarray  # (n+1, n+1) int64, distance × scale (exact)
    scale: int

    @property
    def n_customers(self) -> int:
        """Customers, the depot not counted."""
        return len(self.demand) - 1

    @property
    def distance(self) -> np.ndarray:
        """Distance matrix in the instance's units (DIMACS: truncated to one decimal)."""
        return self.arc_units / self.scale

    def routes_cost(self, routes: list[list[int]]) -> float:
        """Total distance of depot-to-depot routes in this instance's convention."""
        total = 0
        for route in routes:
            path = [0, *route, 0]
            total += int(self.arc_units[path[:-1], path[1:]].sum())
        return total / self.scale


def first_customers(instance: VrpInstance, count: int) -> VrpInstance:
    """The instance restricted to its first ``count`` customers, as Solomon's 25/50-customer sets are.

    Parameters
    ----------
    instance : VrpInstance
        The full instance.
    count : int
        Customers to keep (1 … ``instance.n_customers``); the fleet is capped at ``count``.

    Returns
    -------
    VrpInstance
        The restricted copy, named ``<name>.<count>``.

    Raises
    ------
    ValueError
        If ``count`` is out of range.
    """
    if not 1 <= count <= instance.n_customers:
        raise ValueError(f"count {count} outside 1..{instance.n_customers} for {instance.name}")
    keep = slice(0, count + 1)
    return replace(
        instance,
        name=f"{instance.name}.{count}",
        coords=instance.coords[keep],
        demand=instance.demand[keep],
        fleet_size=min(instance.fleet_size, count),
        service_time=instance.service_time[keep],
        time_windows=None if instance.time_windows is None else instance.time_windows[keep],
        arc_units=instance.arc_units[keep, keep],
    )


@dataclass(frozen=True)
class VrpSolution:
    """Routes as customer index lists (depot 0 implicit at both ends) and the stated cost."""

    routes: list[list[int]]
    cost: float | None


def arc_units_matrix(coords: np.ndarray, *, convention: Convention) -> np.ndarray:
    """Integer distance matrix in ``1/scale`` units for the given convention.

    Parameters
    ----------
    coords : numpy.ndarray
        (n, 2) coordinates.
    convention : {"dimacs", "euc2d_round"}
        ``dimacs``: Euclidean distance truncated to tenths (scale 10); ``euc2d_round``: rounded to integers.

    Returns
    -------
    numpy.ndarray
        (n, n) int64 distances × scale.
    """
    diff = coords[:, None, :] - coords[None, :, :]
    squared = (diff**2).sum(axis=2)
    if convention == "dimacs":
        # floor(10·sqrt(d²)) == floor(sqrt(100·d²)); exact for integer coordinates.
        return np.floor(np.sqrt(100.0 * squared)).astype(np.int64)
    return np.floor(np.sqrt(squared) + 0.5).astype(np.int64)


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from exc


Rows = dict[str, list[tuple[int, list[float]]]]  # section -> (line number, numbers) per row


def _parse_sections(path: Path, lines: list[str]) -> tuple[dict[str, str], Rows]:
    """The ``KEY : value`` header and the numeric rows of every section, up to ``EOF``."""
    header: dict[str, str] = {}
    rows: Rows = {}
    section: str | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "EOF":
            break
        key = line.split()[0].rstrip(":")
        if key in _SECTIONS:
            section = key
            rows[section] = []
            continue
        if ":" in line and not re.match(r"^-?\d", line):
            name, _, value = line.partition(":")
            header[name.strip().upper()] = value.strip().strip('"')
            section = None
            continue
        if section is None:
            raise InputFileError(f"{path}:{number}: unexpected line outside any section: {line!r}")
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise InputFileError(f"{path}:{number}: {section} row is not numeric: {line!r}") from None
        if section == "DEPOT_SECTION":
            if values[0] == -1:
                section = None
                continue
        elif len(values) < _SECTIONS[section]:
            raise InputFileError(f"{path}:{number}: {section} row needs {_SECTIONS[section]} values, got {line!r}")
        rows[section].append((number, values))
    return header, rows


def _header_int(path: Path, header: dict[str, str], key: str) -> int:
    if key not in header:
        raise InputFileError(f"{path}: header field {key} is missing")
    try:
        return int(float(header[key]))
    except ValueError:
        raise InputFileError(f"{path}: header field {key} is not a number: {header[key]!r}") from None


def _column(path: Path, rows: Rows, section: str, *, dimension: int, width: int, required: bool) -> np.ndarray | None:
    """A section as a (dimension, width) table indexed by node - 1, every node exactly once."""
    if section not in rows:
        if required:
            raise InputFileError(f"{path}: {section} is missing")
        return None
    table = np.zeros((dimension, width))
    seen = np.zeros(dimension, dtype=bool)
    for number, values in rows[section]:
        node = values[0]
        if node != int(node) or not 1 <= node <= dimension:
            raise InputFileError(f"{path}:{number}: {section} node id {node:g} outside 1..{dimension}")
        index = int(node) - 1
        if seen[index]:
            raise InputFileError(f"{path}:{number}: {section} repeats node {int(node)}")
        seen[index] = True
        table[index] = values[1 : 1 + width]
    if not seen.all():
        missing = [str(i + 1) for i in np.flatnonzero(~seen)[:10]]
        raise InputFileError(f"{path}: {section} lacks node(s) {', '.join(missing)}")
    return table


def read_vrp(path: Path | str, *, convention: Convention | None = None) -> VrpInstance:
    """Read a VRPLIB instance.

    Parameters
    ----------
    path : Path or str
        The ``.vrp`` file.
    convention : {"dimacs", "euc2d_round"}, optional
        The objective convention; by default the one of the file's TYPE.

    Returns
    -------
    VrpInstance
        Node 1 of the file as index 0 (the depot), distances in exact integer units.

    Raises
    ------
    InputFileError
        If the file cannot be read, or a header field, section or row is missing or malformed
        (the message names the file, line and value).
    """
    path = Path(path)
    header, rows = _parse_sections(path, _read_lines(path))
    dimension = _header_int(path, header, "DIMENSION")
    problem_type = header.get("TYPE", "").upper()
    if convention is None:
        if problem_type not in _CONVENTION_BY_TYPE:
            raise InputFileError(f"{path}: TYPE {problem_type!r} is not one of {sorted(_CONVENTION_BY_TYPE)}")
        convention = _CONVENTION_BY_TYPE[problem_type]
    coords = _column(path, rows, "NODE_COORD_SECTION", dimension=dimension, width=2, required=True)
    demand = _column(path, rows, "DEMAND_SECTION", dimension=dimension, width=1, required=True)[:, 0]
    windows = _column(path, rows, "TIME_WINDOW_SECTION", dimension=dimension, width=2, required=convention == "dimacs")
    service_col = _column(path, rows, "SERVICE_TIME_SECTION", dimension=dimension, width=1, required=False)

    depots = [int(values[0]) for _, values in rows.get("DEPOT_SECTION", [])]
    if depots != [1]:
        raise InputFileError(f"{path}: DEPOT_SECTION must name exactly node 1 as the depot, got {depots}")
    if np.any(demand != np.round(demand)) or np.any(demand < 0):
        bad = int(np.flatnonzero((demand != np.round(demand)) | (demand < 0))[0]) + 1
        raise InputFileError(f"{path}: DEMAND_SECTION node {bad} has a non-integer or negative demand")
    if service_col is not None:
        service = service_col[:, 0]
    else:
        service = np.full(dimension, float(header.get("SERVICE_TIME", 0) or 0))
    service[0] = 0.0
    if windows is not None:
        bad_windows = np.flatnonzero(windows[:, 1] < windows[:, 0])
        if bad_windows.size:
            raise InputFileError(f"{path}: TIME_WINDOW_SECTION node {int(bad_windows[0]) + 1} closes before it opens")
    fleet = _header_int(path, header, "VEHICLES") if "VEHICLES" in header else dimension - 1
    return VrpInstance(
        name=header.get("NAME", path.stem).strip() or path.stem,
        source=path,
        problem_type=problem_type,
        convention=convention,
        coords=coords,
        demand=demand.astype(np.int64),
        capacity=_header_int(path, header, "CAPACITY"),
        fleet_size=fleet,
        service_time=service,
        time_windows=windows,
        arc_units=arc_units_matrix(coords, convention=convention),
        scale=_SCALE[convention],
    )


_ROUTE_LINE = re.compile(r"^Route\s*#\s*(\d+)\s*:(.*)$", re.IGNORECASE)


def read_sol(path: Path | str) -> VrpSolution:
    """Read a VRPLIB solution: ``Route #k: i j …`` lines and a ``Cost X`` line."""
    path = Path(path)
    lines = _read_lines(path)
    routes: list[list[int]] = []
    cost: float | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        match = _ROUTE_LINE.match(line)
        if match:
            try:
                routes.append([int(v) for v in match.group(2).split()])
            except ValueError:
                raise InputFileError(f"{path}:{number}: route has a non-integer customer: {line!r}") from None
        elif line.lower().startswith("cost"):
            try:
                cost = float(line.split()[1])
            except (IndexError, ValueError):
                raise InputFileError(f"{path}:{number}: cannot read the cost in {line!r}") from None
    if not routes:
        raise InputFileError(f"{path}: no 'Route #k:' line found")
    return VrpSolution(routes=routes, cost=cost)


def format_sol(routes: list[list[int]], *, cost: float, decimals: int) -> str:
    """VRPLIB solution text; empty routes are left out, routes renumbered from 1.

    Parameters
    ----------
    routes : list of list of int
        Customer numbers per route.
    cost : float
        The objective for the ``Cost`` line.
    decimals : int
        Decimals of the cost; 0 rounds half up to an integer.

    Returns
    -------
    str
        The ``Route #k: …`` lines and the ``Cost`` line.
    """
    used = [route for route in routes if route]
    lines = [f"Route #{k}: {' '.join(str(c) for c in route)}" for k, route in enumerate(used, start=1)]
    lines.append(f"Cost {cost:.{decimals}f}" if decimals else f"Cost {math.floor(cost + 0.5)}")
    return "\n".join(lines) + "\n"


def write_sol(path: Path | str, routes: list[list[int]], *, cost: float, decimals: int) -> Path:
    """Write routes in VRPLIB ``.sol`` format (customers numbered as in the instance).

    Parameters
    ----------
    path : Path or str
        The ``.sol`` file; its folder is created.
    routes : list of list of int
        Customer numbers per route.
    cost, decimals
        As in :func:`format_sol`.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_sol(routes, cost=cost, decimals=decimals), encoding="utf-8")
    return path
