"""A sweeping scenario file: the area, the fleet and the places a night's plan needs, in one JSON document.

Why a file: a real night names its depot, the transfer station that accepts sweepings and the water
points washers refill at, and the numbers of sweepers and washers — too much for flags, and worth
keeping beside the plan it made. ``qingyun sweep plan --scenario FILE`` reads it; flags given on the
command line win. Shipped examples: ``data/sweep/*.json``.

Fields: ``name``; ``osm`` (a file name, looked for beside the scenario, then in the network data
folder); ``area`` (GeoJSON polygon, Feature or FeatureCollection, WGS-84); ``classes``; ``date``;
``depot``, ``stations``, ``water_points`` (``{"id", "name", "lon", "lat"}``); ``sweepers``,
``washers``; ``settings`` (any :class:`routing.sweeping.settings.SweepingSettings` field).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from routing.errors import InputFileError
from routing.jsonfile import read_json, validated
from routing.sweeping.problem import Facility
from routing.sweeping.settings import SweepingSettings


class SweepScenario(BaseModel):
    """One night's sweeping and washing, as a dispatcher writes it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    osm: str | None = Field(None, description="OSM file name (beside the scenario, or in the network data folder)")
    area: dict = Field(description="GeoJSON polygon (geometry, Feature or FeatureCollection), WGS-84")
    classes: list[str] | None = None
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    depot: Facility
    stations: list[Facility] = Field(default_factory=list, description="transfer stations accepting sweepings")
    water_points: list[Facility] = Field(default_factory=list)
    sweepers: int = Field(ge=1)
    washers: int = Field(0, ge=0)
    settings: dict = Field(default_factory=dict, description="SweepingSettings fields for this scenario")
    notes: str = ""


def read_scenario(path: Path | str) -> SweepScenario:
    """The scenario of ``path``, every bad field named (file and field path).

    Raises
    ------
    InputFileError
        If the file is missing, not JSON, or a field is wrong.
    """
    scenario = validated(SweepScenario, read_json(path, what="sweep scenario"), source=str(path))
    validated(SweepingSettings, scenario.settings, source=f"{path}: settings")
    return scenario


def scenario_settings(scenario: SweepScenario, base: SweepingSettings) -> SweepingSettings:
    """``base`` with the scenario's settings and classes applied."""
    update = dict(scenario.settings)
    if scenario.classes:
        update["classes"] = scenario.classes
    return base.model_copy(update=SweepingSettings.model_validate({**base.model_dump(), **update}).model_dump())


def scenario_osm(scenario: SweepScenario, *, source: Path, data_folder: Path) -> Path | None:
    """The scenario's OSM file: beside it, else in the network data folder (None: not named).

    Raises
    ------
    InputFileError
        If it is named but in neither place.
    """
    if scenario.osm is None:
        return None
    for folder in (Path(source).parent, data_folder):
        if (folder / scenario.osm).exists():
            return (folder / scenario.osm).resolve()
    raise InputFileError(
        f"{source}: osm: 找不到路网文件 / road network {scenario.osm!r} is neither beside the scenario nor in "
        f"{data_folder} (set QINGYUN_DATA_DIR or give --osm)"
    )
