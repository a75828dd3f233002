"""Which kerb a sweeper swept: slip roads beside a street in scope, reporting silences, kerb ends, brush switches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from fleet.audit.coverage import street_passes
from fleet.audit.sweeping import BACKTRACK_SIGMAS, LEAVE_SCOPE_COST, _fix_distances
from fleet.simulate.sweepers import simulate_sweeper
from fleet.tracks.matching import _silence_distance
from fleet.tracks.settings import MatchSettings, TrackSettings
from fleet.tracks.track import Track, build_tracks, read_positions
from routing.sweeping.scope import kerbs_in_area
from routing.sweeping.settings import SweepingSettings
from tests.fleet.audit.test_sweeping import _audit

FUTIAN_WEST = (114.03, 22.53, 114.045, 22.545)
XINZHOU = 1199  # 新洲路 southbound, 328 m (primary, in scope)
SLIP = [1198, 1200, 1203, 1238, 1161]  # its slip road beside it, 5–16 m off (primary_link, not in scope)
BEFORE = 8742  # the street the sweeper comes from (primary, in scope)


def _fixes_between(net, share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixes every 22 m: the end of the street before (in scope), then 新洲路 moved ``share`` of the way to the slip road."""
    before, street = net.edge_geometry[BEFORE], net.edge_geometry[XINZHOU]
    slip = shapely.line_merge(shapely.union_all(net.edge_geometry[SLIP]))
    lead = shapely.line_interpolate_point(before, before.length - np.array([66.0, 44.0, 22.0]))
    along = np.arange(15.0, street.length - 15.0, 22.0)
    on = shapely.line_interpolate_point(street, along)
    off = shapely.line_interpolate_point(slip, shapely.line_locate_point(slip, on))
    x = np.concatenate((shapely.get_x(lead), shapely.get_x(on) + share * (shapely.get_x(off) - shapely.get_x(on))))
    y = np.concatenate((shapely.get_y(lead), shapely.get_y(on) + share * (shapely.get_y(off) - shapely.get_y(on))))
    heading = np.degrees(np.arctan2(np.gradient(x), np.gradient(y)))
    return x, y, heading % 360


def _track(net, x, y) -> Track:
    lon, lat = net.to_lonlat(x, y)
    times = pd.date_range("2026-11-21T05:00:00+08:00", periods=len(x), freq="10s")
    frame = pd.DataFrame(
        {"device": "S1", "time": times.strftime("%Y-%m-%dT%H:%M:%S+08:00"), "lon": lon, "lat": lat, "speed_kmh": 8.0}
    )
    return build_tracks(read_positions(frame)[0], projector=net, settings=TrackSettings())[0]


@pytest.mark.parametrize("share", [0.55, 0.7])
def test_a_working_sweeper_between_a_street_and_its_slip_road_is_on_the_street(shenzhen, matcher, share):
    # a little nearer the slip road than the street: position alone puts the sweeper on the slip road
    x, y, heading = _fixes_between(shenzhen, share)
    track = _track(shenzhen, x, y)
    scope = np.zeros(len(shenzhen.edge_length_m), dtype=bool)
    scope[[BEFORE, XINZHOU]] = True
    args = {"heading_deg": heading, "heading_kappa": 2.0, "min_move_m": 7.5, "max_candidates": 16}
    working = np.ones(len(track), dtype=bool)
    plain = matcher.match(track, **args)
    assert set(plain.fix_edge.tolist()) & set(SLIP), "this place must be ambiguous without the prior"
    prior = matcher.match(track, **args, scope=scope, working=working, leave_scope_cost=LEAVE_SCOPE_COST)
    assert XINZHOU in prior.edges and not set(prior.fix_edge.tolist()) & set(SLIP)
    # brushes off (driving to the next street): no prior, the position decides as before
    idle = matcher.match(track, **args, scope=scope, working=~working, leave_scope_cost=LEAVE_SCOPE_COST)
    assert idle.edges == plain.edges


def test_a_sweeper_driving_the_slip_road_itself_stays_on_it(shenzhen, matcher):
    x, y, heading = _fixes_between(shenzhen, 1.0)
    track = _track(shenzhen, x, y)
    scope = np.zeros(len(shenzhen.edge_length_m), dtype=bool)
    scope[[BEFORE, XINZHOU]] = True
    matched = matcher.match(
        track,
        heading_deg=heading,
        heading_kappa=2.0,
        min_move_m=7.5,
        max_candidates=16,
        scope=scope,
        working=np.ones(len(track), dtype=bool),
        leave_scope_cost=LEAVE_SCOPE_COST,
    )
    assert XINZHOU not in matched.edges and set(SLIP) & set(matched.edges)


def test_a_fix_falling_back_along_the_street_is_noise_not_a_loop_round_the_block(shenzhen, matcher):
    # a sweeper on 102 (250 m, one way), fixes 22 m apart; one 26 m ahead of its place and the next behind
    street = shenzhen.edge_geometry[102]
    along = np.array([15.0, 37.0, 59.0, 96.0, 70.0, 110.0, 132.0, 154.0, 176.0, 198.0])
    on = shapely.line_interpolate_point(street, along)
    ahead = shapely.line_interpolate_point(street, along + 2.0)
    heading = np.degrees(np.arctan2(shapely.get_x(ahead) - shapely.get_x(on), shapely.get_y(ahead) - shapely.get_y(on)))
    track = _track(shenzhen, shapely.get_x(on), shapely.get_y(on))
    args = {"heading_deg": heading % 360, "heading_kappa": 2.0, "min_move_m": 7.5, "max_candidates": 16}
    assert len(matcher.match(track, **args).edges) > 1  # the trucks' 25 m: a loop of other streets is made up
    backtrack = BACKTRACK_SIGMAS * MatchSettings().sigma_m * np.sqrt(2.0)
    assert matcher.match(track, **args, backtrack_m=backtrack).edges == [102]


