"""Track cleaning on hand-made fixes: ordering, duplicates, invalid fixes, jumps, stops, gaps, trips."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pandas as pd
import pytest

from fleet.tracks.settings import TrackSettings
from fleet.tracks.track import build_tracks, find_gaps, find_stops, find_trips, read_positions
from routing.errors import InputFileError
from routing.network.projection import UtmProjector

LON0, LAT0 = 114.0, 22.55
PROJ = UtmProjector.around(lon=LON0, lat=LAT0)


def _rows(xy_t: list[tuple[float, float, float]], **extra) -> pd.DataFrame:
    """Fixes given as (east m, north m, seconds after 2026-11-21 22:00 +08:00)."""
    x0, y0 = PROJ.to_xy(LON0, LAT0)
    xs = np.array([p[0] for p in xy_t]) + x0
    ys = np.array([p[1] for p in xy_t]) + y0
    lon, lat = PROJ.to_lonlat(xs, ys)
    base = pd.Timestamp("2026-11-21T22:00:00+08:00")
    frame = pd.DataFrame(
        {
            "device": "A1",
            "time": [(base + pd.Timedelta(seconds=p[2])).isoformat() for p in xy_t],
            "lon": lon,
            "lat": lat,
        }
    )
    for k, v in extra.items():
        frame[k] = v
    return frame


def _track(frame: pd.DataFrame, **settings):
    positions, rejected = read_positions(frame)
    assert not rejected
    return build_tracks(positions, projector=PROJ, settings=TrackSettings(**settings))[0]


def test_csv_bad_rows_are_named_and_the_rest_kept(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "device,time,lon,lat,speed_kmh\n"
        "A1,2026-11-21T22:00:00+08:00,114.0,22.55,10\n"
        "A1,not-a-time,114.0,22.55,10\n"
        "A1,2026-11-21T22:00:20,114.0,95.0,10\n"
        "A1,2026-11-21 22:00:30,114.0001,22.55,fast\n"
        "A1,2026-11-21 22:00:40,114.0002,22.55,\n",
        encoding="utf-8",
    )
    positions, rejected = read_positions(path)
    assert [r.where for r in rejected] == [f"{path}:line 3", f"{path}:line 4", f"{path}:line 5"]
    assert "time" in rejected[0].reason and "lat" in rejected[1].reason and "speed_kmh" in rejected[2].reason
    assert len(positions) == 2
    # a time without offset is China time: 22:00:40 +08:00
    assert positions["t"].iloc[1] - positions["t"].iloc[0] == pytest.approx(40.0)


def test_missing_column_is_a_clear_error(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("device,time,lon\nA1,2026-11-21T22:00:00+08:00,114\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="missing column.*lat"):
        read_positions(path)


def test_out_of_order_and_duplicates_give_the_same_track():
    fixes = [(i * 100.0, 0.0, i * 10.0) for i in range(30)]
    ordered = _rows(fixes, speed_kmh=36.0)
    shuffled = pd.concat([ordered.iloc[20:], ordered.iloc[5:12], ordered.iloc[:20]], ignore_index=True)
    a, b = _track(ordered), _track(shuffled)
    assert np.array_equal(a.t, b.t) and np.allclose(a.x, b.x) and np.allclose(a.y, b.y)
    assert b.dropped == {"duplicate": 7}
    assert np.all(np.diff(b.t) > 0)


def test_jump_and_invalid_fixes_are_dropped():
    fixes = [(i * 100.0, 0.0, i * 10.0) for i in range(20)]
    frame = _rows(fixes, speed_kmh=36.0, status=3)  # ACC on, positioned
    frame.loc[7, ["lat"]] += 0.05  # 5.5 km north and back within 20 s
    frame.loc[12, "status"] = 1  # JT/T 808 bit 1 clear: not positioned
    track = _track(frame)
    assert track.dropped == {"jump": 1, "invalid_fix": 1}
    assert len(track) == 18


def test_a_wrong_first_fix_does_not_swallow_the_track():
    fixes = [(5000.0, 5000.0, 0.0)] + [(i * 100.0, 0.0, 10.0 + i * 10.0) for i in range(10)]
    track = _track(_rows(fixes))
    assert len(track) == 10 and track.dropped == {"jump": 1}


def test_status_bits_fill_load_and_ignition():
    frame = _rows([(0.0, 0.0, 0.0), (100.0, 0.0, 10.0)], status=[3 | (3 << 8), 2])
    track = _track(frame)
    assert track.load.tolist() == [1, 0] and track.ignition.tolist() == [1, 0]


def test_stop_with_noise_is_one_stop_with_its_times():
    rng = np.random.default_rng(1)
    drive = [(i * 100.0, 0.0, i * 10.0) for i in range(10)]
    parked = [(900.0 + rng.normal(0, 15), rng.normal(0, 15), 100.0 + i * 10.0) for i in range(1, 31)]
    away = [(900.0 + i * 100.0, 0.0, 400.0 + i * 10.0) for i in range(1, 10)]
    track = _track(_rows(drive + parked + away))
    stops = find_stops(track, settings=TrackSettings(), min_s=180.0)
    assert len(stops) == 1
    assert abs(stops[0].start_s - track.t[9]) <= 10 and abs(stops[0].end_s - track.t[39]) <= 10


def test_gap_while_moving_is_found_and_parked_silence_is_not():
    moving = [(i * 100.0, 0.0, i * 10.0) for i in range(10)] + [
        (5000.0 + i * 100.0, 0.0, 900.0 + i * 10.0) for i in range(5)
    ]
    gaps = find_gaps(_track(_rows(moving, speed_kmh=36.0)), settings=TrackSettings())
    assert len(gaps) == 1 and gaps[0].duration_s == pytest.approx(810.0)
    parked = [(0.0, 0.0, 0.0), (0.0, 0.0, 10.0), (0.0, 0.0, 1000.0), (0.0, 0.0, 1010.0)]
    assert find_gaps(_track(_rows(parked, speed_kmh=0.0, ignition=[1, 0, 0, 1])), settings=TrackSettings()) == []


def test_trips_split_at_ignition_off():
    fixes = [(i * 100.0, 0.0, i * 10.0) for i in range(20)]
    ignition = [1] * 8 + [0] * 4 + [1] * 8
    trips = find_trips(_track(_rows(fixes, ignition=ignition)), settings=TrackSettings())
    assert trips == [(0, 7), (12, 19)]


def test_rows_of_the_jt808_store_feed_the_same_track():
    from datetime import datetime, timedelta

    from fleet.tracks.store import Position

    start = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)  # 22:00 China time
    status = 3 | (3 << 8)  # ACC on, positioned, fully loaded
    rows = [
        Position(
            terminal_phone="13800000001",
            gps_time=start + timedelta(seconds=10 * i),
            received_at=start,
            lat=22.55,
            lon=114.0 + 0.001 * i,
            speed_kmh=36.0,
            status=status,
        )
        for i in reversed(range(5))  # stored rows may come in any order
    ]
    positions, rejected = read_positions(rows)
    track = build_tracks(positions, projector=PROJ, settings=TrackSettings())[0]
    assert not rejected and track.device == "13800000001"
    assert np.all(np.diff(track.t) == 10.0) and track.t[0] == start.timestamp()
    assert track.load.tolist() == [1] * 5 and track.ignition.tolist() == [1] * 5
