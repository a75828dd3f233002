"""Transfer-station classes of CJJ/T 47-2016 and the design-capacity formula.

The class table is a setting (``PlanningParams.classes``) whose default is the
standard's table; nothing in the model hard-codes a class boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.errors import InvalidInputError

#: Class names from the smallest (V) to the largest (I): a higher rank is a larger station.
CLASS_NAMES: tuple[str, ...] = ("V", "IV", "III", "II", "I")


@dataclass(frozen=True)
class StationClass:
    """One class: its daily capacity range (t/d) and the smallest site that can hold it (m²)."""

    name: str
    min_t_per_day: float
    max_t_per_day: float
    min_land_area_m2: float

    @property
    def rank(self) -> int:
        return class_rank(self.name)


#: CJJ/T 47-2016: I 1,000–3,000 t/d; II 450–1,000; III 150–450; IV 50–150; V ≤ 50.
#: Land-area floors are the lower ends of the standard's land-use indicators
#: (I 15,000–20,000 m²; II 10,000–15,000; III 4,000–10,000; IV 1,000–4,000; V 500–1,000).
DEFAULT_CLASSES: tuple[StationClass, ...] = (
    StationClass("V", 0.0, 50.0, 500.0),
    StationClass("IV", 50.0, 150.0, 1_000.0),
    StationClass("III", 150.0, 450.0, 4_000.0),
    StationClass("II", 450.0, 1_000.0, 10_000.0),
    StationClass("I", 1_000.0, 3_000.0, 15_000.0),
)


def class_rank(name: str) -> int:
    """0 for class V up to 4 for class I; raises naming the bad class otherwise."""
    try:
        return CLASS_NAMES.index(name.strip().upper())
    except ValueError:
        raise InvalidInputError(f"unknown station class {name!r}: expected one of {', '.join(CLASS_NAMES)}") from None


def design_load_t_per_day(*, population: float, q_kg_per_person_day: float, peak_factor: float) -> float:
    """CJJ/T 47-2016 design capacity Q = δ·n·q/1000 (t/d) for n people served.

    Parameters
    ----------
    population : float
        People served, n.
    q_kg_per_person_day : float
        Waste per person per day, q (kg).
    peak_factor : float
        Peak-day factor δ (dimensionless).

    Returns
    -------
    float
        Design load in tonnes per day.
    """
    return peak_factor * population * q_kg_per_person_day / 1000.0


def mean_tonnes_per_day(*, population: float, q_kg_per_person_day: float) -> float:
    """Average daily generation n·q/1000 (t/d): what is actually hauled, without the peak factor.

    Parameters
    ----------
    population, q_kg_per_person_day
        As for :func:`design_load_t_per_day` (n and q).

    Returns
    -------
    float
        Mean tonnes per day.
    """
    return population * q_kg_per_person_day / 1000.0
