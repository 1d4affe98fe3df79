"""optuna backend: TPE, NSGA-II/III, GP, random and QMC samplers over the same space.

Integration follows OPTIMIZER_FACTS: batched ``ask()`` / ``tell()`` around one vectorized
``evaluate()`` per batch (a generation for NSGA-II/III, 256 for random/QMC, 1 for the
model-based TPE/GP); duplicates are answered from a cache keyed by the parameter tuple and are
not counted as evaluations; feasibility enters through ``trial.set_constraint`` (optuna 5's API;
``constraints_func`` is deprecated) as one graded violation (rules + model + constraints).
Samplers: TPE (Bergstra et al. 2011; Watanabe 2023), NSGA-II (Deb et al. 2002), NSGA-III (Deb &
Jain 2014), GP (needs torch), random, QMC (Sobol). NSGA-II/III and QMC get every dimension suggested
on every trial (they search the intersection of the trials' parameters), NSGA-II/III mutate with
probability 0.25 per parameter and, in memory, keep their generation bookkeeping in O(1)
(``fast_ga_class``) -- see docs/dse.md, "Quality and speed on the real parallelism space".

Storage: None (in memory), ``*.db`` or ``sqlite:///...`` (RDB), ``*.log``/``*.journal``
(JournalStorage + JournalFileBackend), any SQLAlchemy URL (``postgresql://...``). The study name
is a hash of (space, objectives, constraints, problem id, seed) and is loaded if it exists:
COMPLETE trials count toward the budget and are not re-run; a RUNNING trial left by a killed
process is marked FAIL and its parameters are re-asked. ``n_jobs > 1`` runs that many joblib
processes against the same persistent storage; with in-memory storage one worker is used.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import pathlib
import warnings

from typing import Optional

import numpy as np
from pydantic import Field

from ...core.errors import StorageError, UserInputError
from ..storage_url import parse_storage, redact
from .base import Backend, BackendOptions, Outcome, SearchContext, TrialLog, precount

DEFAULT_BUDGET = {"tpe": 500, "gp": 60, "nsga2": 5000, "nsga3": 5000, "random": 5000, "qmc": 5000}
DEFAULT_BATCH = {"tpe": 1, "gp": 1, "random": 256, "qmc": 256}
# Samplers that search the intersection of all trials' parameters: they get every dimension
# suggested on every trial (SearchSpace.suggest(conditional=False)).
INTERSECTION_SAMPLERS = ("NSGAIISampler", "NSGAIIISampler", "FastNSGAIISampler", "FastNSGAIIISampler", "QMCSampler")


@contextlib.contextmanager
def quiet_optuna():
    """optuna logs every trial at INFO; keep it at WARNING while we run."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield optuna
    finally:
        optuna.logging.set_verbosity(level)


def open_storage(storage):
    """An optuna storage from None, a path or a URL; StorageError when it cannot be opened."""
    import optuna

    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    spec = parse_storage(storage)
    if spec.kind == "journal":
        from optuna.storages.journal import JournalFileBackend

        try:
            pathlib.Path(spec.url).parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(JournalFileBackend(spec.url))
        except OSError as exc:
            raise StorageError(f"cannot open journal storage {str(storage)!r}: {exc}") from None
    import sqlalchemy.exc

    text = spec.url
    kwargs = {"connect_args": {"timeout": 60}} if spec.is_sqlite else {}
    try:
        rdb = optuna.storages.RDBStorage(text, engine_kwargs=kwargs)
        if spec.is_sqlite:
            _fast_sqlite(rdb)
        return rdb
    except ImportError as exc:
        scheme = text.split("://", 1)[0]
        raise StorageError(f"storage {redact(text)!r}: no database driver for {scheme!r} is installed ({exc})",
                           hint="for PostgreSQL: pip install psycopg2-binary (or mlsysim[distributed])") from None
    except (sqlalchemy.exc.SQLAlchemyError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot open study storage {redact(text)!r}: {first}",
                           hint="check the URL, that the server is reachable, and the credentials") from None


