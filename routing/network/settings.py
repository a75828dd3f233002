"""Road-network settings (``QINGYUN_NETWORK_*``): where OSM files and built networks are kept.

The shipped road networks (``data/osm/*.osm.bz2`` in the source tree) are installed with the
package as data files under ``<sys.prefix>/share/qingyun/osm/`` (pyproject
``[tool.setuptools.data-files]``), so a non-editable ``pip install`` plans without the source
tree. :meth:`NetworkSettings.default_osm` resolves the road network used when none is named:
``QINGYUN_NETWORK_OSM`` if set, else the source tree's ``data/osm``, else the installed copy.
:meth:`NetworkSettings.named_osm` resolves the road network a scenario names by file name, among the
files of the data folder (``QINGYUN_DATA_DIR``, default the shipped ones): the service plans on any of
them and on nothing outside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from routing.errors import InputFileError, InvalidInputError

SHENZHEN_OSM = "shenzhen_nanshan_futian_drive.osm.bz2"
"""File name of the shipped Shenzhen Nanshan + Futian network, the default road network."""

GUIXI_OSM = "guixi_jiangxi.osm.bz2"
"""File name of the shipped Guixi (Jiangxi) network, small enough for unit tests."""

SOURCE_OSM_DIR = Path(__file__).resolve().parents[2] / "data" / "osm"
"""``data/osm`` of a source checkout (absent in an installed package)."""

INSTALLED_OSM_SUBDIR = Path("share") / "qingyun" / "osm"
"""Where ``pip install`` puts the shipped OSM files, relative to ``sys.prefix``."""

MATRIX_MEMORY_GIB = 4.0
"""Default memory a travel-matrix build may take (the 10,000-stop day's peak target is 4 GiB)."""

OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.pbf")
"""The road-network file types :func:`routing.network.graph.load_network` reads."""


def shipped_osm_dir() -> Path:
    """The folder of the shipped OSM files: the source tree's ``data/osm`` if present, else the installed copy."""
    if SOURCE_OSM_DIR.is_dir():
        return SOURCE_OSM_DIR
    return Path(sys.prefix) / INSTALLED_OSM_SUBDIR


def shipped_osm(name: str = SHENZHEN_OSM) -> Path:
    """A shipped OSM file by name.

    Parameters
    ----------
    name
        File name inside ``data/osm`` (:data:`SHENZHEN_OSM`, :data:`GUIXI_OSM`).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputFileError
        Neither the source tree nor the installation holds the file.
    """
    path = shipped_osm_dir() / name
    if not path.exists():
        raise InputFileError(
            f"shipped road network {name} not found in {SOURCE_OSM_DIR} nor {Path(sys.prefix) / INSTALLED_OSM_SUBDIR}; "
            "set QINGYUN_NETWORK_OSM to an OSM file"
        )
    return path


class NetworkSettings(BaseSettings):
    """Where the road network comes from and where its build is cached."""

    model_config = SettingsConfigDict(env_prefix="QINGYUN_NETWORK_", populate_by_name=True)

    cache_dir: Path = Field(
        default_factory=lambda: Path.home() / ".cache" / "qingyun",
        validation_alias=AliasChoices("QINGYUN_NETWORK_CACHE_DIR", "QINGYUN_CACHE_DIR"),
        description="built networks, keyed by the OSM file's content and the speed profile",
    )
    osm: Path | None = Field(
        None, description="road network file used when none is given; none = the shipped Shenzhen file"
    )
    data_dir: Path | None = Field(
        None,
        validation_alias=AliasChoices("QINGYUN_DATA_DIR", "QINGYUN_NETWORK_DATA_DIR"),
        description="folder of the road networks (.osm, .osm.bz2, .osm.pbf) a scenario may name in its osm field "
        "(by file name); none = the shipped networks (data/osm)",
    )

    matrix_memory_gib: float = Field(
        MATRIX_MEMORY_GIB,
        gt=0,
        description="largest travel-matrix build allowed (GiB); a bigger day is refused before it is built",
    )

    def default_osm(self) -> Path:
        """The road network used when a caller names none: ``osm``, else :func:`shipped_osm` (Shenzhen)."""
        return self.osm if self.osm is not None else shipped_osm(SHENZHEN_OSM)

    def data_folder(self) -> Path:
        """The folder of the road networks scenarios may name: ``data_dir``, else the shipped files' folder."""
        return self.data_dir if self.data_dir is not None else shipped_osm_dir()

    def available_osm(self) -> dict[str, Path]:
        """The road networks a scenario may name, by file name: the data folder's OSM files and the default one."""
        folder = self.data_folder()
        found = {}
        if folder.is_dir():
            found = {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.name.endswith(OSM_SUFFIXES)}
        if self.osm is not None:
            found.setdefault(self.osm.name, self.osm)
        return found

    def named_osm(self, name: str | None) -> Path:
        """The road network a scenario's ``osm`` field names, looked up by file name in :meth:`available_osm`.

        Only the name counts (a scenario written by ``qingyun scenario generate`` on another machine carries
        that machine's absolute path), so a request can never make the service read a file outside the
        data folder.

        Parameters
        ----------
        name
            The scenario's ``osm`` field; none = :meth:`default_osm`.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        InvalidInputError
            No file of that name in the data folder; the message lists the names allowed.
        """
        if name is None or not str(name).strip():
            return self.default_osm()
        wanted = Path(str(name).replace("\\", "/")).name
        available = self.available_osm()
        if wanted not in available:
            allowed = ", ".join(available) or "无 / none"
            raise InvalidInputError(
                f"osm: 数据目录中没有路网 {wanted!r} / no road network {wanted!r} in the data folder "
                f"{self.data_folder()} (QINGYUN_DATA_DIR); 可用 / available: {allowed}; or leave osm empty "
                f"for the default ({self.osm.name if self.osm is not None else SHENZHEN_OSM})"
            )
        return available[wanted]
