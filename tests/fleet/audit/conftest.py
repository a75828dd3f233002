"""Fixtures of the audit tests: one map matcher over the shipped Shenzhen network."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def matcher(shenzhen):
    from fleet.tracks.matching import MapMatcher

    return MapMatcher(shenzhen)
