"""Read and validate the planner's files: communities CSV, candidate-sites CSV, parameters JSON.

Every bad value is reported at once, each with its file, line and field, so a planner
fixes a file in one pass; nothing is silently dropped or guessed.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any

from routing.errors import InputFileError, QingyunError
from routing.jsonfile import read_json
from routing.stations.capacity import CLASS_NAMES, StationClass, class_rank
from routing.stations.records import CandidateSite, Community, DisposalSite, PlanningParams

COMMUNITY_COLUMNS = ("id", "lon", "lat", "population", "t_per_day")
CANDIDATE_COLUMNS = ("id", "lon", "lat", "land_area_m2", "max_class", "existing", "current_class") + tuple(
    f"cost_{name}" for name in CLASS_NAMES
)
_TRUE = {"1", "true", "yes", "y", "是"}
_FALSE = {"0", "false", "no", "n", "否", ""}
_MAX_LISTED = 50


class _Problems:
    """Collects every bad value of one file, then raises them together."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            shown = "; ".join(self.items[:_MAX_LISTED])
            more = f"; and {len(self.items) - _MAX_LISTED} more" if len(self.items) > _MAX_LISTED else ""
            raise InputFileError(f"{self.path}: {len(self.items)} problem(s): {shown}{more}")


def _number(
    raw: str,
    *,
    where: str,
    name: str,
    problems: _Problems,
    low: float | None = None,
    high: float | None = None,
    required: bool = True,
    positive: bool = False,
) -> float | None:
    text = (raw or "").strip()
    if not text:
        if required:
            problems.add(where, f"field '{name}' is empty")
        return None
    try:
        value = float(text)
    except ValueError:
        problems.add(where, f"field '{name}' = {text!r} is not a number")
        return None
    if not math.isfinite(value):
        problems.add(where, f"field '{name}' = {text!r} is not finite")
    elif positive and value <= 0:
        problems.add(where, f"field '{name}' = {text} must be > 0")
    elif low is not None and value < low or high is not None and value > high:
        problems.add(where, f"field '{name}' = {text} is outside [{low}, {high}]")
    else:
        return value
    return None


def _rows(
    path: Path, *, required: tuple[str, ...], known: tuple[str, ...], problems: _Problems
) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: cannot read ({exc})") from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputFileError(
            f"{path}: line 1: missing column(s) {', '.join(missing)} (have: {', '.join(header) or 'none'})"
        )
    unknown = [c for c in header if c not in known]
    if unknown:
        raise InputFileError(f"{path}: line 1: unknown column(s) {', '.join(unknown)} (expected: {', '.join(known)})")
    reader.fieldnames = header
    rows = [(index + 2, {k: (v or "") for k, v in row.items() if k is not None}) for index, row in enumerate(reader)]
    if not rows:
        raise InputFileError(f"{path}: no data rows")
    return rows


def _identifier(row: dict[str, str], *, where: str, seen: dict[str, int], problems: _Problems) -> str | None:
    ident = row.get("id", "").strip()
    if not ident:
        problems.add(where, "field 'id' is empty")
        return None
    if ident in seen:
        problems.add(where, f"id {ident!r} repeats line {seen[ident]}")
        return None
    return ident


def read_communities(path: Path) -> list[Community]:
    """Communities CSV: id, lon, lat and population and/or t_per_day (measured mean t/d)."""
    problems = _Problems(path)
    communities: list[Community] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, required=("id", "lon", "lat"), known=COMMUNITY_COLUMNS, problems=problems):
        where = f"line {line}"
        ident = _identifier(row, where=where, seen=seen, problems=problems)
        if ident is not None:
            seen[ident] = line
            where = f"line {line} (id {ident})"
        lon = _number(row.get("lon", ""), where=where, name="lon", problems=problems, low=-180, high=180)
        lat = _number(row.get("lat", ""), where=where, name="lat", problems=problems, low=-90, high=90)
        population = _number(
            row.get("population", ""), where=where, name="population", problems=problems, required=False, low=0
        )
        measured = _number(
            row.get("t_per_day", ""), where=where, name="t_per_day", problems=problems, required=False, low=0
        )
        if not row.get("population", "").strip() and not row.get("t_per_day", "").strip():
            problems.add(where, "needs 'population' or 't_per_day'")
        if ident is None or lon is None or lat is None or (population is None and measured is None):
            continue
        communities.append(Community(ident, lon, lat, population=population, measured_t_per_day=measured))
    problems.raise_if_any()
    return communities


