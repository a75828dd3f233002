"""Fixtures of the audit tests: the supervision settings and one map matcher over the shipped Shenzhen network."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fleet_settings():
    from fleet.settings import FleetSettings

    return FleetSettings()


@pytest.fixture(scope="session")
def matcher(shenzhen, fleet_settings):
    from fleet.tracks.matching import MapMatcher

    return MapMatcher(shenzhen, settings=fleet_settings.matching)
