"""joblib helpers: one large task per worker, and several searches side by side.

A warm loky pool costs ~10 ms plus ~20 us per task, so a task must carry >= ~20 ms of work
(10^5-10^6 configurations) for parallelism to pay (OPTIMIZER_FACTS). No backend is forced here:
inside ``with joblib.parallel_config(backend="dask"):`` (or ``"ray"``) the same calls run on a
cluster.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence


def effective_n_jobs(n_jobs: int) -> int:
    """Workers joblib would use for ``n_jobs`` (-1 = all cores) under the active backend."""
    import joblib

    return max(1, int(joblib.effective_n_jobs(n_jobs)))


def parallel_map(fn: Callable, arg_tuples: Sequence[tuple], n_jobs: int = -1) -> Iterable[Any]:
    """``fn(*args)`` for each tuple, in order, lazily, with joblib (results come back in order)."""
    if n_jobs == 1 or len(arg_tuples) <= 1:
        return (fn(*a) for a in arg_tuples)
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs, return_as="generator")(delayed(fn)(*a) for a in arg_tuples)


def _run_one(dse, kwargs: dict):
    return dse.run(**kwargs)


def run_many(searches: Sequence[tuple[Any, dict]], n_jobs: int = -1) -> list:
    """Run several independent searches ``[(DSE, run_kwargs), ...]`` in parallel; each should be
    large (a whole search is one task). Returns their SearchResults in order."""
    return list(parallel_map(_run_one, [(d, dict(kw)) for d, kw in searches], n_jobs=n_jobs))
