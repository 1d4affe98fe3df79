"""Running a study: work, wait, collect, report.

Every task (one scenario at one sweep point) is a search whose progress lives in the study's
storage, so any number of processes on any number of machines can work on it. How a search is
stored is its backend's business (``mlsysim.dse.stored.StoredSearch``: exhaustive chunks, an
optuna study, or a one-shot search stored whole); this module only orchestrates.

``run_study`` = register the study, work on every task (joblib: several tasks at once, on a
Dask/Ray cluster inside ``joblib.parallel_config(backend="dask")``), wait for other workers,
collect every result from storage and write the report folder. ``work_study`` is a worker
(``mlsysim study worker``): it works until nothing is left and writes nothing else.
``collect_study`` rebuilds the results from storage (``mlsysim study report``) without running
any new evaluation: ``run`` and ``report`` build the same document from the same stored data.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import pathlib
import random
import time
from typing import Any, Callable, Optional

import numpy as np

from ..core.errors import StorageError, UserInputError
from ..dse.chunk_store import ChunkStore
from ..dse.storage_url import redact
from ..dse.stored import LEASE_S, StoredSearch
from .progress import POLL_S, Poller, Progress, snapshot
from .spec import Study, Task, study_from_record
from .storage import DB_NAME, StudyStore, existing_storage, resolve_storage


# ------------------------------------------------------------------------------------------------
# A task bound in this process: its search context, backend and stored search
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class BoundTask:
    task: Task
    setup: Any
    dse: Any
    ctx: Any
    backend: Any            # the backend asked for (``auto`` included)
    search: StoredSearch    # the search as stored by the backend that runs it

    @property
    def key(self) -> str:
        return self.search.key

    @property
    def job(self):
        """The chunk job of an exhaustive search (None for others)."""
        return getattr(self.search, "job", None)


def bind_task(task: Task, store: ChunkStore | None = None) -> BoundTask:
    """Resolve a task; with ``store``, also create what its workers need there."""
    from ..dse.backends.base import get_backend

    s, dse = task.dse()
    ctx = dse.bind()
    backend = get_backend(dse.backend, dse.sampler, **dse.backend_options)
    search = backend.stored(ctx, seed=task.seed, budget=task.budget)
    if store is not None:
        search.open(store)
    return BoundTask(task, s, dse, ctx, backend, search)


def quiet_numpy(fn):
    """Run ``fn`` without numpy's divide/invalid/overflow warnings: the physics computes whole
    batches, and rows that divide by zero are infeasible ones that the search masks anyway."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(*args, **kwargs)
    return wrapper


# ------------------------------------------------------------------------------------------------
# Work (any process that reaches the storage), wait, collect
# ------------------------------------------------------------------------------------------------
@quiet_numpy
def work_task(task_dict: dict, url: str, seed_offset: int = 0, lease_s: float = LEASE_S) -> dict:
    """One worker's share of one task: claim and evaluate until nothing is left to claim. A
    top-level function of plain arguments, so joblib can run it in another process or on a Dask
    worker. Returns what this call did."""
    t0 = time.perf_counter()
    task = Task.from_dict(task_dict)
    store = ChunkStore(url)
    try:
        b = bind_task(task, store)
        done = b.search.work(store, seed_offset=seed_offset, lease_s=lease_s)
        b.search.close()
    finally:
        store.dispose()
    return {"task": task.name, "backend": b.search.backend.name, "unit": b.search.unit, "done": int(done),
            "wall_s": time.perf_counter() - t0, "host": os.uname().nodename, "pid": os.getpid()}


def wait_task(b: BoundTask, store: ChunkStore, *, lease_s: float = LEASE_S, poll_s: float = POLL_S,
              timeout_s: float | None = None, on_wait: Callable[[str], None] | None = None) -> None:
    """Wait until a task is finished, doing any work that is (again) available: work that other
    workers released, or held past its lease."""
    t0, said = time.monotonic(), False
    while True:
        st = b.search.status(store)
        if st.finished:
            return
        b.search.help(store, st, lease_s=lease_s)
        st = b.search.status(store)
        if st.finished:
            return
        if on_wait is not None and not said and st.running:
            on_wait(f"waiting for other workers of {b.task.name}: {st.detail}")
            said = True
        if timeout_s is not None and time.monotonic() - t0 > timeout_s:
            raise StorageError(f"timed out after {timeout_s:g} s waiting for other workers of {b.task.name} "
                               f"({st.detail})", hint="if they died, continue with `mlsysim study run FILE --resume`")
        time.sleep(poll_s)


