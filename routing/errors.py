"""User-facing errors.

Every error a user can cause (bad file, bad coordinate, infeasible input) is a
``QingyunError``: the CLI prints its message without a traceback, the API turns
it into a 4xx answer. Messages name the file, line, id or field that is wrong.
"""

from __future__ import annotations


class QingyunError(Exception):
    """An error caused by the user's input, with a message that says what and where."""


class InputFileError(QingyunError):
    """A missing, unreadable or malformed input file."""


class OffRoadError(QingyunError):
    """Points farther than the snapping limit from every road."""

    def __init__(self, point_ids: list[str], distances_m: list[float], limit_m: float) -> None:
        self.point_ids = list(point_ids)
        self.distances_m = list(distances_m)
        self.limit_m = limit_m
        listed = ", ".join(f"{pid} ({d:.0f} m)" for pid, d in zip(point_ids, distances_m))
        super().__init__(
            f"{len(point_ids)} point(s) farther than {limit_m:.0f} m from any road: {listed}"
        )


class UnreachableError(QingyunError):
    """Pairs of points with no road path between them."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = list(pairs)
        shown = ", ".join(f"{a}→{b}" for a, b in pairs[:20])
        more = f" and {len(pairs) - 20} more" if len(pairs) > 20 else ""
        super().__init__(f"{len(pairs)} pair(s) with no road path: {shown}{more}")
