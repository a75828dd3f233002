"""Violations on simulated trucks over the Shenzhen network, against the simulator's ground truth."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
import shapely

from fleet.audit.geometry import compile_permits, compile_zones
from fleet.audit.inputs import TimeWindow
from fleet.audit.rules.context import in_windows
from fleet.audit.rules.settings import ComplianceSettings
from fleet.settings import FleetSettings
from fleet.simulate.tracks import VIOLATION_TYPES, add_artefacts, simulate_haul, truck_day
from fleet.supervise.engine import audit_fleet
from fleet.tracks.settings import TrackSettings
from fleet.tracks.track import build_tracks, read_positions
from routing.localtime import CHINA_TZ

FLEET = FleetSettings()
TRACK = TrackSettings()


def simulate(net, **kwargs):
    return simulate_haul(net, settings=FLEET, **kwargs)


def audit(net, scenario, settings=None):
    settings = settings or ComplianceSettings()
    positions, rejected = read_positions(scenario.positions)
    assert not rejected
    tracks = build_tracks(positions, projector=net, settings=TRACK)
    return audit_fleet(
        tracks,
        permits=compile_permits(scenario.permits, projector=net, settings=settings),
        zones=compile_zones(scenario.zones, projector=net),
        settings=settings,
        track_settings=TRACK,
    )


def seconds(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


@pytest.mark.parametrize("violation", VIOLATION_TYPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_each_injected_violation_is_found_once_with_its_times(shenzhen, matcher, violation, seed):
    sc = simulate(shenzhen, violation=violation, seed=seed, interval_s=10.0, noise_m=10.0, matcher=matcher)
    found = audit(shenzhen, sc)
    assert len(sc.truth) >= 1
    assert [v.type for v in found] == [e.type for e in sc.truth], [(v.type, v.start, v.end) for v in found]
    for v, e in zip(found, sc.truth):
        assert abs(seconds(v.start) - e.start_s) <= sc.interval_s, (v.start, e.start_s)
        assert abs(seconds(v.end) - e.end_s) <= sc.interval_s, (v.end, e.end_s)
        assert v.start.endswith("+08:00") and v.evidence and v.explanation["zh"] and v.explanation["en"]
        assert v.permit_id == (sc.permits[0].permit_id if sc.permits else None)
        assert v.company == (sc.permits[0].company if sc.permits else None)


@pytest.mark.parametrize("seed", range(6))
def test_compliant_trucks_with_15m_noise_and_30s_sampling_raise_nothing(shenzhen, matcher, seed):
    # artefacts too: duplicates, late blind-area batches, invalid fixes and a 3 km jump
    sc = simulate(shenzhen, violation=None, seed=seed, interval_s=30.0, noise_m=15.0, matcher=matcher, artefacts=True)
    assert sc.zones, "the compliant haul crosses a restricted zone outside its schedule"
    assert audit(shenzhen, sc) == []


def test_unload_away_from_the_disposal_site_is_severe_and_a_loaded_stop_alone_is_moderate(shenzhen, matcher):
    sc = simulate(shenzhen, violation="suspected_dumping", seed=4, matcher=matcher)
    assert [v.severity for v in audit(shenzhen, sc)] == ["high"]
    steady = sc.positions.copy()
    steady["load"] = np.where(steady["time"] < sc.positions["time"].iloc[60], 0, 1)  # loaded throughout the haul
    sc.positions = steady
    found = [v for v in audit(shenzhen, sc) if v.type == "suspected_dumping"]
    assert [v.severity for v in found] == ["medium"]


def test_a_road_crossing_a_zone_gives_one_violation_not_a_storm(shenzhen, matcher):
    for seed in range(3):
        sc = simulate(shenzhen, violation="restricted_zone", seed=seed, interval_s=10.0, noise_m=15.0, matcher=matcher)
        assert len([v for v in audit(shenzhen, sc) if v.type == "restricted_zone"]) == 1


def test_a_road_along_a_zone_edge_gives_at_most_one_violation(shenzhen, matcher):
    # the zone's boundary runs 5 m beside 1 km of the road: fixes flip in and out with the noise
    for seed in range(3):
        sc = simulate(
            shenzhen,
            violation="restricted_zone",
            zone="edge",
            seed=seed,
            interval_s=10.0,
            noise_m=15.0,
            matcher=matcher,
        )
        track = build_tracks(read_positions(sc.positions)[0], projector=shenzhen, settings=TRACK)[0]
        (zone,) = compile_zones(sc.zones, projector=shenzhen)
        inside = shapely.contains_xy(zone.polygon, track.x, track.y)
        naive_entries = int(np.sum(inside[1:] & ~inside[:-1]))
        assert naive_entries >= 3  # what an undebounced geofence would raise
        assert len([v for v in audit(shenzhen, sc) if v.type == "restricted_zone"]) <= 1


@pytest.mark.parametrize("violation", [None, "off_route", "suspected_dumping", "reporting_gap", "restricted_zone"])
def test_out_of_order_and_duplicated_points_change_nothing(shenzhen, matcher, violation):
    sc = simulate(shenzhen, violation=violation, seed=2, interval_s=10.0, noise_m=10.0, matcher=matcher)
    clean = [v.model_dump() for v in audit(shenzhen, sc)]
    sc.positions = add_artefacts(sc.positions, rng=np.random.default_rng(9))
    assert [v.model_dump() for v in audit(shenzhen, sc)] == clean


def test_off_route_severity_steps_follow_the_settings(shenzhen, matcher):
    sc = simulate(shenzhen, violation="off_route", seed=0, matcher=matcher)
    (v,) = audit(shenzhen, sc)
    minutes = v.duration_s / 60
    stricter = ComplianceSettings(off_route_medium_s=60.0, off_route_high_s=v.duration_s - 1)
    (w,) = audit(shenzhen, sc, stricter)
    assert v.severity == ("low" if minutes <= 10 else "medium" if minutes <= 15 else "high")
    assert w.severity == "high"


def test_windows_cross_midnight_in_china_time():
    night = [TimeWindow(start="21:00", end="06:00", days=[6])]  # Saturday night into Sunday
    at = lambda s: datetime.fromisoformat(s).timestamp()  # noqa: E731
    t = np.array(
        [
            at("2026-11-21T22:00:00+08:00"),
            at("2026-11-22T05:59:00+08:00"),
            at("2026-11-22T06:00:00+08:00"),
            at("2026-11-22T22:00:00+08:00"),
            at("2026-11-21T14:30:00+00:00"),
        ]
    )
    assert in_windows(t, night).tolist() == [True, True, False, False, True]
    assert datetime.fromtimestamp(t[0], tz=CHINA_TZ).isoweekday() == 6


@pytest.mark.parametrize("violation", ["off_route", "suspected_dumping", "trip_not_closed", "outside_hours"])
def test_without_a_load_signal_the_haul_is_inferred_from_the_permit_sites(shenzhen, matcher, violation):
    # terminals without a load sensor: loaded from leaving the source site until reaching a destination
    sc = simulate(shenzhen, violation=violation, seed=0, interval_s=10.0, noise_m=10.0, matcher=matcher)
    sc.positions = sc.positions.drop(columns=["load"])
    found = audit(shenzhen, sc)
    assert [v.type for v in found] == [violation]
    # the haul starts when the truck leaves the site (not when loading ends), so allow the site's exit time
    assert abs(seconds(found[0].end) - sc.truth[0].end_s) <= 30.0


def test_route_given_as_road_nodes_is_the_same_route(shenzhen, matcher):
    sc = simulate(shenzhen, violation=None, seed=3, matcher=matcher)
    edges = sc.true_edges[sc.positions["device"].iloc[0]]  # the compliant truck drove exactly its approved route
    nodes = [int(shenzhen.node_ids[shenzhen.edge_u[edges[0]]])] + [
        int(shenzhen.node_ids[shenzhen.edge_v[e]]) for e in edges
    ]
    settings = ComplianceSettings()

    def run(route_nodes):
        sc.permits = [sc.permits[0].model_copy(update={"route": None, "route_nodes": route_nodes})]
        tracks = build_tracks(read_positions(sc.positions)[0], projector=shenzhen, settings=TRACK)
        permits = compile_permits(sc.permits, projector=shenzhen, settings=settings, network=shenzhen)
        return audit_fleet(tracks, permits=permits, zones=[], settings=settings, track_settings=TRACK)

    assert run(nodes) == []
    # approve only the first half: the loaded drive beyond it is off route until the disposal site
    (v,) = run(nodes[: len(nodes) // 2])
    assert v.type == "off_route"


def test_a_compliant_truck_day_with_15m_noise_and_30s_sampling_raises_nothing(shenzhen, matcher):
    # 24 h of shuttling between site and disposal site, with stops, unloads and a day boundary mid-drive
    day = truck_day(shenzhen, seed=4, interval_s=30.0, noise_m=15.0, matcher=matcher)
    assert len(day.positions) == 2880
    assert audit(shenzhen, day) == []
