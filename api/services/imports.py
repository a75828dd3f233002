"""Catalogue import from CSV and GeoJSON uploads: each row validated, each bad one named.

CSV columns are the record's field names; list fields are written ``a;b`` (streams) and
time windows ``06:00-10:00;19:00-21:00``. GeoJSON is a FeatureCollection of Points
whose properties are the fields (lon/lat from the geometry, WGS-84). A bad row is
reported with its line (CSV) or feature index (GeoJSON) and field; the good rows are kept.
Sites are read by the library's importer (``routing.planning.sites``, as ``qingyun scenario
import-sites``); the other records, which the library has no file importer for, here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pydantic import BaseModel, ValidationError

from routing.errors import InputFileError
from routing.jsonfile import field_errors, parse_feature_collection
from routing.planning.scenario import Site
from routing.planning.sites import parse_sites

LIST_FIELDS = {"streams"}
WINDOW_FIELDS = {"windows", "opening_hours"}


@dataclass
class Rejected:
    where: str
    field: str
    error: str


def _windows(text: str) -> list[dict]:
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        start, sep, end = part.partition("-")
        if not sep:
            raise ValueError(f"{part!r} is not a window HH:MM-HH:MM")
        out.append({"start": start.strip(), "end": end.strip()})
    return out


def _cell_values(row: dict[str, str]) -> dict:
    """CSV text cells → values pydantic can validate (empty cells fall back to defaults)."""
    out: dict = {}
    for key, raw in row.items():
        if key is None:
            raise ValueError("more cells than header columns")
        text = (raw or "").strip()
        if text == "":
            continue
        if key in LIST_FIELDS:
            out[key] = [p.strip() for p in text.split(";") if p.strip()]
        elif key in WINDOW_FIELDS:
            out[key] = _windows(text)
        else:
            out[key] = text
    return out


def _validate(schema: type[BaseModel], raw: object, where: str, rejected: list[Rejected]) -> BaseModel | None:
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        for field, message in field_errors(exc):
            rejected.append(Rejected(where=where, field=field or "(row)", error=message))
        return None


def _text(filename: str, content: bytes) -> str:
    if not filename.lower().endswith((".csv", ".geojson", ".json")):
        raise InputFileError(f"{filename}: unknown file type; upload .csv or .geojson")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{filename}: not UTF-8 text (byte {exc.start})") from None


def _site_upload(filename: str, text: str) -> tuple[list[BaseModel], list[Rejected]]:
    sites, problems = parse_sites(name=filename, text=text, geojson=not filename.lower().endswith(".csv"))
    rejected = [
        Rejected(
            where=f"{filename}:line {p.line}" if p.line is not None else f"{filename}:features[{p.feature}]",
            field=p.field or "(row)",
            error=p.error,
        )
        for p in problems
    ]
    return list(sites), rejected


def parse_upload(*, filename: str, content: bytes, schema: type[BaseModel]) -> tuple[list[BaseModel], list[Rejected]]:
    """Records from a ``.csv`` or ``.geojson``/``.json`` upload, and the rejected rows.

    Parameters
    ----------
    filename
        The upload's name; its extension picks the reader, and it begins every rejection's place.
    content
        The file's bytes, UTF-8 (a byte-order mark is allowed).
    schema
        The record model each row is validated against; ``Site`` is read by the library's site importer.

    Returns
    -------
    tuple[list[BaseModel], list[Rejected]]
        The valid records (a repeated id keeps the first), and each bad row with its place, field and reason.

    Raises
    ------
    InputFileError
        The whole file is unusable: unknown extension, not UTF-8, a CSV without header, not JSON,
        or not a GeoJSON FeatureCollection.
    """
    text = _text(filename, content)
    if issubclass(schema, Site):
        return _site_upload(filename, text)
    name = filename.lower()
    records: list[BaseModel] = []
    rejected: list[Rejected] = []
    seen: dict[str, str] = {}

    def keep(record: BaseModel | None, where: str) -> None:
        if record is None:
            return
        ident = getattr(record, "id", None)
        if ident in seen:
            rejected.append(Rejected(where=where, field="id", error=f"duplicate id {ident!r} (first at {seen[ident]})"))
            return
        seen[ident] = where
        records.append(record)

    if name.endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise InputFileError(f"{filename}: empty CSV, expected a header row")
        for line, row in enumerate(reader, start=2):
            where = f"{filename}:line {line}"
            try:
                raw = _cell_values(row)
            except ValueError as exc:
                rejected.append(Rejected(where=where, field="(row)", error=str(exc)))
                continue
            keep(_validate(schema, raw, where, rejected), where)
    else:
        for k, feature in enumerate(parse_feature_collection(text, source=filename)):
            where = f"{filename}:features[{k}]"
            geometry = feature.get("geometry") if isinstance(feature, dict) else None
            if (
                not isinstance(geometry, dict)
                or geometry.get("type") != "Point"
                or not isinstance(geometry.get("coordinates"), list)
                or len(geometry["coordinates"]) < 2
            ):
                rejected.append(Rejected(where=where, field="geometry", error="expected a Point with [lon, lat]"))
                continue
            properties = feature.get("properties") or {}
            if not isinstance(properties, dict):
                rejected.append(Rejected(where=where, field="properties", error="expected an object"))
                continue
            raw = {**properties, "lon": geometry["coordinates"][0], "lat": geometry["coordinates"][1]}
            keep(_validate(schema, raw, where, rejected), where)
    return records, rejected
