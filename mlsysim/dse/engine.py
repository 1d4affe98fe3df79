"""The DSE facade: a space, objectives, constraints and a winner rule, run by a backend.

    dse = DSE(space={"tp": [1, 2, 4, 8], "batch": [1, 8, 32]},
              objective="minimize: latency", constraints=["latency < 50"])
    result = dse.run(problem=my_problem, seed=0)
"""
from __future__ import annotations

import importlib.metadata
import time
from typing import Callable, Sequence

import numpy as np

from ..core.errors import SchemaError
from .backends.base import Backend, SearchContext, get_backend
from .storage_url import redact
from .objective import bind_all, check_objectives, parse_constraints, parse_objectives
from .pareto import pareto_indices
from .problem import as_problem, check_output, metric_units_of, problem_id
from .result import SearchResult
from .space import SearchSpace
from .winner import WinnerRule


class DSE:
    """Design-space exploration engine.

    ``backend``: ``"auto"`` (default), ``"exhaustive"``, ``"optuna"``, ``"pymoo"``, or
    ``"optuna:nsga2"``-style with a sampler; ``sampler=`` and further keyword options (e.g.
    ``population_size``, ``batch_size``, ``chunk_size``, ``max_trials``, ``max_exhaustive``) go to
    the backend.
    """

    def __init__(self, space, objective=None, constraints: Sequence | str = (), problem=None, winner=None,
                 backend: str | Backend = "auto", *, objectives=None, sampler: str | None = None, **backend_options):
        self.space = SearchSpace.coerce(space)
        self.objectives = parse_objectives(objective, objectives)
        self.constraints = parse_constraints(constraints)
        self.problem = problem
        self.winner = WinnerRule.parse(winner)
        self.backend = backend
        self.sampler = sampler
        self.backend_options = backend_options
        get_backend(backend, sampler, **backend_options)  # fail early on an unknown name

    def bind(self, problem=None) -> SearchContext:
        """Resolve names and units against ``problem`` (checks everything before a search)."""
        problem = as_problem(problem if problem is not None else self.problem)
        space = self.space.with_constants(getattr(problem, "constants", None) or {}).check()

        def probe():
            cfg = space.sample(1, 0)
            if not len(next(iter(cfg.values()))):  # no valid point found: probe any point
                cfg = space.sample(1, 0, valid_only=False)
            return check_output(problem.evaluate(cfg), 1, [], where=problem_id(problem))

        units = metric_units_of(problem, probe)
        display = dict(getattr(problem, "display_units", None) or {})
        check_objectives(self.objectives, units)
        constraints = bind_all(self.constraints, units, display, space.constants)
        self.winner.check(self.objectives, list(units))
        return SearchContext(space, problem, self.objectives, constraints, units, display)

    def run(self, problem=None, budget: int | None = None, seed: int = 0, n_jobs: int = 1, storage=None,
            progress: Callable[[int, int, dict], None] | None = None) -> SearchResult:
        """Search; ``budget`` = proposed configurations for optimizers (exhaustive ignores it),
        ``storage`` = optuna study storage, ``progress(done, total, best)`` is called as it goes."""
        if budget is not None and (not isinstance(budget, (int, np.integer)) or isinstance(budget, bool) or budget < 1):
            raise SchemaError(f"budget must be a positive integer, got {budget!r}")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2 ** 32:
            raise SchemaError(f"seed must be a whole number in [0, 2**32), got {seed!r}",
                              hint="the random generators of numpy, optuna and pymoo take 32-bit seeds")
        if not isinstance(n_jobs, (int, np.integer)) or isinstance(n_jobs, bool) or n_jobs == 0:
            raise SchemaError(f"n_jobs must be a nonzero whole number (-1 = all cores), got {n_jobs!r}")
        ctx = self.bind(problem)
        backend = get_backend(self.backend, self.sampler, **self.backend_options)
        t0 = time.perf_counter()
        outcome = backend.run(ctx, budget=budget, seed=int(seed), n_jobs=int(n_jobs), storage=storage, progress=progress)
        wall = time.perf_counter() - t0
        return build_result(ctx, self.winner, backend, outcome, seed=int(seed), wall=wall, budget=budget,
                            storage=storage, n_jobs=n_jobs)


def build_result(ctx: SearchContext, rule: WinnerRule, backend: Backend, outcome, *, seed, wall, budget, storage,
                 n_jobs) -> SearchResult:
    table = outcome.table
    F = ctx.F(table) if len(table) else np.zeros((0, len(ctx.objectives)))
    feasible = table["feasible"] if len(table) else np.zeros(0, bool)
    pareto = outcome.pareto if outcome.pareto is not None else pareto_indices(F, feasible)
    values = {m: table[m] for m in ctx.metrics} if len(table) else {}
    choice = rule.select(ctx.objectives, F, feasible, pareto, values)
    used = outcome.extra.get("backend", backend.name)
    provenance = {
        "backend": used,
        "requested_backend": backend.name,
        "sampler": outcome.sampler,
        "seed": seed,
        "budget": budget,
        "n_jobs": n_jobs,
        "storage": None if storage is None else redact(str(storage)),
        "problem": ctx.problem_id(),
        "space": ctx.space.fingerprint(),
        "space_size": ctx.space.size,
        "valid_size": outcome.valid_size,
        "evaluations": outcome.evaluations,
        "proposals": outcome.proposals,
        "truncated": outcome.truncated,
        "counts": outcome.counts,
        "versions": versions(),
        **{k: v for k, v in outcome.extra.items() if k != "backend"},
    }
    return SearchResult(
        trials=table, config_names=ctx.space.names, objectives=list(ctx.objectives),
        constraints=[c.text for c in ctx.constraints], metric_units=dict(ctx.metric_units),
        display_units={m: ctx.display_unit(m) for m in ctx.metrics}, pareto=np.asarray(pareto, dtype=np.int64),
        winner=choice.index, winner_rule=choice.rule, why=choice.why, backend=used, sampler=outcome.sampler,
        seed=seed, space_size=ctx.space.size, valid_size=outcome.valid_size, evaluations=outcome.evaluations,
        proposals=outcome.proposals, wall_time_s=wall, provenance=provenance, notes=list(outcome.notes),
        uncertainty_family=getattr(ctx.problem, "uncertainty_family", "training"),
    )


def versions() -> dict[str, str | None]:
    out = {}
    for pkg in ("mlsysim", "optuna", "pymoo", "numpy"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def run_search(problem, space, objective=None, constraints: Sequence | str = (), *, objectives=None, winner=None,
               backend: str = "auto", sampler: str | None = None, budget: int | None = None, seed: int = 0,
               n_jobs: int = 1, storage=None, progress=None, **backend_options) -> SearchResult:
    """One-call form of ``DSE(...).run(...)``."""
    dse = DSE(space, objective, constraints, problem, winner, backend, objectives=objectives, sampler=sampler,
              **backend_options)
    return dse.run(budget=budget, seed=seed, n_jobs=n_jobs, storage=storage, progress=progress)
