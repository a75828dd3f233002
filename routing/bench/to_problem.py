"""Published instances as the product's own :class:`routing.planning.problem.Problem`.

The benchmark measures the product solver, so each instance becomes the same problem model
a dispatcher's scenario becomes — no benchmark-only model. Units follow
``routing.planning.problem``'s rule (any consistent integers):

- VRPLIB (Solomon, Gehring & Homberger, X): one unit = ``1/(scale·RESOLUTION)`` of an
  instance distance (hundredths under DIMACS, whose data are exact in tenths), travel time =
  distance, windows and service times in the same units. The extra factor keeps the
  checker's one-unit timing tolerance (meant as one second) below the data's resolution,
  so a solution 0.1 late is still rejected. One stream, no facilities, trucks may return
  loaded (``ends_empty=False``), no break, no fixed cost (distance only; the fleet is free
  up to VEHICLES).
- Kim 2006: seconds and metres; disposal sites are facilities (unload = their service time,
  windows = their start windows), every route unloads before returning, stop and daily
  yardage limits per truck, the lunch break. Loads are cubic yards (the ``demand_kg`` field
  simply carries the instance's load unit). Vehicles come at a large fixed cost so fewer
  trucks win first, as in Kim et al.'s objective.
- Yang's multi-trip VRPTW with release dates: the VRPLIB units above; a reload is an unload at the
  facility ``reload`` standing at the depot (its own node, no time, open while the depot is); the
  last trip returns loaded (``ends_empty=False``) as a delivery truck returns empty; each client's
  release date is its site's ``release_s`` (its trip leaves the depot no earlier).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from routing.bench.kim import LUNCH_EARLIEST_START_S, LUNCH_LATEST_START_S, KimInstance
from routing.bench.vrplib import VrpInstance
from routing.planning.problem import BreakSpec, DepotSpec, FacilitySpec, Problem, SiteSpec, VehicleSpec

STREAM = "other"
RESOLUTION = 10  # problem units per instance unit ×scale (see module docstring)
METRES_PER_FOOT = 0.3048
# One truck costs as much as this many km of driving: trucks first, then distance.
KIM_VEHICLE_COST_KM = 1000.0
RELOAD = "reload"  # the facility id of a reload at the depot (multi-trip instances)


def vrplib_problem(instance: VrpInstance) -> Problem:
    """A VRPLIB instance as the product's problem model.

    Parameters
    ----------
    instance : VrpInstance
        Index 0 the depot, index i customer i.

    Returns
    -------
    Problem
        Node i = instance index i, in the units of the module docstring.
    """
    scale = instance.scale * RESOLUTION
    units = instance.arc_units * RESOLUTION
    n = instance.n_customers + 1
    if instance.time_windows is None:
        horizon = int(units.max()) * (n + 1)  # no windows: any route fits
        windows = np.tile([0, horizon], (n, 1))
    else:
        windows = np.rint(instance.time_windows * scale).astype(np.int64)
    service = np.rint(instance.service_time * scale).astype(np.int64)
    has_time = instance.time_windows is not None
    sites = [
        SiteSpec(
            id=str(i),
            node=i,
            stream=STREAM,
            demand_kg=float(instance.demand[i]),
            service_s=int(service[i]) if has_time else 0,
            windows=((int(windows[i, 0]), int(windows[i, 1])),),
        )
        for i in range(1, n)
    ]
    vehicles = [
        VehicleSpec(
            id=f"v{k + 1}",
            depot=0,
            streams=frozenset({STREAM}),
            capacity_kg=float(instance.capacity),
            shift_start=int(windows[0, 0]),
            shift_end=int(windows[0, 1]),
            cost_per_km=1.0,  # distance only
            ends_empty=False,
        )
        for k in range(instance.fleet_size)
    ]
    return Problem(
        name=instance.name,
        ids=[str(i) for i in range(n)],
        lon=instance.coords[:, 0],
        lat=instance.coords[:, 1],
        duration_s=units if has_time else np.zeros_like(units),
        distance_m=units,
        depots=[DepotSpec(id="0", node=0, name="depot")],
        facilities=[],
        sites=sites,
        vehicles=vehicles,
        geographic=False,  # instance units, not WGS-84
    )


def kim_fleet_bound(instance: KimInstance) -> int:
    """Trucks offered to the solver: comfortably above the load and working-time lower bounds."""
    stops = instance.stops
    load_bound = instance.load_yd3[stops].sum() / instance.route_capacity_yd3
    stops_bound = len(stops) / instance.max_stops_per_route
    depot = instance.depot
    shift = instance.latest_s[depot] - instance.earliest_s[depot] - instance.lunch_duration_s
    travel = instance.travel_s(instance.distance_ft()[np.ix_(stops, stops)])
    np.fill_diagonal(travel, np.inf)
    nearest = np.where(np.isfinite(travel.min(axis=0)), travel.min(axis=0), 0.0)  # cheapest way into each stop
    time_bound = (instance.service_s[stops].sum() + nearest.sum()) / max(shift, 1.0)
    lower = max(load_bound, stops_bound, time_bound, 1.0)
    return int(math.ceil(lower * 1.5)) + 2


def kim_problem(instance: KimInstance, *, vehicles: int | None = None) -> Problem:
    """A Kim 2006 instance as the product's problem model.

    Parameters
    ----------
    instance : KimInstance
        The instance.
    vehicles : int, optional
        Trucks in the fleet (default: :func:`kim_fleet_bound`).

    Returns
    -------
    Problem
        Node i = file row i; seconds and metres.
    """
    distance_ft = instance.distance_ft()
    duration = np.rint(instance.travel_s(distance_ft)).astype(np.int64)
    depot = instance.depot
    facilities = [
        FacilitySpec(
            id=instance.ids[i],
            node=int(i),
            streams=frozenset({STREAM}),
            windows=((int(instance.earliest_s[i]), int(instance.latest_s[i])),),
            unload_s=int(round(instance.service_s[i])),
            kind="landfill",
        )
        for i in instance.disposals
    ]
    sites = [
        SiteSpec(
            id=instance.ids[i],
            node=int(i),
            stream=STREAM,
            demand_kg=float(instance.load_yd3[i]),
            service_s=int(round(instance.service_s[i])),
            windows=((int(instance.earliest_s[i]), int(instance.latest_s[i])),),
        )
        for i in instance.stops
    ]
    fleet = vehicles if vehicles is not None else kim_fleet_bound(instance)
    trucks = [
        VehicleSpec(
            id=f"truck{k + 1}",
            depot=0,
            streams=frozenset({STREAM}),
            capacity_kg=instance.vehicle_capacity_yd3,
            shift_start=int(instance.earliest_s[depot]),
            shift_end=int(instance.latest_s[depot]),
            fixed_cost=KIM_VEHICLE_COST_KM,
            cost_per_km=1.0,
            ends_empty=True,
            max_stops=instance.max_stops_per_route,
            max_daily_kg=instance.route_capacity_yd3,
        )
        for k in range(fleet)
    ]
    return Problem(
        name=instance.name,
        ids=list(instance.ids),
        lon=instance.x_ft,
        lat=instance.y_ft,
        duration_s=duration,
        distance_m=np.rint(distance_ft * METRES_PER_FOOT).astype(np.int64),
        depots=[DepotSpec(id=instance.ids[depot], node=int(depot), name="depot")],
        facilities=facilities,
        sites=sites,
        vehicles=trucks,
        break_rule=BreakSpec(
            duration_s=int(round(instance.lunch_duration_s)),
            earliest_start_s=LUNCH_EARLIEST_START_S,
            latest_start_s=LUNCH_LATEST_START_S,
        ),
        geographic=False,  # feet, not WGS-84
    )


def release_units(release: np.ndarray, *, instance: VrpInstance) -> np.ndarray:
    """Release dates (instance time units) in the problem units of :func:`vrplib_problem`."""
    return np.rint(release * instance.scale * RESOLUTION).astype(np.int64)


def multitrip_problem(instance: VrpInstance, *, release: np.ndarray) -> Problem:
    """A multi-trip VRPTW instance as the product's problem: trips separated by reloads at the depot.

    Parameters
    ----------
    instance : VrpInstance
        The VRPTW part (index 0 the depot).
    release : numpy.ndarray
        (n+1,) release dates in instance time units (each site's ``release_s``).

    Returns
    -------
    Problem
        :func:`vrplib_problem`'s nodes plus node n+1, the facility ``reload`` at the depot.
    """
    plain = vrplib_problem(instance)
    n = len(plain.ids)
    extend = np.r_[np.arange(n), 0]  # the reload node copies the depot's rows and columns
    duration, distance = plain.duration_s[np.ix_(extend, extend)], plain.distance_m[np.ix_(extend, extend)]
    duration[n, 0] = duration[0, n] = distance[n, 0] = distance[0, n] = 0
    vehicle = plain.vehicles[0]
    reload = FacilitySpec(
        id=RELOAD,
        node=n,
        streams=frozenset({STREAM}),
        windows=((vehicle.shift_start, vehicle.shift_end),),
        kind="reload depot",
    )
    ready = release_units(release, instance=instance)
    return replace(
        plain,
        ids=[*plain.ids, RELOAD],
        lon=plain.lon[extend],
        lat=plain.lat[extend],
        duration_s=duration,
        distance_m=distance,
        facilities=[reload],
        sites=[replace(s, release_s=int(ready[s.node])) for s in plain.sites],
    )
