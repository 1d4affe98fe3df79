"""Choosing one winner from the feasible trials (decision making).

Rules (``winner=`` of DSE):

* ``None`` / ``"best"`` -- single objective: the best feasible value. Multi-objective default:
* ``"knee"`` -- the knee of the Pareto front: objectives normalized to [0, 1] over the front, the
  point farthest from the hyperplane through the front's extreme points, on the ideal side
  (Das 1999, "On characterizing the knee of the Pareto curve..."; Branke et al. 2004, "Finding
  knees in multi-objective optimization"). For two objectives the hyperplane is the line through
  the two extremes. A front with no point on the ideal side (concave or flat) has no knee: the
  winner is then the point nearest the normalized ideal point (compromise programming, Zeleny 1973).
* ``"lexicographic"`` -- best first objective, ties broken by the second, and so on.
* ``"weighted"`` / ``{"rule": "weighted", "weights": {metric: w}}`` -- minimal weighted sum of
  the objectives normalized over the front (equal weights by default).
* ``"max throughput with cost within 10% of best"`` -- among feasible trials whose ``cost`` is
  within 10% of its best value, the one with the highest throughput. ``best`` follows the
  metric's objective direction (minimize when it is not an objective).

Ties go to the earliest trial, so the choice is deterministic.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Mapping, Sequence

import numpy as np

from ..core.errors import SchemaError, UnknownNameError
from .indicators import normalize
from .objective import Objective

_WITHIN = re.compile(r"^\s*(min|max|minimize|maximize|minimise|maximise)\s+(\w+)\s+with\s+(\w+)\s+within\s+"
                     r"([0-9.]+)\s*%\s*(?:of\s+(?:the\s+)?(?:best|optimum|optimal))?\s*$", re.I)


@dataclasses.dataclass
class Choice:
    index: int | None     # row of the trials table, None when nothing is feasible
    rule: str
    why: str


@dataclasses.dataclass
class WinnerRule:
    """A parsed rule; :meth:`select` picks a row."""

    kind: str                                   # best | knee | lexicographic | weighted | within
    weights: dict[str, float] | None = None
    target: Objective | None = None             # within: the metric to optimize
    bound_metric: str | None = None             # within: the metric held near its best
    pct: float | None = None

    @classmethod
    def parse(cls, spec) -> "WinnerRule":
        if spec is None:
            return cls("auto")
        if isinstance(spec, WinnerRule):
            return spec
        if isinstance(spec, Mapping):
            spec = dict(spec)
            rule = cls.parse(spec.pop("rule", "weighted" if "weights" in spec else "auto"))
            if "weights" in spec:
                if rule.kind != "weighted":
                    raise SchemaError(f"winner: weights given for rule {rule.kind!r}")
                w = spec.pop("weights")
                rule.weights = {str(k): float(v) for k, v in w.items()} if isinstance(w, Mapping) else list(map(float, w))
            if spec:
                raise SchemaError(f"winner: unknown field(s) {sorted(spec)}", hint="use 'rule' and 'weights'")
            return rule
        if not isinstance(spec, str):
            raise SchemaError(f"winner: cannot read {spec!r}")
        text = spec.strip()
        key = text.lower()
        if key in ("best", "auto", "knee", "lexicographic", "weighted"):
            return cls(key)
        m = _WITHIN.match(text)
        if m:
            return cls("within", target=Objective(m.group(2), m.group(1)), bound_metric=m.group(3),
                       pct=float(m.group(4)))
        raise UnknownNameError("winner rule", text, ["best", "knee", "lexicographic", "weighted",
                                                   "max X with Y within Z% of best"])

    def describe(self, objectives: Sequence[Objective]) -> str:
        kind = self.resolved(objectives)
        if kind == "within":
            return f"{self.target.direction[:3]} {self.target.metric} with {self.bound_metric} within {self.pct:g}% of best"
        if kind == "weighted":
            return f"weighted {self._weights(objectives).tolist()}"
        return kind

    def resolved(self, objectives) -> str:
        if self.kind == "auto":
            return "best" if len(objectives) == 1 else "knee"
        if self.kind == "best" and len(objectives) > 1:
            return "knee"
        return self.kind

    def check(self, objectives: Sequence[Objective], metrics: Sequence[str]) -> None:
        for m in ([self.target.metric, self.bound_metric] if self.kind == "within" else []):
            if m not in metrics:
                raise UnknownNameError("metric", m, metrics, where="winner rule")
        if self.kind == "weighted":
            self._weights(objectives)

    def _weights(self, objectives) -> np.ndarray:
        if self.weights is None:
            w = np.ones(len(objectives))
        elif isinstance(self.weights, dict):
            names = [o.metric for o in objectives]
            for k in self.weights:
                if k not in names:
                    raise UnknownNameError("objective", k, names, where="winner weights")
            w = np.array([self.weights.get(o.metric, 0.0) for o in objectives])
        else:
            w = np.asarray(self.weights, dtype=float)
            if len(w) != len(objectives):
                raise SchemaError(f"winner: {len(w)} weights for {len(objectives)} objectives")
        if np.any(w < 0) or w.sum() <= 0:
            raise SchemaError(f"winner: weights must be >= 0 and not all zero, got {w.tolist()}")
        return w / w.sum()

    def select(self, objectives: Sequence[Objective], F: np.ndarray, feasible: np.ndarray,
               pareto: np.ndarray, metric_values: Mapping[str, np.ndarray] | None = None) -> Choice:
        """Pick a row. ``F`` is the minimization-form objective matrix of all trials, ``pareto``
        the front's row indices; ``metric_values`` is needed by the 'within' rule."""
        kind = self.resolved(objectives)
        label = self.describe(objectives)
        names = [o.metric for o in objectives]
        if not len(pareto):
            return Choice(None, label, "no feasible configuration, so there is no winner")
        if kind == "best":
            i = int(pareto[np.argmin(F[pareto, 0])])
            return Choice(i, label, f"it has the best {names[0]} ({objectives[0].direction[:3]}) among the feasible configurations")
        if kind == "lexicographic":
            P = F[pareto]
            i = int(pareto[np.lexsort(P.T[::-1])[0]])
            return Choice(i, label, f"it is best in {names[0]}, ties broken by {', '.join(names[1:])} in that order")
        if kind == "weighted":
            w = self._weights(objectives)
            N = normalize(F[pareto], F[pareto].min(axis=0), F[pareto].max(axis=0))
            score = N @ w
            i = int(pareto[np.argmin(score)])
            ws = ", ".join(f"{n}={x:.3g}" for n, x in zip(names, w))
            return Choice(i, label, f"it minimizes the weighted sum ({ws}) of the objectives normalized over the "
                                    f"{len(pareto)}-point Pareto front")
        if kind == "knee" and len(pareto) == 1:
            return Choice(int(pareto[0]), label, "it is the only Pareto-optimal configuration: it is at least as good "
                                                 "as every other feasible one in every objective")
        if kind == "knee":
            i, dist = knee_point(F[pareto])
            if dist <= 1e-12:  # concave or flat front: no knee bulges toward the ideal point
                j = nearest_to_ideal(F[pareto])
                return Choice(int(pareto[j]), label,
                              f"the {len(pareto)}-point Pareto front has no knee (no point lies on the ideal side of "
                              f"the hyperplane through its extremes), so the winner is the compromise closest to the "
                              f"ideal point with each objective normalized over the front (Zeleny 1973)")
            return Choice(int(pareto[i]), label,
                          f"it is the knee of the {len(pareto)}-point Pareto front: farthest ({dist:.3g}, normalized) "
                          f"from the hyperplane through the extremes, where improving one objective starts to cost "
                          f"most in the others (Das 1999; Branke et al. 2004)")
        return self._within(objectives, feasible, metric_values or {}, label)

    def _within(self, objectives, feasible, values, label) -> Choice:
        y = np.asarray(values[self.bound_metric], dtype=float)
        x = np.asarray(values[self.target.metric], dtype=float)
        ok = feasible & np.isfinite(y) & np.isfinite(x)
        if not ok.any():
            return Choice(None, label, "no feasible configuration, so there is no winner")
        ydir = next((o.sign for o in objectives if o.metric == self.bound_metric), 1.0)
        ys = ydir * y
        best = ys[ok].min()
        near = ok & (ys - best <= self.pct / 100.0 * abs(best))
        xs = np.where(near, self.target.sign * x, np.inf)
        i = int(np.argmin(xs))
        return Choice(i, label, f"it has the {'highest' if self.target.sign < 0 else 'lowest'} {self.target.metric} "
                                f"of the {int(near.sum())} feasible configurations whose {self.bound_metric} is within "
                                f"{self.pct:g}% of its best")


