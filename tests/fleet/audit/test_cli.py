"""`qingyun audit` end to end on simulated input files and on stored positions, and its error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from fleet.simulate.collection import simulate_collection
from fleet.simulate.tracks import simulate_haul, write_inputs

QINGYUN = Path(sys.executable).parent / "qingyun"
FIELDS = {"type", "severity", "device", "company", "start", "end", "lon", "lat", "evidence", "explanation"}


@pytest.fixture(scope="module")
def inputs(shenzhen, matcher, fleet_settings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit-in")
    hauls = [
        simulate_haul(shenzhen, violation=v, seed=20 + k, matcher=matcher, settings=fleet_settings)
        for k, v in enumerate([None, "speeding", "suspected_dumping", "restricted_zone", "no_permit"])
    ]
    collection, plan = simulate_collection(shenzhen, seed=5, stops=5, skip=(1,), matcher=matcher)
    truth = sorted((e.device, e.type) for s in hauls for e in s.truth)
    return write_inputs([*hauls, collection], folder, plan=plan), truth


def run(*args: str, database: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if database is not None:
        env["QINGYUN_DATABASE_URL"] = f"sqlite:///{database}"
    return subprocess.run([str(QINGYUN), *args], capture_output=True, text=True, timeout=600, env=env)


def test_audit_writes_every_output(inputs, tmp_path):
    paths, truth = inputs
    out = tmp_path / "report"
    done = run(
        "audit",
        "--tracks",
        str(paths["tracks"]),
        "--permits",
        str(paths["permits"]),
        "--zones",
        str(paths["zones"]),
        "--plan",
        str(paths["plan"]),
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    violations = json.loads((out / "violations.json").read_text(encoding="utf-8"))
    assert sorted((v["device"], v["type"]) for v in violations) == truth
    assert all(FIELDS <= v.keys() and v["start"].endswith("+08:00") for v in violations)
    coverage = json.loads((out / "coverage.json").read_text(encoding="utf-8"))
    assert [s["status"] for s in coverage["routes"][0]["stops"]] == [
        "visited",
        "missed",
        "visited",
        "visited",
        "visited",
    ]
    scores = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert {s["company"] for s in scores} >= {"C0", "C1", "C2"} and all(0 <= s["score"] <= 100 for s in scores)
    matched = json.loads((out / "matched.json").read_text(encoding="utf-8"))
    assert len(matched) == 6 and all(0 < m["confidence"] <= 1 and m["edges"] for m in matched)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert (
        page.count("<svg") == len(violations)
        and "清运率 / clearance rate" in page
        and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    )
    assert "清运率 / clearance rate" in done.stdout


def test_schema_lists_every_file():
    done = run("audit", "--schema")
    assert done.returncode == 0
    schemas = json.loads(done.stdout)
    assert {
        "permits.json",
        "zones.geojson",
        "plan.json",
        "positions.csv (one row)",
        "violations.json",
    } <= schemas.keys()
    assert "destination_sites" in schemas["permits.json"]["$defs"]["Permit"]["properties"]


def test_bad_permit_is_one_line_naming_the_permit_and_field(inputs, tmp_path):
    paths, _ = inputs
    permits = json.loads(paths["permits"].read_text(encoding="utf-8"))
    permits["permits"][1]["valid_until"] = "2020-01-01T00:00:00+08:00"
    bad = tmp_path / "permits.json"
    bad.write_text(json.dumps(permits), encoding="utf-8")
    done = run("audit", "--tracks", str(paths["tracks"]), "--permits", str(bad), "--out", str(tmp_path / "r"))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (
        "permits.1" in done.stderr
        and permits["permits"][1]["permit_id"] in done.stderr
        and "valid_until" in done.stderr
    )


def test_missing_tracks_option_is_named(tmp_path):
    done = run("audit", "--permits", str(tmp_path / "p.json"))
    assert done.returncode == 2 and "--tracks" in done.stderr


# --- positions from the database: `qingyun jt808 export` and `qingyun audit --from-db` -------------------
PERIOD = ("--since", "2026-11-21T00:00:00+08:00", "--until", "2026-11-23T00:00:00+08:00")


@pytest.fixture(scope="module")
def stored(inputs, tmp_path_factory):
    """The simulated hauls' fixes stored as a JT/T 808 gateway stores them (load and ACC in the status word)."""
    import pandas as pd

    from api.db import engine_for
    from fleet.tracks.store import insert_positions, register_terminal

    paths, _ = inputs
    database = tmp_path_factory.mktemp("db") / "qingyun.db"
    engine = engine_for(f"sqlite:///{database}")  # the schema comes from the migrations, as in the service
    frame = pd.read_csv(paths["tracks"], dtype={"device": str})
    frame = frame[frame["device"].str.startswith("T")]  # the construction-waste hauls, not the collection truck
    for device in sorted(frame["device"].unique()):
        register_terminal(engine, phone=device, registration={})
    received = datetime.fromisoformat("2026-11-23T00:00:00+08:00")
    rows = [
        (
            r.device,
            datetime.fromisoformat(r.time),
            received,
            r.lat,
            r.lon,
            0,
            r.speed_kmh,
            int(r.heading) % 360,
            0,
            2 | (1 if r.ignition == 1 else 0) | (0x300 if r.load == 1 else 0),
            None,
            False,
            "",
        )
        for r in frame.itertuples()
    ]
    insert_positions(engine, rows)
    engine.dispose()
    return database, sorted(frame["device"].unique())


