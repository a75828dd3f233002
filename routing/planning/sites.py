"""Import collection sites from CSV or GeoJSON (WGS-84 lon/lat), as sanitation offices save them.

CSV files are read in UTF-8 (a byte-order mark is fine), UTF-16 with a byte-order mark, or GBK/GB18030
(what Excel writes on Chinese Windows), detected from the bytes. The header row may be English or
Chinese (:data:`COLUMN_NAMES`: ``编号/id, 名称/name, 地址/address, 经度/lon, 纬度/lat, 品类/stream,
重量(kg)/demand_kg`` …; a bilingual header such as ``经度 lon`` works too); every other column is kept
as one of the site's ``attributes`` (carried into the scenario, the GeoJSON and the route sheets).
``windows`` is ``06:00-10:00;19:00-21:00``; ``vehicles`` (the only trucks that may serve the site, its
grid's crews) is a list of truck ids such as ``ZX-01;ZX-02``, ``preferred_vehicle`` one truck id; a stream may be written in Chinese (``厨余垃圾``).
GeoJSON: a FeatureCollection of Points with the same properties. Every bad row is reported with
file, line (or feature number), id and field; good rows are not lost because of bad ones.
``parse_sites`` returns the good rows and the problems (the API keeps the good ones); ``read_sites``
imports nothing until all are fixed.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from routing.errors import InputFileError, ScenarioError
from routing.jsonfile import field_errors, parse_feature_collection
from routing.planning.scenario import STREAM_LABELS_ZH, Site

REQUIRED = ("id", "lon", "lat", "stream", "demand_kg")
NUMBERS = ("lon", "lat", "demand_kg", "demand_l", "service_s")

COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "id": ("id", "编号", "点位编号", "站点编号", "代码"),
    "name": ("name", "名称", "点位名称", "站点名称", "单位名称"),
    "address": ("address", "地址", "详细地址"),
    "lon": ("lon", "lng", "longitude", "经度"),
    "lat": ("lat", "latitude", "纬度"),
    "stream": ("stream", "品类", "垃圾品类", "垃圾类别", "类别"),
    "demand_kg": ("demand_kg", "重量(kg)", "预计重量(kg)", "日产量(kg)", "重量", "预计重量", "日产量"),
    "demand_l": ("demand_l", "体积(l)", "预计体积(l)", "体积"),
    "service_s": ("service_s", "作业时间(s)", "服务时间(s)", "作业时间", "服务时间"),
    "windows": ("windows", "时间窗", "收运时间", "收运时段"),
    "access": ("access", "通行", "通行等级", "车型限制"),
    "vehicles": ("vehicles", "车辆", "指定车辆", "作业车辆"),
    "preferred_vehicle": ("preferred_vehicle", "优先车辆", "首选车辆"),
}
"""Accepted header names per site field (case, spaces and full-width brackets ignored); the README's table."""

STREAM_NAMES = {
    **{label: stream for stream, label in STREAM_LABELS_ZH.items()},
    "厨余": "kitchen",
    "餐厨": "kitchen",
    "餐厨垃圾": "kitchen",
    "可回收": "recyclable",
    "有害": "hazardous",
    "其他": "other",
    "其它": "other",
    "其它垃圾": "other",
}
"""Chinese names of the streams, as a ``stream`` cell may give them."""

_CANONICAL = {}
for _field, _names in COLUMN_NAMES.items():
    for _name in _names:
        _CANONICAL[_name] = _field


def _normal(header: str) -> str:
    """A header as compared: lower case, no spaces, full-width brackets as ASCII."""
    return re.sub(r"\s+", "", header.strip().lower().replace("（", "(").replace("）", ")"))


def column_field(header: str) -> str | None:
    """The site field a CSV header names (``经度``, ``Lon``, ``经度 lon`` → ``lon``), or None for an extra column."""
    normal = _normal(header)
    if normal in _CANONICAL:
        return _CANONICAL[normal]
    fields = {_CANONICAL.get(_normal(part)) for part in header.split()} - {None}
    return fields.pop() if len(fields) == 1 else None


