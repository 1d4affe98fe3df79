"""Running a study: work, wait, collect, report.

Every task (one scenario at one sweep point) is a search whose progress lives in the study's
storage, so any number of processes on any number of machines can work on it:

* **exhaustive** -- the raw index range is cut into chunks that workers claim, evaluate and store
  atomically with their rows (``mlsysim.dse.chunk_store``); the result merges every done chunk in
  chunk order, so it is identical to an in-memory run whoever did the work;
* **optuna** -- one optuna study (named like ``DSE.run`` names it) in the same database; workers
  ask and tell until it holds ``budget`` trials (COMPLETE + RUNNING), and the result replays the
  COMPLETE trials (their configurations are re-evaluated once, vectorized, to rebuild the table);
* **pymoo** (and ``auto`` when it picks pymoo) -- the whole search is one unit of work, stored whole.

``run_study`` = register the study, work on every task (joblib: several tasks at once, on a
Dask/Ray cluster inside ``joblib.parallel_config(backend="dask")``), wait for other workers,
collect every result from storage and write the report folder. ``work_study`` is a worker
(``mlsysim study worker``): it works until nothing is left and writes nothing else.
``collect_study`` rebuilds the results from storage (``mlsysim study report``) without running
any new evaluation: ``run`` and ``report`` build the same document from the same stored data.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import random
import threading
import time
from typing import Any, Callable, Optional

import numpy as np

from ..core.errors import StorageError, UserInputError
from ..dse.backends.base import Outcome
from ..dse.storage_url import redact
from ..dse.chunk_store import ChunkStore, pack, unpack, worker_id
from .spec import Study, Task, study_from_record
from .storage import DB_NAME, StudyStore, existing_storage, resolve_storage

LEASE_S = 1800.0
POLL_S = 0.5
Progress = Callable[[dict], None]


# ------------------------------------------------------------------------------------------------
# A task bound in this process: its search context, backend and storage key
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class BoundTask:
    task: Task
    setup: Any
    dse: Any
    ctx: Any
    backend: str            # exhaustive | optuna | pymoo
    sampler: Optional[str]
    options: dict
    auto_why: Optional[str]
    key: str                # chunk study key, optuna study name, or one-shot key
    total: int              # progress units: raw points, trials, or proposals
    job: Any = None         # ChunkJob (exhaustive and one-shot)
    budget: Optional[int] = None
    _valid: Any = None

    @property
    def unit(self) -> str:
        return {"exhaustive": "chunks", "optuna": "trials"}.get(self.backend, "searches")

    def valid_size(self) -> Optional[int]:
        if self._valid is None:
            from ..dse.backends.base import precount

            self._valid = (precount(self.ctx)[0],)
        return self._valid[0]


def bind_task(task: Task, store: ChunkStore | None = None) -> BoundTask:
    """Resolve a task; with ``store``, also create its chunk rows (exhaustive, one-shot)."""
    from ..dse.backends.exhaustive import DEFAULT_CHUNK, MAX_TRIALS, ChunkJob, chunk_job, open_chunks

    s, dse, ctx, name, sampler, options, why = task.resolve()
    common = dict(task=task, setup=s, dse=dse, ctx=ctx, backend=name, options=options, auto_why=why)
    if name == "exhaustive":
        kw = dict(seed=task.seed, chunk_size=int(options.get("chunk_size", DEFAULT_CHUNK)),
                  max_trials=int(options.get("max_trials", MAX_TRIALS)))
        job = open_chunks(ctx, store, **kw) if store is not None else chunk_job(ctx, **kw)
        return BoundTask(**common, sampler=None, key=job.key, total=int(job.bounds[-1][1]), job=job)
    if name == "optuna":
        from ..dse.backends.optuna_backend import DEFAULT_BUDGET, study_name

        sampler = sampler or ("tpe" if len(ctx.objectives) == 1 else "nsga2")
        budget = int(task.budget or DEFAULT_BUDGET[sampler])
        key = options.get("study_name") or study_name(ctx, task.seed, sampler)
        return BoundTask(**common, sampler=sampler, key=key, total=budget, budget=budget)
    from ..dse.backends.pymoo_backend import DEFAULT_BUDGET as PYMOO_BUDGET

    ident = json.dumps({"problem": ctx.problem_id(), "space": ctx.space.fingerprint(),
                        "objectives": [str(o) for o in ctx.objectives],
                        "constraints": [c.text for c in ctx.constraints],
                        "backend": name, "sampler": sampler, "options": options, "budget": task.budget,
                        "seed": task.seed}, sort_keys=True, default=str)
    key = f"{name}-" + hashlib.sha256(ident.encode()).hexdigest()[:16]
    job = ChunkJob(key, ((0, 1),), 1, True)
    if store is not None:
        store.open_study(key, [(0, 1)], {"kind": name, "problem": ctx.problem_id(), "sampler": sampler})
    return BoundTask(**common, sampler=sampler, key=key, total=int(task.budget or PYMOO_BUDGET), job=job,
                     budget=task.budget)


# ------------------------------------------------------------------------------------------------
# Work (any process that reaches the storage)
# ------------------------------------------------------------------------------------------------
def quiet_numpy(fn):
    """Run ``fn`` without numpy's divide/invalid/overflow warnings: the physics computes whole
    batches, and rows that divide by zero are infeasible ones that the search masks anyway."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(*args, **kwargs)
    return wrapper


