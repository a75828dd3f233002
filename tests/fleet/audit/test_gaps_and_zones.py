"""The two gaps of the batch audit (issue 19): short silences with a jump, and zones crossed between fixes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from fleet.audit.geometry import compile_zones
from fleet.audit.inputs import ZoneFeature
from fleet.audit.rules.settings import ComplianceSettings
from fleet.supervise.engine import audit_fleet
from fleet.tracks.settings import TrackSettings
from fleet.tracks.track import build_tracks, read_positions
from routing.network.projection import UtmProjector

LON0, LAT0 = 114.0, 22.55
PROJ = UtmProjector.around(lon=LON0, lat=LAT0)
X0, Y0 = (float(v) for v in PROJ.to_xy(LON0, LAT0))


def _frame(xy_t: list[tuple[float, float, float]], speed_kmh: float) -> pd.DataFrame:
    """Fixes given as (east m, north m, seconds after 2026-11-21 22:00 +08:00), no load signal."""
    lon, lat = PROJ.to_lonlat(np.array([p[0] for p in xy_t]) + X0, np.array([p[1] for p in xy_t]) + Y0)
    base = pd.Timestamp("2026-11-21T22:00:00+08:00")
    return pd.DataFrame(
        {
            "device": "A1",
            "time": [(base + pd.Timedelta(seconds=p[2])).isoformat() for p in xy_t],
            "lon": lon,
            "lat": lat,
            "speed_kmh": speed_kmh,
        }
    )


def _zone(box: tuple[float, float, float, float]) -> ZoneFeature:
    ring = np.asarray(shapely.box(box[0] + X0, box[1] + Y0, box[2] + X0, box[3] + Y0).exterior.coords)
    lon, lat = PROJ.to_lonlat(ring[:, 0], ring[:, 1])
    return ZoneFeature.model_validate(
        {
            "type": "Feature",
            "properties": {"id": "SCHOOL", "name": "学校", "kind": "restricted", "schedule": []},
            "geometry": {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in zip(lon, lat)]]},
        }
    )


def _audit(frame: pd.DataFrame, zones: list[ZoneFeature] = ()) -> list:
    track_settings = TrackSettings()
    tracks = build_tracks(read_positions(frame)[0], projector=PROJ, settings=track_settings)
    return audit_fleet(
        tracks,
        permits={},
        zones=compile_zones(list(zones), projector=PROJ),
        settings=ComplianceSettings(),
        track_settings=track_settings,
    )


def _drive(*, step_m: float, interval_s: float, n: int, x0: float = 0.0, y: float = 0.0) -> list:
    return [(x0 + k * step_m, y, k * interval_s) for k in range(n)]


def test_a_150s_silence_while_moving_that_ends_1km_away_is_a_reporting_gap():
    # 30 km/h, a fix every 15 s (125 m); the terminal is off for 150 s and the truck reappears 1.25 km on
    before = _drive(step_m=125.0, interval_s=15.0, n=20)
    after = [(2375.0 + 1250.0 + k * 125.0, 0.0, 285.0 + 150.0 + k * 15.0) for k in range(20)]
    (gap,) = [v for v in _audit(_frame(before + after, speed_kmh=30.0)) if v.type == "reporting_gap"]
    assert gap.duration_s == 150.0 and gap.details["jump_m"] > 1000.0


def test_a_short_silence_without_a_jump_is_not_a_gap():
    # 150 s silent while crawling 200 m in a queue: below both the 300 s rule and the 500 m jump
    before = _drive(step_m=20.0, interval_s=15.0, n=20)
    after = [(380.0 + 200.0 + k * 20.0, 0.0, 285.0 + 150.0 + k * 15.0) for k in range(20)]
    assert [v for v in _audit(_frame(before + after, speed_kmh=6.0)) if v.type == "reporting_gap"] == []


def test_a_zone_crossed_with_one_fix_inside_is_caught():
    # 240 m zone, fixes 125 m apart: 1000 m is on the edge, 1125 m inside, 1250 m out again
    zone = _zone((1000.0, -120.0, 1240.0, 120.0))
    found = _audit(_frame(_drive(step_m=125.0, interval_s=15.0, n=30), speed_kmh=30.0), [zone])
    (v,) = [v for v in found if v.type == "restricted_zone"]
    assert v.details["zone_id"] == "SCHOOL" and v.start == "2026-11-21T22:02:15+08:00"


def test_a_zone_crossed_between_two_fixes_outside_it_is_caught():
    # fixes 300 m apart (36 km/h, 30 s): 950 m and 1250 m lie either side of the 240 m zone
    zone = _zone((1000.0, -120.0, 1240.0, 120.0))
    frame = _frame(_drive(step_m=300.0, interval_s=30.0, n=12, x0=50.0), speed_kmh=36.0)
    (v,) = [v for v in _audit(frame, [zone]) if v.type == "restricted_zone"]
    assert v.start == "2026-11-21T22:01:30+08:00" and v.end == "2026-11-21T22:02:00+08:00"


def test_a_crossing_longer_than_the_path_limit_is_not_guessed():
    # 5 minutes between two fixes either side: the straight line is not trusted
    zone = _zone((1000.0, -120.0, 1240.0, 120.0))
    frame = _frame([(0.0, 0.0, 0.0), (500.0, 0.0, 60.0), (1700.0, 0.0, 360.0), (2200.0, 0.0, 420.0)], speed_kmh=15.0)
    assert [v for v in _audit(frame, [zone]) if v.type == "restricted_zone"] == []


def test_a_road_along_a_zone_edge_raises_nothing():
    # 2 km of road 5 m outside a zone's edge, σ 10 m GPS noise at 10 s: fixes flip in and out
    zone = _zone((0.0, 5.0, 2000.0, 300.0))
    rng = np.random.default_rng(7)
    xy_t = [(-500.0 + k * 100.0 + rng.normal(0, 10), rng.normal(0, 10), k * 10.0) for k in range(30)]
    inside = sum(1 for x, y, _ in xy_t if 0 <= x <= 2000 and y >= 5.0)
    assert inside >= 3  # what an undebounced geofence would alarm on
    assert [v for v in _audit(_frame(xy_t, speed_kmh=36.0), [zone]) if v.type == "restricted_zone"] == []
