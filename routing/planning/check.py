"""The independent plan checker: does a plan really satisfy its problem?

It reads the ``plan.json`` document (:mod:`routing.planning.document`, the contract other tools
read), re-does all arithmetic from the problem's own matrices, demands, windows and capacities,
and trusts none of the plan's numbers: loads are re-accumulated, travel times re-looked-up,
the break re-measured. Every violation names the truck, the stop and the rule. Tests, the
planning pipeline and benchmarks certify plans with this, never with the solver's own figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from routing.jsonfile import validation_messages
from routing.planning.document import PlanDocument, PlanRoute, PlanStop, Unserved
from routing.planning.plan import Plan
from routing.planning.problem import Problem, VehicleSpec
from routing.planning.scenario import ACCESS_RANK

TOLERANCE_S = 1  # plan times are whole seconds
TOLERANCE_QTY = 1e-6
TOLERANCE_DEG = 1e-5  # about 1 m: coordinates of a stop against its place


@dataclass
class CheckReport:
    """Violations (empty = feasible) and the figures recomputed by the checker."""

    violations: list[str] = field(default_factory=list)
    served: set[str] = field(default_factory=set)
    clearance_rate: float = 0.0
    distance: int = 0  # recomputed from the matrix, problem units (metres for real scenarios)
    vehicles_used: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations


def _in_windows(t: int, windows) -> bool:
    return any(open_ - TOLERANCE_S <= t <= close + TOLERANCE_S for open_, close in windows)


@dataclass
class _OnRoute:
    """What the checker carries along one route: its own load, counts and the last place and time."""

    vehicle: VehicleSpec
    where: str
    node: int
    departure: int
    load: dict[str, float] = field(default_factory=dict)
    load_l: float = 0.0
    collected: float = 0.0
    sites: int = 0
    breaks: list[int] = field(default_factory=list)
    left: int = 0  # when the current trip left its depot or facility (waits and breaks there included)
    at_base: bool = True  # no site served since the depot or the last facility
    picked: dict[str, tuple[int, str]] = field(default_factory=dict)  # hold-limited stream -> first pickup on board


class _Checker:
    """One pass over a plan document; appends every violation to the report."""

    def __init__(self, problem: Problem, report: CheckReport) -> None:
        self.problem, self.report, self.bad = problem, report, report.violations
        self.sites = {s.id: s for s in problem.sites}
        self.facilities = {f.id: f for f in problem.facilities}
        self.vehicles = {v.id: v for v in problem.vehicles}
        self.intake: dict[str, float] = {}
        self.seen_vehicles: set[str] = set()

    def secs(self, value: datetime) -> int:
        return round((value - self.problem.day_start).total_seconds())

    # --- a route ---------------------------------------------------------------------
    def route(self, route: PlanRoute) -> None:
        vid, v = route.vehicle_id, self.vehicles.get(route.vehicle_id)
        if v is None:
            self.bad.append(f"route of unknown vehicle {vid!r}")
            return
        if vid in self.seen_vehicles:
            self.bad.append(f"vehicle {vid}: more than one route")
        self.seen_vehicles.add(vid)
        stops = route.stops
        depot = self.problem.depots[v.depot]
        if len(stops) < 2 or stops[0].kind != "depot" or stops[-1].kind != "depot":
            self.bad.append(f"vehicle {vid}: route must start and end at a depot")
            return
        for end in (stops[0], stops[-1]):
            if end.id != depot.id:
                self.bad.append(f"vehicle {vid}: starts/ends at {end.id}, its depot is {depot.id}")
        begin, finish = self.secs(stops[0].departure), self.secs(stops[-1].arrival)
        self.shift(v, stops[0], stops[-1], begin, finish)
        state = _OnRoute(vehicle=v, where="", node=depot.node, departure=begin, left=begin)
        for k, stop in enumerate(stops[1:], start=1):
            self.stop(state, stop, last=k == len(stops) - 1, where=f"vehicle {vid} stop {k} ({stop.kind} {stop.id})")
        self.day_limits(state, begin, finish)
        self.report.vehicles_used += 1

    def shift(self, v: VehicleSpec, first: PlanStop, last: PlanStop, begin: int, finish: int) -> None:
        if begin < v.shift_start - TOLERANCE_S:
            self.bad.append(
                f"vehicle {v.id}: leaves the depot at {first.departure.isoformat()}, before its shift starts"
            )
        if finish > v.shift_end + TOLERANCE_S:
            self.bad.append(f"vehicle {v.id}: returns at {last.arrival.isoformat()}, after its shift ends")
        if v.max_shift_s is not None and finish - begin > v.max_shift_s + TOLERANCE_S:
            self.bad.append(
                f"vehicle {v.id}: shift {(finish - begin) / 3600:.2f} h exceeds {v.max_shift_s / 3600:.2f} h"
            )

    def day_limits(self, state: _OnRoute, begin: int, finish: int) -> None:
        """Stops and weight per shift, and the meal break: taken in its window, and taken when due."""
        v, rule = state.vehicle, self.problem.break_rule
        if v.max_stops is not None and state.sites > v.max_stops:
            self.bad.append(f"vehicle {v.id}: {state.sites} sites, limit {v.max_stops}")
        if v.max_daily_kg is not None and state.collected > v.max_daily_kg + TOLERANCE_QTY:
            self.bad.append(f"vehicle {v.id}: collected {state.collected:.1f} kg, daily limit {v.max_daily_kg:.1f} kg")
        if rule is None:
            return
        early, late = rule.earliest_start_s - TOLERANCE_S, rule.latest_start_s + TOLERANCE_S
        if any(not early <= b <= late for b in state.breaks):
            self.bad.append(
                f"vehicle {v.id}: break outside {rule.earliest_start_s / 3600:.2f}–{rule.latest_start_s / 3600:.2f} h"
            )
        if rule.due(begin, finish) and not state.breaks:
            self.bad.append(f"vehicle {v.id}: no meal break although working through the break window")

    # --- a stop ----------------------------------------------------------------------
    def stop(self, state: _OnRoute, stop: PlanStop, *, last: bool, where: str) -> None:
        """Every entry stands at a place: the truck drives there from the previous entry's place (no time when it is
        the same place), then serves, unloads, waits or breaks there."""
        arrival, start, departure = self.secs(stop.arrival), self.secs(stop.start), self.secs(stop.departure)
        if start < arrival - TOLERANCE_S or departure < start - TOLERANCE_S:
            self.bad.append(f"{where}: times out of order")
        node = self.node_of(state, stop)
        if node is None:
            self.bad.append(
                f"{where}: unknown {stop.at or stop.kind} id"
                if stop.kind != "wait" or stop.at
                else f"{where}: a wait must name its place (at)"
            )
            return
        self.position(stop, node, where=where)
        travel = int(self.problem.duration_s[state.node, node])
        self.report.distance += int(self.problem.distance_m[state.node, node])
        if arrival < state.departure + travel - TOLERANCE_S:
            what = "is taken" if stop.kind in ("break", "wait") else "arrives"
            self.bad.append(
                f"{where}: {what} at {stop.arrival.isoformat()}, but the drive takes {travel} s from the previous stop"
            )
        if stop.kind == "break":
            self.meal_break(state, start, departure, where=where)
        elif stop.kind == "site":
            self.site(state, stop, start, departure, where=where)
        elif stop.kind == "facility":
            self.facility(state, stop, start, departure, where=where)
        elif stop.kind == "depot":
            self.depot(state, last=last, where=where)
            self.held(state, arrival, where=where)
        if stop.kind in ("facility", "depot") or (state.at_base and node == state.node):
            state.left, state.at_base = departure, True  # a trip leaves after its unload and any wait there
        state.node, state.departure = node, departure

    def node_of(self, state: _OnRoute, stop: PlanStop) -> int | None:
        """The stop's place; a break or wait stands at the place ``at``/``id`` names (a break without ``at``: where
        the previous entry left the truck)."""
        kind = stop.at if stop.kind in ("break", "wait") else stop.kind
        if kind is None:
            return state.node if stop.kind == "break" else None
        if kind == "depot":
            depot = self.problem.depots[state.vehicle.depot]
            return depot.node if stop.kind == "depot" or stop.id == depot.id else None
        place = (self.sites if kind == "site" else self.facilities).get(stop.id)
        return None if place is None else place.node

    def position(self, stop: PlanStop, node: int, *, where: str) -> None:
        """Coordinates, when given, are those of the stop's place: a break is where the truck is, not where it was."""
        if stop.lon is None or stop.lat is None or not self.problem.geographic:
            return
        lon, lat = float(self.problem.lon[node]), float(self.problem.lat[node])
        if abs(stop.lon - lon) > TOLERANCE_DEG or abs(stop.lat - lat) > TOLERANCE_DEG:
            self.bad.append(f"{where}: at {stop.lon:.6f},{stop.lat:.6f}, but its place is at {lon:.6f},{lat:.6f}")

    def meal_break(self, state: _OnRoute, start: int, departure: int, *, where: str) -> None:
        rule = self.problem.break_rule
        if rule is None:
            self.bad.append(f"{where}: a break but the scenario has no break rule")
            return
        state.breaks.append(start)
        if departure - start < rule.duration_s - TOLERANCE_S:
            self.bad.append(
                f"{where}: break of {(departure - start) / 60:.0f} min, rule needs {rule.duration_s / 60:.0f}"
            )

    def site(self, state: _OnRoute, stop: PlanStop, start: int, departure: int, *, where: str) -> None:
        s, v = self.sites[stop.id], state.vehicle
        if s.id in self.report.served:
            self.bad.append(f"{where}: site served twice")
        self.report.served.add(s.id)
        state.sites += 1
        if s.stream not in v.streams:
            self.bad.append(f"{where}: truck not built for stream {s.stream}")
        if ACCESS_RANK.get(v.access, 2) > ACCESS_RANK.get(s.access, 2):
            self.bad.append(f"{where}: {v.access} truck in a street for {s.access} trucks only")
        if s.vehicles is not None and v.id not in s.vehicles:
            self.bad.append(
                f"{where}: 该站点只允许 {', '.join(sorted(s.vehicles))} 服务 / only {', '.join(sorted(s.vehicles))} "
                "may serve this site (its grid or assignment)"
            )
        if not _in_windows(start, s.windows):
            self.bad.append(f"{where}: service starts {stop.start.isoformat()}, outside its time windows")
        if departure - start < s.service_s - TOLERANCE_S:
            self.bad.append(f"{where}: service shorter than {s.service_s} s")
        if state.left < s.release_s - TOLERANCE_S:
            self.bad.append(
                f"{where}: 所在趟次 {self.problem.at(state.left).isoformat()} 出发，早于释放时间 / its trip left at "
                f"{self.problem.at(state.left).isoformat()}, before the site's release at "
                f"{self.problem.at(s.release_s).isoformat()}"
            )
        state.at_base = False
        if s.stream in self.problem.hold_s:
            since = s.picked_at(start)
            if since < state.picked.get(s.stream, (since + 1, ""))[0]:
                state.picked[s.stream] = (since, s.id)
        state.load[s.stream] = state.load.get(s.stream, 0.0) + s.demand_kg
        state.load_l += s.demand_l
        state.collected += s.demand_kg
        on_board = sum(state.load.values())
        if on_board > v.capacity_kg + TOLERANCE_QTY:
            self.bad.append(f"{where}: load {on_board:.1f} kg exceeds capacity {v.capacity_kg:.1f} kg")
        if v.capacity_l is not None and state.load_l > v.capacity_l + TOLERANCE_QTY:
            self.bad.append(f"{where}: volume {state.load_l:.0f} L exceeds capacity {v.capacity_l:.0f} L")

    def facility(self, state: _OnRoute, stop: PlanStop, start: int, departure: int, *, where: str) -> None:
        f, v = self.facilities[stop.id], state.vehicle
        refused = sorted(s for s, q in state.load.items() if q > 0 and s not in f.streams)
        if refused or not v.streams <= f.streams:
            self.bad.append(f"{where}: facility does not accept {', '.join(refused or sorted(v.streams - f.streams))}")
        if not _in_windows(start, f.windows):
            self.bad.append(f"{where}: unload starts {stop.start.isoformat()}, when the facility is closed")
        if departure - start < f.unload_s - TOLERANCE_S:
            self.bad.append(f"{where}: unload shorter than {f.unload_s} s")
        self.intake[f.id] = self.intake.get(f.id, 0.0) + sum(state.load.values())
        self.held(state, start, where=where)
        state.load, state.load_l = {}, 0.0

    def held(self, state: _OnRoute, until: int, *, where: str) -> None:
        """Each hold-limited stream on board since its first pickup, until this unload (or the return), within its
        hold; the truck is empty after."""
        for stream, (since, site_id) in state.picked.items():
            hold = self.problem.hold_s[stream]
            if until - since > hold + TOLERANCE_S:
                self.bad.append(
                    f"{where}: {stream} 在车 {(until - since) / 3600:.2f} h（自 {site_id}），超过 {hold / 3600:.2f} h / "
                    f"{stream} waste on board {(until - since) / 3600:.2f} h since site {site_id}, hold limit "
                    f"{hold / 3600:.2f} h"
                )
        state.picked = {}

    def depot(self, state: _OnRoute, *, last: bool, where: str) -> None:
        if not last:
            self.bad.append(f"{where}: depot visit in the middle of a route")
        if state.vehicle.ends_empty and sum(state.load.values()) > TOLERANCE_QTY:
            self.bad.append(
                f"vehicle {state.vehicle.id}: returns to the depot with {sum(state.load.values()):.1f} kg on board"
            )

    # --- the whole day ---------------------------------------------------------------
    def facility_intake(self) -> None:
        for fid, amount in self.intake.items():
            cap = self.facilities[fid].capacity_kg
            if cap is not None and amount > cap + TOLERANCE_QTY:
                self.bad.append(f"facility {fid}: receives {amount / 1000:.2f} t, daily capacity {cap / 1000:.2f} t")

    def coverage(self, unserved: list[Unserved]) -> None:
        """Every site served or listed unserved, never both; the clearance rate from the problem's demands."""
        listed = {u.site_id for u in unserved}
        served = self.report.served
        for s in self.problem.sites:
            if s.id not in served and s.id not in listed:
                self.bad.append(f"site {s.id}: neither served nor reported unserved")
            if s.id in served and s.id in listed:
                self.bad.append(f"site {s.id}: served but also reported unserved")
        total = sum(s.demand_kg for s in self.problem.sites)
        got = sum(s.demand_kg for s in self.problem.sites if s.id in served)
        self.report.clearance_rate = got / total if total else 1.0


def check_plan(problem: Problem, plan: Plan | PlanDocument | dict) -> CheckReport:
    """Re-validate a plan against its problem with the checker's own arithmetic.

    Parameters
    ----------
    problem
        The day's problem (matrices, windows, capacities, fleet).
    plan
        A :class:`Plan`, a :class:`PlanDocument`, or a decoded ``plan.json``.

    Returns
    -------
    CheckReport
        Every violation (a document that breaks the ``plan.json`` contract is one violation per bad field),
        the sites served and the recomputed clearance rate and distance.
    """
    report = CheckReport()
    if isinstance(plan, Plan):
        doc = plan.document(problem)
    elif isinstance(plan, PlanDocument):
        doc = plan
    else:
        try:
            doc = PlanDocument.model_validate(plan)
        except ValidationError as exc:
            report.violations.extend(f"plan.json: {m}" for m in validation_messages(exc, raw=plan))
            return report
    checker = _Checker(problem, report)
    for route in doc.routes:
        checker.route(route)
    checker.facility_intake()
    checker.coverage(doc.unserved)
    return report