@quiet_numpy
def work_task(task_dict: dict, url: str, seed_offset: int = 0, lease_s: float = LEASE_S) -> dict:
    """One worker's share of one task: claim and evaluate until nothing is left to claim. A
    top-level function of plain arguments, so joblib can run it in another process or on a Dask
    worker. Returns what this call did."""
    t0 = time.perf_counter()
    task = Task.from_dict(task_dict)
    store = ChunkStore(url)
    try:
        return _work_task(task, store, url, seed_offset, lease_s, t0)
    finally:
        store.dispose()


def _work_task(task: Task, store: ChunkStore, url: str, seed_offset: int, lease_s: float, t0: float) -> dict:
    b = bind_task(task, store)
    if b.backend == "exhaustive":
        from ..dse.backends.exhaustive import work_chunks

        done = work_chunks(b.ctx, store, b.job, lease_s=lease_s)
    elif b.backend == "optuna":
        done = _optuna_work(b, url, seed_offset)
    else:
        done = _oneshot_work(b, store, lease_s)
    return {"task": task.name, "backend": b.backend, "unit": b.unit, "done": int(done),
            "wall_s": time.perf_counter() - t0, "host": os.uname().nodename, "pid": os.getpid()}


def _optuna_work(b: BoundTask, url: str, seed_offset: int) -> int:
    """Ask/tell against the shared optuna study until it holds ``budget`` trials."""
    from optuna.trial import TrialState

    from ..dse.backends.base import TrialLog
    from ..dse.backends.optuna_backend import (DEFAULT_BATCH, make_sampler, open_storage, optimize,
                                               params_to_configs, quiet_optuna)

    pop = b.options.get("population_size")
    batch = int(b.options.get("batch_size") or DEFAULT_BATCH.get(b.sampler) or pop or 50)
    valid_size = b.valid_size()
    told = 0
    with quiet_optuna() as optuna:
        storage = open_storage(url)
        study = optuna.create_study(storage=storage, study_name=b.key, load_if_exists=True,
                                    sampler=make_sampler(b.sampler, b.task.seed + seed_offset, pop),
                                    directions=[o.direction for o in b.ctx.objectives])
        log = TrialLog(b.ctx)
        prior = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if prior:  # so that the cache (and the stop rule below) knows what is done
            log.submit(params_to_configs(b.ctx, [t.params for t in prior]))
        while True:
            taken = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING)))
            if taken >= b.budget or (valid_size is not None and log.evaluations >= valid_size):
                break
            k = min(batch, b.budget - taken)
            optimize(study, b.ctx, log, k, batch, None, b.budget, valid_size)
            told += k
        storage_dispose(storage)
    return told