def _fast_sqlite(rdb) -> None:
    """WAL journal + synchronous=NORMAL: a commit no longer waits for fsync (12 commits per trial
    cost ~6 ms each otherwise). Still durable if the process is killed; only an OS crash or power
    loss can roll back the last commits (https://www.sqlite.org/wal.html)."""
    import sqlalchemy

    def pragmas(conn, _record):
        cur = conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    sqlalchemy.event.listen(rdb.engine, "connect", pragmas)
    rdb.engine.dispose()


def study_name(ctx: SearchContext, seed: int, sampler: str) -> str:
    """A stable name from (space, objectives, constraints, problem id, seed, sampler)."""
    key = json.dumps({"space": ctx.space.fingerprint(), "objectives": [str(o) for o in ctx.objectives],
                      "constraints": [c.text for c in ctx.constraints], "problem": ctx.problem_id(),
                      "seed": seed, "sampler": sampler}, sort_keys=True, default=str)
    return "mlsysim-" + hashlib.sha256(key.encode()).hexdigest()[:16]


_FAST_GA: dict[str, type] = {}


def fast_ga_class(base: type) -> type:
    """``base`` (optuna's NSGAIISampler / NSGAIIISampler) with O(1) generation bookkeeping.

    optuna's GA samplers scan every completed trial on each ``ask`` -- the trial's generation
    (``get_trial_generation``), the parent population (``get_parent_population``) and the
    intersection search space -- so a study of n trials costs O(n^2): ~60 trials/s at 5,000
    trials on the parallelism space, against ~1,000/s for the first hundred. This subclass keeps
    those answers incrementally: completed trials per generation (updated in ``after_trial``), the
    parents of each generation, and the search space per count of completed trials. The proposals
    are *identical* to the stock sampler's for the same seed (``tests/test_dse_quality.py``), but
    the counts only see trials told through this sampler object, so it is used only for a single
    in-process ask/tell loop on in-memory storage; shared persistent studies keep the stock class.
    The storage keys are the stock class's, so a study stays readable by either.
    """
    if base.__name__ in _FAST_GA:
        return _FAST_GA[base.__name__]
    from collections import Counter

    from optuna.trial import TrialState

    class FastGA(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._gen_counts: Counter | None = None
            self._n_complete = 0
            self._parents: dict[int, list] = {}
            self._space_at: tuple[int, dict] | None = None

        def _init_counts(self, study) -> None:
            key = self._get_generation_key()
            done = study._get_trials(deepcopy=False, states=[TrialState.COMPLETE], use_cache=True)
            self._gen_counts = Counter(t.system_attrs.get(key, -1) for t in done)
            self._n_complete = len(done)

        def get_trial_generation(self, study, trial) -> int:
            key = self._get_generation_key()
            generation = trial.system_attrs.get(key, None)
            if generation is not None:
                return generation
            if self._gen_counts is None:
                self._init_counts(study)
            max_generation = max([g for g in self._gen_counts if g >= 0], default=0)
            count = self._gen_counts.get(max_generation, 0)
            generation = max_generation if count < self._population_size else max_generation + 1
            study._storage.set_trial_system_attr(trial._trial_id, key, generation)
            return generation

        def get_parent_population(self, study, generation: int) -> list:
            # The stock method returns the selection order on its first call and, from the
            # study's cache, trial order afterwards; keep both so that proposals are identical.
            if generation in self._parents:
                return self._parents[generation]
            parents = super().get_parent_population(study, generation)
            self._parents[generation] = sorted(parents, key=lambda t: t._trial_id)
            return parents

        def infer_relative_search_space(self, study, trial) -> dict:
            if self._gen_counts is None:
                self._init_counts(study)
            if self._space_at is None or self._space_at[0] != self._n_complete:
                self._space_at = (self._n_complete, super().infer_relative_search_space(study, trial))
            return dict(self._space_at[1])

        def after_trial(self, study, trial, state, values) -> None:
            super().after_trial(study, trial, state, values)
            if state == TrialState.COMPLETE and self._gen_counts is not None:
                self._gen_counts[trial.system_attrs.get(self._get_generation_key(), -1)] += 1
                self._n_complete += 1

    FastGA.__name__ = FastGA.__qualname__ = "Fast" + base.__name__
    # __init_subclass__ derived the storage keys from the new name: use the stock class's.
    FastGA._GENERATION_KEY = base._GENERATION_KEY
    FastGA._PARENT_CACHE_KEY_PREFIX = base._PARENT_CACHE_KEY_PREFIX
    _FAST_GA[base.__name__] = FastGA
    return FastGA


# Per-parameter mutation probability of NSGA-II/III. optuna's default, 1/n_params (~0.11 on the
# 9-parameter parallelism space), mostly re-proposes evaluated configurations: its uniform
# crossover only swaps parents' values, so on categorical/integer parameters mutation is the only
# source of new values. 0.25 (~2 parameters per child) met the DSE acceptance bar on 10 of 10 seeds
# for both parallelism objectives, against 5 of 6 (default front) for 1/n (docs/dse.md).
GA_MUTATION_PROB = 0.25


def make_sampler(name: str, seed: int, population_size: int | None, *, fast: bool = False,
                 mutation_prob: float | None = GA_MUTATION_PROB):
    """An optuna sampler; ``fast`` = O(1) GA bookkeeping (single in-process loop, in-memory storage);
    ``mutation_prob`` for NSGA-II/III (None = optuna's 1/n_params)."""
    import optuna.samplers as s

    if not 0 <= seed < 2 ** 32:  # optuna's samplers seed numpy's legacy 32-bit generator
        raise UserInputError(f"seed must be a whole number in [0, 2**32) for optuna, got {seed!r}")
    if name == "tpe":
        return s.TPESampler(seed=seed)
    if name == "nsga2":
        cls = fast_ga_class(s.NSGAIISampler) if fast else s.NSGAIISampler
        return cls(seed=seed, population_size=population_size or 50, mutation_prob=mutation_prob)
    if name == "nsga3":
        import optuna.exceptions

        with warnings.catch_warnings():  # NSGAIIISampler is still flagged experimental in optuna 5.0
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            cls = fast_ga_class(s.NSGAIIISampler) if fast else s.NSGAIIISampler
            return cls(seed=seed, population_size=population_size or 50, mutation_prob=mutation_prob)
    if name == "random":
        return s.RandomSampler(seed=seed)
    if name == "qmc":
        import optuna.exceptions

        with warnings.catch_warnings():  # QMCSampler is still flagged experimental in optuna 5.0
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return s.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False,
                                warn_asynchronous_seeding=False)
    if name == "gp":
        if importlib.util.find_spec("torch") is None:
            raise UserInputError("the optuna 'gp' sampler needs PyTorch", hint="pip install torch, or use sampler='tpe'")
        return s.GPSampler(seed=seed, warn_independent_sampling=False)
    raise UserInputError(f"unknown optuna sampler {name!r}")


