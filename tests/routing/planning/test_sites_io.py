"""Site import from CSV and GeoJSON."""

from __future__ import annotations

import json

import pytest

from routing.errors import InputFileError, ScenarioError
from routing.planning.sites import read_sites


def test_csv_with_windows_and_bom(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "id,name,lon,lat,stream,demand_kg,windows,access\n"
        "R1,老王餐馆,113.93,22.52,kitchen,120.5,06:00-10:00;19:00-21:00,small\n"
        "C1,小区,113.94,22.53,other,800,,\n",
        encoding="utf-8-sig",
    )
    sites = read_sites(path)
    assert [s.id for s in sites] == ["R1", "C1"]
    assert sites[0].name == "老王餐馆" and sites[0].access == "small"
    assert [w.seconds for w in sites[0].windows] == [(21600, 36000), (68400, 75600)]


def test_csv_bad_rows_are_all_named(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "id,lon,lat,stream,demand_kg,windows\n"
        "R1,113.93,22.52,glass,10,\n"
        "R2,113.93,abc,kitchen,10,\n"
        "R3,113.93,22.52,kitchen,-1,\n"
        "R4,113.93,22.52,kitchen,5,10:00-08:00\n",
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError) as err:
        read_sites(path)
    text = str(err.value)
    assert "sites.csv:2 (id R1).stream" in text
    assert "sites.csv:3 (id R2).lat: 'abc' is not a number" in text
    assert "sites.csv:4 (id R3).demand_kg" in text
    assert "sites.csv:5 (id R4).windows.0" in text


def test_geojson_points(tmp_path):
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [113.93, 22.52]},
                "properties": {"id": "R1", "stream": "kitchen", "demand_kg": 80},
            },
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
                "properties": {"id": "X"},
            },
        ],
    }
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"feature 1 \(id X\)\.geometry: expected a Point"):
        read_sites(path)
    doc["features"].pop()
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert read_sites(path)[0].lon == 113.93


CHINESE_CSV = (
    "编号,名称,地址,经度,纬度,品类,重量(kg),时间窗\n"
    "R1,老王餐馆,南山区科技园路1号,113.93,22.52,厨余垃圾,120.5,06:00-10:00;19:00-21:00\n"
    "C1,桂花小区,福田区,113.94,22.53,other,800,\n"
)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig", "utf-16"])
def test_chinese_headers_in_every_encoding_excel_writes_keep_the_names(tmp_path, encoding):
    path = tmp_path / "点位.csv"
    path.write_text(CHINESE_CSV, encoding=encoding)
    sites = read_sites(path)
    assert [s.id for s in sites] == ["R1", "C1"]
    assert sites[0].name == "老王餐馆" and sites[0].address == "南山区科技园路1号" and sites[1].name == "桂花小区"
    assert sites[0].stream == "kitchen" and sites[0].demand_kg == 120.5 and len(sites[0].windows) == 2


def test_extra_columns_are_kept_as_site_attributes(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "编号,名称,经度,纬度,品类,重量(kg),联系人,桶数\nR1,老王餐馆,113.93,22.52,餐厨,120,王师傅,3\nR2,小店,113.93,22.52,餐厨,9,,\n",
        encoding="gbk",
    )
    sites = read_sites(path)
    assert sites[0].attributes == {"联系人": "王师傅", "桶数": "3"}
    assert sites[1].attributes == {}  # empty extra cells are not attributes