def storage_dispose(storage) -> None:
    engine = getattr(storage, "engine", None)
    if engine is not None:
        engine.dispose()


def _oneshot_work(b: BoundTask, store: ChunkStore, lease_s: float) -> int:
    """A search stored whole (pymoo): run it in memory if no one has, store its outcome."""
    from ..dse.backends.base import get_backend

    worker = worker_id()
    got = store.claim(b.key, worker, lease_s)
    if got is None:
        return 0
    backend = get_backend(b.backend, b.sampler, **b.options)
    out = backend.run(b.ctx, budget=b.task.budget, seed=b.task.seed, n_jobs=1, storage=None, progress=None)
    meta = {"evaluations": out.evaluations, "proposals": out.proposals, "sampler": out.sampler,
            "valid_size": out.valid_size, "truncated": out.truncated, "counts": out.counts, "notes": out.notes,
            "extra": out.extra, "pareto": None if out.pareto is None else [int(i) for i in out.pareto]}
    feasible = out.table["feasible"] if len(out.table) else np.zeros(0, bool)
    info = {"raw": out.proposals, "valid": out.evaluations, "feasible": int(feasible.sum())}
    return int(store.complete(b.key, 0, worker, pack(out.table, meta), info))


# ------------------------------------------------------------------------------------------------
# Status (progress bars, `study list`, completeness checks)
# ------------------------------------------------------------------------------------------------
class _OptunaReader:
    """Reads optuna trials of many studies from one storage (opened once)."""

    def __init__(self, url: str):
        self.url = url
        self._storage = None

    def trials(self, name: str):
        from ..dse.backends.optuna_backend import open_storage, quiet_optuna

        with quiet_optuna():
            if self._storage is None:
                self._storage = open_storage(self.url)
            try:
                sid = self._storage.get_study_id_from_name(name)
            except KeyError:
                return []
            return self._storage.get_all_trials(sid, deepcopy=False)

    def close(self) -> None:
        if self._storage is not None:
            storage_dispose(self._storage)


def task_status(b: BoundTask, store: ChunkStore, optuna_reader: _OptunaReader | None = None) -> dict:
    """{done, total, evaluated, feasible, front (min-form F of feasible points), finished, state,
    running, detail} of one task, from storage."""
    empty = np.zeros((0, len(b.ctx.objectives)))
    if b.backend != "optuna":
        p = store.progress(b.key)
        n = len(b.job.bounds)
        infos = store.infos(b.key) if p["done"] else {}
        fronts = [np.asarray(i["front"], float) for i in infos.values() if i.get("front")]
        done_units = p["raw_done"] if b.backend == "exhaustive" else (b.total if p["done"] else 0)
        state = "done" if p["done"] == n else ("running" if p["running"] or p["done"] else "todo")
        return {"done": int(done_units), "total": b.total,
                "evaluated": sum(int(i.get("valid", 0)) for i in infos.values()),
                "feasible": sum(int(i.get("feasible", 0)) for i in infos.values()),
                "front": np.vstack(fronts) if fronts else empty, "finished": p["done"] == n, "state": state,
                "running": p["running"], "detail": f"{p['done']}/{n} chunks" + (f", {p['running']} running"
                                                                                if p["running"] else "")}
    from optuna.trial import TrialState

    reader = optuna_reader or _OptunaReader(store.url)
    trials = reader.trials(b.key)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    running = sum(t.state == TrialState.RUNNING for t in trials)
    signs = b.ctx.signs
    feas = [t for t in complete if all(c <= 0 for c in (t.system_attrs.get("constraints") or [0.0]))]
    front = np.array([np.asarray(t.values, float) * signs for t in feas]) if feas else empty
    unique = len({tuple(sorted(t.params.items())) for t in complete})
    valid = b.valid_size()
    finished = running == 0 and (len(complete) >= b.budget or (valid is not None and unique >= valid))
    state = "done" if finished else ("running" if trials else "todo")
    if optuna_reader is None:
        reader.close()
    return {"done": min(len(complete), b.budget), "total": b.budget, "evaluated": unique, "feasible": len(feas),
            "front": front, "finished": finished, "state": state, "running": running,
            "detail": f"{len(complete)}/{b.budget} trials" + (f", {running} running" if running else "")}


