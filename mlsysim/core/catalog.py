"""The catalog ("zoo"): typed registries of hardware, workloads, fabrics, nodes, clusters and
grid regions, loaded lazily from the YAML files in ``mlsysim/data`` and extensible by users
(``mlsysim.load_catalog(path)``).

A catalog file is a YAML mapping with any of the sections ``hardware``, ``fabrics``, ``models``,
``grids``, ``nodes``, ``clusters``; each section is a list of entries. Names resolve
case-insensitively by key, name or alias (``"H100"``, ``"h100-sxm"``, ``"NVIDIA H100"``).
"""
from __future__ import annotations

import functools
import pathlib
import threading
from typing import Any, Iterable, Iterator

from pydantic import TypeAdapter, ValidationError

from .errors import SchemaError, UnknownAttributeError, UnknownNameError, UserInputError
from .fields import CatalogEntry, normalize_name
from .yamlio import format_validation_error, read_yaml, validation_messages  # noqa: F401 (format_validation_error: re-exported)

DATA_DIR = pathlib.Path(__file__).resolve().parent.parent / "data"
LOAD_ORDER = ("hardware", "fabrics", "models", "grids", "nodes", "clusters")
_GROUP_FIELD = {"hardware": "category", "models": "family"}
_KIND_LABEL = {"hardware": "hardware", "fabrics": "fabric", "models": "model", "grids": "grid region",
               "nodes": "node", "clusters": "cluster"}


@functools.lru_cache(maxsize=None)
def _entry_type(section: str) -> type:
    """The class every entry of registry ``section`` is an instance of (resolved once)."""
    from ..hardware.types import HardwareNode
    from ..infra.types import GridRegion
    from ..models.types import Workload
    from ..systems.types import Cluster, Fabric, Node

    return {"hardware": HardwareNode, "fabrics": Fabric, "grids": GridRegion, "nodes": Node, "clusters": Cluster,
            "models": Workload}[section]


def _entry_class(section: str, fields: dict) -> type | None:
    """The model class an entry of ``section`` with ``fields`` validates as (for did-you-mean)."""
    if section == "models":
        from ..models.types import CNNWorkload, TransformerWorkload

        return {"transformer": TransformerWorkload, "cnn": CNNWorkload}.get(fields.get("kind"))
    return _entry_type(section)


def _adapter(section: str) -> TypeAdapter:
    from ..hardware.types import HardwareNode
    from ..infra.types import GridRegion
    from ..models.types import CNNWorkload, TransformerWorkload
    from ..systems.types import Cluster, Fabric, Node
    from typing import Annotated, Union
    from pydantic import Field

    types = {
        "hardware": HardwareNode, "fabrics": Fabric, "grids": GridRegion, "nodes": Node, "clusters": Cluster,
        "models": Annotated[Union[TransformerWorkload, CNNWorkload], Field(discriminator="kind")],
    }
    return TypeAdapter(types[section])


class Group:
    """The entries of a registry that share a category or family (``Hardware.Cloud``)."""

    def __init__(self, registry: "Registry", value: str):
        self._registry, self._value = registry, value

    def all(self) -> list:
        return [e for e in self._registry.all() if getattr(e, self._registry.group_field) == self._value]

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        for e in self.all():
            if e.key == attr:
                return e
        raise UnknownAttributeError(f"{self._registry.label} in {self._value}", attr, [e.key for e in self.all()])

    def __iter__(self) -> Iterator:
        return iter(self.all())

    def __dir__(self):
        return [e.key for e in self.all()]

    def __repr__(self) -> str:
        return f"<{self._registry.section}.{self._value}: {len(self.all())} entries>"


class Registry:
    """One kind of catalog entry, addressable by attribute (``Hardware.H100``), by group
    (``Hardware.Cloud.H100``) and by string (``Hardware.get("nvidia h100")``)."""

    def __init__(self, section: str):
        self.section = section
        self.label = _KIND_LABEL[section]
        self.group_field = _GROUP_FIELD.get(section)
        self._entries: dict[str, CatalogEntry] = {}
        self._index: dict[str, str] = {}

    # -- access ---------------------------------------------------------------------------
    def get(self, name) -> Any:
        """The entry named ``name`` (key, name or alias, case-insensitive); an entry passes through."""
        if isinstance(name, CatalogEntry):
            if not isinstance(name, _entry_type(self.section)):
                raise UserInputError(f"expected a {self.label}, got the {type(name).__name__} {name.key!r}",
                                     hint=f"pass a {self.label} (or its name) here; `mlsysim zoo {self.section}` "
                                          f"lists them")
            return name
        _ensure_loaded()
        key = self._index.get(normalize_name(name))
        if key is None:
            raise UnknownNameError(self.label, str(name), self._suggestable())
        return self._entries[key]

    def _suggestable(self) -> list[str]:
        return [e.key for e in self._entries.values()] + [e.name for e in self._entries.values()]

    def all(self) -> list:
        _ensure_loaded()
        return list(self._entries.values())

    def names(self) -> list[str]:
        return [e.key for e in self.all()]

    def groups(self) -> list[str]:
        if not self.group_field:
            return []
        seen: dict[str, None] = {}
        for e in self.all():
            seen[getattr(e, self.group_field)] = None
        return list(seen)

    def __getattr__(self, attr: str):
        if attr.startswith("_"):
            raise AttributeError(attr)
        _ensure_loaded()
        if attr in self._entries:
            return self._entries[attr]
        if self.group_field and attr in self.groups():
            return Group(self, attr)
        raise UnknownAttributeError(self.label, attr, list(self._entries) + self.groups())

    def __iter__(self) -> Iterator:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self.all())

    def __contains__(self, name) -> bool:
        _ensure_loaded()
        return normalize_name(getattr(name, "key", name)) in self._index

    def __dir__(self):
        return list(self._entries) + self.groups() + ["get", "all", "names", "groups", "add"]

    def __repr__(self) -> str:
        return f"<mlsysim registry '{self.section}': {len(self._entries)} entries>"

    # -- extension ------------------------------------------------------------------------
    def add(self, entry: CatalogEntry, *, replace: bool = False, where: str = "") -> CatalogEntry:
        """Register ``entry``; its key, name and aliases must not name another entry unless ``replace``."""
        old = self._entries.get(entry.key)
        if old is not None and not replace:
            raise SchemaError(f"{where or entry.key}: a {self.label} with key {entry.key!r} already exists",
                              hint="choose another key, or load the file with replace=True to override it")
        for n in entry.lookup_names():
            k = self._index.get(normalize_name(n))
            if k is not None and k != entry.key:
                raise SchemaError(f"{where or entry.key}: name {n!r} already names {self.label} {k!r}",
                                  hint="remove or rename that alias")
        if old is not None:
            for n in old.lookup_names():
                self._index.pop(normalize_name(n), None)
        self._entries[entry.key] = entry
        for n in entry.lookup_names():
            self._index[normalize_name(n)] = entry.key
        return entry


