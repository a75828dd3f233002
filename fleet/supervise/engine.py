"""One rule engine, two ways to run it: a stored day at once (the batch audit) or fix by fix (live).

Per truck the engine keeps explicit state: the recent fixes in GPS-time order (the last
``live_window_s``, never cut inside an open alarm or a loaded haul — what the current permit,
corridor position, zone membership, speed run, stop and load state are judged from),
the open alarms and the keys of ended ones. Each accepted position is inserted in GPS-time
order and the truck's window is judged by the one rule implementation
(``fleet.audit.rules.engine.audit_track``); violations become alarms by their stable key.

Late positions: a fix older than the newest one of its truck is inserted in GPS-time order and
the window judged again; an alarm it raises is marked ``late``. A fix older than the whole
window (hours late, a blind-area upload) is judged among the other such fixes of its truck, in
GPS-time order, in a window of its own; its alarms are ``late`` too. A re-delivered fix (same
truck and GPS time) changes nothing.

The batch audit (:func:`audit_fleet`) replays each stored track through the same engine in one
step and ends every alarm: its violations are the alarms' final episodes.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import shapely

from fleet.audit.geometry import CompiledPermit, Zone
from fleet.audit.rules.context import loaded_mask
from fleet.audit.rules.engine import approved_sites_of, audit_track
from fleet.audit.rules.settings import ComplianceSettings
from fleet.audit.violations import Violation
from fleet.supervise.alarms import Alarm, AlarmEvent, alarm_key
from fleet.tracks.settings import TrackSettings
from fleet.tracks.track import Projector, Track, clean_fixes, decode_status


@dataclass
class Fix:
    """One position as accepted by the gateway or ``POST /positions`` (WGS-84, epoch seconds of GPS time)."""

    device: str
    t: float
    lon: float
    lat: float
    speed_kmh: float | None = None
    load: int | None = None  # 1 loaded, 0 empty
    ignition: int | None = None
    status: int | None = None  # raw JT/T 808 status word: fills load, ignition and fix validity


def _num(value: object) -> float:
    return math.nan if value is None else float(value)


def _order(t: float, lon: float, lat: float, speed: float, load: float) -> tuple:
    """The batch order of fixes with one GPS time: content, missing values last; the first one is kept."""
    return (t, lon, lat, math.inf if math.isnan(speed) else speed, math.inf if math.isnan(load) else load)


@dataclass
class _Window:
    """A truck's fixes in GPS-time order (one per time), with the alarms judged from them."""

    rows: list[tuple] = field(default_factory=list)  # (t, lon, lat, x, y, speed, load, ignition)
    times: list[float] = field(default_factory=list)
    open: dict[str, Alarm] = field(default_factory=dict)
    ended: dict[str, Alarm] = field(default_factory=dict)  # never raised again; corrected while in the window
    stale: set[str] = field(default_factory=set)  # open alarms the last judgement no longer found
    alias: dict[str, str] = field(default_factory=dict)  # key of a re-judged episode → its alarm's key
    cut_at: float = -math.inf  # fixes before this time were forgotten

    def insert(self, row: tuple) -> bool:
        """Insert in GPS-time order; False when the time is already held by a fix that sorts first."""
        i = bisect.bisect_left(self.times, row[0])
        if i < len(self.times) and self.times[i] == row[0]:
            held = self.rows[i]
            if _order(*held[:3], held[5], held[6]) <= _order(*row[:3], row[5], row[6]):
                return False
            self.rows[i] = row
            return True
        self.times.insert(i, row[0])
        self.rows.insert(i, row)
        return True

    def cut(self, before: float) -> None:
        """Forget the fixes before ``before`` and the ended keys whose episode ended before it."""
        k = bisect.bisect_left(self.times, before)
        del self.times[:k], self.rows[:k]
        self.cut_at = max(self.cut_at, before)
        self.ended = {key: a for key, a in self.ended.items() if _end_s(a.violation) >= before}
        self.alias = {new: old for new, old in self.alias.items() if old in self.open or old in self.ended}

    def track(self, device: str, settings: TrackSettings) -> Track:
        cols = np.array(self.rows, dtype=float).reshape(-1, 8).T
        t, lon, lat, x, y, speed, load, ignition = cols
        return clean_fixes(
            device, t=t, lon=lon, lat=lat, x=x, y=y, speed=speed, load=load, ignition=ignition, settings=settings
        )