def best_text(b: BoundTask, front: np.ndarray) -> str:
    """'metric value unit' (one objective) or 'N on the front' (several)."""
    from ..dse.pareto import pareto_indices
    from ..dse.summary import fmt

    front = front[np.all(np.isfinite(front), axis=1)] if len(front) else front
    if not len(front):
        return ""
    if len(b.ctx.objectives) == 1:
        o = b.ctx.objectives[0]
        v = o.sign * float(front[:, 0].min()) * b.ctx.display_factor(o.metric)
        unit = b.ctx.display_unit(o.metric)
        return f"{o.metric} {fmt(v)}{' ' + unit if unit else ''}"
    return f"{len(pareto_indices(front, np.ones(len(front), bool)))} on the front"


def snapshot(bound: list[BoundTask], store: ChunkStore, reader: _OptunaReader | None = None) -> dict:
    """Progress of a whole study: what a progress bar shows."""
    rows = [task_status(b, store, reader) for b in bound]
    current = next((i for i, r in enumerate(rows) if not r["finished"]), len(rows) - 1)
    b, r = bound[current], rows[current]
    label = f"{b.task.name}: " if len(bound) > 1 else ""
    return {"done": sum(r["done"] for r in rows), "total": sum(r["total"] for r in rows),
            "evaluated": sum(r["evaluated"] for r in rows), "feasible": sum(r["feasible"] for r in rows),
            "best": (label + best_text(b, r["front"])) if len(r["front"]) else "",
            "searches_done": sum(r["finished"] for r in rows), "searches": len(rows)}


class _Poller:
    """Reads the study's progress from storage every ``interval`` seconds (a daemon thread), so
    the bar counts the work of every worker, local or remote."""

    def __init__(self, bound: list[BoundTask], store: ChunkStore, callback: Progress, interval: float = POLL_S):
        self.bound, self.store, self.callback, self.interval = bound, store, callback, interval
        self.reader = _OptunaReader(store.url) if any(b.backend == "optuna" for b in bound) else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlsysim-study-progress", daemon=True)

    def __enter__(self):
        self.poll()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)
        if exc[0] is None:
            self.poll()
        if self.reader is not None:
            self.reader.close()

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self):
        try:
            self.callback(snapshot(self.bound, self.store, self.reader))
        except Exception:  # noqa: BLE001 - a progress display must never break the study
            pass


# ------------------------------------------------------------------------------------------------
# Waiting, resuming, collecting
# ------------------------------------------------------------------------------------------------
def reset_task(b: BoundTask, store: ChunkStore) -> str | None:
    """``--resume``: return work a killed process held to the queue. Returns a note or None."""
    if b.backend != "optuna":
        n = store.reset_running(b.key)
        return f"{n} {'chunk' if b.backend == 'exhaustive' else 'search'}(s) left running by an earlier process " \
               "were queued again" if n else None
    from ..dse.backends.optuna_backend import open_storage, quiet_optuna, recover_running

    with quiet_optuna() as optuna:
        storage = open_storage(store.url)
        try:
            study = optuna.load_study(study_name=b.key, storage=storage)
        except KeyError:
            return None
        n = recover_running(study, storage)
        storage_dispose(storage)
    return f"{n} trial(s) left RUNNING by an earlier process were marked FAIL and asked again" if n else None