def test_gb18030_characters_outside_gbk_survive(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("编号,名称,经度,纬度,品类,重量\nR1,𠮷野家 䶮,113.93,22.52,餐厨,10\n", encoding="gb18030")
    assert read_sites(path)[0].name == "𠮷野家 䶮"


def test_bilingual_and_spaced_headers_are_recognised(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text(
        "编号 id,经度 lon,纬度 lat, 品类 ,重量（kg）,Demand_L\nR1,113.93,22.52,可回收,10,20\n", encoding="utf-8"
    )
    (site,) = read_sites(path)
    assert (site.id, site.lon, site.stream, site.demand_kg, site.demand_l) == ("R1", 113.93, "recyclable", 10, 20)


def test_missing_columns_name_the_accepted_header_names(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_text("编号,名称,经度,纬度\nR1,餐馆,113.93,22.52\n", encoding="gbk")
    with pytest.raises(InputFileError, match=r"sites\.csv:1: .*missing column\(s\) stream, demand_kg.*品类.*重量"):
        read_sites(path)


def test_cell_over_the_csv_field_limit_names_file_and_line(tmp_path):
    path = tmp_path / "sites.csv"
    big = "x" * 140_000
    path.write_text(
        f"id,lon,lat,stream,demand_kg,name\nR1,113.93,22.52,kitchen,10,ok\nR2,113.93,22.52,kitchen,10,{big}\n"
    )
    with pytest.raises(InputFileError, match=r"sites\.csv:3: .*field larger than field limit"):
        read_sites(path)


def test_binary_file_is_one_clear_error(tmp_path):
    path = tmp_path / "sites.csv"
    path.write_bytes(b"PK\x03\x04\x00\x00" + bytes(range(256)))
    with pytest.raises(InputFileError, match=r"sites\.csv: .*not a text file"):
        read_sites(path)


def test_import_sites_cli_carries_attributes_into_the_scenario(tmp_path, places):
    import subprocess
    import sys

    from .conftest import base_scenario, site

    base = tmp_path / "day.json"
    base.write_text(json.dumps(base_scenario(places, sites=[site(places, 3)]), ensure_ascii=False), encoding="utf-8")
    rows = "".join(f"S{k},点 {k},{places[k].lon},{places[k].lat},厨余,50,张{k}\n" for k in range(4, 8))
    csv_path = tmp_path / "sites.csv"
    csv_path.write_text("编号,名称,经度,纬度,品类,重量(kg),联系人\n" + rows, encoding="gbk")
    out = tmp_path / "new.json"
    qingyun = [sys.executable, "-c", "from api.cli import main; main()"]
    run = subprocess.run(
        [*qingyun, "scenario", "import-sites", str(csv_path), "--into", str(base), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert [(s["id"], s["name"], s["attributes"]) for s in doc["sites"]] == [
        (f"S{k}", f"点 {k}", {"联系人": f"张{k}"}) for k in range(4, 8)
    ]
    huge = tmp_path / "huge.csv"
    huge.write_text("编号,名称,经度,纬度,品类,重量\nS1," + "名" * 200_000 + ",1,1,厨余,1\n", encoding="utf-8")
    run = subprocess.run(
        [*qingyun, "scenario", "import-sites", str(huge), "--into", str(base), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "huge.csv:2" in run.stderr and "Traceback" not in run.stderr


def test_both_readmes_document_exactly_the_accepted_column_names():
    import re
    from pathlib import Path

    from routing.planning.sites import COLUMN_NAMES

    root = Path(__file__).resolve().parents[3]
    for readme in ("README.md", "README.zh-CN.md"):
        text = (root / readme).read_text(encoding="utf-8")
        # the table under its header row ("| field | accepted column names …" / "| 字段 | 可用的列名 …")
        start = re.search(r"^\| (field|字段) \| (accepted column names|可用的列名) \|.*$", text, flags=re.MULTILINE)
        assert start, f"{readme}: the CSV column table is missing"
        table = re.match(r"(?:.*\n)(?:\|.*\n)+", text[start.start() :]).group(0)
        rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", table, flags=re.MULTILINE)
        documented = {field: tuple(re.split(r"[,、]\s*", names.strip())) for field, names in rows}
        assert documented == COLUMN_NAMES, readme


def test_allowed_and_preferred_truck_columns_reach_the_scenario_and_unknown_trucks_are_named(tmp_path, places):
    import subprocess
    import sys

    from .conftest import base_scenario, site

    trucks = [{"id": f"V{k}", "type": "T", "depot": "D", "shift_start": "06:00", "shift_end": "17:00"} for k in (1, 2)]
    base = tmp_path / "day.json"
    base.write_text(
        json.dumps(base_scenario(places, sites=[site(places, 3)], vehicles=trucks), ensure_ascii=False),
        encoding="utf-8",
    )
    p4, p5 = places[4], places[5]
    csv_path = tmp_path / "sites.csv"
    csv_path.write_text(
        "编号,经度,纬度,品类,重量(kg),指定车辆,优先车辆\n"
        f"S4,{p4.lon},{p4.lat},厨余,50,V1；V2,V2\n"
        f"S5,{p5.lon},{p5.lat},厨余,50,V1,\n",
        encoding="utf-8",
    )
    out = tmp_path / "new.json"
    qingyun = [sys.executable, "-c", "from api.cli import main; main()"]
    run = subprocess.run(
        [*qingyun, "scenario", "import-sites", str(csv_path), "--into", str(base), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    doc = {s["id"]: s for s in json.loads(out.read_text(encoding="utf-8"))["sites"]}
    assert doc["S4"]["vehicles"] == ["V1", "V2"] and doc["S4"]["preferred_vehicle"] == "V2"
    assert doc["S5"]["vehicles"] == ["V1"] and doc["S5"].get("preferred_vehicle") is None
    csv_path.write_text(
        f"id,lon,lat,stream,demand_kg,vehicles\nS6,{p4.lon},{p4.lat},kitchen,50,V1;V9\n", encoding="utf-8"
    )
    run = subprocess.run(
        [*qingyun, "scenario", "import-sites", str(csv_path), "--into", str(base), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2 and "S6" in run.stderr and "V9" in run.stderr and "Traceback" not in run.stderr