_REGISTRIES = {s: Registry(s) for s in LOAD_ORDER}
_state = {"loaded": False}
_lock = threading.RLock()


def registry(section: str) -> Registry:
    return _REGISTRIES[section]


def _ensure_loaded() -> None:
    if _state["loaded"]:
        return
    with _lock:
        if _state["loaded"]:
            return
        _state["loaded"] = True  # set first: loading resolves references through the registries
        try:
            _load_files(sorted(DATA_DIR.glob("*.yaml")), replace=False)
        except Exception:
            _state["loaded"] = False
            for r in _REGISTRIES.values():
                r._entries.clear(), r._index.clear()
            raise


def _load_files(paths: Iterable[pathlib.Path], *, replace: bool) -> dict[str, list]:
    docs = []
    for path in paths:
        data, lines = read_yaml(path, "catalog")
        if data is None:
            continue
        if not isinstance(data, dict):
            raise SchemaError(f"{path}: a catalog file must be a mapping with sections {', '.join(LOAD_ORDER)}")
        unknown = [k for k in data if k not in LOAD_ORDER]
        if unknown:
            raise UnknownNameError("catalog section", unknown[0], LOAD_ORDER, where=str(path))
        docs.append((path, data, lines))
    added: dict[str, list] = {s: [] for s in LOAD_ORDER}
    defined: dict[tuple[str, str], str] = {}  # (section, key) -> where, for keys given twice in one load
    for section in LOAD_ORDER:
        adapter = None
        for path, data, lines in docs:
            entries = data.get(section) or []
            if not isinstance(entries, list):
                raise SchemaError(f"{path}: section '{section}' must be a list of entries")
            for i, raw in enumerate(entries):
                if not isinstance(raw, dict):
                    raise SchemaError(f"{path}: {section}[{i}] must be a mapping, got {raw!r}")
                line = lines.get((section, i), ("?",))[0]
                label = raw.get("key") or raw.get("name") or f"#{i}"
                where = f"{path}:{line}: {section} entry '{label}'"
                adapter = adapter or _adapter(section)
                fields = dict(raw)
                if section == "models" and "kind" not in fields:
                    fields["kind"] = "transformer"  # the documented default of TransformerWorkload.kind
                try:
                    entry = adapter.validate_python(fields)
                except ValidationError as exc:
                    msgs = validation_messages(exc, source=f"{path}:{line}", context=f"{section} entry '{label}'",
                                               model_cls=_entry_class(section, fields), tags=("transformer", "cnn"))
                    raise SchemaError("\n".join(msgs), hint=f"see `mlsysim schema catalog` for the fields of a {_KIND_LABEL[section]}") from None
                except UnknownNameError as exc:
                    raise UnknownNameError(exc.kind, exc.name, exc.valid, where=where) from None
                if (section, entry.key) in defined:
                    raise SchemaError(f"{where}: key {entry.key!r} is defined twice (also at "
                                      f"{defined[section, entry.key]})", hint="remove or rename one of the entries")
                defined[section, entry.key] = where
                added[section].append(_REGISTRIES[section].add(entry, replace=replace, where=where))
    return added


def load_catalog(path: str | pathlib.Path, *, replace: bool = False) -> dict[str, list]:
    """Add the entries of a user catalog file; returns the added entries by section.

    Errors name the file, the line, the entry and the field. With ``replace`` an entry may
    override a built-in one with the same key.
    """
    _ensure_loaded()
    with _lock:
        snapshot = {s: (dict(r._entries), dict(r._index)) for s, r in _REGISTRIES.items()}
        try:
            return _load_files([pathlib.Path(path)], replace=replace)
        except Exception:
            for s, (entries, index) in snapshot.items():  # all or nothing
                _REGISTRIES[s]._entries, _REGISTRIES[s]._index = entries, index
            raise