def knee_point(P: np.ndarray) -> tuple[int, float]:
    """Index of the knee of front ``P`` (minimization) and its normalized distance."""
    if len(P) <= 2:
        N = normalize(P, P.min(axis=0), P.max(axis=0))
        return int(np.argmin(N.sum(axis=1))), 0.0
    N = normalize(P, P.min(axis=0), P.max(axis=0))
    m = N.shape[1]
    extremes = np.array([N[np.lexsort((N.sum(axis=1), N[:, j]))[0]] for j in range(m)])
    try:
        normal = np.linalg.solve(extremes, np.ones(m))
        if not np.all(np.isfinite(normal)) or np.linalg.norm(normal) == 0:
            raise np.linalg.LinAlgError("degenerate extremes")
    except np.linalg.LinAlgError:
        normal = np.ones(m)  # fall back to the plane sum(f) = 1 through the unit points
    dist = (1.0 - N @ normal) / np.linalg.norm(normal)
    i = int(np.argmax(dist))
    return i, float(dist[i])


def nearest_to_ideal(P: np.ndarray) -> int:
    """Index of the point of front ``P`` (minimization) closest to the ideal point after
    normalizing each objective over the front (the compromise solution; Zeleny 1973)."""
    N = normalize(P, P.min(axis=0), P.max(axis=0))
    return int(np.argmin(np.linalg.norm(N, axis=1)))
