"""Objectives (``"minimize: step_time"``) and unit-checked constraints (``"itl <= 30 ms"``).

A constraint is ``metric OP rhs`` with OP one of ``<= < >= >``; rhs is

* a quantity with units (``30 ms``, ``500 t``, ``80 GB``), converted to the metric's unit;
* a bare number, read in the metric's display unit (else its own unit): ``latency < 50``;
* an expression of other metrics and constants times numbers: ``memory_per_device <= 0.9 * capacity``,
  whose units must match the metric's. Constants are plain magnitudes: an expression of constants
  only (``cost <= 100 * N``) is read in the metric's own (SI) unit.

Units are checked with pint (:mod:`mlsysim.core.units`) when the constraint is bound to a
problem's ``metric_units``. ``violation(metrics)`` is 0 where the constraint holds and the relative
excess ``|lhs - rhs| / max(|rhs|, tiny)`` elsewhere (NaN counts as a large violation); every backend
uses it (optuna ``trial.set_constraint``, pymoo ``G``).
"""
from __future__ import annotations

import ast
import dataclasses
import re
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pint

from ..core.errors import SchemaError, UnitError, UnknownNameError
from ..core.units import Q_, ureg
from .expression import Expression

_DIRECTIONS = {"min": "minimize", "minimize": "minimize", "minimise": "minimize",
               "max": "maximize", "maximize": "maximize", "maximise": "maximize"}
NAN_VIOLATION = 1e6
_TINY = 1e-300


@dataclasses.dataclass(frozen=True)
class Objective:
    """One metric to minimize or maximize."""

    metric: str
    direction: str = "minimize"

    def __post_init__(self):
        d = _DIRECTIONS.get(str(self.direction).strip().lower())
        if d is None:
            raise SchemaError(f"objective {self.metric!r}: direction {self.direction!r} is not minimize or maximize")
        object.__setattr__(self, "direction", d)
        if not str(self.metric).isidentifier():
            raise SchemaError(f"objective: {self.metric!r} is not a metric name")

    @property
    def sign(self) -> float:
        """+1 to minimize, -1 to maximize: ``sign * value`` is always minimized."""
        return 1.0 if self.direction == "minimize" else -1.0

    def __str__(self) -> str:
        return f"{self.direction}: {self.metric}"

    @classmethod
    def parse(cls, spec) -> "Objective":
        """From ``"minimize: x"``, ``"max x"``, ``"x"`` (minimize), ``{"maximize": "x"}``,
        ``{"metric": "x", "direction": "max"}``, ``("x", "max")`` or an Objective."""
        if isinstance(spec, Objective):
            return spec
        if isinstance(spec, str):
            m = re.fullmatch(r"\s*(?:(\w+)\s*[:\s]\s*)?(\w+)\s*", spec)
            if not m:
                raise SchemaError(f"objective {spec!r}: expected 'minimize: metric' or 'maximize: metric'")
            return cls(m.group(2), m.group(1) or "minimize")
        if isinstance(spec, Mapping):
            if "metric" in spec:
                return cls(spec["metric"], spec.get("direction", "minimize"))
            if len(spec) == 1:
                (d, metric), = spec.items()
                return cls(metric, d)
        if isinstance(spec, (tuple, list)) and len(spec) == 2:
            return cls(spec[0], spec[1])
        raise SchemaError(f"objective: cannot read {spec!r}", hint="write e.g. 'minimize: step_time'")


def parse_objectives(objective=None, objectives=None) -> list[Objective]:
    """The objective list from ``objective=`` (one) or ``objectives=`` (several)."""
    if objective is not None and objectives is not None:
        raise SchemaError("give objective= or objectives=, not both")
    specs = objectives if objectives is not None else objective
    if specs is None:
        raise SchemaError("no objective", hint="e.g. objective='minimize: step_time'")
    if isinstance(specs, (str, Objective, Mapping)) or (isinstance(specs, tuple) and len(specs) == 2
                                                        and isinstance(specs[1], str) and specs[1].lower() in _DIRECTIONS):
        specs = [specs]
    objs = [Objective.parse(s) for s in specs]
    if not objs:
        raise SchemaError("no objective", hint="e.g. objective='minimize: step_time'")
    names = [o.metric for o in objs]
    if len(set(names)) != len(names):
        raise SchemaError(f"objectives repeat a metric: {names}")
    return objs


