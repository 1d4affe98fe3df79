"""pymoo backend: NSGA-II, NSGA-III, MOEA/D (multi-objective) and GA (single objective).

Discrete dimensions are integer-encoded (value indices; categoricals too) and searched with SBX
crossover and polynomial mutation followed by rounding -- pymoo's recipe for integer variables;
continuous floats stay real (log-scaled when ``log``). The pymoo ``Problem`` is vectorized
(``elementwise=False``), so each generation is ONE ``evaluate()`` call (~11k evaluations/s on
this machine class, OPTIMIZER_FACTS). Rules, model feasibility and constraints enter as one
inequality ``G <= 0`` (constraint-domination, Deb 2000); MOEA/D has no constraint handling in
pymoo, so there the violation is added to every objective as a static penalty. ``budget`` is
pymoo's ``n_eval`` termination (the last generation cut to it); the seed is passed through.

On discrete spaces three defaults make each proposal count (docs/dse.md, "Quality and speed on
the real parallelism space"): the first population is drawn from valid points, offspring that
repeat any configuration proposed before are re-mated (pymoo's own elimination only looks at the
current population), and mating is oversampled so that a generation fills in few rounds.

Algorithms: NSGA-II (Deb et al. 2002), NSGA-III with Das-Dennis reference directions (Deb & Jain
2014; Das & Dennis 1998), MOEA/D (Zhang & Li 2007), GA (elitist, single objective).
"""
from __future__ import annotations

import math
from typing import Literal, Optional, Union

import numpy as np
from pydantic import Field

from ...core.errors import UserInputError
from .base import Backend, BackendOptions, Outcome, SearchContext, TrialLog, precount

DEFAULT_BUDGET = 10_000


def _reference_directions(n_obj: int, pop_size: int):
    """Das-Dennis directions, the most partitions whose count does not exceed ``pop_size``."""
    from pymoo.util.ref_dirs import get_reference_directions

    p = 1
    while math.comb(p + 1 + n_obj - 1, n_obj - 1) <= pop_size:
        p += 1
    return get_reference_directions("das-dennis", n_obj, n_partitions=p)


def cv_then_random(pop, P, random_state=None, **kwargs):
    """NSGA-III's binary tournament (pymoo's ``comp_by_cv_then_random``) with the run's seeded
    random state also for ties in constraint violation: pymoo 0.6.2 draws those from a fresh,
    unseeded generator, so two runs with one seed differed whenever two infeasible parents had
    equal violation (common here: every rule-breaking point has violation >= 1)."""
    S = np.empty(P.shape[0], dtype=int)
    for i, (a, b) in enumerate(P[:, :2]):
        cv_a, cv_b = float(pop[a].CV[0]), float(pop[b].CV[0])
        if (cv_a > 0.0 or cv_b > 0.0) and cv_a != cv_b:
            S[i] = a if cv_a < cv_b else b
        else:
            S[i] = random_state.choice([a, b])
    return S[:, None]


def row_keys(X) -> list[bytes]:
    """Hashable keys of the rows of an encoded matrix."""
    X = np.ascontiguousarray(np.atleast_2d(np.asarray(X, dtype=float)))
    return [r.tobytes() for r in X]


