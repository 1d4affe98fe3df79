"""What a search evaluates: the :class:`Problem` protocol and adapters for plain functions.

A problem evaluates a whole batch of configurations in one vectorized call (the physics cores
are numpy functions): ``evaluate(configs)`` gets ``{dimension: array (n,)}`` (numbers as int or
float arrays, categoricals as object arrays of str, derived dimensions included) and returns
``{metric: float array (n,)}`` of SI magnitudes in ``metric_units``, plus ``"feasible"`` (bool
array) and optionally ``"reason"`` (object array of str, "" where feasible).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

import numpy as np

from ..core.errors import SchemaError, UserInputError


@runtime_checkable
class Problem(Protocol):
    """The protocol every search problem follows (duck-typed; subclassing is optional)."""

    metric_units: dict[str, str]     # metric -> pint unit of the magnitudes evaluate() returns
    display_units: dict[str, str]    # metric -> unit to show it in (and for bare numbers in constraints)
    constants: dict[str, float]      # names usable in space rules and derived dimensions

    def evaluate(self, configs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


class FunctionProblem:
    """Wrap a Python function as a :class:`Problem`.

    ``vectorized=True`` (default): ``fn(configs) -> {metric: array}`` over the whole batch.
    ``vectorized=False``: ``fn(config) -> {metric: number}`` is called once per configuration
    with plain Python scalars; this loop is ~14x slower than a vectorized function
    (OPTIMIZER_FACTS), so prefer numpy. ``metric_units=None`` means every metric the function
    returns is dimensionless (the names are found by probing one configuration).
    """

    def __init__(self, fn: Callable, metric_units: Mapping[str, str] | None = None, *,
                 display_units: Mapping[str, str] | None = None, constants: Mapping[str, float] | None = None,
                 vectorized: bool = True, name: str | None = None):
        if not callable(fn):
            raise UserInputError(f"a problem must be callable or have evaluate(), got {type(fn).__name__}")
        self.fn = fn
        self.metric_units = dict(metric_units) if metric_units is not None else None
        self.display_units = dict(display_units or {})
        self.constants = dict(constants or {})
        self.vectorized = vectorized
        self.id = name or f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', type(fn).__name__)}"

    def evaluate(self, configs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.vectorized:
            return self.fn(configs)
        n = len(next(iter(configs.values())))
        rows = [self.fn({k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in configs.items()})
                for i in range(n)]
        keys = list(rows[0]) if rows else []
        out: dict[str, np.ndarray] = {}
        for k in keys:
            vals = [r[k] for r in rows]
            out[k] = np.array(vals, dtype=object if k == "reason" else (bool if k == "feasible" else float))
        return out

    def __repr__(self) -> str:
        return f"FunctionProblem({self.id})"


def as_problem(obj) -> Any:
    """A Problem as is, or a callable wrapped in :class:`FunctionProblem`."""
    if obj is None:
        raise UserInputError("no problem to evaluate", hint="pass problem= to DSE(...) or to .run(...)")
    if hasattr(obj, "evaluate") and callable(obj.evaluate):
        return obj
    if callable(obj):
        if len([p for p in inspect.signature(obj).parameters.values()
                if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) > 1:
            raise UserInputError("a problem function takes one argument: the dict of configurations")
        return FunctionProblem(obj)
    raise UserInputError(f"a problem needs an evaluate(configs) method, got {type(obj).__name__}")


def problem_id(problem) -> str:
    """A stable identifier for study names: ``problem.id``, else the class's qualified name."""
    pid = getattr(problem, "id", None)
    return str(pid) if pid else f"{type(problem).__module__}.{type(problem).__qualname__}"


def metric_units_of(problem, probe: Callable[[], dict] | None = None) -> dict[str, str]:
    """``problem.metric_units``; for a problem without them, every probed metric is dimensionless."""
    units = getattr(problem, "metric_units", None)
    if units is not None:
        return dict(units)
    if probe is None:
        raise SchemaError(f"{problem_id(problem)}: metric_units are not declared")
    out = probe()
    return {k: "" for k in out if k not in ("feasible", "reason")}


def check_output(out, n: int, metrics, where: str) -> dict[str, np.ndarray]:
    """Validate an evaluate() result: a mapping of (n,) arrays containing every declared metric."""
    if not isinstance(out, Mapping):
        raise SchemaError(f"{where}: evaluate() must return a dict of arrays, got {type(out).__name__}")
    missing = [m for m in metrics if m not in out]
    if missing:
        raise SchemaError(f"{where}: evaluate() did not return metric(s) {missing}",
                          hint=f"it returned {sorted(out)}")
    res = {}
    for k, v in out.items():
        if k == "reason":
            arr = np.asarray(v, dtype=object)
        elif k == "feasible":
            arr = np.asarray(v, dtype=bool)
        else:
            arr = np.asarray(v)
            if arr.dtype.kind not in "biuf":
                continue  # non-numeric side outputs are not metrics
            arr = arr.astype(float)
        arr = np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr
        if arr.shape != (n,):
            raise SchemaError(f"{where}: evaluate() returned {k!r} with shape {arr.shape}, expected ({n},)")
        res[k] = arr
    return res
