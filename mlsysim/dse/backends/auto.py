"""auto: exhaustive when it is cheap and exact, else an optimizer suited to the objectives.

Enumeration runs at ~5x10^6 configurations/s (OPTIMIZER_FACTS), so a space of up to
``time_budget_s * configs_per_s`` raw points (default 2 s x 5e6/s = 10,000,000; or ``max_exhaustive``)
is enumerated -- unless an explicit ``budget`` is smaller than the space. Otherwise pymoo NSGA-II
for two or more objectives (whole-population evaluation, best fronts per evaluation), and optuna
TPE for one objective (sample-efficient, Bergstra et al. 2011). The choice and the reason are
recorded in the result's provenance (``auto``).

Options: ``AutoOptions``, plus any option of a backend auto may pick (checked against that
backend's options model at once); the chosen backend gets the options it takes, and the reason
names those that do not apply to it.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from pydantic import Field

from ...core.errors import UnknownNameError
from .base import Backend, BackendOptions, Outcome, backend_class, get_backend

TIME_BUDGET_S = 2.0
# OPTIMIZER_FACTS: 7.3x10^6 configurations in 1-4 M-row chunks with a running front take ~1.4 s
# (~5x10^6/s); below ~10^7 exhaustive is faster than any optimizer run and exact.
CONFIGS_PER_S = 5e6
CHOICES = ("exhaustive", "optuna", "pymoo")


class AutoOptions(BackendOptions):
    """auto's own options (the others are forwarded)."""

    max_exhaustive: Optional[int] = Field(None, ge=1, description="largest space enumerated (raw points)")
    time_budget_s: float = Field(TIME_BUDGET_S, gt=0, description="enumeration time worth spending")
    configs_per_s: float = Field(CONFIGS_PER_S, gt=0, description="assumed enumeration speed")


@dataclasses.dataclass(frozen=True)
class Choice:
    """What auto picked for a search: backend, sampler, the options it forwards, and why."""

    name: str
    sampler: Optional[str]
    options: dict
    why: str

    @property
    def label(self) -> str:
        return self.name + (f":{self.sampler}" if self.sampler else "")


class AutoBackend(Backend):
    """Options: ``AutoOptions`` and the options of exhaustive, optuna and pymoo (forwarded)."""

    name = "auto"
    Options = AutoOptions

    def __init__(self, sampler: str | None = None, **options):
        own = {k: v for k, v in options.items() if k in AutoOptions.model_fields}
        rest = {k: v for k, v in options.items() if k not in own}
        models = {name: backend_class(name).Options for name in CHOICES}
        known = {k for m in models.values() for k in m.model_fields}
        for key in rest:
            if key not in known:
                raise UnknownNameError("auto option", key, [*AutoOptions.model_fields, *known])
        for name, model in models.items():  # bad values fail now, whichever backend is picked later
            model.parse({k: v for k, v in rest.items() if k in model.model_fields}, backend=name)
        super().__init__(sampler, **own)
        self.forward = rest

    def choose(self, ctx, budget) -> Choice:
        """The backend for this search, with the options it takes and the reason."""
        name, sampler, why = self._pick(ctx, budget)
        fields = backend_class(name).Options.model_fields
        unused = sorted(k for k in self.forward if k not in fields)
        if unused:
            why += f" (option{'s' if len(unused) > 1 else ''} {', '.join(unused)} do not apply to {name})"
        return Choice(name, sampler, {k: v for k, v in self.forward.items() if k in fields}, why)

    def _pick(self, ctx, budget) -> tuple[str, str | None, str]:
        o = self.options
        limit = int(o.max_exhaustive or o.time_budget_s * o.configs_per_s)
        size = ctx.space.size
        if size is not None and size <= limit and (budget is None or size <= budget):
            return "exhaustive", None, (f"the space has {size:,} raw points, at most {limit:,} (about "
                                        f"{limit / o.configs_per_s:g} s of vectorized "
                                        f"evaluation), so exhaustive enumeration is fast and exact")
        why = ("its size is unbounded (continuous dimensions)" if size is None else
               f"its {size:,} raw points exceed " + (f"the budget of {budget:,}" if budget is not None and size <= limit
                                                     else f"the exhaustive limit of {limit:,}"))
        if len(ctx.objectives) >= 2:
            return "pymoo", "nsga2", f"the space is not enumerated because {why}; NSGA-II (pymoo) for {len(ctx.objectives)} objectives"
        return "optuna", "tpe", f"the space is not enumerated because {why}; TPE (optuna) for a single objective"

    def run(self, ctx, *, budget=None, seed=0, n_jobs=1, storage=None, progress=None) -> Outcome:
        choice = self.choose(ctx, budget)
        backend = get_backend(choice.name, choice.sampler, **choice.options)
        outcome = backend.run(ctx, budget=budget, seed=seed, n_jobs=n_jobs, storage=storage, progress=progress)
        return record_choice(outcome, choice)

    def stored(self, ctx, *, seed, budget):
        """The chosen backend's stored search; its result records the choice."""
        choice = self.choose(ctx, budget)
        search = get_backend(choice.name, choice.sampler, **choice.options).stored(ctx, seed=seed, budget=budget)
        search.choice = choice
        return search


def record_choice(outcome: Outcome, choice: Choice) -> Outcome:
    """Note auto's choice and reason in an outcome (provenance ``auto``)."""
    outcome.extra["backend"] = choice.name
    outcome.extra["auto"] = {"chose": choice.label, "why": choice.why}
    outcome.notes.insert(0, f"auto chose {choice.label}: {choice.why}")
    return outcome