def wait_task(b: BoundTask, store: ChunkStore, url: str, *, lease_s: float = LEASE_S, poll_s: float = POLL_S,
              timeout_s: float | None = None, on_wait: Callable[[str], None] | None = None) -> None:
    """Wait until a task is finished, doing any work that is (again) available: chunks or trials
    that other workers released, and chunks whose lease expired."""
    t0, said = time.monotonic(), False
    reader = _OptunaReader(url) if b.backend == "optuna" else None
    try:
        while True:
            st = task_status(b, store, reader)
            if st["finished"]:
                return
            if b.backend == "optuna":
                if st["running"] == 0 or _stale_trials(b, url, lease_s):
                    _optuna_work(b, url, 0)
            elif b.backend == "exhaustive":
                from ..dse.backends.exhaustive import work_chunks

                work_chunks(b.ctx, store, b.job, lease_s=lease_s)  # chunks released or with expired leases
            else:
                _oneshot_work(b, store, lease_s)
            st = task_status(b, store, reader)
            if st["finished"]:
                return
            if on_wait is not None and not said and st["running"]:
                on_wait(f"waiting for other workers of {b.task.name}: {st['detail']}")
                said = True
            if timeout_s is not None and time.monotonic() - t0 > timeout_s:
                raise StorageError(f"timed out after {timeout_s:g} s waiting for other workers of {b.task.name} "
                                   f"({st['detail']})",
                                   hint="if they died, continue with `mlsysim study run FILE --resume`")
            time.sleep(poll_s)
    finally:
        if reader is not None:
            reader.close()


def _stale_trials(b: BoundTask, url: str, lease_s: float) -> bool:
    """Mark RUNNING trials older than the lease FAIL (their worker is presumed dead)."""
    import datetime

    from optuna.trial import TrialState

    from ..dse.backends.optuna_backend import open_storage, quiet_optuna

    with quiet_optuna() as optuna:
        storage = open_storage(url)
        study = optuna.load_study(study_name=b.key, storage=storage)
        now = datetime.datetime.now()
        stale = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                 if t.datetime_start is not None and (now - t.datetime_start).total_seconds() > lease_s]
        sid = storage.get_study_id_from_name(b.key)
        for t in stale:
            storage.set_trial_state_values(storage.get_trial_id_from_study_id_trial_number(sid, t.number),
                                           TrialState.FAIL)
        storage_dispose(storage)
    return bool(stale)


def collect_task(b: BoundTask, store: ChunkStore, url: str, *, wall_s: float | None = None):
    """The task's SearchResult, from storage only (no new evaluation of the search)."""
    from ..dse.backends.base import get_backend
    from ..dse.engine import build_result

    t0 = time.perf_counter()
    st = task_status(b, store)
    if not st["finished"]:
        raise UserInputError(f"search {b.task.name!r} is not finished ({st['detail']})",
                             hint="finish it with `mlsysim study run FILE --resume` (or `study worker`) first")
    if b.backend == "exhaustive":
        from ..dse.backends.exhaustive import MAX_TRIALS, budget_notes, merge_chunks

        outcome = merge_chunks(b.ctx, store, b.job, max_trials=int(b.options.get("max_trials", MAX_TRIALS)),
                               notes=budget_notes(b.task.budget, b.total))
    elif b.backend == "optuna":
        outcome = _optuna_outcome(b, url)
    else:
        outcome = _oneshot_outcome(b, store)
    backend = get_backend(b.backend, b.sampler, **b.options)
    if b.auto_why is not None:
        from ..dse.backends.auto import AutoBackend

        chose = b.backend + (f":{b.sampler}" if b.sampler else "")
        outcome.extra["backend"] = b.backend
        outcome.extra["auto"] = {"chose": chose, "why": b.auto_why}
        outcome.notes.insert(0, f"auto chose {chose}: {b.auto_why}")
        backend = AutoBackend(**b.task.options)
    wall = wall_s if wall_s is not None else time.perf_counter() - t0
    return build_result(b.ctx, b.dse.winner, backend, outcome, seed=b.task.seed, wall=wall, budget=b.task.budget,
                        storage=url, n_jobs=1)


