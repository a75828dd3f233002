"""The independent plan checker: does a plan really satisfy its problem?

It reads the ``plan.json`` document (the contract other tools read), re-does all arithmetic
from the problem's own matrices, demands, windows and capacities, and trusts none of the
plan's numbers: loads are re-accumulated, travel times re-looked-up, the break re-measured.
Every violation names the truck, the stop and the rule. Tests and benchmarks certify plans
with this, never with the solver's own figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from routing.planning.plan import Plan
from routing.planning.problem import Problem
from routing.planning.scenario import ACCESS_RANK

TOLERANCE_S = 1  # plan times are whole seconds
TOLERANCE_QTY = 1e-6


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


def check_plan(problem: Problem, plan: Plan | dict) -> CheckReport:
    """Re-validate ``plan`` (a :class:`Plan` or a decoded ``plan.json``) against ``problem``."""
    doc = plan.to_dict(problem) if isinstance(plan, Plan) else plan
    report = CheckReport()
    bad = report.violations

    def secs(value: str) -> int:
        return round((datetime.fromisoformat(value) - problem.day_start).total_seconds())

    sites = {s.id: s for s in problem.sites}
    facilities = {f.id: f for f in problem.facilities}
    vehicles = {v.id: v for v in problem.vehicles}
    intake: dict[str, float] = {}
    seen_vehicles: set[str] = set()
    rule = problem.break_rule
    for route in doc.get("routes", []):
        vid = route.get("vehicle_id")
        v = vehicles.get(vid)
        if v is None:
            bad.append(f"route of unknown vehicle {vid!r}")
            continue
        if vid in seen_vehicles:
            bad.append(f"vehicle {vid}: more than one route")
        seen_vehicles.add(vid)
        stops = route.get("stops", [])
        depot = problem.depots[v.depot]
        if len(stops) < 2 or stops[0]["kind"] != "depot" or stops[-1]["kind"] != "depot":
            bad.append(f"vehicle {vid}: route must start and end at a depot")
            continue
        for end in (stops[0], stops[-1]):
            if end["id"] != depot.id:
                bad.append(f"vehicle {vid}: starts/ends at {end['id']}, its depot is {depot.id}")
        begin, finish = secs(stops[0]["departure"]), secs(stops[-1]["arrival"])
        if begin < v.shift_start - TOLERANCE_S:
            bad.append(f"vehicle {vid}: leaves the depot at {stops[0]['departure']}, before its shift starts")
        if finish > v.shift_end + TOLERANCE_S:
            bad.append(f"vehicle {vid}: returns at {stops[-1]['arrival']}, after its shift ends")
        if v.max_shift_s is not None and finish - begin > v.max_shift_s + TOLERANCE_S:
            bad.append(f"vehicle {vid}: shift {(finish - begin) / 3600:.2f} h exceeds {v.max_shift_s / 3600:.2f} h")
        load: dict[str, float] = {}
        load_l = 0.0
        collected = 0.0
        site_count = 0
        prev_node = depot.node
        prev_departure = begin
        breaks = []
        pending_break = 0
        for k, stop in enumerate(stops[1:], start=1):
            kind, sid = stop["kind"], stop["id"]
            arrival, start, departure = secs(stop["arrival"]), secs(stop["start"]), secs(stop["departure"])
            where = f"vehicle {vid} stop {k} ({kind} {sid})"
            if start < arrival - TOLERANCE_S or departure < start - TOLERANCE_S:
                bad.append(f"{where}: times out of order")
            if kind == "break":
                if rule is None:
                    bad.append(f"{where}: a break but the scenario has no break rule")
                    continue
                breaks.append(start)
                if start < prev_departure - TOLERANCE_S:
                    bad.append(f"{where}: break starts before leaving the previous stop")
                if departure - start < rule.duration_s - TOLERANCE_S:
                    bad.append(
                        f"{where}: break of {(departure - start) / 60:.0f} min, rule needs {rule.duration_s / 60:.0f}"
                    )
                pending_break += rule.duration_s
                prev_break_end = departure
                continue
            node = (
                depot.node
                if kind == "depot"
                else (
                    sites[sid].node
                    if kind == "site" and sid in sites
                    else facilities[sid].node
                    if kind == "facility" and sid in facilities
                    else None
                )
            )
            if node is None:
                bad.append(f"{where}: unknown {kind} id")
                continue
            travel = int(problem.duration_s[prev_node, node])
            report.distance += int(problem.distance_m[prev_node, node])
            if arrival < prev_departure + travel + pending_break - TOLERANCE_S:
                bad.append(f"{where}: arrives {stop['arrival']}, but the drive takes {travel} s from the previous stop")
            if pending_break and arrival < prev_break_end - TOLERANCE_S:
                bad.append(f"{where}: arrives before the break ends")
            pending_break = 0
            if kind == "site":
                s = sites[sid]
                if sid in report.served:
                    bad.append(f"{where}: site served twice")
                report.served.add(sid)
                site_count += 1
                if s.stream not in v.streams:
                    bad.append(f"{where}: truck not built for stream {s.stream}")
                if ACCESS_RANK.get(v.access, 2) > ACCESS_RANK.get(s.access, 2):
                    bad.append(f"{where}: {v.access} truck in a street for {s.access} trucks only")
                if not _in_windows(start, s.windows):
                    bad.append(f"{where}: service starts {stop['start']}, outside its time windows")
                if departure - start < s.service_s - TOLERANCE_S:
                    bad.append(f"{where}: service shorter than {s.service_s} s")
                load[s.stream] = load.get(s.stream, 0.0) + s.demand_kg
                load_l += s.demand_l
                collected += s.demand_kg
                if sum(load.values()) > v.capacity_kg + TOLERANCE_QTY:
                    bad.append(f"{where}: load {sum(load.values()):.1f} kg exceeds capacity {v.capacity_kg:.1f} kg")
                if v.capacity_l is not None and load_l > v.capacity_l + TOLERANCE_QTY:
                    bad.append(f"{where}: volume {load_l:.0f} L exceeds capacity {v.capacity_l:.0f} L")
            elif kind == "facility":
                f = facilities[sid]
                refused = sorted(s for s, q in load.items() if q > 0 and s not in f.streams)
                if refused or not v.streams <= f.streams:
                    bad.append(
                        f"{where}: facility does not accept {', '.join(refused or sorted(v.streams - f.streams))}"
                    )
                if not _in_windows(start, f.windows):
                    bad.append(f"{where}: unload starts {stop['start']}, when the facility is closed")
                if departure - start < f.unload_s - TOLERANCE_S:
                    bad.append(f"{where}: unload shorter than {f.unload_s} s")
                intake[sid] = intake.get(sid, 0.0) + sum(load.values())
                load = {}
                load_l = 0.0
            else:
                if k != len(stops) - 1:
                    bad.append(f"{where}: depot visit in the middle of a route")
                if v.ends_empty and sum(load.values()) > TOLERANCE_QTY:
                    bad.append(f"vehicle {vid}: returns to the depot with {sum(load.values()):.1f} kg on board")
            prev_node, prev_departure = node, departure
        if v.max_stops is not None and site_count > v.max_stops:
            bad.append(f"vehicle {vid}: {site_count} sites, limit {v.max_stops}")
        if v.max_daily_kg is not None and collected > v.max_daily_kg + TOLERANCE_QTY:
            bad.append(f"vehicle {vid}: collected {collected:.1f} kg, daily limit {v.max_daily_kg:.1f} kg")
        if rule is not None:
            inside = [
                b for b in breaks if rule.earliest_start_s - TOLERANCE_S <= b <= rule.latest_start_s + TOLERANCE_S
            ]
            if len(inside) < len(breaks):
                bad.append(
                    f"vehicle {vid}: break outside {rule.earliest_start_s / 3600:.2f}–{rule.latest_start_s / 3600:.2f} h"
                )
            if rule.due(begin, finish) and not breaks:
                bad.append(f"vehicle {vid}: no meal break although working through the break window")
        report.vehicles_used += 1
    for fid, amount in intake.items():
        cap = facilities[fid].capacity_kg
        if cap is not None and amount > cap + TOLERANCE_QTY:
            bad.append(f"facility {fid}: receives {amount / 1000:.2f} t, daily capacity {cap / 1000:.2f} t")
    listed = {u["site_id"] for u in doc.get("unserved", [])}
    for s in problem.sites:
        if s.id not in report.served and s.id not in listed:
            bad.append(f"site {s.id}: neither served nor reported unserved")
        if s.id in report.served and s.id in listed:
            bad.append(f"site {s.id}: served but also reported unserved")
    total = sum(s.demand_kg for s in problem.sites)
    got = sum(s.demand_kg for s in problem.sites if s.id in report.served)
    report.clearance_rate = got / total if total else 1.0
    return report
