"""Read a local OSM file and keep only the drivable ways, offline.

osmnx's ``graph_from_xml`` builds a graph from *every* way in a file, so a raw
osm.org export would put footways, building outlines and rail into the road
network. This module applies osmnx's own "drive" rules (the Overpass filter it
sends for ``network_type="drive"``) while reading ``.osm``, ``.osm.bz2`` or
``.osm.pbf``, and writes a minimal OSM XML holding just those ways and their
nodes, which osmnx then turns into a graph.
"""

from __future__ import annotations

import bz2
import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.sax.saxutils import quoteattr

from routing.errors import InputFileError

# osmnx 2.x "drive" filter, as Overpass QL: ["highway"]["area"!~"yes"]["access"!~"private"]
# ["highway"!~"abandoned|bridleway|...|track"]["motor_vehicle"!~"no"]["motorcar"!~"no"]
# ["service"!~"alley|driveway|emergency_access|parking|parking_aisle|private"].
# Overpass "!~" is an unanchored regex search, reproduced here with re.search.
_DRIVE_EXCLUDE: dict[str, re.Pattern[str]] = {
    "area": re.compile("yes"),
    "access": re.compile("private"),
    "highway": re.compile(
        "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|"
        "escalator|footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|"
        "rest_area|service|services|steps|track"
    ),
    "motor_vehicle": re.compile("no"),
    "motorcar": re.compile("no"),
    "service": re.compile("alley|driveway|emergency_access|parking|parking_aisle|private"),
}

SUPPORTED_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf", ".pbf", ".xml")


def is_drivable(tags: dict[str, str]) -> bool:
    """True when a way's tags pass osmnx's "drive" network filter."""
    if "highway" not in tags:
        return False
    return not any(key in tags and pattern.search(tags[key]) for key, pattern in _DRIVE_EXCLUDE.items())


@dataclass
class DrivableExtract:
    """The drivable part of an OSM file: node coordinates and the ways that use them."""

    nodes: dict[int, tuple[float, float]] = field(default_factory=dict)  # id -> (lat, lon)
    ways: list[tuple[int, list[int], dict[str, str]]] = field(default_factory=list)
    ways_read: int = 0
    ways_kept: int = 0
    ways_split_at_missing_nodes: int = 0


def read_drivable(path: Path) -> DrivableExtract:
    """Read ``path`` and return only its drivable ways and the nodes they reference."""
    if not path.exists():
        raise InputFileError(f"OSM file not found: {path}")
    name = path.name.lower()
    if not name.endswith(SUPPORTED_SUFFIXES):
        raise InputFileError(f"{path}: unsupported OSM file type; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    if name.endswith(".pbf"):
        extract = _read_pbf(path)
    else:
        extract = _read_xml(path)
    if not extract.ways:
        raise InputFileError(
            f"{path}: no drivable ways (read {extract.ways_read} ways; none passes the "
            "osmnx 'drive' filter: highway=* and not footway/path/service/... )"
        )
    return extract


def _open_xml(path: Path) -> IO[bytes]:
    name = path.name.lower()
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read_xml(path: Path) -> DrivableExtract:
    from lxml import etree

    all_nodes: dict[int, tuple[float, float]] = {}
    raw_ways: list[tuple[int, list[int], dict[str, str]]] = []
    ways_read = 0
    try:
        with _open_xml(path) as stream:
            for _event, elem in etree.iterparse(stream, events=("end",), tag=("node", "way")):
                if elem.tag == "node":
                    try:
                        all_nodes[int(elem.get("id"))] = (float(elem.get("lat")), float(elem.get("lon")))
                    except (TypeError, ValueError):
                        raise InputFileError(f"{path}, line {elem.sourceline}: node without valid id/lat/lon") from None
                else:
                    ways_read += 1
                    tags = {t.get("k"): t.get("v") for t in elem.iterfind("tag")}
                    if is_drivable(tags):
                        refs = [int(nd.get("ref")) for nd in elem.iterfind("nd")]
                        raw_ways.append((int(elem.get("id")), refs, tags))
                elem.clear(keep_tail=False)
    except etree.XMLSyntaxError as exc:
        raise InputFileError(f"{path}: not valid OSM XML ({exc.msg}, line {exc.lineno})") from None
    except (OSError, EOFError) as exc:
        raise InputFileError(f"{path}: cannot be read ({exc})") from None
    return _assemble(all_nodes, raw_ways, ways_read)


def _read_pbf(path: Path) -> DrivableExtract:
    import osmium

    all_nodes: dict[int, tuple[float, float]] = {}
    raw_ways: list[tuple[int, list[int], dict[str, str]]] = []
    ways_read = 0
    try:
        processor = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations()
        for way in processor:
            if not way.is_way():  # nodes are read only to fill the location cache
                continue
            ways_read += 1
            tags = {t.k: t.v for t in way.tags}
            if not is_drivable(tags):
                continue
            refs: list[int] = []
            for node in way.nodes:
                if node.location.valid():
                    all_nodes[node.ref] = (node.location.lat, node.location.lon)
                refs.append(node.ref)
            raw_ways.append((way.id, refs, tags))
    except RuntimeError as exc:
        raise InputFileError(f"{path}: not a readable OSM PBF file ({exc})") from None
    return _assemble(all_nodes, raw_ways, ways_read)


def _assemble(
    all_nodes: dict[int, tuple[float, float]],
    raw_ways: list[tuple[int, list[int], dict[str, str]]],
    ways_read: int,
) -> DrivableExtract:
    """Keep referenced nodes; split ways where a clipped extract lacks a node."""
    extract = DrivableExtract(ways_read=ways_read, ways_kept=len(raw_ways))
    synthetic_id = -1
    for way_id, refs, tags in raw_ways:
        runs = list(_runs_of_known_nodes(refs, all_nodes))
        if len(runs) > 1 or (runs and len(runs[0]) != len(refs)):
            extract.ways_split_at_missing_nodes += 1
        for index, run in enumerate(runs):
            if index == 0:
                run_id = way_id
            else:
                run_id, synthetic_id = synthetic_id, synthetic_id - 1
            extract.ways.append((run_id, run, tags))
            for ref in run:
                extract.nodes[ref] = all_nodes[ref]
    return extract


def _runs_of_known_nodes(refs: list[int], known: dict[int, tuple[float, float]]) -> Iterator[list[int]]:
    run: list[int] = []
    for ref in refs:
        if ref in known:
            run.append(ref)
        else:
            if len(run) >= 2:
                yield run
            run = []
    if len(run) >= 2:
        yield run


def write_osm_xml(extract: DrivableExtract, target: Path) -> None:
    """Write the extract as minimal OSM XML that ``osmnx.graph_from_xml`` reads.

    Parameters
    ----------
    extract : DrivableExtract
        The drivable ways and their nodes (lat/lon).
    target : Path
        The XML file to write.
    """
    with open(target, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="qingyun">\n')
        for node_id, (lat, lon) in extract.nodes.items():
            out.write(f' <node id="{node_id}" lat="{lat:.7f}" lon="{lon:.7f}"/>\n')
        for way_id, refs, tags in extract.ways:
            out.write(f' <way id="{way_id}">\n')
            out.writelines(f'  <nd ref="{ref}"/>\n' for ref in refs)
            out.writelines(f"  <tag k={quoteattr(k)} v={quoteattr(v)}/>\n" for k, v in tags.items())
            out.write(" </way>\n")
        out.write("</osm>\n")