class OptunaOptions(BackendOptions):
    """Options of the optuna backend."""

    population_size: Optional[int] = Field(None, ge=2, description="NSGA-II/III population (default 50)")
    mutation_prob: Optional[float] = Field(GA_MUTATION_PROB, ge=0, le=1,
                                           description="NSGA-II/III per-parameter mutation; None = optuna's 1/n")
    batch_size: Optional[int] = Field(None, ge=1, description="trials asked per vectorized evaluation")
    study_name: Optional[str] = Field(None, min_length=1, description="default: a hash of the search")
    fail_running: bool = Field(True, description="at start, mark RUNNING trials of a resumed study FAIL and "
                                                 "re-ask them (False when several coordinators share one study)")
    fast_ga: bool = Field(True, description="O(1) GA bookkeeping with in-memory storage (fast_ga_class)")


class OptunaBackend(Backend):
    """Options: ``OptunaOptions``."""

    name = "optuna"
    Options = OptunaOptions

    def sampler_for(self, ctx: SearchContext) -> str:
        """The sampler given, else TPE for one objective and NSGA-II for several."""
        return self.sampler or ("tpe" if len(ctx.objectives) == 1 else "nsga2")

    def stored(self, ctx, *, seed, budget):
        from .optuna_stored import OptunaSearch

        return OptunaSearch(ctx, self, seed=seed, budget=budget)
    samplers = ("tpe", "nsga2", "nsga3", "gp", "random", "qmc")

    def run(self, ctx, *, budget=None, seed=0, n_jobs=1, storage=None, progress=None) -> Outcome:
        from optuna.trial import TrialState

        if not ctx.space.free:  # as pymoo: with nothing to suggest, no trial would ever be evaluated
            raise UserInputError("every dimension is fixed: nothing to search", hint="use backend='exhaustive'")
        sampler = self.sampler_for(ctx)
        budget = int(budget or DEFAULT_BUDGET[sampler])
        pop = self.options.population_size
        batch = batch_size(self.options, sampler)
        valid_size, notes = precount(ctx)
        name = self.options.study_name or study_name(ctx, seed, sampler)
        # O(1) GA bookkeeping only where this loop is the study's one writer (see fast_ga_class).
        fast = storage is None and self.options.fast_ga
        mut = self.options.mutation_prob
        with quiet_optuna() as optuna:
            store = open_storage(storage)
            study = optuna.create_study(storage=store, study_name=name, load_if_exists=True,
                                        sampler=make_sampler(sampler, seed, pop, fast=fast, mutation_prob=mut),
                                        directions=[o.direction for o in ctx.objectives])
            if store is not None and self.options.fail_running:
                rerun = recover_running(study, store)
                if rerun:
                    notes.append(f"{rerun} trial(s) left RUNNING by an earlier process were marked FAIL and re-asked")
            log = TrialLog(ctx)
            prior = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if prior:
                log.submit(params_to_configs(ctx, [t.params for t in prior]))
                notes.append(f"resumed study {name!r}: {len(prior)} completed trial(s) counted toward the budget "
                             f"({log.evaluations} configurations re-evaluated to rebuild the table)")
            replayed = log.evaluations
            remaining = budget - len(prior)
            workers = 1
            if n_jobs != 1 and remaining > 0:
                if storage is None or not isinstance(storage, (str, pathlib.Path)):
                    notes.append("n_jobs > 1 needs a persistent storage given as a path or URL; ran 1 worker")
                else:
                    from ..parallel import effective_n_jobs, parallel_map

                    workers = effective_n_jobs(n_jobs)
                    args = [(str(storage), name, ctx, sampler, seed + 1 + w, self.options, budget)
                            for w in range(workers)]
                    counts = list(parallel_map(work_on, args, n_jobs=workers))
                    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    log.submit(params_to_configs(ctx, [t.params for t in done[len(prior):]]))
                    log.evaluations = replayed + sum(c["evaluations"] for c in counts)
            if workers == 1 and remaining > 0 and optimize(study, ctx, log, remaining, batch, progress, budget, valid_size):
                notes.append(f"stopped early: all {valid_size:,} valid configurations have been evaluated")
            n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
        extra = {"study_name": name, "trials_complete": n_complete, "replayed": replayed,
                 "evaluations_this_run": log.evaluations - replayed, "workers": workers}
        return Outcome(table=log.table(), evaluations=log.evaluations, proposals=n_complete, sampler=sampler,
                       valid_size=valid_size, notes=notes, extra=extra)


