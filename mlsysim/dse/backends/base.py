"""What every backend shares: the bound search context, batch evaluation, the trial cache, and
the backend interface (one base class, one module per backend, selected by name).

Feasibility of a configuration has three parts, all vectorized: the space's validity rules (an
invalid configuration is never handed to the problem), the problem's own ``feasible`` output,
and the user's constraints. Their graded sum ``violation`` is what optimizers minimize first
(constraint-domination, Deb 2000): optuna via ``trial.set_constraint``, pymoo via ``G``.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable, Mapping

import numpy as np
from pydantic import ConfigDict, ValidationError

from ...core.errors import SchemaError, UnknownNameError
from ...core.strict import StrictModel
from ..objective import NAN_VIOLATION, Constraint, Objective
from ..pareto import min_form, pareto_indices
from ..problem import check_output, problem_id
from ..space import SearchSpace
from ..table import Table

Progress = Callable[[int, int, dict], None]


@dataclasses.dataclass
class SearchContext:
    """A space bound to a problem's constants, objectives and unit-checked constraints."""

    space: SearchSpace
    problem: Any
    objectives: list[Objective]
    constraints: list[Constraint]
    metric_units: dict[str, str]
    display_units: dict[str, str]

    @property
    def constants(self) -> dict[str, float]:
        return self.space.constants

    @property
    def metrics(self) -> list[str]:
        return list(self.metric_units)

    @property
    def signs(self) -> np.ndarray:
        return np.array([o.sign for o in self.objectives])

    @property
    def reason_labels(self) -> list[str]:
        """Reason text of each code: 0 feasible, then rules, the model, and constraints."""
        return ([""] + [f"rule: {r}" for r in self.space.rule_labels] + ["infeasible (model)"]
                + [f"constraint: {c.text}" for c in self.constraints])

    def problem_id(self) -> str:
        return problem_id(self.problem)

    def F(self, table: Table) -> np.ndarray:
        """Objective matrix of a table in minimization form."""
        return min_form(np.column_stack([table[o.metric] for o in self.objectives]), self.signs)

    def evaluate(self, configs: Mapping[str, np.ndarray], *, complete: bool = True,
                 known_valid: bool = False) -> tuple[Table, int]:
        """Evaluate configurations; returns the trial rows and the number of model evaluations.

        ``configs`` holds the free dimensions (``complete=True``) or every column of the space.
        Rows that break a rule are recorded (metrics NaN) but never given to the problem.
        """
        full = self.space.complete(configs) if complete else dict(configs)
        n = len(next(iter(full.values())))
        if known_valid:
            valid, rule_v, code = np.ones(n, bool), np.zeros(n), np.zeros(n, np.int32)
        else:
            rc = self.space.check_rules(full)
            valid, rule_v, code = rc.valid, rc.violation, rc.code.copy()
        metrics = {m: np.full(n, np.nan) for m in self.metrics}
        model_ok = np.zeros(n, dtype=bool)
        model_reason = np.full(n, "", dtype=object)
        n_eval = int(valid.sum())
        if n_eval:
            sub = {k: v[valid] for k, v in full.items()} if n_eval < n else full
            out = check_output(self.problem.evaluate(sub), n_eval, self.metrics, where=self.problem_id())
            for m in self.metrics:
                metrics[m][valid] = out[m]
            model_ok[valid] = out["feasible"] if "feasible" in out else True
            if "reason" in out:
                model_reason[valid] = out["reason"]
        n_rules = len(self.space.rule_labels)
        evaluated = valid.copy()
        code[evaluated & ~model_ok & (code == 0)] = n_rules + 1
        cons_v = np.zeros(n)
        for j, c in enumerate(self.constraints):
            v = np.zeros(n)
            if n_eval:
                v[evaluated] = c.violation({k: a[evaluated] for k, a in metrics.items()}, self.constants)
            v = np.where(model_ok | (v < NAN_VIOLATION), v, 0.0)  # NaN metrics of model-infeasible rows
            code[(code == 0) & (v > 0)] = n_rules + 2 + j
            cons_v += v
        violation = rule_v + np.where(valid, 0.0, 1.0) + np.where(evaluated & ~model_ok, 1.0, 0.0) + cons_v
        feasible = code == 0
        labels = np.array(self.reason_labels, dtype=object)
        reason = labels[code]
        use_model = (code == n_rules + 1) & (model_reason != "")
        reason[use_model] = model_reason[use_model]
        cols = {k: full[k] for k in self.space.names}
        cols.update(metrics)
        cols.update(feasible=feasible, violation=violation, reason=reason)
        return Table(cols), n_eval

    def best_summary(self, F: np.ndarray, feasible: np.ndarray) -> dict:
        """What a progress callback shows as 'best'."""
        if len(self.objectives) == 1:
            vals = np.where(feasible, F[:, 0], np.inf)
            if not len(vals) or not np.isfinite(vals.min()):
                return {}
            o = self.objectives[0]
            return {o.metric: o.sign * float(vals.min()) * self.display_factor(o.metric)}
        return {"pareto_size": int(len(pareto_indices(F, feasible)))}

    def display_factor(self, metric: str) -> float:
        """Multiply an SI magnitude by this to get the display unit."""
        from ...core.units import Q_

        src, dst = self.metric_units.get(metric, ""), self.display_units.get(metric)
        if not dst or dst == src:
            return 1.0
        return float(Q_(1.0, src or "").m_as(dst))

    def display_unit(self, metric: str) -> str:
        return self.display_units.get(metric) or self.metric_units.get(metric, "")


