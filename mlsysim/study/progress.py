"""A study's progress, read from storage: what a progress bar shows (``snapshot``) and the
daemon thread that polls it while the study runs (``Poller``), so the bar counts the work of
every worker, local or remote."""
from __future__ import annotations

import threading
from typing import Callable

import numpy as np

POLL_S = 0.5
Progress = Callable[[dict], None]


def best_text(ctx, front: np.ndarray) -> str:
    """'metric value unit' (one objective) or 'N on the front' (several)."""
    from ..dse.pareto import pareto_indices
    from ..dse.summary import fmt

    front = front[np.all(np.isfinite(front), axis=1)] if len(front) else front
    if not len(front):
        return ""
    if len(ctx.objectives) == 1:
        o = ctx.objectives[0]
        v = o.sign * float(front[:, 0].min()) * ctx.display_factor(o.metric)
        unit = ctx.display_unit(o.metric)
        return f"{o.metric} {fmt(v)}{' ' + unit if unit else ''}"
    return f"{len(pareto_indices(front, np.ones(len(front), bool)))} on the front"


def snapshot(bound: list, store) -> dict:
    """Progress of a whole study (its bound tasks, see ``runner.bind_task``)."""
    rows = [b.search.status(store) for b in bound]
    current = next((i for i, r in enumerate(rows) if not r.finished), len(rows) - 1)
    b, r = bound[current], rows[current]
    label = f"{b.task.name}: " if len(bound) > 1 else ""
    return {"done": sum(r.done for r in rows), "total": sum(r.total for r in rows),
            "evaluated": sum(r.evaluated for r in rows), "feasible": sum(r.feasible for r in rows),
            "best": (label + best_text(b.ctx, r.front)) if len(r.front) else "",
            "searches_done": sum(r.finished for r in rows), "searches": len(rows)}


class Poller:
    """Calls ``callback(snapshot(...))`` every ``interval`` seconds from a daemon thread (and once
    at the start and the end); a no-op without a callback."""

    def __init__(self, bound: list, store, callback: Progress | None, interval: float = POLL_S):
        self.bound, self.store, self.callback, self.interval = bound, store, callback, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlsysim-study-progress", daemon=True)

    def __enter__(self):
        if self.callback is not None:
            self.poll()
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.callback is None:
            return
        self._stop.set()
        self._thread.join(timeout=10)
        if exc[0] is None:
            self.poll()

    def _loop(self):
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self):
        try:
            self.callback(snapshot(self.bound, self.store))
        except Exception:  # noqa: BLE001 - a progress display must never break the study
            pass
