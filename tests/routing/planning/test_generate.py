"""The generated collection day: a weekday by default, and no school canteens on weekends."""

from __future__ import annotations

from datetime import date

from routing.planning.generate import DEFAULT_DAY, SCHOOL_CANTEEN, generate_scenario


def test_the_default_day_is_a_weekday_and_weekends_have_no_school_canteens(guixi):
    school = SCHOOL_CANTEEN.split(" / ")[0]
    weekday = generate_scenario(guixi, restaurants=60, communities=5, seed=4)
    assert weekday.date == DEFAULT_DAY and weekday.date.weekday() < 5
    assert sum(s.name.startswith(school) for s in weekday.sites) >= 5
    sunday = generate_scenario(guixi, restaurants=60, communities=5, seed=4, day=date(2026, 11, 22))
    assert sunday.date.weekday() == 6 and not any(s.name.startswith(school) for s in sunday.sites)
    assert sum(s.stream == "kitchen" for s in sunday.sites) == sum(s.stream == "kitchen" for s in weekday.sites)