class TrialLog:
    """Unique configurations evaluated so far, cached by their parameter tuple.

    Optimizers propose duplicates (optuna NSGA-II: ~1,300 unique of 2,000 on a discrete space);
    a duplicate is answered from the cache and not counted as an evaluation.
    """

    def __init__(self, ctx: SearchContext):
        self.ctx = ctx
        self.keys: dict[tuple, int] = {}
        self.parts: list[Table] = []
        self.F = np.zeros((0, len(ctx.objectives)))
        self.V = np.zeros(0)
        self.feasible = np.zeros(0, dtype=bool)
        self.proposals = 0
        self.evaluations = 0

    def __len__(self) -> int:
        return len(self.keys)

    def key_rows(self, configs: Mapping[str, np.ndarray]) -> list[tuple]:
        return list(zip(*[np.asarray(configs[k]).tolist() for k in self.ctx.space.free]))

    def submit(self, configs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Row ids of the given free-dimension configurations, evaluating the new ones."""
        keys = self.key_rows(configs)
        self.proposals += len(keys)
        new_pos, seen = [], {}
        for i, k in enumerate(keys):
            if k not in self.keys and k not in seen:
                seen[k] = len(self.keys) + len(new_pos)
                new_pos.append(i)
        if new_pos:
            sub = {k: np.asarray(v)[new_pos] for k, v in configs.items()}
            table, n_eval = self.ctx.evaluate(sub)
            self.evaluations += n_eval
            self.parts.append(table)
            self.keys.update(seen)
            self.F = np.vstack([self.F, self.ctx.F(table)])
            self.V = np.concatenate([self.V, table["violation"]])
            self.feasible = np.concatenate([self.feasible, table["feasible"]])
        return np.array([self.keys[k] for k in keys], dtype=np.int64)

    def penalized_F(self, rows: np.ndarray) -> np.ndarray:
        """Objective rows (minimization form) with non-finite values replaced by a finite value
        worse than anything seen (constraint-handling makes their exact value irrelevant)."""
        F = self.F[rows]
        if np.all(np.isfinite(F)):
            return F
        finite = np.where(np.isfinite(self.F), self.F, np.nan)
        with np.errstate(all="ignore"):
            worst = np.nanmax(finite, axis=0) if np.isfinite(finite).any() else np.zeros(F.shape[1])
            span = np.nanmax(finite, axis=0) - np.nanmin(finite, axis=0) if np.isfinite(finite).any() else np.ones(F.shape[1])
        worst = np.where(np.isfinite(worst), worst, 0.0)
        span = np.where(np.isfinite(span), span, 1.0)
        penalty = worst + np.maximum(np.abs(worst) * 0.1, np.maximum(span, 1.0))
        return np.where(np.isfinite(F), F, penalty[None, :])

    def table(self) -> Table:
        return Table.concat(self.parts)

    def best(self) -> dict:
        return self.ctx.best_summary(self.F, self.feasible)


def precount(ctx: SearchContext, limit: int = 2_000_000) -> tuple[int | None, list[str]]:
    """Exact number of valid points for spaces up to ``limit`` (InfeasibleError when zero)."""
    size = ctx.space.size
    if size is not None and size <= limit:
        return ctx.space.count_valid(), []
    cfg = ctx.space.sample(4096, 0, valid_only=False)
    share = float(ctx.space.check_rules(cfg).valid.mean())
    return None, [f"the space is too large to count valid points exactly; ~{share:.2%} of 4096 random points satisfy "
                  "the rules"]


@dataclasses.dataclass
class Outcome:
    """What a backend hands back to the engine, which builds the SearchResult."""

    table: Table
    evaluations: int
    proposals: int
    sampler: str | None = None
    valid_size: int | None = None
    pareto: np.ndarray | None = None
    truncated: bool = False
    counts: dict = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    extra: dict = dataclasses.field(default_factory=dict)


class BackendOptions(StrictModel):
    """Base of each backend's typed options (one model per backend, next to it): an unknown
    name is refused with a did-you-mean, a bad value with the field and the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @classmethod
    def parse(cls, options: Mapping[str, Any], *, backend: str) -> "BackendOptions":
        for key in options:
            if key not in cls.model_fields:
                raise UnknownNameError(f"{backend} option", key, cls.model_fields)
        try:
            return cls(**options)
        except ValidationError as exc:
            from ...core.catalog import format_validation_error

            raise SchemaError(format_validation_error(exc, where=f"{backend} options"),
                              hint=f"see the {backend} backend's options in docs/dse.md") from None


class Backend:
    """Base class: ``run(ctx, ...) -> Outcome``. ``budget`` counts proposed configurations.
    ``Options`` is the backend's options model; ``options`` the parsed options."""

    name = ""
    samplers: tuple[str, ...] = ()
    Options: type[BackendOptions] = BackendOptions

    def __init__(self, sampler: str | None = None, **options):
        if sampler is not None and self.samplers and sampler not in self.samplers:
            raise UnknownNameError(f"{self.name} sampler", sampler, self.samplers)
        self.sampler = sampler
        self.options = self.Options.parse(options, backend=self.name)

    def run(self, ctx: SearchContext, *, budget: int | None, seed: int, n_jobs: int, storage,
            progress: Progress | None) -> Outcome:
        raise NotImplementedError

    #: progress units of a one-shot stored search when no budget is given
    default_budget = 0

    def stored(self, ctx: SearchContext, *, seed: int, budget: int | None):
        """This search as a ``StoredSearch`` (``mlsysim.dse.stored``): by default one unit of
        work, run in memory by whoever claims it and stored whole."""
        from ..stored import OneShotSearch

        return OneShotSearch(ctx, self, seed=seed, budget=budget, default_budget=self.default_budget)


BACKENDS = {
    "exhaustive": "exhaustive:ExhaustiveBackend",
    "optuna": "optuna_backend:OptunaBackend",
    "pymoo": "pymoo_backend:PymooBackend",
    "auto": "auto:AutoBackend",
}
SAMPLERS = {
    "exhaustive": (),
    "optuna": ("tpe", "nsga2", "nsga3", "gp", "random", "qmc"),
    "pymoo": ("nsga2", "nsga3", "moead", "ga"),
    "auto": (),
}


def available_backends() -> dict[str, tuple[str, ...]]:
    """Backend name -> its samplers/algorithms (``"optuna:tpe"`` selects one)."""
    return dict(SAMPLERS)


def backend_class(name: str) -> type[Backend]:
    """The class of backend ``name`` (imports its module)."""
    if name not in BACKENDS:
        raise UnknownNameError("backend", name, BACKENDS)
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), cls)


def get_backend(spec: str | Backend = "auto", sampler: str | None = None, **options) -> Backend:
    """A backend instance from ``"name"`` or ``"name:sampler"``."""
    if isinstance(spec, Backend):
        return spec
    if not isinstance(spec, str):
        raise SchemaError(f"backend: expected a name such as 'auto', got {spec!r}")
    name, _, samp = spec.strip().lower().partition(":")
    if samp and sampler and samp != sampler:
        raise SchemaError(f"backend {spec!r} and sampler {sampler!r} disagree")
    return backend_class(name)(sampler=samp or sampler, **options)

