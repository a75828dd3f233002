"""Import collection sites from CSV or GeoJSON (WGS-84 lon/lat).

CSV columns (header row, UTF-8, a BOM is fine): ``id, lon, lat, stream, demand_kg`` and
optionally ``name, address, demand_l, service_s, windows, access``; ``windows`` is
``06:00-10:00;19:00-21:00``. GeoJSON: a FeatureCollection of Points with the same
properties. Every bad row is reported with file, line (or feature number), id and field;
good rows are not lost because of bad ones — nothing is imported until all are fixed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from pydantic import ValidationError

from routing.errors import InputFileError
from routing.model import ScenarioError, Site

REQUIRED = ("id", "lon", "lat", "stream", "demand_kg")
NUMBERS = ("lon", "lat", "demand_kg", "demand_l", "service_s")


def _site(raw: dict, where: str, problems: list[str]) -> Site | None:
    doc: dict = {}
    for key, value in raw.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if key in NUMBERS and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                problems.append(f"{where}.{key}: {value!r} is not a number")
                return None
        if key == "windows" and isinstance(value, str):
            parts = [w.strip().split("-") for w in value.split(";") if w.strip()]
            if any(len(p) != 2 for p in parts):
                problems.append(f"{where}.windows: {value!r} is not like 06:00-10:00;19:00-21:00")
                return None
            value = [{"start": a.strip(), "end": b.strip()} for a, b in parts]
        doc[key] = value
    missing = [k for k in REQUIRED if k not in doc]
    if missing:
        problems.append(f"{where}: missing {', '.join(missing)}")
        return None
    try:
        return Site.model_validate(doc)
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"])
            problems.append(f"{where}{'.' + field if field else ''}: {err['msg'].removeprefix('Value error, ')}")
        return None


def read_sites(path: Path) -> list[Site]:
    """Sites from a ``.csv`` or ``.geojson``/``.json`` file; :class:`ScenarioError` lists every bad row."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    problems: list[str] = []
    sites: list[Site] = []
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            for line, row in enumerate(reader, start=2):
                where = f"{path.name}:{line} (id {row.get('id') or '?'})"
                site = _site({k.strip(): v for k, v in row.items() if k}, where, problems)
                if site is not None:
                    sites.append(site)
    else:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputFileError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
        for k, feature in enumerate(doc.get("features", [])):
            props = dict(feature.get("properties") or {})
            where = f"{path.name} feature {k} (id {props.get('id', '?')})"
            geometry = feature.get("geometry") or {}
            if geometry.get("type") != "Point":
                problems.append(f"{where}.geometry: expected a Point, got {geometry.get('type')!r}")
                continue
            props["lon"], props["lat"] = geometry["coordinates"][:2]
            site = _site(props, where, problems)
            if site is not None:
                sites.append(site)
    seen: set[str] = set()
    for site in sites:
        if site.id in seen:
            problems.append(f"{path.name}: duplicate site id {site.id}")
        seen.add(site.id)
    if problems:
        raise ScenarioError(problems, source=str(path))
    if not sites:
        raise InputFileError(f"{path}: no sites")
    return sites
