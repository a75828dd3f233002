"""The rule runner: every rule family over one truck's track, device-wide and per permit.

The one implementation of the rules; ``fleet.supervise.engine`` runs it, over a stored day
(the batch audit) or over each truck's recent fixes as positions arrive (live supervision).

Device-wide rules (speed, zones, reporting gaps, no permit) read the whole track; the
permit's own terms (route corridor, hours, manifest, dumping) read the share of the track
during each permit's validity, and the unpermitted share is audited for dumping only.
"""

from __future__ import annotations

import numpy as np
import shapely

from fleet.audit.geometry import CompiledPermit, Zone, near
from fleet.audit.rules.context import RuleContext, loaded_mask
from fleet.audit.rules.dumping import suspected_dumping
from fleet.audit.rules.gaps import reporting_gaps
from fleet.audit.rules.hours import outside_hours
from fleet.audit.rules.permit import no_permit, trip_not_closed
from fleet.audit.rules.route import off_route
from fleet.audit.rules.settings import ComplianceSettings
from fleet.audit.rules.speed import speeding
from fleet.audit.rules.zones import restricted_zones
from fleet.audit.violations import Violation
from fleet.tracks.settings import TrackSettings
from fleet.tracks.track import Track, find_trips


def _subtrack(track: Track, mask: np.ndarray) -> Track:
    return Track(
        track.device,
        track.t[mask],
        track.lon[mask],
        track.lat[mask],
        track.x[mask],
        track.y[mask],
        track.speed_kmh[mask],
        track.load[mask],
        track.ignition[mask],
        track.speed_reported[mask],
        track.dropped,
    )


def _permit_rules(
    whole: RuleContext, permit: CompiledPermit | None, mask: np.ndarray, at_registered: np.ndarray
) -> list[Violation]:
    """The permit's own terms over its share of the track (``permit`` None: the unpermitted share)."""
    settings, track_settings = whole.settings, whole.track_settings
    sub = _subtrack(whole.track, mask)
    ctx = RuleContext(
        sub,
        whole.company,
        permit,
        loaded_mask(sub, permit, settings=settings),
        whole.moving[mask],
        settings,
        track_settings,
    )
    at_site = at_registered[mask].copy()
    if permit is not None:
        at_site |= near(permit.source, sub.x, sub.y, settings.site_margin_m)
        at_site |= near(permit.destinations, sub.x, sub.y, settings.site_margin_m)
    trips = find_trips(sub, settings=track_settings)
    found = off_route(ctx, at_site) + outside_hours(ctx) + trip_not_closed(ctx, trips)
    if sub.has_load or permit is not None:
        found += suspected_dumping(ctx, at_site, {b for _, b in trips})
    return found


def approved_sites_of(zones: list[Zone]) -> shapely.Geometry | None:
    """The union of the registered sites among ``zones``, prepared for point tests (None without zones)."""
    if not zones:
        return None
    union = shapely.union_all([z.polygon for z in zones if z.kind == "approved_site"])
    shapely.prepare(union)
    return union


def audit_track(
    track: Track,
    *,
    permits: list[CompiledPermit],
    zones: list[Zone],
    settings: ComplianceSettings,
    track_settings: TrackSettings,
    approved_sites: shapely.Geometry | None = None,
) -> list[Violation]:
    """Every violation of one construction-waste truck, in time order.

    Parameters
    ----------
    track
        The truck's cleaned fixes.
    permits
        This device's permits, earliest first; fixes outside every permit's validity are audited
        as unpermitted (no route, hours or manifest rules; registered sites still allow stops).
    zones
        Restricted zones and registered sites.
    settings
        Rule thresholds.
    track_settings
        Stop, trip, gap and moving thresholds.
    approved_sites
        The union of the ``approved_site`` zones, prepared (:func:`approved_sites_of`); None: made here.

    Returns
    -------
    list of Violation
        Sorted by (start, type).
    """
    if len(track) == 0:
        return []
    company = permits[0].permit.company if permits else None
    if approved_sites is None:
        approved_sites = approved_sites_of(zones)
    at_registered = near(approved_sites, track.x, track.y, settings.site_margin_m)
    permit_of = np.full(len(track), -1)
    for k, p in enumerate(permits):
        permit_of[(permit_of < 0) & (track.t >= p.start_s) & (track.t <= p.end_s)] = k
    limit = np.full(len(track), settings.default_speed_limit_kmh)
    for k, p in enumerate(permits):
        limit[permit_of == k] = p.speed_limit_kmh

    ids = [p.permit.permit_id for p in permits]
    whole = RuleContext(
        track,
        company,
        None,
        loaded_mask(track, None, settings=settings),
        track.moving(track_settings),
        settings,
        track_settings,
        [ids[k] if k >= 0 else None for k in permit_of.tolist()],
    )
    violations = speeding(whole, limit) + restricted_zones(whole, zones) + reporting_gaps(whole)
    violations += no_permit(whole, permit_of >= 0) if track.has_load else []
    for k in [*range(len(permits)), -1]:
        mask = permit_of == k
        if mask.sum() >= 2:
            violations += _permit_rules(whole, permits[k] if k >= 0 else None, mask, at_registered)
    return sorted(violations, key=lambda v: (v.start, v.type))