def collect_task(b: BoundTask, store: ChunkStore, url: str, *, wall_s: float | None = None):
    """The task's SearchResult, from storage only (no new evaluation of the search)."""
    from ..dse.engine import build_result

    t0 = time.perf_counter()
    st = b.search.status(store)
    if not st.finished:
        raise UserInputError(f"search {b.task.name!r} is not finished ({st.detail})",
                             hint="finish it with `mlsysim study run FILE --resume` (or `study worker`) first")
    outcome = b.search.collect(store)
    wall = wall_s if wall_s is not None else time.perf_counter() - t0
    return build_result(b.ctx, b.dse.winner, b.backend, outcome, seed=b.task.seed, wall=wall, budget=b.task.budget,
                        storage=url, n_jobs=1)


def _close(bound: list[BoundTask]) -> None:
    for b in bound:
        b.search.close()


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
    bound: list[BoundTask] = []
    try:
        sstore.register(study)
        bound = [bind_task(t, sstore.chunks) for t in study.tasks]
        notes = []
        for b in bound if resume else []:
            note = b.search.recover(sstore.chunks)
            if note:
                notes.append(f"{b.task.name}: {note}")
        t0 = time.perf_counter()
        walls: dict[str, float] = {}
        with Poller(bound, sstore.chunks, progress):
            workers = _work_phase(study, url, jobs, lambda k: k)
            for w in workers:
                walls[w["task"]] = max(walls.get(w["task"], 0.0), w["wall_s"])
            for b in bound:
                tw = time.perf_counter()
                wait_task(b, sstore.chunks, timeout_s=wait_timeout_s, on_wait=on_message)
                walls[b.task.name] = walls.get(b.task.name, 0.0) + (time.perf_counter() - tw)
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
        _close(bound)
        sstore.dispose()


@quiet_numpy
def work_study(study: Study, storage: str, *, jobs: int = 1, progress: Progress | None = None) -> list[dict]:
    """Be one worker of ``study`` on a shared ``storage``: evaluate whatever is left, then return
    (no waiting, no report). Returns what each worker task did."""
    url = resolve_storage(storage)
    sstore = StudyStore(url)
    bound: list[BoundTask] = []
    try:
        sstore.register(study)
        bound = [bind_task(t, sstore.chunks) for t in study.tasks]
        base = random.SystemRandom().randrange(1, 2 ** 20)  # distinct optuna sampler seeds per worker
        with Poller(bound, sstore.chunks, progress):
            return _work_phase(study, url, jobs, lambda k: base + k)
    finally:
        _close(bound)
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
    bound: list[BoundTask] = []
    try:
        bound = [bind_task(t) for t in study.tasks]
        walls = row.get("walls") or {}
        results = [collect_task(b, sstore.chunks, url, wall_s=walls.get(b.task.name)) for b in bound]
    finally:
        _close(bound)
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
        for row in sstore.all():
            study = study_from_record(row["record"])
            tasks = []
            for t in study.tasks:
                b = bind_task(t)
                st = b.search.status(sstore.chunks)
                b.search.close()
                tasks.append({"name": t.name, "backend": b.search.label, "state": st.state, "done": st.done,
                              "total": st.total, "evaluated": st.evaluated, "feasible": st.feasible,
                              "detail": st.detail})
            done = sum(t["done"] for t in tasks)
            total = sum(t["total"] for t in tasks)
            finished = sum(t["state"] == "done" for t in tasks)
            state = "done" if finished == len(tasks) else ("todo" if all(t["state"] == "todo" for t in tasks)
                                                           else "running")
            out.append({"study": study.name, "study_id": row["study_id"], "question": study.question,
                        "source": study.source, "created": row["created"], "state": state,
                        "searches": len(tasks), "searches_done": finished,
                        "progress": round(done / total, 6) if total else 1.0, "tasks": tasks})
    finally:
        sstore.dispose()
    return out


__all__ = ["run_study", "work_study", "collect_study", "list_studies", "bind_task", "work_task", "snapshot",
           "StudyRun", "redact"]
