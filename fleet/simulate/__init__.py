"""Simulation for tests and benchmarks: trucks with known truth, and terminals speaking JT/T 808.

``timeline`` drives a truck along road paths and samples it as a terminal would; ``tracks``
builds audit inputs with injected violations and their ground truth (:class:`SimulatedTracks`),
``collection`` a collection round and its plan.json;
``terminals`` runs simulated JT/T 808 terminals against a gateway.

Public API: :func:`simulate_haul`, :func:`truck_day`, :func:`simulate_drive`,
:func:`simulate_collection`, :func:`write_inputs`, :class:`SimulatedTracks`, :func:`simulate`
(terminals).
"""

from routing._exports import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "fleet.simulate.tracks": ("simulate_haul", "truck_day", "simulate_drive", "write_inputs", "SimulatedTracks"),
        "fleet.simulate.collection": ("simulate_collection",),
        "fleet.simulate.terminals": ("simulate",),
    },
)