def _classes():
    """pymoo subclasses, built on first use so that importing this module stays light."""
    from pymoo.core.problem import Problem
    from pymoo.core.repair import Repair
    from pymoo.core.sampling import Sampling

    class VectorProblem(Problem):
        """A whole population per call: decode -> cached vectorized evaluate -> F, G."""

        def __init__(self, ctx: SearchContext, log: TrialLog, penalty: bool, progress, budget: int):
            xl, xu, self.is_int = ctx.space.bounds()
            super().__init__(n_var=len(xl), n_obj=len(ctx.objectives), n_ieq_constr=0 if penalty else 1,
                             xl=xl, xu=xu, elementwise=False)
            self.ctx, self.log, self.penalty, self.progress, self.budget = ctx, log, penalty, progress, budget
            self.seen: set[bytes] = set()  # encoded (repaired) rows proposed so far, for HistoryDuplicates

        def _evaluate(self, X, out, *args, **kwargs):
            self.seen.update(row_keys(X))
            rows = self.log.submit(self.ctx.space.decode(X))
            F, V = self.log.penalized_F(rows), self.log.V[rows]
            if self.penalty:
                span = np.ptp(F, axis=0) + 1.0
                out["F"] = F + V[:, None] * span[None, :]
            else:
                out["F"], out["G"] = F, V[:, None]
            if self.progress is not None:
                self.progress(min(self.log.proposals, self.budget), self.budget, self.log.best())

    class SpaceRepair(Repair):
        """Round integer-encoded variables and put conditional dimensions at their defaults."""

        def __init__(self, ctx: SearchContext):
            super().__init__()
            self.ctx = ctx
            self.xl, self.xu, self.is_int = ctx.space.bounds()

        def _do(self, problem, X, **kwargs):
            X = np.clip(np.asarray(X, dtype=float), self.xl, self.xu)
            X[:, self.is_int] = np.rint(X[:, self.is_int]) + 0.0  # + 0.0: no -0.0, rows compare by bytes
            return self.ctx.space.canonicalize_encoded(X)

    class MixedSampling(Sampling):
        """Uniform integers for discrete variables, uniform reals for continuous ones."""

        def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
            xl, xu = problem.bounds()
            X = xl + (xu - xl) * random_state.random((n_samples, problem.n_var))
            ints = problem.is_int
            X[:, ints] = random_state.integers(xl[ints].astype(int), xu[ints].astype(int) + 1,
                                               size=(n_samples, int(ints.sum())))
            return X

    class ValidSampling(MixedSampling):
        """The initial population drawn from the *valid* points (``SearchSpace.sample`` filters by
        the rules), topped up uniformly if the rules leave too few: on the parallelism space only
        ~36% of uniform draws are valid, so a uniform first generation wastes ~2/3 of its budget."""

        def __init__(self, ctx: SearchContext):
            super().__init__()
            self.ctx = ctx

        def _do(self, problem, n_samples, *args, random_state=None, **kwargs):
            rng = np.random.default_rng(random_state.integers(2 ** 63))
            got = self.ctx.space.sample(n_samples, rng, max_draws=8)
            n = len(next(iter(got.values()))) if got else 0
            X = self.ctx.space.encode({k: got[k] for k in self.ctx.space.free}) if n else np.zeros((0, problem.n_var))
            if n < n_samples:
                X = np.vstack([X, super()._do(problem, n_samples - n, random_state=random_state)])
            return X

    from pymoo.core.duplicate import DuplicateElimination

    class HistoryDuplicates(DuplicateElimination):
        """Offspring equal to a configuration already proposed in this search (or to another
        offspring) are dropped and mating tries again. pymoo's default only compares with the
        current population, so NSGA-II re-proposed ~1 evaluated configuration in 2 on the
        parallelism space; ``budget`` counts proposals, so each of those was budget lost. Rows are
        compared by their bytes: after ``SpaceRepair`` an encoded row is canonical."""

        def __init__(self, seen: set):
            super().__init__()
            self.seen = seen

        def do(self, pop, *args, return_indices=False, to_itself=True):
            if len(pop) == 0:
                return (pop, [], []) if return_indices else pop
            new: set[bytes] = set()
            for other in args:
                if other is not None and len(other):
                    new.update(k for k in row_keys(other.get("X")) if k not in self.seen)
            keep = []
            for i, k in enumerate(row_keys(pop.get("X"))):
                if k in self.seen or k in new:
                    continue
                keep.append(i)
                if to_itself:
                    new.add(k)
            if return_indices:
                return pop[keep], keep, sorted(set(range(len(pop))) - set(keep))
            return pop[keep]

    from pymoo.core.mating import Mating

    class OversampledMating(Mating):
        """Mate ``factor`` times the offspring still needed per round. With history-wide duplicate
        elimination most offspring of a converging population repeat a known configuration, and
        pymoo's infill loop then re-runs selection, crossover, mutation and repair -- each round
        costing ~20 ms of per-individual bookkeeping -- for a handful of new points. Larger rounds
        fill a generation in fewer of them; the first new offspring are kept, as pymoo does."""

        def __init__(self, base: Mating, factor: int):
            super().__init__(base.selection, base.crossover, base.mutation, repair=base.repair,
                             eliminate_duplicates=base.eliminate_duplicates, n_max_iterations=base.n_max_iterations)
            self.factor = factor

        def _do(self, problem, pop, n_offsprings, parents=None, **kwargs):
            return super()._do(problem, pop, n_offsprings * self.factor, parents=parents, **kwargs)

    from pymoo.core.termination import Termination

    class EvalsOrExhausted(Termination):
        """pymoo's n_eval budget, or stop once every valid configuration has been evaluated. The
        last generation is shortened to what is left of the budget (pymoo would otherwise finish
        a whole generation past it)."""

        def __init__(self, budget: int, log: TrialLog, valid_size: int | None, trim: bool):
            super().__init__()
            self.budget, self.log, self.valid_size, self.trim = budget, log, valid_size, trim

        def _update(self, algorithm):
            if self.valid_size is not None and self.log.evaluations >= self.valid_size:
                return 1.0
            left = self.budget - algorithm.evaluator.n_eval
            if self.trim and left > 0 and getattr(algorithm, "pop_size", None):
                algorithm.n_offsprings = min(algorithm.pop_size, left)
            return algorithm.evaluator.n_eval / self.budget

    return (VectorProblem, SpaceRepair, MixedSampling, EvalsOrExhausted, ValidSampling, HistoryDuplicates,
            OversampledMating)


