"""Lazy public API of a package: names re-exported from their modules on first use.

A package ``__init__`` lists its public names and the module defining each; importing the
package stays cheap (the CLI and the JT/T 808 gateway start without loading osmnx or OR-Tools),
and ``from routing.network import RoadNetwork`` still works.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` re-exporting ``{name: "module.path"}``."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__