def _flag(raw: str, *, where: str, problems: _Problems) -> bool:
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text not in _FALSE:
        problems.add(where, f"field 'existing' = {raw!r} is not yes/no (1/0, true/false)")
    return False


def _class_name(raw: str, *, where: str, name: str, problems: _Problems) -> str | None:
    text = raw.strip().upper()
    if text not in CLASS_NAMES:
        problems.add(where, f"field '{name}' = {raw!r} is not a class ({', '.join(CLASS_NAMES)})")
        return None
    return text


def read_candidates(path: Path) -> list[CandidateSite]:
    """Candidate-sites CSV: id, lon, lat, land_area_m2, max_class, cost_I … cost_V, existing, current_class."""
    problems = _Problems(path)
    sites: list[CandidateSite] = []
    seen: dict[str, int] = {}
    rows = _rows(
        path, required=("id", "lon", "lat", "land_area_m2", "max_class"), known=CANDIDATE_COLUMNS, problems=problems
    )
    for line, row in rows:
        where = f"line {line}"
        ident = _identifier(row, where=where, seen=seen, problems=problems)
        if ident is not None:
            seen[ident] = line
            where = f"line {line} (id {ident})"
        lon = _number(row["lon"], where=where, name="lon", problems=problems, low=-180, high=180)
        lat = _number(row["lat"], where=where, name="lat", problems=problems, low=-90, high=90)
        area = _number(row["land_area_m2"], where=where, name="land_area_m2", problems=problems, positive=True)
        max_class = _class_name(row["max_class"], where=where, name="max_class", problems=problems)
        existing = _flag(row.get("existing", ""), where=where, problems=problems)
        current = None
        if existing or row.get("current_class", "").strip():
            current = _class_name(row.get("current_class", ""), where=where, name="current_class", problems=problems)
            if not existing:
                problems.add(where, "field 'current_class' is set but 'existing' is not yes")
        costs: dict[str, float] = {}
        for name in CLASS_NAMES:
            value = _number(
                row.get(f"cost_{name}", ""), where=where, name=f"cost_{name}", problems=problems, required=False, low=0
            )
            if value is not None:
                costs[name] = value
        if max_class is not None:
            offered = [n for n in costs if class_rank(n) <= class_rank(max_class)]
            if not offered:
                problems.add(where, f"no cost_<class> given for any class up to max_class {max_class}")
            if current is not None and class_rank(current) > class_rank(max_class):
                problems.add(where, f"current_class {current} is larger than max_class {max_class}")
        if current is not None and current not in costs:
            problems.add(where, f"existing station of class {current} needs 'cost_{current}' (its operating cost)")
        if None in (ident, lon, lat, area, max_class) or (existing and current is None):
            continue
        sites.append(CandidateSite(ident, lon, lat, area, max_class, costs, existing=existing, current_class=current))
    problems.raise_if_any()
    return sites


def _params_from_mapping(data: Any, *, source: str) -> PlanningParams:
    problems = _Problems(source)
    if not isinstance(data, dict):
        raise InputFileError(f"{source}: top level must be a JSON object")
    fields = {f.name: f for f in dataclasses.fields(PlanningParams)}
    values: dict[str, Any] = {}
    for key, raw in data.items():
        if key not in fields:
            problems.add(f"key '{key}'", f"unknown setting (known: {', '.join(fields)})")
            continue
        try:
            values[key] = _param_value(key, raw)
        except (TypeError, ValueError, KeyError, QingyunError) as exc:
            problems.add(f"key '{key}'", str(exc))
    problems.raise_if_any()
    params = PlanningParams(**values)
    for key, message in _param_range_problems(params):
        problems.add(f"key '{key}'", message)
    problems.raise_if_any()
    return params