def accepted_columns() -> str:
    """The accepted header names, one field per entry, for error messages."""
    return "; ".join(f"{field}: {'/'.join(names[1:3] + names[:1])}" for field, names in COLUMN_NAMES.items())


def decode_text(data: bytes, *, source: str) -> str:
    """A text file's bytes as text: UTF-8 (BOM or not), UTF-16 with BOM, else GBK/GB18030 (Excel on Chinese Windows).

    Parameters
    ----------
    data : bytes
        The file's content.
    source : str
        The file name for messages.

    Returns
    -------
    str

    Raises
    ------
    InputFileError
        None of these encodings gives plausible text (binary data, a spreadsheet file).
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ("utf-16",)
    else:
        candidates = ("utf-8-sig", "gb18030")
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:  # GB18030 decodes many binary files; NUL never occurs in a text file
            return text
    raise InputFileError(
        f"{source}: 不是文本文件 / not a text file in UTF-8, UTF-16 or GBK/GB18030 (an .xlsx? save it as CSV)"
    )


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
        if (
            value is None
            or (isinstance(value, str | dict) and not value)
            or (isinstance(value, str) and not value.strip())
        ):
            continue
        if key in NUMBERS and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                problem(key, f"{value!r} is not a number")
                return None
        if key == "stream" and isinstance(value, str):
            value = STREAM_NAMES.get(value.strip(), value.strip())
        if key == "vehicles" and isinstance(value, str):
            value = [v for v in re.split(r"[;,，；、\s]+", value) if v]
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


def _columns(name: str, headers: list[str]) -> list[str | None]:
    """The site field of each CSV column (None: an extra column, kept as an attribute); checks the header row."""
    fields = [column_field(h) for h in headers]
    seen: dict[str, str] = {}
    for header, field in zip(headers, fields):
        if field is not None and field in seen:
            raise InputFileError(
                f"{name}:1: 列 {seen[field]!r} 与 {header!r} 重复 / columns {seen[field]!r} and {header!r} both give {field}"
            )
        if field is not None:
            seen[field] = header
    missing = [f for f in REQUIRED if f not in seen]
    if missing:
        raise InputFileError(
            f"{name}:1: 缺少列 / missing column(s) {', '.join(missing)} in header {headers!r}; "
            f"接受的列名 / accepted names: {accepted_columns()}"
        )
    return fields


def _csv_rows(name: str, text: str):
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        headers = [h.strip() for h in next(reader, [])]
        if not any(headers):
            raise InputFileError(
                f"{name}: empty CSV, expected a header row (接受的列名 / accepted names: {accepted_columns()})"
            )
        fields = _columns(name, headers)
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            row: dict = {"attributes": {}}
            for header, field, cell in zip(headers, fields, cells):
                if field is not None:
                    row[field] = cell
                elif header and cell.strip():
                    row["attributes"][header] = cell.strip()
            extra = len(cells) > len(headers)
            yield {"line": reader.line_num}, row, ("more cells than header columns" if extra else None)
    except csv.Error as exc:  # a cell over csv.field_size_limit(), a NUL byte, an unclosed quote at the end
        raise InputFileError(
            f"{name}:{reader.line_num}: 无法解析的 CSV / unreadable CSV: {exc} (cells hold at most {csv.field_size_limit():,} characters)"
        ) from None


def _properties(props: dict) -> dict:
    """GeoJSON properties by site field; the others kept as text attributes."""
    row: dict = {"attributes": {}}
    for key, value in props.items():
        field = column_field(str(key))
        if field is not None:
            row[field] = value
        elif value is not None and value != "":
            row["attributes"][str(key)] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return row


def _geojson_rows(name: str, text: str):
    for k, feature in enumerate(parse_feature_collection(text, source=name)):
        feature = feature if isinstance(feature, dict) else {}
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            yield {"feature": k}, {}, ("properties", "expected an object")
            continue
        props = _properties(props)
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
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: 无法读取 / cannot read: {exc.strerror}") from None
    text = decode_text(data, source=str(path))
    sites, problems = parse_sites(name=path.name, text=text, geojson=path.suffix.lower() != ".csv")
    if problems:
        raise ScenarioError([str(p) for p in problems], source=str(path))
    if not sites:
        raise InputFileError(f"{path}: no sites")
    return sites