def test_export_then_audit_equals_audit_from_the_database(inputs, stored, tmp_path):
    paths, truth = inputs
    database, devices = stored
    exported = tmp_path / "positions.csv"
    done = run("jt808", "export", *PERIOD, "--out", str(exported), database=database)
    assert done.returncode == 0, done.stderr
    rules = ("--permits", str(paths["permits"]), "--zones", str(paths["zones"]), "--no-match")
    from_csv = run("audit", "--tracks", str(exported), *rules, "--out", str(tmp_path / "csv"), database=database)
    from_db = run("audit", "--from-db", *PERIOD, *rules, "--out", str(tmp_path / "db"), database=database)
    assert from_csv.returncode == 0 and from_db.returncode == 0, from_csv.stderr + from_db.stderr
    read = lambda folder, name: json.loads((tmp_path / folder / name).read_text(encoding="utf-8"))  # noqa: E731
    violations = read("db", "violations.json")
    assert violations == read("csv", "violations.json")
    assert read("db", "scores.json") == read("csv", "scores.json")
    assert sorted((v["device"], v["type"]) for v in violations) == [t for t in truth if t[0] in devices]
    summary = read("db", "summary.json")
    assert summary["trucks"] == len(devices) and summary["rows_read"] == len(exported.read_text().splitlines()) - 1


def test_from_db_audits_only_the_named_devices(inputs, stored, tmp_path):
    paths, truth = inputs
    database, devices = stored
    one = next(d for d, kind in truth if kind == "speeding")
    done = run(
        "audit", "--from-db", *PERIOD, "--devices", one, "--permits", str(paths["permits"]), "--no-match",
        "--out", str(tmp_path / "r"), database=database,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads((tmp_path / "r" / "violations.json").read_text(encoding="utf-8"))
    assert [(v["device"], v["type"]) for v in found] == [(one, "speeding")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "2026-11-23T00:00:00+08:00", "--until", "2026-11-21T00:00:00+08:00"), "is not after"),
        (("--since", "yesterday", "--until", "2026-11-21T00:00:00+08:00"), "--since: 'yesterday'"),
        ((*PERIOD, "--devices", "T0021,NOPE"), "no terminal NOPE"),
    ],
)
def test_bad_period_or_unknown_device_is_one_line_and_exit_code_2(inputs, stored, tmp_path, args, message):
    paths, _ = inputs
    database, _ = stored
    for command in (
        ("audit", "--from-db", *args, "--permits", str(paths["permits"]), "--out", str(tmp_path / "r")),
        ("jt808", "export", *args, "--out", str(tmp_path / "p.csv")),
    ):
        done = run(*command, database=database)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p.csv").exists() and not (tmp_path / "r").exists()


def test_from_db_needs_a_period_and_no_tracks_file(inputs, tmp_path):
    paths, _ = inputs
    no_period = run("audit", "--from-db", "--permits", str(paths["permits"]))
    both = run("audit", "--from-db", *PERIOD, "--tracks", str(paths["tracks"]), "--permits", str(paths["permits"]))
    assert no_period.returncode == 2 and "--since" in no_period.stderr
    assert both.returncode == 2 and "not both" in both.stderr


def test_export_brings_a_new_database_up_with_the_migrations(tmp_path):
    import sqlalchemy as sa
    from alembic.script import ScriptDirectory

    from api.db import alembic_config

    database = tmp_path / "new.db"
    done = run("jt808", "export", *PERIOD, "--out", str(tmp_path / "p.csv"), database=database)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p.csv").read_text(encoding="utf-8").count("\n") == 1  # the header, no position
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        assert {"terminal", "position", "job", "api_key"} <= set(sa.inspect(connection).get_table_names())
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert version == ScriptDirectory.from_config(alembic_config(f"sqlite:///{database}")).get_current_head()
    engine.dispose()
