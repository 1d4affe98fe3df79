"""Input helpers shared by the Tier-1 models: catalog resolution, fractions, durations and PUE,
each validated once (``to_si``) with a message naming the argument."""
from __future__ import annotations

import numpy as np

from ..core.errors import UserInputError
from ..core.units import DIMENSIONLESS, Q_, U_DAY, U_HOUR, U_S
from .base import to_si

_S_PER = {"s": 1.0, "hour": Q_(1.0, U_HOUR).m_as(U_S), "day": Q_(1.0, U_DAY).m_as(U_S),
          "year": 365.0 * Q_(1.0, U_DAY).m_as(U_S)}
SECONDS_PER_DAY = _S_PER["day"]
SECONDS_PER_HOUR = _S_PER["hour"]
#: A 365-day year (8,760 h), the convention of TCO and amortization tables.
SECONDS_PER_YEAR = _S_PER["year"]
_U_YEAR = 365.0 * U_DAY


def resolve_entry(value, section: str, cls, what: str):
    """``value`` if it is a ``cls``; a catalog name is looked up in registry ``section``."""
    if isinstance(value, cls):
        return value
    if isinstance(value, str):
        from ..core.catalog import registry

        entry = registry(section).get(value)
        if isinstance(entry, cls):
            return entry
    raise UserInputError(f"{what}: expected a {cls.__name__} or the catalog name of one, "
                         f"got {type(value).__name__} {value!r}")


def resolve_fleet(fleet, what: str = "fleet"):
    from ..systems.types import Cluster

    return resolve_entry(fleet, "clusters", Cluster, what)


def resolve_grid(grid, what: str = "grid"):
    from ..infra.types import GridRegion

    return resolve_entry(grid, "grids", GridRegion, what)


def fraction_si(value, what: str, *, allow_zero: bool = True, allow_one: bool = True):
    """A dimensionless fraction in [0, 1] (plain number, or quantity such as ``Q_(80, '%')``)."""
    x = to_si(value, DIMENSIONLESS, what=what, positive=True, allow_zero=allow_zero)
    arr = np.asarray(x)
    if np.any(arr > 1.0) or (not allow_one and np.any(arr >= 1.0)):
        raise UserInputError(f"{what}: must be a fraction {'<= 1' if allow_one else '< 1'}, got {value!r}",
                             hint="pass e.g. 0.8 or Q_(80, '%')")
    return x


def seconds(value, unit: str, what: str, *, allow_zero: bool = False):
    """A duration in seconds; a plain number is taken to be in ``unit`` ('s', 'hour', 'day', 'year')."""
    u = {"s": U_S, "hour": U_HOUR, "day": U_DAY, "year": _U_YEAR}[unit]
    t = to_si(value, u, what=what, positive=True, allow_zero=allow_zero) * _S_PER[unit]
    if not np.all(np.isfinite(t)):  # finite in its unit, infinite in seconds (1e308 days)
        raise UserInputError(f"{what}: {value!r} is too large to compute with", hint=f"give a duration in {unit}s "
                             "that fits a floating-point number of seconds (below ~1e300)")
    return t


def pue_si(value, what: str = "pue"):
    x = to_si(value, DIMENSIONLESS, what=what)
    if np.any(np.asarray(x) < 1.0):
        raise UserInputError(f"{what}: PUE is facility power / IT power and cannot be below 1, got {value!r}")
    return x
