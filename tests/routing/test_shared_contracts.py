"""The product-wide helpers every reader relies on: JSON files, validation messages, UTC offsets, error kinds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel

from routing.errors import ConflictError, InputFileError, InvalidInputError, NotFoundError, QingyunError, http_status
from routing.jsonfile import parse_feature_collection, read_json, validated
from routing.localtime import CHINA_TZ, iso_local, parse_utc_offset


def test_json_file_errors_name_the_file_line_and_column(tmp_path):
    with pytest.raises(InputFileError, match=r"missing\.json: no such scenario file"):
        read_json(tmp_path / "missing.json", what="scenario")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "a": 1,\n  oops\n}', encoding="utf-8")
    with pytest.raises(InputFileError, match=r"bad\.json:3:3: not valid JSON"):
        read_json(bad)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(InputFileError, match="nested too deeply"):
        read_json(deep)
    bom = tmp_path / "bom.json"
    bom.write_bytes('\ufeff{"名称": "贵溪"}'.encode())
    assert read_json(bom) == {"名称": "贵溪"}


@pytest.mark.parametrize("text", ["[]", '{"type": "Feature"}', '{"type": "FeatureCollection", "features": {}}'])
def test_anything_but_a_feature_collection_is_refused(text):
    with pytest.raises(InputFileError, match=r"up\.geojson: expected a GeoJSON FeatureCollection"):
        parse_feature_collection(text, source="up.geojson")


class _Site(BaseModel):
    id: str
    demand_kg: float


class _Day(BaseModel):
    sites: list[_Site]


def test_validation_messages_name_the_path_and_the_item_id():
    raw = {"sites": [{"id": "R1", "demand_kg": 1}, {"id": "R2", "demand_kg": "lots"}]}
    with pytest.raises(InputFileError) as error:
        validated(_Day, raw, source="day.json", ident=lambda item: item.get("id"))
    assert str(error.value).startswith("day.json: sites.1.demand_kg (id R2): ")


def test_utc_offsets_parse_and_bad_ones_are_named():
    assert parse_utc_offset("+08:00") == CHINA_TZ
    assert parse_utc_offset("-03:30").utcoffset(None) == -timedelta(hours=3, minutes=30)
    for bad in ("+8:00", "+15:00", "+14:30", "08:00", ""):
        with pytest.raises(InvalidInputError, match="utc_offset"):
            parse_utc_offset(bad)
    assert iso_local(0) == "1970-01-01T08:00:00+08:00"


def test_error_kinds_map_to_http_statuses():
    assert http_status(NotFoundError("plan x")) == 404
    assert http_status(ConflictError("job running")) == 409
    assert http_status(InputFileError("bad")) == 422
    assert http_status(QingyunError("other")) == 422
