"""The job kinds the service runs, each with its runner: the one place that names them all.

The services define their runners and import only ``api.jobs.engine``; this module imports
the services, and the queues import this module. Imports therefore point one way
(queues → registry → services → engine) and adding a job kind is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from api.jobs.engine import Runner
from api.services.audits import run_audit
from api.services.planning import run_plan
from api.services.stations import run_study
from api.services.sweeping import run_sweep_audit, run_sweep_plan

RUNNERS: Mapping[str, Runner] = MappingProxyType(
    {
        "plan": run_plan,  # POST /plans: solve, check, store the plan
        "audit": run_audit,  # POST /audits: positions against permits and zones
        "stations": run_study,  # POST /stations/plans: a transfer-station study
        "sweep_plan": run_sweep_plan,  # POST /sweeping/plans: a night's sweeping plan
        "sweep_audit": run_sweep_audit,  # POST /sweeping/audits: sweeper tracks against a sweeping plan
    }
)
"""Job kind (``Job.kind``) → runner."""