def batch_size(options: OptunaOptions, sampler: str) -> int:
    """Trials per ask/evaluate/tell round: the option, else the sampler's default, else a generation."""
    return int(options.batch_size or DEFAULT_BATCH.get(sampler) or options.population_size or 50)


def optimize(study, ctx: SearchContext, log: TrialLog, n_trials: int, batch: int, progress, total: int,
             valid_size: int | None = None) -> bool:
    """Batched ask -> one vectorized evaluate -> tell, until ``n_trials`` trials are told or every
    one of ``valid_size`` valid configurations has been evaluated (returns True then)."""
    signs = ctx.signs
    conditional = type(study.sampler).__name__ not in INTERSECTION_SAMPLERS
    done, start = 0, total - n_trials
    while done < n_trials:
        if valid_size is not None and log.evaluations >= valid_size:
            return True
        k = min(batch, n_trials - done)
        trials = [study.ask() for _ in range(k)]
        configs = params_to_configs(ctx, [ctx.space.suggest(t, conditional=conditional) for t in trials])
        rows = log.submit(configs)
        values = log.penalized_F(rows) * signs
        for t, v, viol in zip(trials, values, log.V[rows]):
            t.set_constraint("violation", float(viol))
            study.tell(t, values=[float(x) for x in v])
        done += k
        if progress is not None:
            progress(start + done, total, log.best())
    return False


