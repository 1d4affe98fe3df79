"""Input checks: every number, fraction, count and split the evaluator accepts is checked here
(a wrong value raises ``UserInputError`` or ``UnitError``, exit code 2)."""
from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from .metrics import MetricSpec


def limit_value(raw, spec: MetricSpec, *, what: str) -> float:
    """An assert limit in ``spec``'s display unit: a bare number is taken as already in it, a
    string with a unit ("50 ms", "0.05 s", "80%") is converted (wrong dimension: ``UnitError``)."""
    from ..core.errors import UnitError
    from ..core.units import parse_quantity

    if isinstance(raw, bool):
        raise UnitError(f"{what}: limit must be a number, got {raw!r}")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            raise UnitError(f"{what}: limit must be finite, got {raw!r}")
        return float(raw)
    q = parse_quantity(raw, expected=spec.pint_unit, what=f"{what} limit")
    limit = float(q.m_as(spec.pint_unit))
    if not math.isfinite(limit):  # the same rule as a bare number: 'nan ms' would fail, 'inf ms' always pass
        raise UnitError(f"{what}: limit must be finite, got {raw!r}")
    return limit


def _number(value, what):
    from ..core.errors import UserInputError

    import pint

    if isinstance(value, pint.Quantity):
        if not value.dimensionless:
            from ..core.errors import UnitError
            raise UnitError(f"{what}: expected a plain number, got {value:~}")
        value = float(value.m_as(""))
    if isinstance(value, bool) or value is None:
        raise UserInputError(f"{what}: expected a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UserInputError(f"{what}: expected a number, got {value!r}") from None
    if not math.isfinite(x):
        raise UserInputError(f"{what}: must be finite, got {value!r}")
    return x


def _pos_int(value, what) -> int:
    from ..core.errors import UserInputError

    x = _number(value, what)
    if x <= 0 or x != int(x):
        raise UserInputError(f"{what} must be a positive whole number, got {value!r}")
    return int(x)


def _nonneg_int(value, what) -> int:
    from ..core.errors import UserInputError

    x = _number(value, what)
    if x < 0 or x != int(x):
        raise UserInputError(f"{what} must be a whole number >= 0, got {value!r}")
    return int(x)


def _pos_float(value, what) -> float:
    from ..core.errors import UserInputError

    x = _number(value, what)
    if x <= 0:
        raise UserInputError(f"{what} must be > 0, got {value!r}")
    return x


def _fraction(value, what, *, allow_zero=True) -> float:
    from ..core.errors import UserInputError

    x = _number(value, what)
    if x > 1 or x < 0 or (x == 0 and not allow_zero):
        raise UserInputError(f"{what} must be in {'[0' if allow_zero else '(0'}, 1], got {value!r}")
    return x


def _zero(value) -> int:
    from ..core.errors import UserInputError

    z = 1 if value is None else value
    if z not in (0, 1, 2, 3):
        raise UserInputError(f"parallelism.zero_stage must be 0, 1, 2 or 3, got {value!r}")
    return int(z)


def _parallelism_dict(par) -> dict:
    if par is None:
        return {}
    if hasattr(par, "model_dump"):
        par = par.model_dump()
    elif dataclasses.is_dataclass(par):
        par = dataclasses.asdict(par)
    if not isinstance(par, Mapping):
        from ..core.errors import UserInputError
        raise UserInputError(f"parallelism: expected a mapping such as {{'tp': 8, 'pp': 4}}, got {par!r}")
    from ..physics.splits import canonical_name

    return {canonical_name(str(k)): v for k, v in par.items()}
