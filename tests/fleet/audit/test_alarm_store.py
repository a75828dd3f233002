"""Stored alarms (issue 19): the engine's events written by key, once, and handled through their lifecycle."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
import typer
from sqlmodel import Session, select

from fleet.settings import FleetSettings
from fleet.simulate.tracks import simulate_haul
from fleet.supervise.store import AlarmRow, acknowledge, apply_events, handle
from routing.errors import ConflictError, NotFoundError
from tests.conftest import postgres_schema_engine
from tests.fleet.audit.nights import frame_fixes, scenario_engine

FLEET = FleetSettings()


def _events(net, scenario) -> list:
    """A worker's view: every fix pushed, then the stream closed."""
    engine = scenario_engine(net, scenario)
    return [e for fix in frame_fixes(scenario.positions) for e in engine.push(fix)] + engine.close()


@contextmanager
def _database(kind: str, tmp_path):
    from api.db import engine_for

    if kind == "postgresql":
        with postgres_schema_engine("alarms") as engine:
            yield engine
        return
    engine = engine_for(f"sqlite:///{tmp_path / 'q.db'}")
    yield engine
    engine.dispose()


def _rows(engine) -> list[AlarmRow]:
    with Session(engine) as session:
        return list(session.exec(select(AlarmRow).order_by(AlarmRow.id)))


@pytest.fixture(scope="module")
def haul(shenzhen, matcher):
    return simulate_haul(shenzhen, violation="off_route", seed=1, matcher=matcher, settings=FLEET)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_refed_night_stores_each_alarm_once(kind, tmp_path, shenzhen, haul):
    events = _events(shenzhen, haul)
    starts = {e.alarm.key for e in events if e.kind == "start"}
    assert len(starts) == 1 and any(e.kind == "end" for e in events)
    with _database(kind, tmp_path) as engine:
        first = apply_events(engine, events)
        (row,) = _rows(engine)
        assert first.inserted == 1 and row.key in starts and row.type == "off_route" and row.state == "open"
        assert row.device == haul.positions["device"].iloc[0] and row.ended_at is not None
        assert row.evidence["evidence"] and row.evidence["type"] == "off_route"  # the fixes that show it
        # a worker restarted from the start of the stream re-raises every event: nothing is added or changed
        again = apply_events(engine, _events(shenzhen, haul))
        assert again.inserted == 0 and again.changed == 0
        assert [r.model_dump() for r in _rows(engine)] == [row.model_dump()]
        # the same events delivered a second time, out of order, change nothing either
        assert apply_events(engine, events[::-1]).inserted == 0
        assert len(_rows(engine)) == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_alarm_is_acknowledged_handled_and_closed_once_its_episode_ended(kind, tmp_path, shenzhen, haul):
    events = _events(shenzhen, haul)
    live = [e for e in events if e.kind == "start"]
    with _database(kind, tmp_path) as engine:
        apply_events(engine, live)  # the episode goes on: only its start is known
        (row,) = _rows(engine)
        with Session(engine) as session:
            assert acknowledge(session, row.id, by="sup1").state == "acknowledged"
            assert acknowledge(session, row.id, by="sup2").acknowledged_by == "sup1"  # again: unchanged
            done = handle(session, row.id, by="sup2", note="电话联系司机返回核准路线", evidence={"call": "13800000000"})
            assert done.state == "handled" and done.handled_by == "sup2" and done.handling_evidence["call"]
            with pytest.raises(ConflictError, match="handled"):
                acknowledge(session, row.id, by="sup1")
            with pytest.raises(ConflictError, match="handled"):
                handle(session, row.id, by="sup1", note="again", evidence=None)
            with pytest.raises(NotFoundError, match=str(row.id + 1)):
                acknowledge(session, row.id + 1, by="sup1")
        apply_events(engine, events)  # the episode ends: a handled alarm is closed
        (row,) = _rows(engine)
        assert row.state == "closed" and row.ended_at is not None and row.note.startswith("电话")
        with Session(engine) as session, pytest.raises(ConflictError, match="closed"):
            handle(session, row.id, by="sup1", note="again", evidence=None)


def test_a_withdrawn_alarm_nobody_handled_is_closed(tmp_path, shenzhen, haul):
    start = next(e for e in _events(shenzhen, haul) if e.kind == "start")
    withdrawn = start.model_copy(update={"kind": "withdrawn"})
    with _database("sqlite", tmp_path) as engine:
        apply_events(engine, [start])
        assert apply_events(engine, [withdrawn]).changed == 1
        (row,) = _rows(engine)
        assert row.withdrawn and row.state == "closed" and row.handled_at is None
        assert apply_events(engine, [start, withdrawn]).changed == 0  # re-delivered: nothing changes


