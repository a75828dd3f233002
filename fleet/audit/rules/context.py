"""What every rule shares: the per-truck context, debounced runs, schedules, the loaded state, the violation builder.

Each rule turns a cleaned ``Track`` into debounced episodes — one violation per episode,
never one per fix — with the evidence fixes and an explanation in zh-CN and English.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fleet.audit.geometry import CompiledPermit, near
from fleet.audit.inputs import TimeWindow
from fleet.audit.rules.settings import ComplianceSettings
from fleet.audit.violations import SEVERITY_LABELS, TYPE_LABELS, EvidencePoint, Violation
from fleet.tracks.settings import TrackSettings
from fleet.tracks.track import Track
from routing.localtime import CHINA_OFFSET_S, iso_local


@dataclass
class RuleContext:
    """One device (or one permit's share of it) with what every rule needs."""

    track: Track
    company: str | None
    permit: CompiledPermit | None
    loaded: np.ndarray
    moving: np.ndarray
    settings: ComplianceSettings
    track_settings: TrackSettings
    permit_at: list[str | None] | None = None  # permit id valid at each fix (device-wide rules)


def in_windows(t: np.ndarray, windows: list[TimeWindow]) -> np.ndarray:
    """Which epoch times fall in any daily window (China time).

    Parameters
    ----------
    t
        Epoch seconds.
    windows
        Daily windows; a window ending before it starts crosses midnight and belongs to its start day.

    Returns
    -------
    numpy.ndarray
        Boolean per time; all True when there are no windows.
    """
    if not windows:
        return np.ones(len(t), dtype=bool)
    local = t + CHINA_OFFSET_S
    sod = np.mod(local, 86400.0)
    day = np.floor_divide(local, 86400.0).astype(np.int64)
    weekday = (day + 3) % 7 + 1  # 1970-01-01 was a Thursday; ISO 1 = Monday
    result = np.zeros(len(t), dtype=bool)
    for w in windows:
        s = w.start.hour * 3600 + w.start.minute * 60 + w.start.second
        e = w.end.hour * 3600 + w.end.minute * 60 + w.end.second
        days = np.asarray(w.days or range(1, 8))
        if s < e:
            result |= (sod >= s) & (sod < e) & np.isin(weekday, days)
        else:  # crosses midnight: the early part belongs to the previous day's window
            prev = (weekday - 2) % 7 + 1
            result |= ((sod >= s) & np.isin(weekday, days)) | ((sod < e) & np.isin(prev, days))
    return result


def runs(mask: np.ndarray, t: np.ndarray, merge_gap_s: float) -> list[tuple[int, int]]:
    """Runs of True as inclusive (first, last) indices; runs closer in time than ``merge_gap_s`` are joined.

    Parameters
    ----------
    mask
        Boolean per fix.
    t
        Fix times (Unix seconds), same length as ``mask``.
    merge_gap_s
        Runs separated by at most this many seconds are merged (s).

    Returns
    -------
    list[tuple[int, int]]
        Inclusive (first, last) index pairs in time order; empty when ``mask`` has no True.
    """
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    splits = np.flatnonzero((np.diff(idx) > 1) & (t[idx[1:]] - t[idx[:-1]] > merge_gap_s)) + 1
    return [(int(g[0]), int(g[-1])) for g in np.split(idx, splits)]


def moving_episodes(ctx: RuleContext, mask: np.ndarray, min_s: float) -> list[tuple[int, int, float]]:
    """Episodes of ``mask`` (merged over ``merge_gap_s``) trimmed to their moving fixes, lasting at least ``min_s``.

    Parameters
    ----------
    ctx
        The track, its moving flags and ``merge_gap_s``.
    mask
        Per fix: the condition of the rule.
    min_s
        Shortest episode kept.

    Returns
    -------
    list of tuple
        (first, last, duration in seconds) of each episode.
    """
    t = ctx.track.t
    out = []
    for a, b in runs(mask, t, ctx.settings.merge_gap_s):
        moving = np.flatnonzero(ctx.moving[a : b + 1]) + a
        if moving.size >= 2 and t[moving[-1]] - t[moving[0]] >= min_s:
            out.append((int(moving[0]), int(moving[-1]), float(t[moving[-1]] - t[moving[0]])))
    return out


def majority3(flags: np.ndarray) -> np.ndarray:
    """Majority of each fix and its two neighbours: one noisy fix neither starts nor breaks an episode."""
    if len(flags) < 3:
        return flags
    padded = np.concatenate(([flags[0]], flags, [flags[-1]])).astype(np.int8)
    return (padded[:-2] + padded[1:-1] + padded[2:]) >= 2


def minutes(seconds: float) -> str:
    """Seconds as minutes with one decimal, for explanations."""
    return f"{seconds / 60:.1f}"


def loaded_mask(track: Track, permit: CompiledPermit | None, *, settings: ComplianceSettings) -> np.ndarray:
    """Loaded state per fix: the terminal's load signal (gaps filled forward), else inferred from the permit's sites.

    Without a load signal a permitted truck counts as loaded from leaving its source site until it
    reaches a destination — the manifest's own definition of a haul.

    Parameters
    ----------
    track
        The truck's cleaned fixes.
    permit
        The permit in force over the track, if any.
    settings
        ``site_margin_m`` decides when a fix is at a site.

    Returns
    -------
    numpy.ndarray
        Boolean per fix.
    """
    n = len(track)
    if track.has_load:
        known = track.load >= 0
        idx = np.where(known, np.arange(n), 0)
        np.maximum.accumulate(idx, out=idx)
        filled = track.load[idx]
        first = int(np.argmax(known))
        filled[:first] = track.load[first]
        return filled == 1
    if permit is None:
        return np.zeros(n, dtype=bool)
    at_source = near(permit.source, track.x, track.y, settings.site_margin_m)
    at_dest = near(permit.destinations, track.x, track.y, settings.site_margin_m)
    loaded = np.zeros(n, dtype=bool)
    state = False
    was_at_source = False
    for i in range(n):
        if at_dest[i]:
            state = False
        elif at_source[i]:
            was_at_source = True
        elif was_at_source:
            state, was_at_source = True, False
        loaded[i] = state
    return loaded


def violation(
    ctx: RuleContext,
    kind: str,
    severity: str,
    first: int,
    last: int,
    zh: str,
    en: str,
    *,
    at: int | None = None,
    details: dict | None = None,
) -> Violation:
    """The violation of the fixes ``first``…``last``, with evenly thinned evidence fixes.

    Parameters
    ----------
    ctx
        The track and who it belongs to.
    kind, severity
        Violation type and severity (labels added in zh-CN and English).
    first, last
        Inclusive fix indices of the episode.
    zh, en
        The explanation in both languages.
    at
        The fix that locates the violation; default ``first``.
    details
        Figures shown with the violation.

    Returns
    -------
    Violation
    """
    tr = ctx.track
    at = first if at is None else at
    idx = np.arange(first, last + 1)
    limit = ctx.settings.evidence_max_points
    if idx.size > limit:
        idx = idx[np.unique(np.linspace(0, idx.size - 1, limit).round().astype(int))]
    evidence = [
        EvidencePoint(
            time=iso_local(float(tr.t[i])),
            lon=round(float(tr.lon[i]), 7),
            lat=round(float(tr.lat[i]), 7),
            speed_kmh=round(float(tr.speed_kmh[i]), 1),
            load=None if tr.load[i] < 0 else int(tr.load[i]),
        )
        for i in idx
    ]
    return Violation(
        type=kind,  # type: ignore[arg-type]
        type_label=" / ".join(TYPE_LABELS[kind]),
        severity=severity,  # type: ignore[arg-type]
        severity_label=" / ".join(SEVERITY_LABELS[severity]),
        device=tr.device,
        company=ctx.company,
        permit_id=ctx.permit.permit.permit_id if ctx.permit else (ctx.permit_at[first] if ctx.permit_at else None),
        start=iso_local(float(tr.t[first])),
        end=iso_local(float(tr.t[last])),
        duration_s=float(tr.t[last] - tr.t[first]),
        lon=round(float(tr.lon[at]), 7),
        lat=round(float(tr.lat[at]), 7),
        evidence=evidence,
        explanation={"zh": zh, "en": en},
        details=details or {},
    )
