"""The per-truck timeline chart: segments read off the timed stops, overtime marked past the standard shift."""

from __future__ import annotations

import numpy as np

from routing.planning.plan import evaluate_routes
from routing.planning.timeline import OVERTIME_COLOUR, SEGMENTS, route_segments, write_timeline_png

from .test_check import waiting_problem


def hours(segments) -> list[tuple[str, str, str]]:
    def hm(s: int) -> str:
        return f"{s // 3600:02d}:{s % 3600 // 60:02d}"

    return [(kind, hm(a), hm(b)) for kind, a, b in segments]


def test_segments_follow_the_truck_through_driving_service_unloading_waiting_and_the_break():
    problem = waiting_problem()
    plan = evaluate_routes(problem, {"V": ["S2", "S3", "F", "S4", "S5", "F"]})
    segments = hours(route_segments(plan.routes[0]))
    assert segments[:4] == [("driving", "06:00", "06:10"), ("service", "06:10", "06:11"), *segments[2:4]]
    assert ("unloading", "06:52", "07:02") in segments
    at_s4 = segments.index(("driving", "07:02", "07:22"))
    assert segments[at_s4 : at_s4 + 4] == [
        ("driving", "07:02", "07:22"),
        ("waiting", "07:22", "11:00"),
        ("break", "11:00", "12:00"),
        ("service", "12:00", "12:01"),
    ]
    assert segments[-1] == ("driving", "13:21", "14:11")
    assert {kind for kind, _, _ in segments} == set(SEGMENTS)


def test_overtime_is_drawn_only_past_the_standard_shift(tmp_path):
    problem = waiting_problem()
    plan = evaluate_routes(problem, {"V": ["S2", "S3", "F", "S4", "S5", "F"]})  # 06:00–14:11
    import matplotlib.image

    target = np.array([int(OVERTIME_COLOUR[k : k + 2], 16) / 255 for k in (1, 3, 5)])

    def overtime_pixels(standard_shift_h: float) -> int:
        path = tmp_path / f"timeline_{standard_shift_h:g}.png"
        write_timeline_png(plan, problem, path, standard_shift_h=standard_shift_h)
        image = matplotlib.image.imread(path)[..., :3]
        return int(np.all(np.abs(image - target) < 0.02, axis=-1).sum())

    legend_only = overtime_pixels(12.0)
    assert overtime_pixels(8.5) < 2 * legend_only  # an 8.2-hour day: the legend's patch only, no bar
    two_hours, one_hour = overtime_pixels(6.0), overtime_pixels(7.0)  # 2 h 11 min / 1 h 11 min past the shift
    assert two_hours > one_hour > 10 * legend_only
