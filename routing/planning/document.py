"""``plan.json``: the one schema of a plan as handed over, and its reader.

Every producer and consumer of a plan document uses these models: the plan writer
(:meth:`routing.planning.plan.Plan.document`), the independent checker
(:func:`routing.planning.check.check_plan`), the API's stored plan (``GET /plans/{id}``), and
the fleet audit's coverage reader. ``qingyun plan --plan-schema`` prints
:func:`plan_json_schema`. Times are ISO 8601 with the scenario's UTC offset (``+08:00`` in
China); coordinates WGS-84 lon/lat.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from routing.jsonfile import read_json, validated

StopKind = Literal["depot", "site", "facility", "break", "wait"]
PlaceKind = Literal["depot", "site", "facility"]

ROUTE_COLOURS = (  # distinguishable on a light map, colour-blind friendly order first
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#ad494a",
    "#637939",
    "#e6550d",
    "#7b4173",
    "#3182bd",
)


def route_colour(index: int) -> str:
    """The colour of the plan's ``index``-th route, so map, list, GeoJSON and plan.json agree on each truck."""
    return ROUTE_COLOURS[index % len(ROUTE_COLOURS)]


class PlanStop(BaseModel):
    """One stop of a truck: where, when, and what it carries on leaving."""

    model_config = ConfigDict(extra="allow")

    kind: StopKind = Field(
        description="depot | site | facility | break (the meal break) | wait (parked, waiting for a window or the "
        "break); a break or wait is taken where the truck stands, the place named by ``at`` and ``id``"
    )
    id: str = Field(
        description="the depot, site or facility id of the scenario; for a break or a wait the id of the place where "
        "the truck stands (kind in ``at``)"
    )
    at: PlaceKind | None = Field(
        None,
        description="break and wait only: the kind of place (depot, site, facility) where the truck stands; a break "
        "without it is read as taken where the previous stop left the truck",
    )
    lon: float | None = Field(None, ge=-180, le=180, description="WGS-84 of the place; none for planar instances")
    lat: float | None = Field(None, ge=-90, le=90, description="WGS-84 of the place; none for planar instances")
    arrival: AwareDatetime = Field(
        description="local time with offset; the first entry at a place arrives after the leg's drive, each further "
        "entry there when the previous one ends (so a site's arrival is its service start, waiting is its own entry)"
    )
    start: AwareDatetime = Field(description="service (or unload, break, wait) start")
    departure: AwareDatetime
    load_kg: dict[str, float] = Field(default_factory=dict, description="on board per stream when leaving")
    unloaded_kg: dict[str, float] = Field(default_factory=dict, description="unloaded per stream (facilities)")
    leg_distance_m: int = Field(0, ge=0, description="road distance from the previous stop (informative)")
    leg_duration_s: int = Field(
        0, ge=0, description="driving time from the previous place (informative); 0 for further entries at one place"
    )


class PlanRoute(BaseModel):
    """One truck's day, depot to depot."""

    model_config = ConfigDict(extra="allow")

    vehicle_id: str = Field(description="the scenario's vehicle id; matches the positions' ``device`` column")
    colour: str | None = Field(
        None,
        description="the truck's own colour (route lists); the map and routes.geojson colour routes by territory "
        "(their ``territory``), which is this colour when the plan has no grids",
    )
    stops: list[PlanStop]


class Unserved(BaseModel):
    """A site left out of every route, with the dispatcher's reason."""

    site_id: str
    reason: str


class RouteMeasures(BaseModel):
    """What a dispatcher reads off one truck's day (:mod:`routing.planning.kpis`)."""

    vehicle_id: str
    vehicle_type: str = Field(description="the scenario's vehicle type id ('' when the problem has none)")
    streams: list[str] = Field(description="streams the route collects")
    sites: int = Field(ge=0, description="sites served")
    shift_h: float = Field(ge=0, description="depot departure to return, hours")
    service_area_km2: float | None = Field(
        None, ge=0, description="convex hull of the route's sites in projected metres, km²; none for planar instances"
    )
    service_area: list[list[float]] | None = Field(
        None,
        description="the service area's outline: convex hull of the route's sites as [lon, lat] points (a closed "
        "ring; a point or segment for one or two sites); none for planar instances",
    )
    overlap_share: float | None = Field(
        None,
        ge=0,
        le=1,
        description="share of the other routes of a common stream whose service areas overlap this one by more than "
        "half of the smaller; none without such routes or coordinates",
    )
    waiting_h: float = Field(ge=0, description="parked waiting (wait entries), hours; the meal break not included")
    overtime_h: float = Field(ge=0, description="shift hours beyond the standard shift")
    kitchen_on_board_max_h: float | None = Field(
        None, ge=0, description="longest time kitchen waste stays on board, pickup start to unload start; none without"
    )


class ShiftSpread(BaseModel):
    """Longest and shortest shift among the used trucks of one vehicle type."""

    vehicle_type: str
    routes: int = Field(ge=1)
    longest_h: float = Field(ge=0)
    shortest_h: float = Field(ge=0)
    ratio: float | None = Field(None, description="longest / shortest; none when the shortest shift is zero")


