"""Catalogue import from CSV and GeoJSON uploads: each row validated, each bad one named.

CSV columns are the record's field names; list fields are written ``a;b`` (streams) and
time windows ``06:00-10:00;19:00-21:00``; a cell holds at most 131,072 characters. GeoJSON is a
FeatureCollection whose properties are the fields: Points for records with a place (lon/lat from
the geometry, WGS-84), any or null geometry for vehicles and vehicle types. A bad row is
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
from routing.planning.sites import decode_text, parse_sites

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
        return schema.model_validate(raw, strict=False)  # CSV cells are text: "12" is a number here
    except ValidationError as exc:
        for field, message in field_errors(exc):
            rejected.append(Rejected(where=where, field=field or "(row)", error=message))
        return None


def _csv_rows(filename: str, text: str):
    """``(line, row)`` of a CSV text; a malformed file (a cell over the csv module's limit …) names its line."""
    reader = csv.DictReader(io.StringIO(text))
    try:
        if not reader.fieldnames:
            raise InputFileError(f"{filename}: empty CSV, expected a header row")
        for row in reader:
            yield reader.line_num, row
    except csv.Error as exc:
        raise InputFileError(
            f"{filename}:line {reader.line_num + 1}: 无法读取 / unreadable CSV: {exc} "
            f"(a cell may hold at most {csv.field_size_limit():,} characters)"
        ) from None


def _feature_values(feature: object, *, located: bool) -> dict:
    """A GeoJSON feature's properties as record fields; a located record takes lon/lat from its Point.

    Records without a place (vehicles, vehicle types) are features whose geometry is null (or ignored).
    """
    if not isinstance(feature, dict):
        raise _Bad("(feature)", "expected a GeoJSON Feature object")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise _Bad("properties", "expected an object")
    if not located:
        return dict(properties)
    geometry = feature.get("geometry")
    if (
        not isinstance(geometry, dict)
        or geometry.get("type") != "Point"
        or not isinstance(geometry.get("coordinates"), list)
        or len(geometry["coordinates"]) < 2
    ):
        raise _Bad("geometry", "expected a Point with [lon, lat]")
    return {**properties, "lon": geometry["coordinates"][0], "lat": geometry["coordinates"][1]}


def _too_many(filename: str, rows: int, most: int) -> InputFileError:
    return InputFileError(
        f"{filename}: 约 {rows:,} 行 / about {rows:,} rows; at most {most:,} per import "
        "(QINGYUN_IMPORT_MAX_ROWS): split the file"
    )


class _Bad(ValueError):
    def __init__(self, field: str, error: str) -> None:
        super().__init__(error)
        self.field = field


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


def parse_upload(
    *, filename: str, content: bytes, schema: type[BaseModel], max_rows: int = 100_000
) -> tuple[list[BaseModel], list[Rejected]]:
    """Records from a ``.csv`` or ``.geojson``/``.json`` upload, and the rejected rows.

    Parameters
    ----------
    filename
        The upload's name; its extension picks the reader, and it begins every rejection's place.
    content
        The file's bytes, UTF-8 (a byte-order mark is allowed; sites may also be GBK/GB18030 or UTF-16).
    schema
        The record model each row is validated against; ``Site`` is read by the library's site importer.
    max_rows
        Most CSV rows or GeoJSON features (``QINGYUN_IMPORT_MAX_ROWS``); counted before any row is parsed
        (CSV), so a huge file costs no memory for records.

    Returns
    -------
    tuple[list[BaseModel], list[Rejected]]
        The valid records (a repeated id keeps the first), and each bad row with its place, field and reason.

    Raises
    ------
    InputFileError
        The whole file is unusable: unknown extension, not UTF-8, a CSV without header, not JSON,
        not a GeoJSON FeatureCollection, a cell over the CSV limit, or more than ``max_rows`` rows.
    """
    if not filename.lower().endswith((".csv", ".geojson", ".json")):
        raise InputFileError(f"{filename}: unknown file type; upload .csv or .geojson")
    if filename.lower().endswith(".csv") and content.count(b"\n") - 1 > max_rows:
        raise _too_many(filename, content.count(b"\n") - 1, max_rows)
    if issubclass(schema, Site):
        return _site_upload(filename, decode_text(content, source=filename))
    text = decode_text(content, source=filename)
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
        for line, row in _csv_rows(filename, text):
            where = f"{filename}:line {line}"
            try:
                raw = _cell_values(row)
            except ValueError as exc:
                rejected.append(Rejected(where=where, field="(row)", error=str(exc)))
                continue
            keep(_validate(schema, raw, where, rejected), where)
    else:
        located = "lon" in schema.model_fields
        features = parse_feature_collection(text, source=filename)
        if len(features) > max_rows:
            raise _too_many(filename, len(features), max_rows)
        for k, feature in enumerate(features):
            where = f"{filename}:features[{k}]"
            try:
                raw = _feature_values(feature, located=located)
            except _Bad as bad:
                rejected.append(Rejected(where=where, field=bad.field, error=str(bad)))
                continue
            keep(_validate(schema, raw, where, rejected), where)
    return records, rejected