def _finite(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        raise ValueError(f"{raw!r} is not a number")
    return float(raw)


def _param_value(key: str, raw: Any) -> Any:
    if key == "disposal_sites":
        if not isinstance(raw, list):
            raise ValueError("must be a list of {id, lon, lat}")
        sites = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict) or set(item) != {"id", "lon", "lat"}:
                raise ValueError(f"item {index} must have exactly id, lon, lat")
            lon, lat = _finite(item["lon"]), _finite(item["lat"])
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError(f"item {index} ({item['id']}) lon/lat out of range")
            sites.append(DisposalSite(str(item["id"]), lon, lat))
        return tuple(sites)
    if key == "classes":
        if not isinstance(raw, dict) or set(raw) != set(CLASS_NAMES):
            raise ValueError(
                f"must map every class {', '.join(CLASS_NAMES)} to {{min_t_per_day, max_t_per_day, min_land_area_m2}}"
            )
        return tuple(
            StationClass(
                name,
                _finite(raw[name]["min_t_per_day"]),
                _finite(raw[name]["max_t_per_day"]),
                _finite(raw[name]["min_land_area_m2"]),
            )
            for name in CLASS_NAMES
        )
    if key in ("sweep_q_kg_per_person_day", "sweep_years_ahead"):
        if not isinstance(raw, list) or not raw:
            raise ValueError("must be a non-empty list")
        if key == "sweep_years_ahead":
            if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in raw):
                raise ValueError(f"{raw!r} must be whole years >= 0")
            return tuple(raw)
        return tuple(_finite(v) for v in raw)
    if key in ("allow_close_existing", "allow_downgrade_existing", "solver_log"):
        if not isinstance(raw, bool):
            raise ValueError(f"{raw!r} must be true or false")
        return raw
    if key == "years_ahead":
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise ValueError(f"{raw!r} must be whole years")
        return raw
    if key == "min_spacing_m" and raw is None:
        return None
    return _finite(raw)


def _param_range_problems(params: PlanningParams) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    positive = ("q_kg_per_person_day", "service_radius_km", "snap_max_distance_m", "time_limit_s")
    for key in positive:
        if getattr(params, key) <= 0:
            found.append((key, f"{getattr(params, key)} must be > 0"))
    for key in ("haul_cost_yuan_per_tkm", "transfer_cost_yuan_per_tkm", "years_ahead"):
        if getattr(params, key) < 0:
            found.append((key, f"{getattr(params, key)} must be >= 0"))
    if params.peak_factor < 1:
        found.append(("peak_factor", f"{params.peak_factor} must be >= 1"))
    if params.growth_rate_per_year <= -1:
        found.append(("growth_rate_per_year", f"{params.growth_rate_per_year} must be > -1"))
    if not 0 <= params.relative_gap < 1:
        found.append(("relative_gap", f"{params.relative_gap} must be in [0, 1)"))
    if params.min_spacing_m is not None and params.min_spacing_m < 0:
        found.append(("min_spacing_m", f"{params.min_spacing_m} must be >= 0"))
    if any(q <= 0 for q in params.sweep_q_kg_per_person_day):
        found.append(("sweep_q_kg_per_person_day", "every q must be > 0"))
    for station_class in params.classes:
        if not 0 <= station_class.min_t_per_day < station_class.max_t_per_day:
            found.append(("classes", f"class {station_class.name}: need 0 <= min_t_per_day < max_t_per_day"))
    return found


def read_params(path: Path | None) -> PlanningParams:
    """Parameters JSON (keys = PlanningParams fields); no file means every documented default."""
    if path is None:
        return PlanningParams()
    return _params_from_mapping(read_json(path, what="parameters"), source=str(path))
