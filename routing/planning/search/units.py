"""The routing model's integer units: costs, loads and capacities as the OR-Tools model and re-packing count them.

OR-Tools works in integers, so currency and loads are scaled once, here, and rounded the safe
way: a site's load up (never lighter than it is), a truck's capacity down (never more than allowed).
"""

from __future__ import annotations

import math

COST_SCALE = 100_000  # integer cost units per currency unit
QTY_SCALE = 100  # integer load units per kg / per litre


def load_units(amount: float) -> int:
    """A site's load (``amount`` kg or litres) as ``amount × QTY_SCALE`` rounded up: never lighter than it is.

    A hair of float noise above a whole unit does not count as one more.
    """
    return math.ceil(amount * QTY_SCALE - 1e-9)


def limit_units(amount: float) -> int:
    """A capacity (``amount`` kg or litres) as ``amount × QTY_SCALE`` rounded down: never more than allowed."""
    return int(math.floor(amount * QTY_SCALE))
