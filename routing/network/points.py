"""Read point lists (``id,lon,lat`` CSV, WGS-84) with errors that name the line."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from routing.errors import InputFileError


@dataclass
class PointTable:
    ids: list[str]
    lon: list[float]
    lat: list[float]


def read_points_csv(path: Path) -> PointTable:
    """Read ``id,lon,lat``; every bad row is reported (file, line, what), none silently skipped."""
    if not path.exists():
        raise InputFileError(f"points file not found: {path}")
    table = PointTable(ids=[], lon=[], lat=[])
    problems: list[str] = []
    seen: set[str] = set()
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"id", "lon", "lat"} - set(reader.fieldnames or [])
        if missing:
            raise InputFileError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected id,lon,lat")
        for row in reader:
            line = reader.line_num
            pid = (row.get("id") or "").strip()
            if not pid:
                problems.append(f"line {line}: empty id")
                continue
            if pid in seen:
                problems.append(f"line {line}: duplicate id {pid!r}")
                continue
            try:
                lon, lat = float(row["lon"]), float(row["lat"])
            except (TypeError, ValueError):
                problems.append(f"line {line} (id {pid}): lon/lat not numbers ({row.get('lon')!r}, {row.get('lat')!r})")
                continue
            if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
                problems.append(f"line {line} (id {pid}): coordinate out of range (lon {lon}, lat {lat})")
                continue
            seen.add(pid)
            table.ids.append(pid)
            table.lon.append(lon)
            table.lat.append(lat)
    if problems:
        raise InputFileError(f"{path}: {len(problems)} bad row(s): " + "; ".join(problems))
    return table
