"""The live rule engine over the database's permits and zones: what judges accepted positions in either mode.

The in-process sink's thread (``fleet.supervise.live``) and each ``qingyun supervise`` Redis worker
(``fleet.supervise.streams``) hold one :class:`LiveJudge`: one ``SupervisionEngine`` whose permits
and zones are read from the database and reloaded when they change (looked at every
``QINGYUN_LIVE_RELOAD_S``), and whose events are stored with ``fleet.supervise.store.apply_events``
(alarm rows by key and the alarm event log).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from typing import TYPE_CHECKING

from sqlalchemy import JSON, String, select
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Engine

from fleet.settings import FleetSettings
from fleet.supervise.store import Applied, apply_events
from fleet.tracks.store import normalise_phone

if TYPE_CHECKING:
    from fleet.supervise.engine import Fix

log = logging.getLogger(__name__)

_PERMIT = sa_table("permit", sa_column("permit_id", String), sa_column("document", JSON))
_ZONE = sa_table("zone", sa_column("id", String), sa_column("document", JSON))


class LiveJudge:
    """One rule engine over the database's permits and zones, reloaded when they change; fixes in, events stored.

    This is what judges live positions in either mode: the in-process sink's thread and each
    ``qingyun supervise`` Redis worker hold one and call :meth:`judge` with the fixes they receive.
    It is not thread-safe: one thread per judge.

    Parameters
    ----------
    db
        The service database: permits and zones in, alarms and the event log out.
    settings
        Rule, track and live settings (``live.reload_s``: how often the permits and zones are checked).
    network
        The ``RoadNetwork``: projection and the permits' approved routes.
    """

    def __init__(self, db: Engine, *, settings: FleetSettings, network: object) -> None:
        self._db = db
        self._settings = settings
        self._network = network
        self._digest: str | None = None
        self._checked = -math.inf
        from fleet.supervise.engine import SupervisionEngine

        self.engine = SupervisionEngine(
            permits={}, zones=[], settings=settings.compliance, track_settings=settings.track, projector=network
        )
        self.refresh()

    def refresh(self) -> bool:
        """Reload permits and zones if ``live.reload_s`` passed since the last look and they changed; True if reloaded.

        The truck windows and open alarms are kept; only later judgements see the new inputs. Inputs
        that cannot be compiled are logged and the previous ones kept.
        """
        if time.monotonic() - self._checked < self._settings.live.reload_s:
            return False
        self._checked = time.monotonic()
        from fleet.audit.geometry import compile_permits, compile_zones
        from fleet.audit.inputs import Permit, ZoneFeature
        from fleet.audit.rules.engine import approved_sites_of

        with self._db.connect() as connection:
            permits = connection.execute(select(_PERMIT.c.permit_id, _PERMIT.c.document)).all()
            zones = connection.execute(select(_ZONE.c.id, _ZONE.c.document)).all()
        digest = hashlib.sha256(
            json.dumps([sorted(map(tuple, permits)), sorted(map(tuple, zones))], sort_keys=True, default=str).encode()
        ).hexdigest()
        if digest == self._digest:
            return False
        try:
            documents = [Permit.model_validate(d) for _, d in permits]
            documents = [p.model_copy(update={"device": normalise_phone(p.device)}) for p in documents]
            compiled = compile_permits(
                documents, projector=self._network, settings=self._settings.compliance, network=self._network
            )
            areas = compile_zones([ZoneFeature.model_validate(d) for _, d in zones], projector=self._network)
        except Exception:  # a bad stored document must not stop live supervision: keep judging with the last good ones
            log.exception("permits or zones changed but cannot be compiled; the previous ones stay in use")
            self._digest = digest
            return False
        self.engine.permits, self.engine.zones, self.engine.sites = compiled, areas, approved_sites_of(areas)
        self._digest = digest
        log.info("live rules: %d permits, %d zones loaded", len(documents), len(areas))
        return True

    def judge(self, fixes: list[Fix], *, received_at: float | None, history: list[Fix] | None = None) -> Applied:
        """Push the fixes through the engine and store the alarm events they raise.

        Parameters
        ----------
        fixes
            Accepted positions, in any order (the engine orders each truck's by GPS time).
        received_at
            When they were accepted (epoch seconds), logged with each event.
        history
            A truck's stored positions before ``fixes``, for a truck this engine takes over
            (``SupervisionEngine.warm``: judged once, not fix by fix).

        Returns
        -------
        Applied
            What the store did with the events.
        """
        self.refresh()
        events = self.engine.warm(history[0].device, history) if history else []
        events += [event for fix in fixes for event in self.engine.push(fix)]
        return apply_events(self._db, events, received_at=received_at) if events else Applied()
