"""The results of an evaluation: a ``Lens`` each (status, metrics, details), the checked asserts,
and the ``Evaluation`` that holds them."""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping, Optional

from .checks import limit_value
from .jsonable import _clean, _jsonable
from .metrics import METRIC_BY_PATH, STATUS_FAIL, STATUS_PASS, STATUS_WARN, resolve_metric
from .scorecard import _scorecard_markdown, _scorecard_text, format_value


@dataclasses.dataclass
class Lens:
    """One lens of an evaluation: a status, numeric metrics in their display units, and details
    (strings and small mappings such as the bottleneck or the parallel split)."""

    name: str
    status: str
    metrics: dict[str, Optional[float]]
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def units(self) -> dict[str, str]:
        return {k: METRIC_BY_PATH[f"{self.name}.{k}"].unit for k in self.metrics}

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "metrics": {k: _clean(v) for k, v in self.metrics.items()},
                "units": self.units, **{k: _jsonable(v) for k, v in self.details.items()}}


@dataclasses.dataclass
class AssertResult:
    """One checked bound: ``value op limit`` (op ``<=`` for ``max``, ``>=`` for ``min``)."""

    metric: str
    value: Optional[float]
    unit: str
    op: str
    limit: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": _clean(self.value), "unit": self.unit, "op": self.op,
                "limit": _clean(self.limit), "passed": self.passed}

    def __str__(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        return (f"[{mark}] {self.metric} = {format_value(self.value, self.unit)} "
                f"(limit {self.op} {format_value(self.limit, self.unit)})")


@dataclasses.dataclass
class Evaluation:
    """The result of ``SystemEvaluator.evaluate``: three lenses plus the inputs that produced them."""

    scenario: str
    inputs: dict[str, Any]
    feasibility: Lens
    performance: Lens
    macro: Lens
    notes: list[str] = dataclasses.field(default_factory=list)
    asserts: list[AssertResult] = dataclasses.field(default_factory=list)

    # -- access -----------------------------------------------------------------------------
    def lens(self, name: str) -> Lens:
        return getattr(self, name)

    def metric(self, path: str) -> Optional[float]:
        """Value of a metric path in its display unit (None if not computed for this evaluation)."""
        spec = resolve_metric(path)
        return self.lens(spec.lens).metrics.get(spec.name)

    def __getitem__(self, path: str) -> Optional[float]:
        return self.metric(path)

    @property
    def passed(self) -> bool:
        """True when every checked assert holds."""
        return all(a.passed for a in self.asserts)

    @property
    def feasible(self) -> bool:
        return self.feasibility.status != STATUS_FAIL

    @property
    def metrics_interval(self) -> dict[str, list[float]]:
        """80% prediction intervals ``{"performance.tokens_per_s": [low, high], ...}`` in display
        units, from the validation residuals of the training or serving family
        (``mlsysim.physics.uncertainty``); energy, carbon and water use the energy family."""
        from ..physics.uncertainty import metrics_interval

        family = "training" if self.inputs.get("mode") == "training" else "serving"
        out = {}
        for name in ("performance", "macro"):
            for k, band in metrics_interval(self.lens(name).metrics, family).items():
                out[f"{name}.{k}"] = band
        return out

    # -- asserts ----------------------------------------------------------------------------
    def check(self, asserts: Iterable[Any]) -> list[AssertResult]:
        """Check ``asserts`` (mappings or objects with ``metric`` and ``max``/``min``); a bare
        number is in the metric's display unit, a string such as ``"50 ms"`` is converted to it.
        Stores and returns the results; unknown paths, unit mismatches and metrics this
        evaluation does not compute raise ``UserInputError`` (exit code 2)."""
        from ..core.errors import SchemaError, UserInputError

        results: list[AssertResult] = []
        for i, a in enumerate(asserts):
            get = (lambda k, a=a: a.get(k)) if isinstance(a, Mapping) else (lambda k, a=a: getattr(a, k, None))
            path = get("metric")
            if not path:
                raise SchemaError(f"assert #{i + 1}: needs a 'metric'")
            spec = resolve_metric(path)
            bounds = [(op, get(k)) for k, op in (("max", "<="), ("min", ">=")) if get(k) is not None]
            if not bounds:
                raise SchemaError(f"assert #{i + 1} ({path}): give 'max' or 'min'")
            value = self.lens(spec.lens).metrics.get(spec.name)
            if value is None:
                have = [f"{spec.lens}.{k}" for k, v in self.lens(spec.lens).metrics.items() if v is not None]
                raise UserInputError(
                    f"assert #{i + 1}: metric {spec.path} is not computed for this evaluation "
                    f"(mode {self.inputs.get('mode')}, model {self.inputs.get('model')})",
                    hint="metrics available here: " + ", ".join(have))
            for op, raw in bounds:
                limit = limit_value(raw, spec, what=f"assert #{i + 1} ({spec.path})")
                ok = value <= limit if op == "<=" else value >= limit
                results.append(AssertResult(spec.path, value, spec.unit, op, limit, bool(ok)))
        self.asserts = results
        return results

    # -- output -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema": "mlsysim.evaluation/1",
            "scenario": self.scenario,
            "inputs": _jsonable(self.inputs),
            "feasibility": self.feasibility.to_dict(),
            "performance": self.performance.to_dict(),
            "macro": self.macro.to_dict(),
            "notes": list(self.notes),
            "asserts": [a.to_dict() for a in self.asserts],
            "passed": self.passed,
            "metrics_interval": {k: [_clean(v) for v in band] for k, band in self.metrics_interval.items()},
        }
        return out

    def scorecard(self) -> str:
        """The plain-text three-lens scorecard."""
        return _scorecard_text(self)

    def to_markdown(self) -> str:
        return _scorecard_markdown(self)

    def __str__(self) -> str:
        return self.scorecard()


def _flag_non_finite(lens: Lens, notes: list) -> None:
    bad = [k for k, v in lens.metrics.items() if v is not None and not math.isfinite(v)]
    if bad:
        if lens.status == STATUS_PASS:
            lens.status = STATUS_WARN
        notes.append(f"{lens.name}: {', '.join(bad)} not finite (missing catalog data, e.g. a link bandwidth); "
                     "reported as null")


def _no_fit(mem, cap, hardware, advice):
    return (f"needs {mem / 1e9:.1f} GB per device but {hardware.name} has {cap / 1e9:.0f} GB: {advice}")
