"""Catalog entries named inside other entries (a node's ``accelerator: H100``).

The entry types (``hardware/``, ``models/``, ``systems/``, ``infra/`` ``types.py``) sit below the
catalog, which validates its YAML into them, so they must not import it. A type resolves a name
with ``resolve(section, value)``; the package root wires the catalog's lookup in with
``set_lookup`` (``mlsysim/__init__.py``). Imports then point one way: registry above the types.
"""
from __future__ import annotations

from typing import Any, Callable

_LOOKUP: list[Callable[[str, str], Any]] = []


def set_lookup(lookup: Callable[[str, str], Any]) -> None:
    """Install ``lookup(section, name) -> entry`` (the catalog registry's ``get``)."""
    _LOOKUP[:] = [lookup]


def resolve(section: str, value: Any) -> Any:
    """The catalog entry ``value`` names in ``section``; any non-string value is returned as is."""
    if not isinstance(value, str):
        return value
    if not _LOOKUP:
        raise ValueError(f"{value!r}: cannot look up {section} names, no catalog is wired in")
    return _LOOKUP[0](section, value)
