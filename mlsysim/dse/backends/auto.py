"""auto: exhaustive when it is cheap and exact, else an optimizer suited to the objectives.

Enumeration runs at ~10^6 configurations/s (OPTIMIZER_FACTS), so a space of up to
``time_budget_s * configs_per_s`` raw points (default 2 s x 1e6/s = 2,000,000; or ``max_exhaustive``)
is enumerated -- unless an explicit ``budget`` is smaller than the space. Otherwise pymoo NSGA-II
for two or more objectives (whole-population evaluation, best fronts per evaluation), and optuna
TPE for one objective (sample-efficient, Bergstra et al. 2011). The choice and the reason are
recorded in the result's provenance (``auto``).
"""
from __future__ import annotations

from .base import Backend, Outcome, get_backend

TIME_BUDGET_S = 2.0
CONFIGS_PER_S = 1e6


class AutoBackend(Backend):
    """Options: ``max_exhaustive``, ``time_budget_s`` (2.0), ``configs_per_s`` (1e6); other options go
    to the chosen backend."""

    name = "auto"

    def choose(self, ctx, budget) -> tuple[str, str | None, str]:
        opts = self.options
        limit = int(opts.get("max_exhaustive") or opts.get("time_budget_s", TIME_BUDGET_S) * opts.get("configs_per_s", CONFIGS_PER_S))
        size = ctx.space.size
        if size is not None and size <= limit and (budget is None or size <= budget):
            return "exhaustive", None, (f"the space has {size:,} raw points, at most {limit:,} (about "
                                        f"{limit / opts.get('configs_per_s', CONFIGS_PER_S):g} s of vectorized "
                                        f"evaluation), so exhaustive enumeration is fast and exact")
        why = ("its size is unbounded (continuous dimensions)" if size is None else
               f"its {size:,} raw points exceed " + (f"the budget of {budget:,}" if budget is not None and size <= limit
                                                     else f"the exhaustive limit of {limit:,}"))
        if len(ctx.objectives) >= 2:
            return "pymoo", "nsga2", f"the space is not enumerated because {why}; NSGA-II (pymoo) for {len(ctx.objectives)} objectives"
        return "optuna", "tpe", f"the space is not enumerated because {why}; TPE (optuna) for a single objective"

    def run(self, ctx, *, budget=None, seed=0, n_jobs=1, storage=None, progress=None) -> Outcome:
        name, sampler, why = self.choose(ctx, budget)
        keys = {"exhaustive": ("chunk_size", "max_trials"), "pymoo": ("pop_size", "eliminate_duplicates"),
                "optuna": ("population_size", "batch_size", "study_name", "fail_running")}[name]
        backend = get_backend(name, sampler, **{k: v for k, v in self.options.items() if k in keys})
        outcome = backend.run(ctx, budget=budget, seed=seed, n_jobs=n_jobs, storage=storage, progress=progress)
        outcome.extra["backend"] = name
        outcome.extra["auto"] = {"chose": name + (f":{sampler}" if sampler else ""), "why": why}
        outcome.notes.insert(0, f"auto chose {name}{':' + sampler if sampler else ''}: {why}")
        return outcome
