"""Import collection sites from CSV or GeoJSON (WGS-84 lon/lat).

CSV columns (header row, UTF-8, a BOM is fine): ``id, lon, lat, stream, demand_kg`` and
optionally ``name, address, demand_l, service_s, windows, access``; ``windows`` is
``06:00-10:00;19:00-21:00``. GeoJSON: a FeatureCollection of Points with the same
properties. Every bad row is reported with file, line (or feature number), id and field;
good rows are not lost because of bad ones. ``parse_sites`` returns the good rows and the
problems (the API keeps the good ones); ``read_sites`` imports nothing until all are fixed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from routing.errors import InputFileError, ScenarioError
from routing.jsonfile import field_errors, parse_feature_collection
from routing.planning.scenario import Site

REQUIRED = ("id", "lon", "lat", "stream", "demand_kg")
NUMBERS = ("lon", "lat", "demand_kg", "demand_l", "service_s")


@dataclass(frozen=True)
class SiteProblem:
    """One bad row: where (file with CSV line or GeoJSON feature number, site id), field, what is wrong."""

    source: str
    line: int | None
    feature: int | None
    id: str
    field: str
    error: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else f"{self.source} feature {self.feature}"
        return f"{where} (id {self.id}){'.' + self.field if self.field else ''}: {self.error}"


def _site(raw: dict, problem) -> Site | None:
    """A validated site, or None after reporting each problem through ``problem(field, error)``."""
    doc: dict = {}
    for key, value in raw.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key in NUMBERS and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                problem(key, f"{value!r} is not a number")
                return None
        if key == "windows" and isinstance(value, str):
            parts = [w.strip().split("-") for w in value.split(";") if w.strip()]
            if any(len(p) != 2 for p in parts):
                problem("windows", f"{value!r} is not like 06:00-10:00;19:00-21:00")
                return None
            value = [{"start": a.strip(), "end": b.strip()} for a, b in parts]
        doc[key] = value
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        problem("", f"missing {', '.join(missing)}")
        return None
    try:
        return Site.model_validate(doc)
    except ValidationError as exc:
        for field, message in field_errors(exc):
            problem(field, message)
        return None


def _csv_rows(name: str, text: str):
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if not reader.fieldnames:
        raise InputFileError(f"{name}: empty CSV, expected a header row")
    for line, row in enumerate(reader, start=2):
        extra = None in row
        yield (
            {"line": line},
            {k.strip(): v for k, v in row.items() if k},
            ("more cells than header columns" if extra else None),
        )


def _geojson_rows(name: str, text: str):
    for k, feature in enumerate(parse_feature_collection(text, source=name)):
        feature = feature if isinstance(feature, dict) else {}
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            yield {"feature": k}, {}, ("properties", "expected an object")
            continue
        props = dict(props)
        geometry = feature.get("geometry") or {}
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not isinstance(geometry, dict) or geometry.get("type") != "Point":
            got = geometry.get("type") if isinstance(geometry, dict) else geometry
            yield {"feature": k}, props, ("geometry", f"expected a Point, got {got!r}")
            continue
        if not isinstance(coordinates, list) or len(coordinates) < 2:
            yield {"feature": k}, props, ("geometry", "expected a Point with [lon, lat]")
            continue
        props["lon"], props["lat"] = coordinates[:2]
        yield {"feature": k}, props, None


def _reporter(problems: list[SiteProblem], *, source: str, place: dict, ident: str):
    """``problem(field, error)`` adding a :class:`SiteProblem` at ``place`` (CSV line or GeoJSON feature)."""

    def problem(field: str, error: str) -> None:
        problems.append(
            SiteProblem(
                source=source, line=place.get("line"), feature=place.get("feature"), id=ident, field=field, error=error
            )
        )

    return problem


def parse_sites(*, name: str, text: str, geojson: bool) -> tuple[list[Site], list[SiteProblem]]:
    """The good sites of a CSV or GeoJSON text and a problem for each bad row (a repeated id keeps the first).

    Parameters
    ----------
    name : str
        The file name for messages.
    text : str
        The file's text.
    geojson : bool
        True for a GeoJSON FeatureCollection, False for CSV.

    Returns
    -------
    sites : list of Site
        The valid sites, in file order.
    problems : list of SiteProblem
        One per bad row or feature.

    Raises
    ------
    InputFileError
        If the CSV has no header row, or the GeoJSON is not valid JSON or not a FeatureCollection.
    """
    sites: list[Site] = []
    problems: list[SiteProblem] = []
    first: dict[str, str] = {}
    rows = _geojson_rows(name, text) if geojson else _csv_rows(name, text)
    for place, raw, bad in rows:
        problem = _reporter(problems, source=name, place=place, ident=str(raw.get("id") or "?"))
        if bad is not None:
            field, error = bad if isinstance(bad, tuple) else ("", bad)
            problem(field, error)
            continue
        site = _site(raw, problem)
        if site is None:
            continue
        here = f"line {place['line']}" if "line" in place else f"feature {place['feature']}"
        if site.id in first:
            problem("id", f"duplicate site id {site.id} (first at {first[site.id]})")
            continue
        first[site.id] = here
        sites.append(site)
    return sites, problems


def read_sites(path: Path) -> list[Site]:
    """Sites from a ``.csv`` or ``.geojson``/``.json`` file; :class:`ScenarioError` lists every bad row."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8-sig")
    sites, problems = parse_sites(name=path.name, text=text, geojson=path.suffix.lower() != ".csv")
    if problems:
        raise ScenarioError([str(p) for p in problems], source=str(path))
    if not sites:
        raise InputFileError(f"{path}: no sites")
    return sites
