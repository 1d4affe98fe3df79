"""Conventions shared by every Tier-1 model.

Each model has a *vectorized core*: a plain function over numpy float64 arrays in SI base units
(s, byte, FLOP, W, J, USD, kg) that broadcasts over any number of configurations and returns a dict
of arrays, including a boolean ``feasible`` where the physics can rule a configuration out. The
public ``XModel().solve(...)`` converts its inputs once at the boundary (``to_si``), calls the
core, and wraps the outputs into a typed result of pint quantities (``Result``). The DSE backends
call the same cores on whole populations: one implementation of each formula.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pint

from ..core.errors import UnitError, UserInputError
from ..core.units import Q_, U_GB, U_MS, ureg


def to_si(value, unit, *, what: str, positive: bool = True, allow_zero: bool = False,
          integer: bool = False) -> Any:
    """Magnitude of ``value`` in ``unit`` (a pint unit object or string) as float or float array.

    A Quantity must have ``unit``'s dimension; a plain number or array is taken to be in ``unit``.
    Rejects NaN/inf, and negative (or zero, unless ``allow_zero``) values when ``positive``.
    """
    if type(value) in (int, float):  # fast path for plain scalars
        v = float(value)
        if not math.isfinite(v):
            raise UserInputError(f"{what}: must be finite, got {value!r}")
        if positive and (v < 0 or (v == 0 and not allow_zero)):
            raise UserInputError(f"{what}: must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
        if integer and v != round(v):
            raise UserInputError(f"{what}: must be a whole number, got {value!r}")
        return v
    if isinstance(value, pint.Quantity):
        try:
            mag = value.m_as(unit)
        except pint.DimensionalityError:
            expected = ureg.Unit(unit) if isinstance(unit, str) else unit
            if expected.dimensionless:
                raise UnitError(f"{what}: expected a plain number, got {value:~} ({value.dimensionality})") from None
            raise UnitError(f"{what}: {value:~} has units {value.units:~} ({value.dimensionality}), "
                            f"expected something convertible to {expected:~}",
                            hint=f"pass e.g. Q_(1, '{expected:~}')") from None
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        raise UserInputError(f"{what}: expected a number or quantity, got {value!r}")
    else:
        mag = value
    arr = np.asarray(mag, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise UserInputError(f"{what}: must be finite, got {value!r}")
    if positive:
        bad = arr < 0 if allow_zero else arr <= 0
        if np.any(bad):
            raise UserInputError(f"{what}: must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    if integer and np.any(arr != np.round(arr)):
        raise UserInputError(f"{what}: must be a whole number, got {value!r}")
    return float(arr) if arr.ndim == 0 else arr


def plain(x):
    """A 0-d array (or numpy scalar) back to a Python bool/float; arrays stay arrays."""
    a = np.asarray(x)
    if a.ndim == 0:
        return bool(a) if a.dtype == bool else float(a) if a.dtype.kind in "iuf" else a.item()
    return a


def efficiency_si(value, what: str = "efficiency"):
    """A fraction of peak in (0, 1] (``None`` passes through: the model's derived default). Every
    model taking an ``efficiency`` reads it here, so none accepts 1.5 (faster than the hardware)."""
    if value is None:
        return None
    eff = to_si(value, "", what=what)
    if np.any(np.asarray(eff) > 1):
        raise UserInputError(f"{what} must be in (0, 1], got {value!r}",
                             hint="a fraction of peak FLOP/s, e.g. 0.5")
    return eff


def ms(seconds) -> pint.Quantity:
    """SI seconds as a quantity in milliseconds (the display unit of latencies)."""
    return as_unit(np.asarray(seconds) * 1e3 if isinstance(seconds, np.ndarray) else seconds * 1e3, U_MS)


def gb(nbytes) -> pint.Quantity:
    """Bytes as a quantity in gigabytes (the display unit of memory sizes)."""
    return as_unit(np.asarray(nbytes) / 1e9 if isinstance(nbytes, np.ndarray) else nbytes / 1e9, U_GB)


def as_unit(mag, unit) -> pint.Quantity:
    """Wrap an SI magnitude (float or array) as a quantity in the pre-built ``unit``."""
    if isinstance(mag, np.ndarray) and mag.ndim == 0:
        mag = float(mag)
    return Q_(mag, unit)


@dataclasses.dataclass
class Result:
    """Base of every model result. Fields are pint quantities, or plain str/bool/float."""

    def metrics(self) -> dict[str, Any]:
        """Every field as name -> value (quantities stay quantities)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("_")}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: a quantity becomes {"value", "unit"}; arrays become lists."""
        return {k: jsonable(v) for k, v in self.metrics().items()}

    def __getitem__(self, name: str):
        return getattr(self, name)


def jsonable(v):
    if isinstance(v, pint.Quantity):
        m = v.magnitude
        return {"value": m.tolist() if isinstance(m, np.ndarray) else _num(m), "unit": f"{v.units:~}"}
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, float):
        return _num(v)
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if dataclasses.is_dataclass(v) and hasattr(v, "to_dict"):
        return v.to_dict()
    return v


def _num(m):
    if isinstance(m, float) and not math.isfinite(m):
        return None if math.isnan(m) else ("inf" if m > 0 else "-inf")
    return m
