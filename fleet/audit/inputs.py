"""The audit's input files: permits (permits.json) and zones (zones.geojson), their schemas and readers.

A permit (核准证) fixes the truck, company, source site, disposal site(s), approved route and
allowed hours; zones with schedules mark restricted areas and registered sites. Geometry is
GeoJSON in WGS-84; times without an offset are China time. The readers report every bad
field with its dotted path and the item's id (``routing.jsonfile``).
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet.tracks.track import epoch_s
from routing.errors import InputFileError
from routing.jsonfile import read_json, validated
from routing.planning.scenario import ID_MAX, ID_PATTERN


class TimeWindow(BaseModel):
    """A daily window in China time; ``end`` before ``start`` crosses midnight (e.g. 21:00–06:00)."""

    start: time
    end: time
    days: list[int] | None = Field(
        None, max_length=7, description="ISO weekdays 1=Mon … 7=Sun on which the window starts; all days when absent"
    )

    @model_validator(mode="after")
    def _check(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError(f"window start {self.start} equals end: use 00:00–23:59:59 for all day")
        if self.days and any(d < 1 or d > 7 for d in self.days):
            raise ValueError(f"days {self.days}: ISO weekdays are 1 (Mon) … 7 (Sun)")
        return self


class PolygonGeometry(BaseModel):
    """A GeoJSON Polygon or MultiPolygon in WGS-84 lon/lat."""

    type: Literal["Polygon", "MultiPolygon"]
    coordinates: list


class LineGeometry(BaseModel):
    """A GeoJSON LineString in WGS-84 lon/lat."""

    model_config = ConfigDict(allow_inf_nan=False)

    type: Literal["LineString"]
    coordinates: list[list[float]] = Field(min_length=2, max_length=100_000)


class Permit(BaseModel):
    """A construction-waste transport permit (核准证) as issued."""

    model_config = ConfigDict(allow_inf_nan=False)

    permit_id: str = Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)
    device: str = Field(
        min_length=1, max_length=64, description="terminal id or plate, as in the positions' ``device`` column"
    )
    company: str = Field(min_length=1, max_length=128)
    plate: str | None = Field(None, max_length=32)
    valid_from: datetime = Field(description="ISO 8601; without offset China time")
    valid_until: datetime
    source_site: PolygonGeometry = Field(description="工地 the waste comes from")
    destination_sites: list[PolygonGeometry] = Field(
        min_length=1, max_length=100, description="消纳场 where it may be unloaded"
    )
    route: LineGeometry | None = Field(None, description="approved route as a line (WGS-84)")
    route_nodes: list[int] | None = Field(
        None, description="approved route as a sequence of OSM node ids (needs --osm)"
    )
    corridor_m: float | None = Field(None, gt=0, le=10_000, description="corridor half-width; settings default 50 m")
    time_windows: list[TimeWindow] = Field(
        default_factory=list, max_length=100, description="allowed hours; empty: any time"
    )
    speed_limit_kmh: float | None = Field(None, gt=0, le=200)

    @model_validator(mode="after")
    def _check(self) -> Permit:
        if epoch_s(self.valid_until) <= epoch_s(self.valid_from):
            raise ValueError(f"valid_until {self.valid_until} is not after valid_from {self.valid_from}")
        if self.route is not None and self.route_nodes is not None:
            raise ValueError("give the approved route as `route` or as `route_nodes`, not both")
        return self


class PermitsFile(BaseModel):
    """permits.json"""

    permits: list[Permit]


class ZoneProperties(BaseModel):
    """What a zone is and when it applies."""

    id: str = Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)
    name: str = Field("", max_length=200)
    kind: Literal["restricted", "approved_site"] = Field(
        description="restricted: no entry during the schedule; approved_site: a registered site where stops and unloading are allowed"
    )
    schedule: list[TimeWindow] = Field(
        default_factory=list, max_length=100, description="when a restricted zone applies; empty: always"
    )


class ZoneFeature(BaseModel):
    """One zone as a GeoJSON Feature."""

    type: Literal["Feature"]
    properties: ZoneProperties
    geometry: PolygonGeometry


class ZonesFile(BaseModel):
    """zones.geojson: a GeoJSON FeatureCollection of zones."""

    type: Literal["FeatureCollection"]
    features: list[ZoneFeature]


def _permit_id(item: object) -> object:
    return item.get("permit_id") if isinstance(item, dict) else None


def _zone_id(item: object) -> object:
    return (item.get("properties") or {}).get("id") if isinstance(item, dict) else None


def read_permits(path: Path | str) -> list[Permit]:
    """Read and validate permits.json.

    Parameters
    ----------
    path
        The permits file.

    Returns
    -------
    list of Permit

    Raises
    ------
    InputFileError
        The file is missing or not JSON, a field is bad (named with the permit's index and id),
        or a ``permit_id`` repeats.
    """
    raw = read_json(path, what="permits")
    permits = validated(PermitsFile, raw, source=str(path), ident=_permit_id).permits
    seen: dict[str, int] = {}
    for i, p in enumerate(permits):
        if p.permit_id in seen:
            raise InputFileError(f"{path}: permits.{i}: permit_id {p.permit_id!r} repeats permits.{seen[p.permit_id]}")
        seen[p.permit_id] = i
    return permits


def read_zones(path: Path | str) -> list[ZoneFeature]:
    """Read and validate zones.geojson.

    Parameters
    ----------
    path
        The zones file (a GeoJSON FeatureCollection).

    Returns
    -------
    list of ZoneFeature

    Raises
    ------
    InputFileError
        The file is missing or not JSON, or a field is bad (named with the feature's index and id).
    """
    raw = read_json(path, what="zones")
    return validated(ZonesFile, raw, source=str(path), ident=_zone_id).features
