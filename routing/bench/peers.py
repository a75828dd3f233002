"""PyVRP and VROOM on the same VRPLIB instances and time budget as the product solver.

Both peers get the instance's own integer matrices (``VrpInstance.arc_units``: tenths for
DIMACS, whole units for CVRP X), so every solver is judged in one convention by the same
checker. Known pitfalls (../shared/benchmarks/PEERS.md): VROOM needs integer matrices and
its time limit does not bound its initial heuristics; PyVRP minimises distance unless a
fixed vehicle cost is set. Both are optional (the ``bench`` extra).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from routing.bench.vrplib import VrpInstance
from routing.errors import QingyunError

PEER_NAMES = ("pyvrp", "vroom")


@dataclass(frozen=True)
class PeerRun:
    """Routes found by a peer (customer indices of the instance) and its wall time."""

    solver: str
    routes: list[list[int]]
    wall_s: float
    unassigned: list[int]


def _require(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        raise QingyunError(f"peer solver module {module!r} is not installed: pip install -e '.[bench]'") from None


def _scaled_windows(instance: VrpInstance) -> np.ndarray | None:
    if instance.time_windows is None:
        return None
    return np.rint(instance.time_windows * instance.scale).astype(np.int64)


def _pyvrp_model(instance: VrpInstance, *, release: np.ndarray | None):
    """The instance as a PyVRP model on its integer data; with ``release``, trucks reload at the depot."""
    from pyvrp import Model

    windows = _scaled_windows(instance)
    service = np.rint(instance.service_time * instance.scale).astype(np.int64)
    model = Model()
    places = [model.add_location(float(x), float(y)) for x, y in instance.coords]
    if windows is None:
        depot = model.add_depot(places[0])
        vehicle_window = {}
    else:
        depot = model.add_depot(places[0], tw_early=int(windows[0, 0]), tw_late=int(windows[0, 1]))
        vehicle_window = {"tw_early": int(windows[0, 0]), "tw_late": int(windows[0, 1])}
    model.add_vehicle_type(
        num_available=instance.fleet_size,
        capacity=instance.capacity,
        start_depot=depot,
        end_depot=depot,
        reload_depots=[] if release is None else [depot],
        **vehicle_window,
    )
    released = None if release is None else np.rint(release * instance.scale).astype(np.int64)
    for customer in range(1, instance.n_customers + 1):
        extra = {} if windows is None else {"tw_early": int(windows[customer, 0]), "tw_late": int(windows[customer, 1])}
        if released is not None:
            extra["release_time"] = int(released[customer])
        model.add_client(
            places[customer],
            delivery=int(instance.demand[customer]),
            service_duration=int(service[customer]),
            name=str(customer),
            **extra,
        )
    arcs = instance.arc_units
    has_time = windows is not None
    for i, frm in enumerate(places):
        for j, to in enumerate(places):
            if i != j:
                model.add_edge(frm, to, distance=int(arcs[i, j]), duration=int(arcs[i, j]) if has_time else 0)
    return model


def _pyvrp_run(model, instance: VrpInstance, *, time_limit_s: float, seed: int) -> PeerRun:
    """Solve on one thread; routes as customer numbers, a reload at the depot written 0."""
    from pyvrp.stop import MaxRuntime

    started = time.perf_counter()
    result = model.solve(stop=MaxRuntime(time_limit_s), seed=seed, display=False)
    wall = time.perf_counter() - started
    # A 0.14 route yields client indices counted without depots: map back through client names.
    data = model.data()
    names = [int(data.client(k).name) for k in range(data.num_clients)]
    routes = []
    for route in result.best.routes():
        inner = list(route)[1:-1]  # the start and end depot
        routes.append([names[a.idx] if a.is_client() else 0 for a in inner if a.is_client() or a.is_depot()])
    served = {c for route in routes for c in route}
    missing = [c for c in range(1, instance.n_customers + 1) if c not in served]
    return PeerRun(solver="pyvrp", routes=routes, wall_s=wall, unassigned=missing)


def run_pyvrp(instance: VrpInstance, *, time_limit_s: float, seed: int = 1) -> PeerRun:
    """PyVRP's iterated local search for ``time_limit_s`` seconds (single thread).

    Parameters
    ----------
    instance : VrpInstance
        The instance; distances and times in its integer ``1/scale`` units.
    time_limit_s : float
        Search time in seconds.
    seed : int
        PyVRP's random seed.

    Returns
    -------
    PeerRun
        Routes as instance customer numbers, wall time (s) and customers left out.

    Raises
    ------
    QingyunError
        If ``pyvrp`` is not installed (the ``bench`` extra).
    """
    _require("pyvrp")
    return _pyvrp_run(_pyvrp_model(instance, release=None), instance, time_limit_s=time_limit_s, seed=seed)


def run_pyvrp_multitrip(instance: VrpInstance, *, release: np.ndarray, time_limit_s: float, seed: int = 1) -> PeerRun:
    """PyVRP on a multi-trip instance: reloads at the depot, each client's release time (single thread).

    Parameters
    ----------
    instance : VrpInstance
        The VRPTW part; distances and times in its integer ``1/scale`` units.
    release : numpy.ndarray
        (n+1,) release dates in instance time units.
    time_limit_s : float
        Search time in seconds.
    seed : int
        PyVRP's random seed.

    Returns
    -------
    PeerRun
        Routes as customer numbers with ``0`` for each reload, wall time (s), customers left out.

    Raises
    ------
    QingyunError
        If ``pyvrp`` is not installed (the ``bench`` extra).
    """
    _require("pyvrp")
    return _pyvrp_run(_pyvrp_model(instance, release=release), instance, time_limit_s=time_limit_s, seed=seed)


def run_vroom(instance: VrpInstance, *, time_limit_s: float, exploration_level: int = 5, threads: int = 2) -> PeerRun:
    """VROOM (pyvroom) at ``exploration_level`` with a timeout of ``time_limit_s``.

    Parameters
    ----------
    instance : VrpInstance
        The instance; distances and times in its integer ``1/scale`` units.
    time_limit_s : float
        Timeout in seconds.
    exploration_level : int
        VROOM's search depth (0-5).
    threads : int
        Threads VROOM may use.

    Returns
    -------
    PeerRun
        As for :func:`run_pyvrp`.

    Raises
    ------
    QingyunError
        ``vroom`` (pyvroom, the ``bench`` extra) is not installed.
    """
    _require("vroom")
    import vroom

    windows = _scaled_windows(instance)
    service = np.rint(instance.service_time * instance.scale).astype(np.int64)
    problem = vroom.Input()
    problem.set_durations_matrix("car", instance.arc_units)
    problem.set_costs_matrix("car", instance.arc_units)
    vehicle_window = (
        {} if windows is None else {"time_window": vroom.TimeWindow(int(windows[0, 0]), int(windows[0, 1]))}
    )
    problem.add_vehicle(
        [
            vroom.Vehicle(k + 1, start=0, end=0, capacity=[instance.capacity], **vehicle_window)
            for k in range(instance.fleet_size)
        ]
    )
    jobs = []
    for customer in range(1, instance.n_customers + 1):
        window = (
            {}
            if windows is None
            else {"time_windows": [vroom.TimeWindow(int(windows[customer, 0]), int(windows[customer, 1]))]}
        )
        jobs.append(
            vroom.Job(
                customer,
                location=customer,
                default_service=int(service[customer]) if windows is not None else 0,
                pickup=[int(instance.demand[customer])],
                **window,
            )
        )
    problem.add_job(jobs)
    started = time.perf_counter()
    solution = problem.solve(
        exploration_level=exploration_level, nb_threads=threads, timeout=timedelta(seconds=time_limit_s)
    )
    wall = time.perf_counter() - started
    table = solution.routes
    jobs_only = table[table["type"] == "job"]
    routes = [[int(job) for job in group["id"].tolist()] for _, group in jobs_only.groupby("vehicle_id", sort=True)]
    served = {c for route in routes for c in route}
    missing = [c for c in range(1, instance.n_customers + 1) if c not in served]
    return PeerRun(solver="vroom", routes=routes, wall_s=wall, unassigned=missing)


def run_peer(name: str, instance: VrpInstance, *, time_limit_s: float) -> PeerRun:
    """Run a peer solver on an instance.

    Parameters
    ----------
    name : str
        One of ``PEER_NAMES``.
    instance : VrpInstance
        The instance.
    time_limit_s : float
        Its time budget.

    Returns
    -------
    PeerRun
        Its routes and wall time.

    Raises
    ------
    QingyunError
        If the name is unknown or the peer is not installed.
    """
    if name == "pyvrp":
        return run_pyvrp(instance, time_limit_s=time_limit_s)
    if name == "vroom":
        return run_vroom(instance, time_limit_s=time_limit_s)
    raise QingyunError(f"unknown peer solver {name!r}; expected one of {', '.join(PEER_NAMES)}")
