"""A progress bar on stderr for searches longer than a second (rich, imported only when shown).

Used as the ``progress(done, total, best)`` callback of the DSE backends. Nothing is drawn when
disabled (JSON output), when stderr is not a terminal (CI logs; set MLSYSIM_PROGRESS=1 to force
it), or when the search ends within ``delay_s``.
"""
from __future__ import annotations

import os
import sys
import time


class SearchProgress:
    def __init__(self, enabled: bool = True, label: str = "search", delay_s: float = 1.0):
        forced = os.environ.get("MLSYSIM_PROGRESS") == "1"
        self.enabled = enabled and (forced or sys.stderr.isatty())
        self.label, self.delay_s = label, delay_s
        self.t0 = time.perf_counter()
        self._bar = None
        self._task = None

    def __enter__(self) -> "SearchProgress":
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __call__(self, done: int, total: int, best: dict | None = None) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            if time.perf_counter() - self.t0 < self.delay_s:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[best]}"),
                                 console=Console(file=sys.stderr), transient=True)
            self._bar.start()
            self._task = self._bar.add_task(self.label, total=total, best="")
        text = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in (best or {}).items())
        self._bar.update(self._task, completed=done, total=total, best=text)


class StudyProgress(SearchProgress):
    """The progress bar of ``mlsysim study run|worker``: points done of all searches (every
    worker's, read from the study's storage), evaluations, feasible count, current best, searches
    finished and the ETA. Called with the snapshots of ``mlsysim.study.runner.snapshot``; same
    display rules as ``SearchProgress`` (stderr, terminal or MLSYSIM_PROGRESS=1, after ``delay_s``)."""

    def __init__(self, enabled: bool = True, label: str = "study", delay_s: float = 1.0):
        super().__init__(enabled, label, delay_s)

    @staticmethod
    def describe(snap: dict) -> str:
        parts = [f"{snap.get('evaluated', 0):,} evaluated", f"{snap.get('feasible', 0):,} feasible"]
        if snap.get("searches", 1) > 1:
            parts.append(f"{snap.get('searches_done', 0)}/{snap['searches']} searches done")
        if snap.get("best"):
            parts.append(f"best {snap['best']}")
        return ", ".join(parts)

    def __call__(self, snap: dict) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            if time.perf_counter() - self.t0 < self.delay_s:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=20), MofNCompleteColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                 console=Console(file=sys.stderr), transient=True)
            self._bar.start()
            label = self.label if len(self.label) <= 28 else self.label[:27] + "…"
            self._task = self._bar.add_task(label, total=max(int(snap.get("total", 0)), 1), info="")
        self._bar.update(self._task, completed=int(snap.get("done", 0)), total=max(int(snap.get("total", 0)), 1),
                         info=self.describe(snap))