def params_to_configs(ctx: SearchContext, params: list[dict]) -> dict[str, np.ndarray]:
    """Parameter dicts -> free-dimension arrays (conditionals not suggested take their default)."""
    out = {}
    for k in ctx.space.free:
        d = ctx.space.dimensions[k]
        vals = [p.get(k, d.default) for p in params]
        out[k] = np.array(vals, dtype=object if d.type == "categorical" else None)
    return ctx.space.canonicalize(out) if params else out


def recover_running(study, storage, *, older_than_s: float | None = None, requeue: bool = True) -> int:
    """Mark trials left RUNNING (by a killed process; with ``older_than_s``, only those started
    longer ago) FAIL and, with ``requeue``, enqueue their parameters again. Returns how many."""
    import datetime

    from optuna.trial import TrialState

    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if older_than_s is not None:
        now = datetime.datetime.now()
        stale = [t for t in stale if t.datetime_start is not None
                 and (now - t.datetime_start).total_seconds() > older_than_s]
    if stale:
        sid = storage.get_study_id_from_name(study.study_name)
        for t in stale:
            storage.set_trial_state_values(storage.get_trial_id_from_study_id_trial_number(sid, t.number),
                                           TrialState.FAIL)
            if requeue and t.params:
                study.enqueue_trial(dict(t.params), skip_if_exists=False)
    return len(stale)


def close_storage(storage) -> None:
    """Close the connections of an optuna storage opened by ``open_storage``."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def work_on(storage, name: str, ctx: SearchContext, sampler: str, seed: int, options: OptunaOptions, budget: int,
            valid_size: int | None = None) -> dict:
    """One worker (a joblib process, a study worker): ask/tell against the shared study ``name``
    (created if missing) until it holds ``budget`` trials (COMPLETE + RUNNING) or every one of
    ``valid_size`` valid configurations has been evaluated. Returns its evaluations, proposals
    and trials told."""
    from optuna.trial import TrialState

    batch = batch_size(options, sampler)
    told = 0
    with quiet_optuna() as optuna:
        store = open_storage(storage)
        try:
            study = optuna.create_study(storage=store, study_name=name, load_if_exists=True,
                                        sampler=make_sampler(sampler, seed, options.population_size,
                                                             mutation_prob=options.mutation_prob),
                                        directions=[o.direction for o in ctx.objectives])
            log = TrialLog(ctx)
            prior = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if prior:  # so that the cache (and the stop rule) knows what is done
                log.submit(params_to_configs(ctx, [t.params for t in prior]))
            replayed, proposed = log.evaluations, log.proposals
            while True:
                taken = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)))
                if taken >= budget or (valid_size is not None and log.evaluations >= valid_size):
                    break
                k = min(batch, budget - taken)
                optimize(study, ctx, log, k, batch, None, budget, valid_size)
                told += k
        finally:
            close_storage(store)
    return {"evaluations": log.evaluations - replayed, "proposals": log.proposals - proposed, "told": told}
