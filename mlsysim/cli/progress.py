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