def _store_positions(engine, frame) -> None:
    """Fixes stored as the JT/T 808 gateway stores them (load and ACC in the status word)."""
    import pandas as pd

    from fleet.tracks.store import insert_positions, register_terminal

    for device in sorted(frame["device"].unique()):
        register_terminal(engine, phone=device, registration={})
    received = datetime.fromisoformat("2026-12-01T00:00:00+08:00")
    rows = [
        (
            r.device,
            pd.Timestamp(r.time).to_pydatetime(),
            received,
            r.lat,
            r.lon,
            0,
            r.speed_kmh,
            0,
            0,
            2 | (1 if r.ignition == 1 else 0) | (0x300 if r.load == 1 else 0),
            None,
            False,
            "",
        )
        for r in frame.itertuples()
    ]
    insert_positions(engine, rows)


def test_a_stored_period_replayed_stores_the_audits_violations_once(tmp_path, shenzhen, matcher, haul):
    import pandas as pd

    from fleet.audit.pipeline import run_audit
    from fleet.supervise.replay import replay_period
    from fleet.tracks.sources import Period, db_positions

    fast = simulate_haul(shenzhen, violation="speeding", seed=2, matcher=matcher, settings=FLEET)
    fast.positions["device"] = "T0002"
    fast.permits = [p.model_copy(update={"device": "T0002"}) for p in fast.permits]
    times = pd.to_datetime(pd.concat([haul.positions["time"], fast.positions["time"]]), utc=True)
    period = Period(start=times.min().to_pydatetime(), end=times.max().to_pydatetime() + timedelta(seconds=1))
    permits, zones = [*haul.permits, *fast.permits], [*haul.zones, *fast.zones]
    with _database("sqlite", tmp_path) as engine:
        _store_positions(engine, pd.concat([haul.positions, fast.positions]))
        args = {"period": period, "permits": permits, "zones": zones, "network": shenzhen, "settings": FLEET}
        done = replay_period(engine, **args)
        audit = run_audit(
            positions=db_positions(engine, period=period),
            permits=permits,
            zones=zones,
            network=shenzhen,
            settings=FLEET,
        )
        stored = sorted((r.evidence for r in _rows(engine)), key=lambda v: (v["device"], v["start"], v["type"]))
        assert done.positions == len(haul.positions) + len(fast.positions) and done.stored.inserted == len(stored)
        assert {(v["device"], v["type"]) for v in stored} >= {(haul.positions["device"].iloc[0], "off_route")}
        assert ("T0002", "speeding") in {(v["device"], v["type"]) for v in stored}
        assert stored == [v.model_dump(mode="json") for v in audit.violations]  # one engine: live equals the audit
        again = replay_period(engine, **args)
        assert (again.stored.inserted, again.stored.changed) == (0, 0) and len(_rows(engine)) == len(stored)


def test_qingyun_supervise_replay_stores_the_alarms_and_says_how_many(tmp_path, shenzhen, haul, monkeypatch):
    import pandas as pd
    from typer.testing import CliRunner

    from api.cli import CliState
    from api.settings import get_settings
    from fleet.audit.inputs import PermitsFile, ZonesFile
    from fleet.supervise.cli import supervise_app

    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:  # as api/cli.py's root: settings and the migrated engine
        ctx.obj = CliState()

    root.add_typer(supervise_app, name="supervise")
    (tmp_path / "permits.json").write_text(PermitsFile(permits=haul.permits).model_dump_json(), encoding="utf-8")
    zones = ZonesFile(type="FeatureCollection", features=haul.zones).model_dump_json()
    (tmp_path / "zones.geojson").write_text(zones, encoding="utf-8")
    times = pd.to_datetime(haul.positions["time"], utc=True)
    period = ["--since", times.min().isoformat(), "--until", (times.max() + pd.Timedelta(seconds=1)).isoformat()]
    rules = ["--permits", str(tmp_path / "permits.json"), "--zones", str(tmp_path / "zones.geojson")]
    with _database("sqlite", tmp_path) as engine:
        _store_positions(engine, haul.positions)
        monkeypatch.setenv("QINGYUN_DATABASE_URL", str(engine.url))
        get_settings.cache_clear()
        try:
            first = CliRunner().invoke(root, ["supervise", "replay", *period, *rules])
            again = CliRunner().invoke(root, ["supervise", "replay", *period, *rules])
        finally:
            get_settings.cache_clear()
        assert first.exit_code == 0, first.output
        assert "new alarms 1," in first.output and "new alarms 0, 更新 / updated 0" in again.output
        assert [r.type for r in _rows(engine)] == ["off_route"]