def _optuna_outcome(b: BoundTask, url: str) -> Outcome:
    from optuna.trial import TrialState

    from ..dse.backends.base import TrialLog
    from ..dse.backends.optuna_backend import open_storage, params_to_configs, quiet_optuna

    with quiet_optuna() as optuna:
        storage = open_storage(url)
        study = optuna.load_study(study_name=b.key, storage=storage)
        trials = sorted(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)), key=lambda t: t.number)
        failed = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
        storage_dispose(storage)
    log = TrialLog(b.ctx)
    if trials:
        log.submit(params_to_configs(b.ctx, [t.params for t in trials]))
    notes = [f"{len(trials)} completed optuna trial(s) of study {b.key!r}; their {log.evaluations:,} distinct "
             "configurations were re-evaluated from storage to build the table"]
    if failed:
        notes.append(f"{failed} trial(s) failed (left RUNNING by a killed worker) and were asked again")
    valid = b.valid_size()
    if valid is not None and log.evaluations >= valid and len(trials) < b.budget:
        notes.append(f"stopped early: all {valid:,} valid configurations have been evaluated")
    return Outcome(table=log.table(), evaluations=log.evaluations, proposals=len(trials), sampler=b.sampler,
                   valid_size=valid, notes=notes, extra={"study_name": b.key, "trials_complete": len(trials)})


def _oneshot_outcome(b: BoundTask, store: ChunkStore) -> Outcome:
    from ..dse.table import Table

    ((_, _, _, payload),) = store.done_parts(b.key)
    table, meta = unpack(payload)
    pareto = None if meta.get("pareto") is None else np.asarray(meta["pareto"], dtype=np.int64)
    return Outcome(table=table if table is not None else Table(), evaluations=int(meta["evaluations"]),
                   proposals=int(meta["proposals"]), sampler=meta.get("sampler"), valid_size=meta.get("valid_size"),
                   pareto=pareto, truncated=bool(meta.get("truncated")), counts=meta.get("counts") or {},
                   notes=list(meta.get("notes") or []), extra=dict(meta.get("extra") or {}))


# ------------------------------------------------------------------------------------------------
# The study-level entry points
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class StudyRun:
    """What ``run_study`` / ``collect_study`` return."""

    document: dict
    results: list
    out: Optional[pathlib.Path]
    storage: str
    files: dict
    workers: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)


def _same_study_in(out: pathlib.Path, study: Study, url: str) -> bool:
    """Whether ``out``'s own storage already holds this very study (same expanded specification)."""
    if not (out / DB_NAME).exists():
        return False
    store = StudyStore(url)
    try:
        return store.get(study.id) is not None
    finally:
        store.dispose()


def existing_results(out: pathlib.Path) -> list[str]:
    """Files in ``out`` that show a study already ran there."""
    return [n for n in ("result.json", DB_NAME) if (out / n).exists()]