_CONSTRAINT = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|<|>|≤|≥)(?!=)\s*(.+?)\s*$")
_OPS = {"≤": "<=", "≥": ">="}


@dataclasses.dataclass
class Constraint:
    """``metric OP rhs``; call :meth:`bind` with the problem's units before :meth:`violation`."""

    text: str
    metric: str
    op: str
    rhs: str
    # set by bind():
    value: float | None = None            # rhs in the metric's unit, for a constant rhs
    expr: Expression | None = None        # rhs expression, for a metric-dependent rhs
    expr_factor: float = 1.0              # converts the expression's unit to the metric's unit
    bound: bool = False

    @classmethod
    def parse(cls, spec) -> "Constraint":
        if isinstance(spec, Constraint):
            return dataclasses.replace(spec)
        if not isinstance(spec, str):
            raise SchemaError(f"constraint: expected a string such as 'itl <= 30 ms', got {spec!r}")
        m = _CONSTRAINT.match(spec)
        if not m:
            raise SchemaError(f"constraint {spec!r}: expected 'metric <= value' (operators <=, <, >=, >)",
                              hint="e.g. 'itl <= 30 ms', 'memory_per_device <= 0.9 * capacity'")
        op = _OPS.get(m.group(2), m.group(2))
        return cls(text=spec.strip(), metric=m.group(1), op=op, rhs=m.group(3))

    def __str__(self) -> str:
        return self.text

    def bind(self, metric_units: Mapping[str, str], display_units: Mapping[str, str] | None = None,
             constants: Mapping[str, float] | None = None) -> "Constraint":
        """A bound copy: names resolved and units checked against ``metric_units``."""
        display_units, constants = dict(display_units or {}), dict(constants or {})
        where = f"constraint {self.text!r}"
        if self.metric not in metric_units:
            raise UnknownNameError("metric", self.metric, metric_units, where=where)
        unit = metric_units[self.metric] or ""
        out = dataclasses.replace(self, bound=True)
        try:
            tree = ast.parse(self.rhs, mode="eval")
        except SyntaxError:
            tree = None
        names = set() if tree is None else {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        refs = names & (set(metric_units) | set(constants))
        if tree is not None and not names:  # a bare number (or arithmetic of numbers)
            number = float(Expression(self.rhs, where=where)({}))
            shown = display_units.get(self.metric) or unit
            out.value = _finite(float(Q_(number, shown).m_as(unit)) if shown != unit else number, where)
            return out
        if tree is not None and refs == names:
            return _bind_expression(out, tree, unit, metric_units, constants, where)
        try:
            q = ureg(self.rhs)
        except pint.UndefinedUnitError:
            unknown = sorted(names - refs) or [self.rhs]
            raise UnknownNameError("metric, constant or unit", unknown[0], list(metric_units) + list(constants),
                                   where=where) from None
        except Exception as exc:  # pint's parser raises many types on odd text (TokenError, ZeroDivisionError ...)
            raise UnitError(f"{where}: cannot read {self.rhs!r} as a quantity ({type(exc).__name__}: {exc})",
                            hint="write e.g. '30 ms', '500 t', or '0.9 * capacity'") from None
        if not isinstance(q, pint.Quantity) or q.unitless:  # a bare number ('nan', 'inf' parse here)
            q = Q_(float(getattr(q, "magnitude", q)), display_units.get(self.metric) or unit)
        if not q.is_compatible_with(unit):
            raise UnitError(f"{where}: {self.rhs!r} is in {q.units} ({q.dimensionality}), but metric "
                            f"{self.metric!r} is in {unit or 'dimensionless'} ({ureg(unit or '1').dimensionality})",
                            hint=f"compare {self.metric} with a quantity in {display_units.get(self.metric) or unit or 'plain numbers'}")
        out.value = _finite(float(q.m_as(unit)), where)
        return out

    def rhs_values(self, metrics: Mapping[str, np.ndarray], constants: Mapping[str, float] | None = None):
        if self.expr is None:
            return self.value
        return self.expr_factor * np.asarray(self.expr({**(constants or {}), **metrics}), dtype=float)

    def violation(self, metrics: Mapping[str, np.ndarray], constants: Mapping[str, float] | None = None) -> np.ndarray:
        """0 where satisfied, else the relative amount by which it is missed (NaN -> large)."""
        if not self.bound:
            raise SchemaError(f"constraint {self.text!r} is not bound to a problem's units")
        lhs = np.asarray(metrics[self.metric], dtype=float)
        rhs = self.rhs_values(metrics, constants)
        with np.errstate(all="ignore"):
            if self.op in ("<=", "<"):
                held = lhs <= rhs if self.op == "<=" else lhs < rhs
                excess = lhs - rhs
            else:
                held = lhs >= rhs if self.op == ">=" else lhs > rhs
                excess = rhs - lhs
            amount = np.maximum(excess, 0.0) / np.maximum(np.abs(rhs), _TINY)
        amount = np.where(np.isnan(amount), NAN_VIOLATION, np.maximum(amount, 1e-12))
        return np.where(held, 0.0, amount)


def _finite(value: float, where: str) -> float:
    """A constraint bound must be a finite number: ``< nan`` holds nowhere and ``< inf`` everywhere."""
    if not np.isfinite(value):
        raise SchemaError(f"{where}: the bound is {value}, not a finite number",
                          hint="give a finite limit such as 'itl <= 30 ms'")
    return value


def _bind_expression(out: Constraint, tree, unit, metric_units, constants, where) -> Constraint:
    """rhs refers to metrics/constants: evaluate it once over unit quantities to get its unit."""
    expr = Expression(out.rhs, where=where)
    env = {k: Q_(1.0, metric_units[k] or "") for k in expr.names if k in metric_units}
    env.update({k: float(v) for k, v in constants.items() if k in expr.names and k not in env})
    try:
        q = expr(env)
    except (pint.DimensionalityError, TypeError, ValueError) as exc:
        raise UnitError(f"{where}: the right-hand side {out.rhs!r} mixes units ({exc})") from None
    if not isinstance(q, pint.Quantity):  # only constants: plain magnitudes in the metric's own unit
        out.expr, out.expr_factor = expr, 1.0
        return out
    if not q.is_compatible_with(unit or ""):
        shown = "dimensionless" if q.dimensionless else f"{q.units}"
        raise UnitError(f"{where}: {out.rhs!r} is in {shown} ({q.dimensionality}), but metric "
                        f"{out.metric!r} is in {unit or 'dimensionless'} ({ureg(unit or '1').dimensionality})",
                        hint="compare quantities of the same kind")
    out.expr = expr
    # expr(env) over unit-1 quantities has magnitude (prod of factors) in q.units; the same
    # expression over SI magnitudes is in q.units / magnitude -> scale to the metric's unit.
    out.expr_factor = float(Q_(1.0, q.units).m_as(unit or ""))
    return out


def parse_constraints(specs: Iterable | str | None) -> list[Constraint]:
    if specs is None:
        return []
    if isinstance(specs, (str, Constraint)):
        specs = [specs]
    return [Constraint.parse(s) for s in specs]


def bind_all(constraints: Sequence[Constraint], metric_units, display_units=None, constants=None) -> list[Constraint]:
    return [c.bind(metric_units, display_units, constants) for c in constraints]


def check_objectives(objectives: Sequence[Objective], metric_units: Mapping[str, Any]) -> None:
    for o in objectives:
        if o.metric not in metric_units:
            raise UnknownNameError("metric", o.metric, metric_units, where=f"objective '{o}'")
