"""Every error a user can cause, by kind: the one module of the product's error classes.

Every error a user can cause (bad file, bad coordinate, infeasible input, a missing record) is
a :class:`QingyunError`: the CLI prints its message without a traceback and exits with code
2; the API answers by kind (:data:`HTTP_STATUS`): "not found" 404, "conflict" 409, anything
else the user sent 422. Messages name the file, line, id or field that is wrong.
"""

from __future__ import annotations


class QingyunError(Exception):
    """An error caused by the user's input, with a message that says what and where."""


class InvalidInputError(QingyunError):
    """Input that is well-formed enough to read but breaks a rule (a field, a value, a reference)."""


class InputFileError(InvalidInputError):
    """A missing, unreadable or malformed input file."""


class ScenarioError(InvalidInputError):
    """A scenario (or its sites, or the problem built from it) that breaks a rule; lists every bad field.

    Parameters
    ----------
    problems
        One line per problem, each naming its place (``sites.3.windows.0.end (id R3): …``).
    source
        The file or record the problems are in.
    """

    def __init__(self, problems: list[str], *, source: str = "scenario") -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:30])
        more = f" (and {len(self.problems) - 30} more)" if len(self.problems) > 30 else ""
        super().__init__(f"{source}: {len(self.problems)} problem(s): {shown}{more}")


class InfeasibleError(InvalidInputError):
    """The input admits no solution at all (e.g. no station plan serves every community): change the input."""


class NotFoundError(QingyunError):
    """A record the request names (plan, job, vehicle, study …) does not exist."""


class ConflictError(QingyunError):
    """The request clashes with the current state (a job already running, a duplicate id)."""


class PlanCheckError(QingyunError):
    """A plan the independent checker rejected: it is never stored or written.

    Parameters
    ----------
    violations
        The checker's findings, each naming the truck, stop and rule broken.
    """

    def __init__(self, violations: list[str]) -> None:
        self.violations = list(violations)
        shown = "; ".join(self.violations[:10])
        more = f" and {len(self.violations) - 10} more" if len(self.violations) > 10 else ""
        super().__init__(f"校验未通过 / the independent checker rejected the plan: {shown}{more}")


class OffRoadError(InvalidInputError):
    """Points farther than the snapping limit from every road."""

    def __init__(self, point_ids: list[str], distances_m: list[float], limit_m: float) -> None:
        self.point_ids = list(point_ids)
        self.distances_m = list(distances_m)
        self.limit_m = limit_m
        listed = ", ".join(f"{pid} ({d:.0f} m)" for pid, d in zip(point_ids, distances_m))
        super().__init__(f"{len(point_ids)} point(s) farther than {limit_m:.0f} m from any road: {listed}")


class UnreachableError(InvalidInputError):
    """Pairs of points with no road path between them."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = list(pairs)
        shown = ", ".join(f"{a}→{b}" for a, b in pairs[:20])
        more = f" and {len(pairs) - 20} more" if len(pairs) > 20 else ""
        super().__init__(f"{len(pairs)} pair(s) with no road path: {shown}{more}")


class DecodeError(InvalidInputError):
    """A JT/T 808 frame that cannot be decoded.

    Parameters
    ----------
    offset
        The bad byte's index in the wire frame as received (0 = the opening 0x7E).
    reason
        What is wrong there.
    """

    def __init__(self, offset: int, reason: str) -> None:
        self.offset = offset
        self.reason = reason
        super().__init__(f"JT/T 808 frame byte {offset}: {reason}")


HTTP_STATUS: dict[type[QingyunError], int] = {NotFoundError: 404, ConflictError: 409}
"""The API's status per error kind; any other :class:`QingyunError` is 422."""


def http_status(error: QingyunError) -> int:
    """The HTTP status of a user error, by its kind (404, 409, else 422)."""
    for kind, status in HTTP_STATUS.items():
        if isinstance(error, kind):
            return status
    return 422