def test_across_a_reporting_silence_the_expected_road_distance_is_speed_times_time():
    t = np.array([0.0, 10.0, 20.0, 110.0, 120.0, 130.0])
    speed = np.array([8.0, 8.0, 7.2, 8.8, np.nan, 8.0])
    expected = _silence_distance(t, np.arange(6), speed)
    assert expected[2] == pytest.approx(90.0 * 8.0 / 3.6)  # 200 m swept in the 90 s silence
    assert np.isnan(expected[[0, 1, 3, 4]]).all()  # no silence, or a fix of unknown speed: the straight line
    # thinned fixes (a parked sweeper) are not a silence: only one reporting interval between kept fixes counts
    assert np.isnan(_silence_distance(t, np.array([0, 3, 5]), speed)).all()


def test_a_kerb_counts_by_its_own_road_except_at_its_junctions():
    kerb = shapely.LineString([(0, 0), (100, 0)])
    beside = shapely.LineString([(0, 8), (100, 8)])  # a parallel carriageway 8 m off, same way
    args = {"buffer_m": 10, "sample_m": 5, "heading_tolerance_deg": 60}
    driven = np.array([beside], dtype=object)
    assert street_passes([kerb], driven=driven, **args)[0].min() == 1  # the buffer alone credits it
    counts = street_passes([kerb], driven=driven, **args, road_ids=(np.array([1]), np.array([2])))[0]
    along = np.linspace(0, 100, len(counts))
    assert (counts[(along > 10) & (along < 90)] == 0).all() and (counts[(along <= 10) | (along >= 90)] == 1).all()
    own = street_passes([kerb], driven=np.array([kerb], dtype=object), **args, road_ids=(np.array([1]), np.array([1])))
    assert own[0].min() == 1
    # a kerb of a few metres inside a junction is within its ends: whatever drove through in its direction counts
    short = shapely.LineString([(0, 0), (12, 0)])
    through = np.array([shapely.LineString([(-30, 3), (40, 3)])], dtype=object)
    assert street_passes([short], driven=through, **args, road_ids=(np.array([1]), np.array([2])))[0].min() == 1


def test_a_brush_switch_does_not_move_the_fixes_on_either_side():
    # road speed 30 km/h, then the brushes go on at 8 km/h 2 s after the sixth fix; 8 m noise on the positions
    t = np.arange(12) * 10.0
    speed = np.where(np.arange(12) < 6, 30.0, 8.0)
    step = np.where(np.arange(1, 12) <= 5, 30.0, 8.0) / 3.6 * 10.0
    step[5] = 30.0 / 3.6 * 2.0 + 8.0 / 3.6 * 8.0
    truth = np.concatenate(([0.0], np.cumsum(step)))
    zeros = np.zeros(12)
    track = Track(
        device="S1",
        t=t,
        lon=zeros,
        lat=zeros,
        x=truth,
        y=zeros,
        speed_kmh=speed,
        load=zeros,
        ignition=zeros,
        speed_reported=np.ones(12, dtype=bool),
    )
    rng = np.random.default_rng(7)
    errors = {"split": [], "joined": []}
    for _ in range(200):
        args = {"path_start": np.zeros(12), "offset": truth + rng.normal(0.0, 8.0, 12), "window": 9}
        for kind, breaks in (("split", np.arange(12) == 6), ("joined", np.zeros(12, dtype=bool))):
            dist = _fix_distances(track, np.arange(12), **args, breaks=breaks)
            errors[kind].append(np.abs(dist - truth)[5:7])  # the fixes either side of the switch
    split, joined = np.mean(errors["split"]), np.mean(errors["joined"])
    # the integral over the switch (a steady change assumed) is 18 m long; smoothed across it, the error stays
    assert split < 5.0 and joined > split + 2.0


@pytest.fixture(scope="module")
def west_kerbs(shenzhen):
    return kerbs_in_area(shenzhen, area=shapely.box(*FUTIAN_WEST), settings=SweepingSettings())


@pytest.mark.parametrize("seed", range(4))
def test_futian_west_slip_roads_within_one_point(shenzhen, matcher, west_kerbs, seed):
    sim, truth = simulate_sweeper(shenzhen, west_kerbs, matcher=matcher, seed=seed)
    report = _audit(shenzhen, matcher, west_kerbs, sim.positions, work_signal="status_bit")
    assert abs(report.achieved_rate - truth.rate) <= 0.01
    listed = set(report.streets_missed + report.streets_too_fast)
    street = {k.kerb_id: k.name or f"way {k.way_id}" for k in west_kerbs}
    assert {street[k] for k in truth.skipped + truth.too_fast} <= listed
    assert all(k.passes <= truth.swept[k.kerb_id] for k in report.kerbs)  # nothing credited that was not swept
