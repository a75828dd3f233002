"""WGS-84 ↔ local UTM: the one coordinate transform of the product.

Data stays WGS-84; metric work (snapping, corridors, dwell radii) happens in the
UTM zone of the area. The road network and tracks audited without a network
both use this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pyproj import CRS, Transformer


@dataclass
class UtmProjector:
    """WGS-84 lon/lat ↔ x/y metres in ``crs`` (a UTM zone)."""

    crs: CRS
    _fwd: Transformer = field(init=False, repr=False)
    _inv: Transformer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._fwd = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._inv = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)

    @classmethod
    def around(cls, *, lon: float, lat: float) -> UtmProjector:
        """The projector of the UTM zone containing (lon, lat)."""
        zone = int((lon + 180.0) // 6.0) + 1
        return cls(CRS.from_epsg((32600 if lat >= 0 else 32700) + zone))

    def to_xy(self, lon: object, lat: object) -> tuple[np.ndarray, np.ndarray]:
        x, y = self._fwd.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x), np.asarray(y)

    def to_lonlat(self, x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self._inv.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon), np.asarray(lat)