@dataclass
class _Truck:
    window: _Window = field(default_factory=_Window)
    late: _Window = field(default_factory=_Window)  # fixes older than the whole window, judged apart
    invalid: int = 0


def _superseded(window: _Window, v: Violation, *, taken: set[str]) -> str | None:
    """The open alarm ``v`` re-judges: same rule and subject, overlapping in time, not found by its own key."""
    subject = (v.type, v.permit_id, v.details.get("zone_id"))
    for key, alarm in window.open.items():
        a = alarm.violation
        if key in taken or (a.type, a.permit_id, a.details.get("zone_id")) != subject:
            continue
        if _start_s(v) <= _end_s(a) and _start_s(a) <= _end_s(v):
            return key
    return None


def _end_s(violation: Violation) -> float:
    return datetime.fromisoformat(violation.end).timestamp()


def _start_s(violation: Violation) -> float:
    return datetime.fromisoformat(violation.start).timestamp()


class SupervisionEngine:
    """The rules of ``fleet.audit`` judged per truck over a stream of fixes in GPS-time order.

    Parameters
    ----------
    permits
        Compiled permits by device (``fleet.audit.geometry.compile_permits``).
    zones
        Compiled zones (restricted zones and registered sites).
    settings
        Rule thresholds, ``live_window_s`` and ``alarm_settle_s``.
    track_settings
        Cleaning, stop, trip, gap and moving thresholds.
    projector
        WGS-84 → metres for live fixes (the ``RoadNetwork``); None when only replaying tracks.
    """

    def __init__(
        self,
        *,
        permits: dict[str, list[CompiledPermit]],
        zones: list[Zone],
        settings: ComplianceSettings,
        track_settings: TrackSettings,
        projector: Projector | None = None,
    ) -> None:
        self.permits = permits
        self.zones = zones
        self.settings = settings
        self.track_settings = track_settings
        self.projector = projector
        self.sites: shapely.Geometry | None = approved_sites_of(zones)
        self.trucks: dict[str, _Truck] = {}

    # --- live -----------------------------------------------------------------
    def push(self, fix: Fix) -> list[AlarmEvent]:
        """Judge one accepted position: the alarms it starts, changes, ends or withdraws.

        Parameters
        ----------
        fix
            The position, in any arrival order.

        Returns
        -------
        list of AlarmEvent
            Empty for a fix without a satellite position or a re-delivered one.
        """
        truck = self.trucks.setdefault(fix.device, _Truck())
        row = self._row(truck, fix)
        if row is None:
            return []
        main = truck.window
        if fix.t < main.cut_at:  # older than the fixes kept: judged among the other late ones
            return self._judge(fix.device, truck.late, late=True) if truck.late.insert(row) else []
        out_of_order = bool(main.times) and fix.t < main.times[-1]
        if not main.insert(row):
            return []
        events = self._judge(fix.device, main, late=out_of_order)
        self._trim(fix.device, main)
        return events

    def warm(self, device: str, fixes: list[Fix]) -> list[AlarmEvent]:
        """Take a truck over from its stored positions: all inserted, the window judged once.

        A worker taking a truck over (``fleet.supervise.streams``) has minutes of its history to
        catch up on; pushing them one by one would judge the growing window once per fix.

        Parameters
        ----------
        device
            The truck's terminal.
        fixes
            Its stored positions, in any order.

        Returns
        -------
        list of AlarmEvent
            The alarms of that history, by their stable keys (the store already holds most of them).
        """
        truck = self.trucks.setdefault(device, _Truck())
        rows = [row for fix in fixes if (row := self._row(truck, fix)) is not None]
        inserted = [truck.window.insert(row) for row in sorted(rows) if row[0] >= truck.window.cut_at]
        if not any(inserted):
            return []
        events = self._judge(device, truck.window, late=False)
        self._trim(device, truck.window)
        return events

    def _row(self, truck: _Truck, fix: Fix) -> tuple | None:
        """The window row of a fix (projected, status decoded), or None without a satellite position."""
        if self.projector is None:
            raise ValueError("SupervisionEngine.push needs a projector (the road network)")
        load, ignition, no_fix = decode_status(
            status=np.array([_num(fix.status)]),
            load=np.array([_num(fix.load)]),
            ignition=np.array([_num(fix.ignition)]),
            lon=np.array([fix.lon]),
            lat=np.array([fix.lat]),
        )
        if no_fix[0]:
            truck.invalid += 1
            return None
        x, y = self.projector.to_xy(np.array([fix.lon]), np.array([fix.lat]))
        return (fix.t, fix.lon, fix.lat, float(x[0]), float(y[0]), _num(fix.speed_kmh), load[0], ignition[0])

    def close(self) -> list[AlarmEvent]:
        """End every open alarm (the stream is over, or the replayed day is).

        Returns
        -------
        list of AlarmEvent
        """
        events = []
        for truck in self.trucks.values():
            for window in (truck.window, truck.late):
                events += self._settle(window, latest=math.inf)
        return events

    # --- batch ----------------------------------------------------------------
    def replay(self, track: Track) -> list[Alarm]:
        """A stored, cleaned track judged at once and every alarm ended: the batch audit of one truck.

        Parameters
        ----------
        track
            The truck's cleaned fixes (``fleet.tracks.track.build_tracks``).

        Returns
        -------
        list of Alarm
            Ended alarms, in the rules' order (start, type).
        """
        window = _Window()
        events = self._diff(track.device, window, self._violations(track), latest=math.inf, late=False)
        return [e.alarm for e in events if e.kind == "end"]

    # --- the one judgement ----------------------------------------------------
    def _violations(self, track: Track) -> list[Violation]:
        return audit_track(
            track,
            permits=self.permits.get(track.device, []),
            zones=self.zones,
            settings=self.settings,
            track_settings=self.track_settings,
            approved_sites=self.sites,
        )

    def _judge(self, device: str, window: _Window, *, late: bool) -> list[AlarmEvent]:
        track = window.track(device, self.track_settings)
        latest = float(track.t[-1]) if len(track) else -math.inf
        return self._diff(device, window, self._violations(track), latest=latest, late=late)

    def _diff(
        self, device: str, window: _Window, violations: list[Violation], *, latest: float, late: bool
    ) -> list[AlarmEvent]:
        """Violations of one judgement → alarm events, by stable key.

        An episode the rules now see starting elsewhere (a load drop that turned out to belong to
        the stop around it) keeps the open alarm it overlaps, of the same rule and subject.
        """
        events: list[AlarmEvent] = []
        keyed: list[tuple[str, Violation]] = []
        for v in violations:
            key = alarm_key(v)
            while any(key == k for k, _ in keyed):  # two episodes of one rule starting at one fix (rare): keep both
                key += "+"
            keyed.append((window.alias.get(key, key), v))
        direct = {k for k, _ in keyed}
        found: set[str] = set()
        for key, v in keyed:
            if key not in window.open and key not in window.ended:
                old = _superseded(window, v, taken=direct | found)
                if old is not None:
                    window.alias[key] = old
                    key = old
            found.add(key)
            done = window.ended.get(key)
            if done is not None:  # later fixes corrected an ended episode (a trip's end known after a long stop)
                if done.violation != v:
                    done.violation = v
                    events.append(AlarmEvent(kind="update", alarm=done.model_copy()))
                continue
            alarm = window.open.get(key)
            if alarm is None:
                alarm = window.open[key] = Alarm(key=key, late=late, violation=v)
                events.append(AlarmEvent(kind="start", alarm=alarm.model_copy()))
                continue
            changed = alarm.violation.severity != v.severity or alarm_key(alarm.violation) != alarm_key(v)
            alarm.violation = v
            if changed:
                events.append(AlarmEvent(kind="update", alarm=alarm.model_copy()))
        window.stale = set(window.open) - found
        return events + self._settle(window, latest=latest)

    def _settle(self, window: _Window, *, latest: float) -> list[AlarmEvent]:
        """End the alarms whose truck has reported ``alarm_settle_s`` past them (withdraw those no longer found)."""
        events = []
        for key, alarm in list(window.open.items()):
            end = _end_s(alarm.violation)
            if latest - end < self.settings.alarm_settle_s:
                continue
            del window.open[key]
            if key in window.stale:
                window.stale.discard(key)
                events.append(AlarmEvent(kind="withdrawn", alarm=alarm.model_copy(update={"state": "withdrawn"})))
                continue
            alarm.state = "ended"
            window.ended[key] = alarm
            events.append(AlarmEvent(kind="end", alarm=alarm.model_copy()))
        return events

    def _trim(self, device: str, window: _Window) -> None:
        """Keep ``live_window_s`` of fixes, never cutting through an alarm or the haul under way (cut in quarters)."""
        span = self.settings.live_window_s
        if window.times[-1] - window.times[0] <= span * 1.25:
            return
        cut = window.times[-1] - span
        for alarm in [*window.open.values(), *window.ended.values()]:  # never judge part of an episode again
            if _end_s(alarm.violation) >= cut:
                cut = min(cut, _start_s(alarm.violation))
        track = window.track(device, self.track_settings)
        now = float(track.t[-1])
        permit = next((p for p in self.permits.get(device, []) if p.start_s <= now <= p.end_s), None)
        loaded = loaded_mask(track, permit, settings=self.settings)
        if loaded[-1]:  # loaded now: keep the haul from its site (the manifest and the inferred load need it)
            empty = np.flatnonzero(~loaded)
            cut = min(cut, float(track.t[empty[-1]]) if empty.size else -math.inf)
        window.cut(cut)


