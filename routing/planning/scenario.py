"""The planning scenario a dispatcher writes: sites, depots, facilities, fleet, break rule.

This is the user-facing input (``scenario.json``), validated by pydantic so that every bad
field is named with its path and id (``sites.12.demand_kg (id R-0012)``) before any solving
starts. ``qingyun plan --schema`` prints :func:`scenario_json_schema`. Times of day are local
``HH:MM`` strings (``24:00`` allowed as an end) on ``date`` in the scenario's UTC offset
(default ``+08:00``); coordinates are WGS-84 lon/lat. The numeric, indexed form the solver
works on is :class:`routing.planning.problem.Problem`.
"""

from __future__ import annotations

import re
from datetime import date as Date
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from routing.errors import InvalidInputError, ScenarioError
from routing.jsonfile import read_json, validation_messages
from routing.localtime import parse_utc_offset
from routing.planning.document import published_schema

Stream = Literal["kitchen", "recyclable", "hazardous", "other"]
STREAMS: tuple[str, ...] = ("kitchen", "recyclable", "hazardous", "other")
STREAM_LABELS_ZH = {"kitchen": "厨余垃圾", "recyclable": "可回收物", "hazardous": "有害垃圾", "other": "其他垃圾"}

# Vehicle size classes, smallest first: a site marked "small" (narrow lane) takes only small trucks.
AccessClass = Literal["small", "medium", "large"]
ACCESS_RANK = {"small": 0, "medium": 1, "large": 2}

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")

ID_PATTERN = r"^[0-9A-Za-z\u3400-\u9fff_-][0-9A-Za-z\u3400-\u9fff_.-]*$"
"""Ids: letters, digits, CJK, ``-_.`` (not first: ``.`` and ``..`` are no URL path segment), at most :data:`ID_MAX`."""
ID_MAX = 64
NAME_MAX = 200
CLOCK_PATTERN = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$|^24:00$"


def Id(**kwargs) -> object:  # noqa: N802 - a Field factory, used like a type
    """A record id or a reference to one (:data:`ID_PATTERN`)."""
    return Field(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN, **kwargs)


def Name(default: str = "", *, max_length: int = NAME_MAX, **kwargs) -> object:  # noqa: N802
    """A free-text label, at most :data:`NAME_MAX` characters."""
    return Field(default, max_length=max_length, **kwargs)


def Clock(default: str, **kwargs) -> object:  # noqa: N802
    """A local ``HH:MM`` time of day (``24:00`` allowed as an end)."""
    return Field(default, pattern=CLOCK_PATTERN, **kwargs)


def clock_to_seconds(value: str) -> int:
    """``"06:30"`` -> 23400 seconds after local midnight; ``"24:00"`` is allowed (end of day)."""
    match = _CLOCK.match(value.strip())
    if not match:
        raise ValueError(f"time {value!r} is not HH:MM")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes > 0):
        raise ValueError(f"time {value!r} is not a time of day between 00:00 and 24:00")
    return hours * 3600 + minutes * 60