class PymooOptions(BackendOptions):
    """Options of the pymoo backend."""

    pop_size: Optional[int] = Field(None, ge=2, description="default min(100, budget // 10, valid points // 2), "
                                                            "at least 4")
    eliminate_duplicates: Union[Literal["history"], bool] = Field(
        "history", description='"history": against every configuration proposed in this search; true: pymoo\'s, '
                               "against the current population; false: none")
    valid_start: bool = Field(True, description="first population drawn from valid points")
    exact_budget: bool = Field(True, description="the last generation is cut to the budget")
    mating_oversample: Optional[int] = Field(None, ge=1, description="default 4 with history elimination, else 1")
    mating_iterations: int = Field(20, ge=1, description="mating rounds before giving up on new offspring")
    n_neighbors: int = Field(15, ge=1, description="MOEA/D neighbourhood size")


class PymooBackend(Backend):
    """Options: ``PymooOptions``."""

    name = "pymoo"
    Options = PymooOptions
    default_budget = DEFAULT_BUDGET
    samplers = ("nsga2", "nsga3", "moead", "ga")

    def run(self, ctx, *, budget=None, seed=0, n_jobs=1, storage=None, progress=None) -> Outcome:
        from pymoo.core.mating import Mating
        from pymoo.operators.crossover.sbx import SBX
        from pymoo.operators.mutation.pm import PM
        from pymoo.optimize import minimize

        m = len(ctx.objectives)
        algo = self.sampler or ("ga" if m == 1 else "nsga2")
        if algo == "ga" and m > 1:
            raise UserInputError(f"pymoo 'ga' is single-objective, but {m} objectives were given",
                                 hint="use nsga2, nsga3 or moead")
        if algo == "moead" and m < 2:
            raise UserInputError("pymoo 'moead' needs at least two objectives", hint="use ga or nsga2")
        if not ctx.space.free:
            raise UserInputError("every dimension is fixed: nothing to search", hint="use backend='exhaustive'")
        budget = int(budget or DEFAULT_BUDGET)
        valid_size, notes = precount(ctx)
        opts = self.options
        pop = int(opts.pop_size or max(4, min(100, budget // 10, (valid_size or 10 ** 9) // 2)))
        notes += [] if n_jobs == 1 else ["pymoo evaluates each generation in one vectorized call; n_jobs is not used"]

        (VectorProblem, SpaceRepair, MixedSampling, EvalsOrExhausted, ValidSampling, HistoryDuplicates,
         OversampledMating) = _classes()
        log = TrialLog(ctx)
        problem = VectorProblem(ctx, log, penalty=(algo == "moead"), progress=progress, budget=budget)
        sampling = ValidSampling(ctx) if opts.valid_start else MixedSampling()
        ops = dict(sampling=sampling, crossover=SBX(prob=0.9, eta=3.0, vtype=float),
                   mutation=PM(eta=3.0, vtype=float), repair=SpaceRepair(ctx))
        dup_opt = opts.eliminate_duplicates
        dup = HistoryDuplicates(problem.seen) if dup_opt == "history" else bool(dup_opt)
        if algo == "nsga2":
            from pymoo.algorithms.moo.nsga2 import NSGA2

            algorithm = NSGA2(pop_size=pop, eliminate_duplicates=dup, **ops)
        elif algo == "nsga3":
            from pymoo.algorithms.moo.nsga3 import NSGA3
            from pymoo.operators.selection.tournament import TournamentSelection

            ref = _reference_directions(m, pop)
            algorithm = NSGA3(ref_dirs=ref, pop_size=max(pop, len(ref)), eliminate_duplicates=dup,
                              selection=TournamentSelection(func_comp=cv_then_random), **ops)
        elif algo == "moead":
            from pymoo.algorithms.moo.moead import MOEAD

            ref = _reference_directions(m, pop)
            algorithm = MOEAD(ref_dirs=ref, n_neighbors=min(opts.n_neighbors, len(ref)),
                              prob_neighbor_mating=0.7, **ops)
        else:
            from pymoo.algorithms.soo.nonconvex.ga import GA

            algorithm = GA(pop_size=pop, eliminate_duplicates=dup, **ops)
        if hasattr(algorithm, "mating"):  # give up sooner on duplicate-free offspring in small spaces
            algorithm.mating.n_max_iterations = opts.mating_iterations
            history = algo != "moead" and isinstance(dup, HistoryDuplicates)  # MOEA/D mates given parents
            factor = opts.mating_oversample or (4 if history else 1)
            if factor > 1 and algo != "moead" and type(algorithm.mating) is Mating:
                algorithm.mating = OversampledMating(algorithm.mating, factor)
        trim = algo != "moead" and opts.exact_budget
        minimize(problem, algorithm, EvalsOrExhausted(budget, log, valid_size, trim), seed=int(seed), verbose=False,
                 copy_algorithm=False)
        if valid_size is not None and log.evaluations >= valid_size:
            notes.append(f"stopped early: all {valid_size:,} valid configurations have been evaluated")
        return Outcome(table=log.table(), evaluations=log.evaluations, proposals=log.proposals, sampler=algo,
                       valid_size=valid_size, notes=notes, extra={"pop_size": pop})
