"""Stored positions of a period run through the live engine into the alarm store (``qingyun supervise replay``).

The seed of the live path: the positions the gateway and ``POST /positions`` stored are pushed fix by
fix, across trucks in GPS-time order as they would have arrived, through the one rule engine
(``fleet.supervise.engine``), and its events written to the ``alarm`` table by key. The period is
over, so every alarm still open at its end is ended. Replaying a period again — or an overlapping
one — adds no alarm twice: the keys are the episodes'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from fleet.audit.geometry import compile_permits, compile_zones
from fleet.audit.inputs import Permit, ZoneFeature
from fleet.settings import FleetSettings
from fleet.supervise.engine import Fix, SupervisionEngine
from fleet.supervise.store import Applied, apply_events
from fleet.tracks.sources import Period, db_positions
from fleet.tracks.store import normalise_phone


def _value(v: object) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _int(v: object) -> int | None:
    value = _value(v)
    return None if value is None else int(value)


@dataclass(frozen=True)
class Replayed:
    """What a replay read, raised and stored."""

    positions: int
    events: int
    stored: Applied


def replay_period(
    engine: Engine,
    *,
    period: Period,
    permits: list[Permit],
    zones: list[ZoneFeature],
    network: object,
    settings: FleetSettings,
    devices: list[str] | None = None,
    now: datetime | None = None,
) -> Replayed:
    """Judge a period's stored positions fix by fix and store the alarms they raise.

    Parameters
    ----------
    engine
        The service database (positions in, alarms out).
    period
        GPS times from ``period.start`` (inclusive) to ``period.end`` (exclusive).
    permits, zones
        As ``qingyun audit`` reads them; permit devices are matched by normalised phone.
    network
        The ``RoadNetwork``: projection, and the permits' approved routes.
    settings
        Rule and track thresholds.
    devices
        Terminal phones to replay; None: every terminal with positions in the period.
    now
        The ``raised_at`` of new alarms (default: now).

    Returns
    -------
    Replayed
        Positions read, events raised, and what the store did with them.
    """
    permits = [p.model_copy(update={"device": normalise_phone(p.device)}) for p in permits]
    supervision = SupervisionEngine(
        permits=compile_permits(permits, projector=network, settings=settings.compliance, network=network),
        zones=compile_zones(zones, projector=network),
        settings=settings.compliance,
        track_settings=settings.track,
        projector=network,
    )
    frame = db_positions(engine, period=period, devices=devices).frame  # exactly what `audit --from-db` reads
    frame = frame.sort_values(["t", "device"], kind="stable")  # across trucks, as they would have arrived
    events = []
    for r in frame.itertuples(index=False):
        fix = Fix(
            device=r.device,
            t=float(r.t),
            lon=float(r.lon),
            lat=float(r.lat),
            speed_kmh=_value(r.speed_kmh),
            load=_int(r.load),
            ignition=_int(r.ignition),
            status=_int(r.status),
        )
        events += supervision.push(fix)
    events += supervision.close()
    return Replayed(positions=len(frame), events=len(events), stored=apply_events(engine, events, now=now))