def audit_fleet(
    tracks: list[Track],
    *,
    permits: dict[str, list[CompiledPermit]],
    zones: list[Zone],
    settings: ComplianceSettings,
    track_settings: TrackSettings,
    workers: int = 1,
) -> list[Violation]:
    """The batch audit: each stored track replayed through the engine; the violations are the alarms' episodes.

    Parameters
    ----------
    tracks
        One cleaned track per truck.
    permits
        Compiled permits by device (``fleet.audit.geometry.compile_permits``).
    zones
        Compiled zones.
    settings
        Rule thresholds.
    track_settings
        Stop, trip, gap and moving thresholds.
    workers
        Processes; more than 1 spreads trucks over a process pool.

    Returns
    -------
    list of Violation
        Sorted by (device, start, type).
    """
    if workers <= 1 or len(tracks) < 2:
        result = _replay_chunk((tracks, permits, zones, settings, track_settings))
    else:
        from concurrent.futures import ProcessPoolExecutor

        chunks = [tracks[i :: workers * 4] for i in range(workers * 4)]
        jobs = [
            (c, {t.device: permits.get(t.device, []) for t in c}, zones, settings, track_settings) for c in chunks if c
        ]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            result = [v for part in pool.map(_replay_chunk, jobs) for v in part]
    return sorted(result, key=lambda v: (v.device, v.start, v.type))


def _replay_chunk(args: tuple) -> list[Violation]:
    tracks, permits, zones, settings, track_settings = args
    engine = SupervisionEngine(permits=permits, zones=zones, settings=settings, track_settings=track_settings)
    return [alarm.violation for track in tracks if len(track) for alarm in engine.replay(track)]