def _worker_slots(n_tasks: int, jobs: int) -> list[int]:
    """Copies of each task to start: one each, more when there are more jobs than tasks."""
    if jobs <= n_tasks:
        return [1] * n_tasks
    return [jobs // n_tasks + (1 if i < jobs % n_tasks else 0) for i in range(n_tasks)]


def _cluster_backend() -> bool:
    """True inside ``joblib.parallel_config(backend=...)`` with a non-local backend (dask, ray)."""
    from joblib.parallel import get_active_backend

    name = type(get_active_backend()[0]).__name__.lower()
    return not any(k in name for k in ("loky", "multiprocessing", "threading", "sequential"))


def _parallel(args: list[tuple], jobs: int) -> list[dict]:
    """``work_task`` over ``args`` with joblib (any active ``parallel_config`` backend applies)."""
    if jobs == 1 or (len(args) == 1 and not _cluster_backend()):
        return [work_task(*a) for a in args]
    from joblib import Parallel, delayed

    return list(Parallel(n_jobs=jobs)(delayed(work_task)(*a) for a in args))


def _work_phase(study: Study, url: str, jobs: int, seed_offset: Callable[[int], int]) -> list[dict]:
    from ..dse.parallel import effective_n_jobs

    slots = _worker_slots(len(study.tasks), effective_n_jobs(jobs) if jobs < 0 else jobs)
    args = [(t.to_dict(), url, seed_offset(k), LEASE_S) for t, n in zip(study.tasks, slots) for k in range(n)]
    return _parallel(args, jobs)


@quiet_numpy
def run_study(study: Study, out: str | pathlib.Path, *, storage: str | None = None, jobs: int = 1,
              resume: bool = False, progress: Progress | None = None, on_message: Callable[[str], None] | None = None,
              wait_timeout_s: float | None = None) -> StudyRun:
    """Run (or, with ``resume``, continue) every search of ``study`` and write the report folder.

    ``storage`` (a SQLAlchemy URL) is shared with any ``work_study`` worker on the same study;
    default ``sqlite:///<out>/study.db``. ``jobs`` searches (or copies of one) run at once through
    joblib -- on a cluster inside ``joblib.parallel_config(backend="dask")``. ``progress(snapshot)``
    is called twice a second with the whole study's progress (see ``snapshot``).
    """
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise UserInputError(f"--out {out}: exists and is not a folder")
    found = existing_results(out) if out.is_dir() else []
    if storage is not None:
        found = [f for f in found if f != DB_NAME]
    url = resolve_storage(storage, out)
    if found and not resume:
        if not _same_study_in(out, study, url):
            raise UserInputError(f"{out} already holds results of another study ({', '.join(found)})",
                                 hint="choose another --out, or pass --resume to continue that study")
        resume = True  # the same study again: continue it (nothing finished is evaluated twice)
        if on_message is not None:
            on_message(f"{out} already holds this study: continuing it from its stored results")
    sstore = StudyStore(url) if storage is not None else None  # a shared storage must open before anything
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the report folder {out}: {exc}") from None
    sstore = sstore or StudyStore(url)
    try:
        sstore.register(study)
        bound = [bind_task(t, sstore.chunks) for t in study.tasks]
        notes = []
        if resume:
            for b in bound:
                note = reset_task(b, sstore.chunks)
                if note:
                    notes.append(f"{b.task.name}: {note}")
        t0 = time.perf_counter()
        walls: dict[str, float] = {}
        poller = _Poller(bound, sstore.chunks, progress) if progress is not None else None
        if poller is not None:
            poller.__enter__()
        try:
            workers = _work_phase(study, url, jobs, lambda k: k)
            for w in workers:
                walls[w["task"]] = max(walls.get(w["task"], 0.0), w["wall_s"])
            for b in bound:
                tw = time.perf_counter()
                wait_task(b, sstore.chunks, url, timeout_s=wait_timeout_s, on_wait=on_message)
                walls[b.task.name] = walls.get(b.task.name, 0.0) + (time.perf_counter() - tw)
        finally:
            if poller is not None:
                poller.__exit__(None, None, None)
        if resume:  # the search time of a resumed study is that of every run on it
            before = (sstore.get(study.id) or {}).get("walls") or {}
            walls = {k: v + float(before.get(k, 0.0)) for k, v in walls.items()}
        walls = {k: round(v, 6) for k, v in walls.items()}
        sstore.set_walls(study.id, walls)
        results = [collect_task(b, sstore.chunks, url, wall_s=walls.get(b.task.name)) for b in bound]
        from .report import study_document, write_report

        doc = study_document(study, bound, results, url)
        files = write_report(doc, results, out, on_message=on_message)
        return StudyRun(document=doc, results=results, out=out, storage=url, files=files, workers=workers,
                        notes=notes + [f"total wall time {time.perf_counter() - t0:.2f} s"])
    finally:
        sstore.dispose()


@quiet_numpy
def work_study(study: Study, storage: str, *, jobs: int = 1, progress: Progress | None = None) -> list[dict]:
    """Be one worker of ``study`` on a shared ``storage``: evaluate whatever is left, then return
    (no waiting, no report). Returns what each worker task did."""
    url = resolve_storage(storage)
    sstore = StudyStore(url)
    try:
        sstore.register(study)
        bound = [bind_task(t, sstore.chunks) for t in study.tasks]
        base = random.SystemRandom().randrange(1, 2 ** 20)  # distinct optuna sampler seeds per worker
        poller = _Poller(bound, sstore.chunks, progress) if progress is not None else None
        if poller is not None:
            poller.__enter__()
        try:
            return _work_phase(study, url, jobs, lambda k: base + k)
        finally:
            if poller is not None:
                poller.__exit__(None, None, None)
    finally:
        sstore.dispose()


def load_stored_study(storage: str, name: str | None = None) -> tuple[Study, dict, str]:
    """(study, its stored row, url) from a storage URL or report folder."""
    url = existing_storage(storage)
    sstore = StudyStore(url)
    try:
        row = sstore.find(name)
    finally:
        sstore.dispose()
    return study_from_record(row["record"]), row, url


@quiet_numpy
def collect_study(storage: str, *, name: str | None = None, out: str | pathlib.Path | None = None,
                  on_message: Callable[[str], None] | None = None) -> StudyRun:
    """Rebuild a study's results and report folder from storage (``mlsysim study report``): no
    search runs; an unfinished search is an error naming how far it got."""
    study, row, url = load_stored_study(storage, name)
    sstore = StudyStore(url)
    try:
        bound = [bind_task(t) for t in study.tasks]
        walls = row.get("walls") or {}
        results = [collect_task(b, sstore.chunks, url, wall_s=walls.get(b.task.name)) for b in bound]
    finally:
        sstore.dispose()
    from .report import study_document, write_report

    doc = study_document(study, bound, results, url)
    files = {}
    if out is not None:
        out = pathlib.Path(out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the report folder {out}: {exc}") from None
        files = write_report(doc, results, out, on_message=on_message)
    return StudyRun(document=doc, results=results, out=out, storage=url, files=files)


@quiet_numpy
def list_studies(storage: str) -> list[dict]:
    """Every study in a storage with its progress (``mlsysim study list``)."""
    url = existing_storage(storage)
    sstore = StudyStore(url)
    out = []
    try:
        reader = _OptunaReader(url)
        for row in sstore.all():
            study = study_from_record(row["record"])
            tasks = []
            for t in study.tasks:
                b = bind_task(t)
                st = task_status(b, sstore.chunks, reader)
                tasks.append({"name": t.name, "backend": b.backend + (f":{b.sampler}" if b.sampler else ""),
                              "state": st["state"], "done": st["done"], "total": st["total"],
                              "evaluated": st["evaluated"], "feasible": st["feasible"], "detail": st["detail"]})
            done = sum(t["done"] for t in tasks)
            total = sum(t["total"] for t in tasks)
            finished = sum(t["state"] == "done" for t in tasks)
            state = "done" if finished == len(tasks) else ("todo" if all(t["state"] == "todo" for t in tasks)
                                                           else "running")
            out.append({"study": study.name, "study_id": row["study_id"], "question": study.question,
                        "source": study.source, "created": row["created"], "state": state,
                        "searches": len(tasks), "searches_done": finished,
                        "progress": round(done / total, 6) if total else 1.0, "tasks": tasks})
        reader.close()
    finally:
        sstore.dispose()
    return out


__all__ = ["run_study", "work_study", "collect_study", "list_studies", "bind_task", "work_task", "task_status",
           "snapshot", "StudyRun", "redact"]
