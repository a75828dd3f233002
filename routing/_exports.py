"""Lazy public API of a package: names re-exported from their modules on first use.

A package ``__init__`` lists, per defining module, the public names it re-exports; importing
the package stays cheap (the CLI and the JT/T 808 gateway start without loading osmnx or
OR-Tools), and ``from routing.network import RoadNetwork`` still works.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(
    package: str, modules: dict[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, re-exporting ``{"module.path": ("Name", …)}``.

    Parameters
    ----------
    package
        The package's ``__name__`` (named in the error for an unknown attribute).
    modules
        For each defining module, the names the package re-exports from it.

    Returns
    -------
    tuple of callables
        The package's module-level ``__getattr__`` and ``__dir__`` (PEP 562).
    """
    owner = {name: module for module, names in modules.items() for name in names}

    def __getattr__(name: str) -> object:
        module = owner.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> list[str]:
        return sorted(owner)

    return __getattr__, __dir__
