"""One rule engine, two ways to run it (issue 19): fix by fix live, a stored day at once for the audit."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from fleet.audit.geometry import compile_permits, compile_zones
from fleet.audit.pipeline import run_audit
from fleet.settings import FleetSettings
from fleet.simulate.tracks import simulate_haul, truck_day
from fleet.supervise.engine import Fix, SupervisionEngine
from fleet.tracks.sources import Positions
from fleet.tracks.track import read_positions
from tests.fleet.audit.nights import frame_fixes, random_zones, scenario_engine, simulate_night

FLEET = FleetSettings()


def _live(engine: SupervisionEngine, fixes: list[Fix]) -> list[tuple[Fix | None, object]]:
    events = [(fix, e) for fix in fixes for e in engine.push(fix)]
    return events + [(None, e) for e in engine.close()]


def _batch(net, scenario) -> list:
    frame, rejected = read_positions(scenario.positions)
    result = run_audit(
        positions=Positions(frame, rejected, len(frame)),
        permits=scenario.permits,
        zones=scenario.zones,
        network=net,
        settings=FLEET,
    )
    return result.violations


def _by_gps_time(frame: pd.DataFrame) -> pd.DataFrame:
    order = pd.to_datetime(frame["time"]).map(lambda s: s.timestamp()).to_numpy()
    return frame.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)


@pytest.fixture(scope="module")
def night(shenzhen, matcher):
    return simulate_night(shenzhen, seed=0, trucks=14, interval_s=15.0, matcher=matcher, settings=FLEET)


def test_alarms_raised_fix_by_fix_equal_the_violations_of_the_batch_audit(shenzhen, night):
    # the night's fixes arrive as the trucks send them: interleaved across trucks, in GPS-time order
    events = _live(scenario_engine(shenzhen, night), frame_fixes(_by_gps_time(night.positions)))
    batch = _batch(shenzhen, night)
    final = {e.alarm.key: e.alarm for _, e in events}  # each alarm as last judged
    ended = [a for a in final.values() if a.state == "ended"]
    live = sorted((a.violation for a in ended), key=lambda v: (v.device, v.start, v.type))
    assert len(batch) >= 10 and {v.type for v in batch} >= {"off_route", "speeding", "restricted_zone"}
    assert [v.model_dump() for v in live] == [v.model_dump() for v in batch]
    starts = Counter(e.alarm.key for _, e in events if e.kind == "start")
    assert max(starts.values()) == 1 and set(starts) == {a.key for a in ended}


def test_alarms_start_while_the_episode_goes_on_and_end_later(shenzhen, night):
    events = _live(scenario_engine(shenzhen, night), frame_fixes(_by_gps_time(night.positions)))
    for kind in ("off_route", "speeding", "restricted_zone", "reporting_gap"):
        raised = [(fix, e.alarm) for fix, e in events if e.kind == "start" and e.alarm.violation.type == kind]
        assert raised, kind
        for fix, alarm in raised:
            ended = [e.alarm for _, e in events if e.kind == "end" and e.alarm.key == alarm.key]
            end_s = pd.Timestamp(ended[0].violation.end).timestamp()
            # raised by the fix that showed it, at most one reporting interval after the episode's last fix
            assert fix is not None and fix.t <= end_s + 15.0, (kind, fix.t, end_s)
            assert not alarm.late and ended[0].state == "ended"


def test_a_redelivered_position_never_raises_a_second_alarm(shenzhen, matcher):
    sc = simulate_haul(shenzhen, violation="off_route", seed=1, matcher=matcher, settings=FLEET)
    engine = scenario_engine(shenzhen, sc)
    fixes = frame_fixes(sc.positions)
    first = [e for fix in fixes for e in engine.push(fix)]
    assert [e.kind for e in first if e.kind != "update"] == ["start", "end"]  # ended as the haul went on
    again = [e for fix in fixes[::-1] for e in engine.push(fix)]  # every position delivered a second time
    assert again == [] and engine.close() == []


def test_positions_arriving_out_of_order_are_judged_in_gps_order_and_the_alarm_says_late(shenzhen, matcher):
    sc = simulate_haul(shenzhen, violation="speeding", seed=0, matcher=matcher, settings=FLEET)
    (truth,) = _batch(shenzhen, sc)
    fixes = frame_fixes(sc.positions)
    start = pd.Timestamp(truth.start).timestamp()
    held = [f for f in fixes if start - 60 <= f.t <= start + 120]  # a blind area: uploaded after what followed it
    rest = [f for f in fixes if f not in held]
    cut = next(i for i, f in enumerate(rest) if f.t > start + 300)
    events = _live(scenario_engine(shenzhen, sc), rest[:cut] + held + rest[cut:])
    (alarm,) = [e.alarm for _, e in events if e.kind == "end"]
    assert alarm.late and alarm.violation.model_dump() == truth.model_dump()
    # before the upload the silence was a reporting gap; the uploaded fixes fill it and withdraw that alarm
    starts = [e.alarm.violation.type for _, e in events if e.kind == "start"]
    assert sorted(starts) == ["reporting_gap", "speeding"]
    assert [e.alarm.violation.type for _, e in events if e.kind == "withdrawn"] == ["reporting_gap"]


def test_a_position_hours_late_is_judged_among_the_late_ones_and_marked_late(shenzhen, matcher):
    # a compliant day, then a silent hour of yesterday's evening with a gap uploaded at the end of the day
    day = truck_day(shenzhen, seed=2, interval_s=30.0, noise_m=10.0, matcher=matcher)
    engine = scenario_engine(shenzhen, day)
    fixes = frame_fixes(day.positions)
    early, late_part = fixes[120:], fixes[:120]
    assert [e for f in early for e in engine.push(f)] == []
    window = engine.trucks[fixes[0].device].window
    assert window.times[-1] - window.times[0] <= FLEET.compliance.live_window_s * 1.25 + 3600  # the window is cut
    moving = [f for f in late_part if (f.speed_kmh or 0) > 20]
    hole = {id(f) for f in late_part if moving[5].t < f.t < moving[5].t + 400}
    events = [e for f in late_part if id(f) not in hole for e in engine.push(f)] + engine.close()
    gaps = [e.alarm for e in events if e.kind == "start" and e.alarm.violation.type == "reporting_gap"]
    assert len(gaps) == 1 and gaps[0].late


def test_whole_days_judged_live_in_a_short_window_equal_the_batch_audit(shenzhen, matcher):
    # two 24 h shuttle days through 50 daytime restricted zones: the windows are cut all day long
    days = [truck_day(shenzhen, seed=s, interval_s=10.0, noise_m=10.0, matcher=matcher) for s in (0, 1)]
    scenario = SimpleNamespace(
        positions=pd.concat([d.positions for d in days], ignore_index=True),
        permits=[p for d in days for p in d.permits],
        zones=random_zones(shenzhen, count=50, seed=0),
    )
    settings = FLEET.compliance.model_copy(update={"live_window_s": 1800.0})
    engine = SupervisionEngine(
        permits=compile_permits(scenario.permits, projector=shenzhen, settings=settings),
        zones=compile_zones(scenario.zones, projector=shenzhen),
        settings=settings,
        track_settings=FLEET.track,
        projector=shenzhen,
    )
    longest = 0
    events = []
    for fix in frame_fixes(_by_gps_time(scenario.positions)):
        events += engine.push(fix)
        longest = max(longest, len(engine.trucks[fix.device].window.times))
    events += engine.close()
    final = {e.alarm.key: e.alarm for e in events}
    live = sorted((a.violation for a in final.values() if a.state == "ended"), key=lambda v: (v.device, v.start))
    batch = _batch(shenzhen, scenario)
    assert len(batch) >= 3 and {v.type for v in batch} == {"restricted_zone"}
    assert [v.model_dump() for v in live] == [v.model_dump() for v in batch]
    assert longest < 8640 / 4  # at most a few hours of a day's fixes, not the day