class PlanMeasures(BaseModel):
    """Dispatcher measures of a plan: territories, time on board, balance, short routes, waiting, overtime."""

    same_stream_pairs: int = Field(ge=0, description="pairs of routes that collect a common stream")
    overlapping_pairs: int = Field(
        ge=0, description="of those, pairs whose service areas overlap by more than half of the smaller area"
    )
    overlap_share: float | None = Field(None, ge=0, le=1, description="overlapping / same-stream pairs")
    kitchen_on_board_max_h: float | None = Field(None, ge=0, description="kitchen waste pickup → unload, hours: max")
    kitchen_on_board_p95_h: float | None = Field(None, ge=0, description="… 95th percentile over kitchen sites")
    shift_spread: list[ShiftSpread] = Field(default_factory=list, description="per vehicle type")
    short_route_sites: int = Field(ge=0, description="a route with fewer sites than this counts as short")
    short_routes: int = Field(ge=0, description="routes with fewer than ``short_route_sites`` sites")
    waiting_max_h: float = Field(ge=0, description="idle waiting of the truck that waits longest, hours")
    overtime_h: float = Field(ge=0, description="shift hours beyond the standard shift, all trucks")
    routes: list[RouteMeasures] = Field(default_factory=list)


class MovedSite(BaseModel):
    """A site a re-plan took off the truck that had it before."""

    site_id: str
    from_vehicle: str
    to_vehicle: str | None = Field(None, description="its truck now; none when it is now unserved or cancelled")


class ReplanLink(BaseModel):
    """``replans``: how a re-planned day relates to the plan it replaces (:mod:`routing.planning.replan`).

    The re-plan's routes cover the rest of the day from ``at``; a truck under way starts at the site
    ``_at-<vehicle>`` (where it stands then, with the load it carries), reached from its depot by a
    modelling leg it does not drive.
    """

    from_plan: str = Field(description="the plan replaced: its id in the service, or its file")
    at: AwareDatetime = Field(description="the re-plan time")
    events: dict[str, Any] = Field(default_factory=dict, description="events.json as applied")
    finished: dict[str, list[str]] = Field(
        default_factory=dict, description="per truck, the sites done by the re-plan time (kept out of the new plan)"
    )
    out_of_service: list[str] = Field(default_factory=list, description="trucks broken down")
    off_shift: list[str] = Field(
        default_factory=list, description="trucks left out: shift over, or no remaining site they could reach"
    )
    stranded_kg: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="per truck out of service, the load it still carries (not planned)"
    )
    starts: dict[str, list[str]] = Field(
        default_factory=dict, description="per truck under way, its start sites (its position and load at ``at``)"
    )
    positions: dict[str, str] = Field(
        default_factory=dict,
        description="per truck under way, where its position came from: plan, fix, report, finished",
    )
    cancelled: list[str] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list, description="urgent sites added")
    keepable_sites: int = Field(
        ge=0, description="remaining sites whose truck is still in service (those that can keep their truck)"
    )
    kept_truck: int = Field(ge=0, description="of those, sites served by the same truck")
    kept_truck_share: float | None = Field(None, ge=0, le=1)
    kept_order: int = Field(ge=0, description="of those, sites on the same truck in the same relative order")
    kept_order_share: float | None = Field(None, ge=0, le=1)
    moved: list[MovedSite] = Field(default_factory=list)


class PlanDocument(BaseModel):
    """``plan.json``: routes per truck, sites left unserved, cost and KPIs of one collection day."""

    model_config = ConfigDict(extra="allow")

    scenario: str = Field(description="the scenario's name")
    objective: dict[str, Any] = Field(default_factory=dict, description="money cost: total, fixed, distance, time")
    kpi: dict[str, Any] = Field(default_factory=dict, description="清运率 clearance rate, km, hours, tonnes …")
    routes: list[PlanRoute]
    unserved: list[Unserved] = Field(default_factory=list)
    measures: PlanMeasures | None = Field(
        None, description="dispatcher measures: service areas and their overlap, time on board, shift spread, waiting"
    )
    search: dict[str, Any] = Field(
        default_factory=dict, description="how the plan was found (run metadata: wall time, cost history)"
    )
    replans: ReplanLink | None = Field(None, description="a re-plan: the plan it replaces, when, and what changed")

    def to_json(self) -> dict:
        """The document as JSON-ready data."""
        return self.model_dump(mode="json")


def parse_plan(raw: object, *, source: str = "plan") -> PlanDocument:
    """A decoded ``plan.json`` validated against the contract.

    Parameters
    ----------
    raw : object
        The decoded JSON.
    source : str
        The file or record name for messages.

    Returns
    -------
    PlanDocument
        The validated document.

    Raises
    ------
    InputFileError
        Naming every bad field of ``source`` by its path (``routes.3.stops.7.lon``).
    """
    return validated(PlanDocument, raw, source=source)


def read_plan(path: Path | str) -> PlanDocument:
    """A ``plan.json`` file, validated (see :func:`parse_plan`).

    Raises
    ------
    InputFileError
        The file is missing, not JSON, or breaks the contract.
    """
    return parse_plan(read_json(path, what="plan"), source=str(path))


def published_schema(model: type[BaseModel], *, title: str) -> dict:
    """A model's JSON Schema as ``qingyun plan`` publishes it: draft 2020-12, with a bilingual title.

    Parameters
    ----------
    model : type of pydantic.BaseModel
        The model whose schema is published.
    title : str
        The schema's title.

    Returns
    -------
    dict
        The JSON Schema with ``$schema`` and ``title`` set.
    """
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **model.model_json_schema(), "title": title}


def plan_json_schema() -> dict:
    """The published JSON Schema of ``plan.json`` (``qingyun plan --plan-schema``)."""
    return published_schema(PlanDocument, title="Qingyun collection plan (清运排线方案 plan.json)")
