"""The input forms of a search space (a YAML file or a dict) expanded to its schema: a bare mapping
of dimensions, lists as choice/categorical dimensions, scalars as fixed values, and dimension
mappings whose ``type`` can be inferred (used by ``SearchSpace.from_dict``)."""
from __future__ import annotations

from typing import Mapping

from ..core.errors import SchemaError

#: the top-level keys of the full schema (a mapping with none of them is the shorthand)
SECTIONS = {"name", "description", "dimensions", "derived", "rules", "fixed", "constants"}


def normalize(data: dict, where: str) -> dict:
    """Expand shorthands: a bare mapping of dimensions, lists as choice/categorical, scalars as
    fixed values, and dimension mappings whose ``type`` can be inferred."""
    if not (set(data) & SECTIONS):
        data = {"dimensions": data}
    data = dict(data)
    if not isinstance(data.get("fixed") or {}, Mapping):
        raise SchemaError(f"{where}: field 'fixed' must be a mapping of name -> value, got {data['fixed']!r}")
    dims, fixed = {}, dict(data.get("fixed") or {})
    raw_dims = data.get("dimensions") or {}
    if not isinstance(raw_dims, Mapping):
        raise SchemaError(f"{where}: field 'dimensions' must be a mapping of name -> dimension")
    for name, spec in raw_dims.items():
        if isinstance(spec, (list, tuple)):
            spec = {"values": list(spec)}
        if isinstance(spec, Mapping) and isinstance(spec.get("values"), list) and not spec["values"]:
            raise SchemaError(f"{where}: field 'dimensions.{name}.values': empty list of values",
                              hint="give at least one value")
        if isinstance(spec, (int, float, str)) and not isinstance(spec, bool):
            fixed[name] = spec
            continue
        if isinstance(spec, Mapping) and "type" not in spec:
            spec = dict(spec)
            if "values" in spec:
                vals = spec["values"] if isinstance(spec["values"], list) else []
                if vals and all(isinstance(v, str) for v in vals):
                    spec["type"] = "categorical"
                elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                    spec["type"] = "choice"
                else:
                    raise SchemaError(f"{where}: field 'dimensions.{name}.values': mix of numbers and strings "
                                      f"{vals!r}", hint="use all numbers (choice) or all strings (categorical)")
            elif {"low", "high"} <= set(spec):
                ints = all(isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("low", "high"))
                spec["type"] = "int" if ints and "log" not in spec and "grid" not in spec else "float"
        dims[name] = spec
    data["dimensions"] = dims
    if fixed:
        data["fixed"] = fixed
    return data