class _Strict(BaseModel):
    # strict: a JSON document must give numbers as numbers and flags as true/false (no "12" or 0 for false);
    # table readers convert their text cells first (or validate with strict=False)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class Window(_Strict):
    """A local time interval ``[start, end]``; for a site, when service may START."""

    start: str = Clock(..., description="HH:MM local time")
    end: str = Clock(..., description="HH:MM local time, 24:00 allowed")

    @field_validator("start", "end")
    @classmethod
    def _is_clock(cls, value: str) -> str:
        clock_to_seconds(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if clock_to_seconds(self.end) < clock_to_seconds(self.start):
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")
        return self

    @property
    def seconds(self) -> tuple[int, int]:
        return clock_to_seconds(self.start), clock_to_seconds(self.end)


class Site(_Strict):
    """A collection point: a restaurant's kitchen-waste bins or one stream at a community point."""

    id: str = Id()
    name: str = Name()
    address: str = Name(max_length=500)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    stream: Stream
    demand_kg: float = Field(ge=0, le=100_000, description="expected weight to collect today")
    demand_l: float = Field(default=0.0, ge=0, le=1_000_000, description="expected volume on the truck, litres")
    service_s: float = Field(default=40.0, ge=0, le=86_400, description="time at the stop (bin lifts)")
    windows: list[Window] = Field(
        default_factory=lambda: [Window(start="00:00", end="24:00")],
        min_length=1,
        max_length=24,
        description="one or more intervals in which service may start",
    )
    access: AccessClass = Field(default="large", description="largest truck class the street admits")
    vehicles: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=5_000,
        description="the only trucks (ids) that may serve it, e.g. its grid's crews; none = any compatible truck",
    )
    on_board_since: str | None = Field(
        default=None,
        pattern=CLOCK_PATTERN,
        description="HH:MM: its load has been on a truck since then (a re-plan's start site); the hold time "
        "counts from there",
    )
    preferred_vehicle: str | None = Id(
        default=None, description="the truck that should serve it (its territory, or its truck before a re-plan)"
    )
    preference_penalty: float | None = Field(
        default=None,
        ge=0,
        le=1_000_000,
        description="currency when another truck than preferred_vehicle serves it; none = the scenario's "
        "stability_penalty",
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        max_length=100,
        description="the sites file's other columns (contact, bins …), kept as text: at most 100, each up to "
        "200 characters of name and 2,000 of value",
    )

    @field_validator("attributes")
    @classmethod
    def _attribute_sizes(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not 1 <= len(name) <= NAME_MAX or len(text) > 2_000:
                raise ValueError(f"attribute {name[:40]!r}: names are 1–200 characters, values at most 2,000")
        return value


class Depot(_Strict):
    """Where trucks are parked overnight; every route starts and ends at its truck's depot."""

    id: str = Id()
    name: str = Name()
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class Facility(_Strict):
    """A disposal facility (treatment plant, transfer station …) where trucks unload."""

    id: str = Id()
    name: str = Name()
    kind: str = Field(
        default="transfer_station",
        max_length=64,
        description="treatment_plant, transfer_station, recycling_centre, hazardous_depot, landfill …",
    )
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    streams: list[Stream] = Field(min_length=1, max_length=4, description="streams accepted")
    opening_hours: list[Window] = Field(
        default_factory=lambda: [Window(start="00:00", end="24:00")], min_length=1, max_length=24
    )
    unload_min: float = Field(default=15.0, ge=0, le=1440, description="time to weigh and unload")
    daily_capacity_t: float | None = Field(
        default=None, gt=0, le=1_000_000, description="tonnes it can receive today (none = unlimited)"
    )


class VehicleType(_Strict):
    """A class of truck: what it carries, how much, where it fits, what it costs."""

    id: str = Id()
    name: str = Name()
    streams: list[Stream] = Field(
        min_length=1, max_length=4, description="streams it is built for (one body: unloads all at once)"
    )
    capacity_kg: float = Field(gt=0, le=100_000)
    capacity_m3: float | None = Field(default=None, gt=0, le=1_000, description="body volume; none = weight binds")
    access: AccessClass = "large"
    fixed_cost: float = Field(default=300.0, ge=0, le=10_000_000, description="per truck used per day")
    cost_per_km: float = Field(default=3.0, ge=0, le=100_000)
    cost_per_hour: float = Field(default=60.0, ge=0, le=1_000_000, description="crew cost per shift hour")
    max_shift_h: float | None = Field(default=None, gt=0, le=24, description="longest shift from leaving to returning")
    max_stops: int | None = Field(default=None, gt=0, le=100_000, description="most sites per shift")
    max_daily_kg: float | None = Field(default=None, gt=0, le=1_000_000, description="most weight collected per shift")
    ends_empty: bool = Field(default=True, description="unload at a facility before returning to the depot")

    @field_validator("max_stops", mode="before")
    @classmethod
    def _whole(cls, value: object) -> object:
        # JSON Schema counts 12.0 as an integer; strict pydantic would not
        return int(value) if isinstance(value, float) and value.is_integer() else value


class Vehicle(_Strict):
    """One truck (a licence plate) of a type, based at a depot, with its shift."""

    id: str = Id()
    type: str = Id(description="its vehicle type's id")
    depot: str = Id(description="its depot's id")
    shift_start: str = Clock("06:00")
    shift_end: str = Clock("18:00")

    @field_validator("shift_start", "shift_end")
    @classmethod
    def _is_clock(cls, value: str) -> str:
        clock_to_seconds(value)
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Vehicle:
        if clock_to_seconds(self.shift_end) <= clock_to_seconds(self.shift_start):
            raise ValueError(f"shift ends ({self.shift_end}) before it starts ({self.shift_start})")
        return self


class BreakRule(_Strict):
    """The crew's meal break: ``duration_min`` starting between the two times (default 11:00–13:00)."""

    duration_min: float = Field(default=60.0, gt=0, le=1440)
    earliest_start: str = Clock("11:00")
    latest_start: str = Clock("13:00")

    @model_validator(mode="after")
    def _ordered(self) -> BreakRule:
        if clock_to_seconds(self.latest_start) < clock_to_seconds(self.earliest_start):
            raise ValueError(f"latest_start {self.latest_start} is before earliest_start {self.earliest_start}")
        return self


class Grid(_Strict):
    """A territory (网格): the sites of its streams inside its polygon are served only by its trucks."""

    id: str = Id()
    name: str = Name()
    streams: list[Stream] = Field(
        default_factory=lambda: list(STREAMS), min_length=1, max_length=4, description="streams it applies to"
    )
    vehicles: list[str] = Field(default_factory=list, max_length=5_000, description="trucks (ids) that work it")
    vehicle_types: list[str] = Field(
        default_factory=list, max_length=1_000, description="vehicle types whose every truck works it"
    )
    geometry: dict = Field(description="GeoJSON Polygon or MultiPolygon, WGS-84 lon/lat")

    @model_validator(mode="after")
    def _has_trucks(self) -> Grid:
        if not self.vehicles and not self.vehicle_types:
            raise ValueError(f"grid {self.id}: 没有车辆 / names no vehicles or vehicle_types")
        return self


class Scenario(_Strict):
    """One day of collection in one city: the input of ``qingyun plan``."""

    name: str = Name("scenario")
    date: Date = Field(strict=False, description="the service day, local (YYYY-MM-DD)")
    utc_offset: str = Field(default="+08:00", pattern=r"^[+-]\d{2}:\d{2}$")
    osm: str | None = Field(
        default=None,
        description="road network file; relative paths are relative to the scenario file; none = shipped Shenzhen",
    )
    depots: list[Depot] = Field(min_length=1, max_length=1_000)
    facilities: list[Facility] = Field(default_factory=list, max_length=1_000)
    vehicle_types: list[VehicleType] = Field(min_length=1, max_length=1_000)
    vehicles: list[Vehicle] = Field(min_length=1, max_length=5_000)
    break_rule: BreakRule | None = Field(default_factory=BreakRule)
    sites: list[Site] = Field(min_length=1, max_length=100_000)
    grids: list[Grid] | None = Field(
        default=None,
        max_length=10_000,
        description="territories (网格化管理); sites of a grid's streams inside it take only its trucks; "
        "grids of one stream must not overlap and must cover every site of that stream",
    )
    hold_h: dict[Stream, Annotated[float, Field(gt=0, le=24)] | None] = Field(
        default_factory=lambda: {"kitchen": 4.0},
        description="longest time a stream may stay on board, hours from pickup to unload (default 4 h for "
        "kitchen waste: hygiene and smell); a stream not listed, or null, has no limit",
    )
    balance_per_h: float = Field(
        default=300.0,
        ge=0,
        le=1_000_000,
        description="balanced shifts: currency per hour a truck works beyond the mean shift of its vehicle type, and "
        "per hour of work (driving, service, unloading) a truck that goes out falls short of 80 % of its type's mean "
        "work (means from a first search phase without balance); 0 turns balancing off",
    )
    compactness_per_site: float = Field(
        default=20.0,
        ge=0,
        le=1_000_000,
        description="compact routes: currency per site served by another truck than its territory's (territories "
        "cut per truck from a first solution, capacitated k-means); 0 turns it off",
    )
    stability_penalty: float = Field(
        default=100.0,
        ge=0,
        le=1_000_000,
        description="currency per site served by another truck than its preferred_vehicle (sites without "
        "their own preference_penalty)",
    )

    @field_validator("utc_offset")
    @classmethod
    def _is_offset(cls, value: str) -> str:
        try:
            parse_utc_offset(value)
        except InvalidInputError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        problems: list[str] = []
        for field_name in ("depots", "facilities", "vehicle_types", "vehicles", "sites"):
            seen: set[str] = set()
            for i, item in enumerate(getattr(self, field_name)):
                if item.id in seen:
                    problems.append(f"{field_name}.{i}.id (id {item.id}): duplicate id")
                seen.add(item.id)
        all_ids: dict[str, str] = {}
        for field_name in ("depots", "facilities", "sites"):
            for i, item in enumerate(getattr(self, field_name)):
                if item.id in all_ids and all_ids[item.id] != field_name:
                    problems.append(f"{field_name}.{i}.id (id {item.id}): also used in {all_ids[item.id]}")
                all_ids.setdefault(item.id, field_name)
        types = {t.id: t for t in self.vehicle_types}
        depots = {d.id for d in self.depots}
        for i, v in enumerate(self.vehicles):
            if v.type not in types:
                problems.append(f"vehicles.{i}.type (id {v.id}): unknown vehicle type {v.type!r}")
            if v.depot not in depots:
                problems.append(f"vehicles.{i}.depot (id {v.id}): unknown depot {v.depot!r}")
        problems += self._site_trucks_known()
        problems += self._grid_trucks_known(types)
        carried = {s for v in self.vehicles if v.type in types for s in types[v.type].streams}
        accepted = {s for f in self.facilities for s in f.streams}
        must_unload = {
            s for v in self.vehicles if v.type in types and types[v.type].ends_empty for s in types[v.type].streams
        }
        for stream in sorted({s.stream for s in self.sites}):
            first = next(i for i, s in enumerate(self.sites) if s.stream == stream)
            if stream not in carried:
                problems.append(f"sites.{first}.stream (id {self.sites[first].id}): no truck carries stream {stream!r}")
            elif stream in must_unload and stream not in accepted:
                problems.append(
                    f"sites.{first}.stream (id {self.sites[first].id}): no facility accepts stream {stream!r}"
                )
        if problems:  # one line per problem, without pydantic's "Value error, " prefix
            raise PydanticCustomError("scenario_consistency", "{problems}", {"problems": "; ".join(problems)})
        return self

    def _grid_trucks_known(self, types: dict) -> list[str]:
        """Grids name trucks and vehicle types of the fleet."""
        known = {v.id for v in self.vehicles}
        problems = []
        seen: set[str] = set()
        for i, g in enumerate(self.grids or ()):
            if g.id in seen:
                problems.append(f"grids.{i}.id (id {g.id}): duplicate id")
            seen.add(g.id)
            unknown = sorted(set(g.vehicles) - known)
            if unknown:
                problems.append(f"grids.{i}.vehicles (id {g.id}): 未知车辆 / unknown vehicles {', '.join(unknown)}")
            unknown = sorted(set(g.vehicle_types) - types.keys())
            if unknown:
                problems.append(
                    f"grids.{i}.vehicle_types (id {g.id}): 未知车型 / unknown vehicle types {', '.join(unknown)}"
                )
        return problems

    def _site_trucks_known(self) -> list[str]:
        """Sites' allowed and preferred trucks must be trucks of the fleet, the preferred one among the allowed."""
        known = {v.id for v in self.vehicles}
        problems = []
        for i, s in enumerate(self.sites):
            unknown = sorted(set(s.vehicles or ()) - known)
            if unknown:
                problems.append(f"sites.{i}.vehicles (id {s.id}): 未知车辆 / unknown vehicles {', '.join(unknown)}")
            if s.preferred_vehicle is not None and s.preferred_vehicle not in known:
                problems.append(
                    f"sites.{i}.preferred_vehicle (id {s.id}): 未知车辆 / unknown vehicle {s.preferred_vehicle!r}"
                )
            elif s.preferred_vehicle is not None and s.vehicles is not None and s.preferred_vehicle not in s.vehicles:
                problems.append(
                    f"sites.{i}.preferred_vehicle (id {s.id}): 不在其允许车辆中 / {s.preferred_vehicle!r} is not among "
                    "its vehicles"
                )
        return problems


def _item_id(item: object) -> object:
    return item.get("id") if isinstance(item, dict) else None


def parse_scenario(raw: object, *, source: str = "scenario") -> Scenario:
    """Validate a decoded scenario document.

    Parameters
    ----------
    raw
        The decoded JSON document.
    source
        What it is, for the message (a file name, ``"stored catalogue"``).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Naming every bad field by its path and the id of its item (``sites.3.demand_kg (id R-3): …``).
    """
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(validation_messages(exc, raw=raw, ident=_item_id), source=source) from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario JSON file.

    Raises
    ------
    InputFileError
        The file is missing or not JSON (the message names file, line and column).
    ScenarioError
        The document is not a valid scenario (see :func:`parse_scenario`).
    """
    return parse_scenario(read_json(path, what="scenario"), source=str(path))


def scenario_json_schema() -> dict:
    """The published JSON Schema of scenario files (``qingyun plan --schema``)."""
    return published_schema(Scenario, title="Qingyun collection-planning scenario (清运规划场景)")
