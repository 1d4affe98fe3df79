"""A search whose state lives in a shared SQL storage, so that any process that reaches the
storage can work on it, watch it, resume it or collect its result.

``Backend.stored(ctx, seed=, budget=)`` returns the backend's ``StoredSearch``:

* ``open(store)`` -- create what workers need in the storage (idempotent);
* ``work(store)`` -- one worker's share: claim and evaluate until nothing is left to claim;
* ``status(store)`` -- progress from storage alone (``Status``), for bars, lists and waiting;
* ``recover(store)`` -- ``--resume``: return work a killed process held to the queue;
* ``help(store, status)`` -- while waiting for others, take over work that is available again;
* ``collect(store)`` -- the ``Outcome`` rebuilt from storage (no new search).

The exhaustive backend stores chunks (``backends/exhaustive.py``), optuna its own study
(``backends/optuna_stored.py``); any other backend is a ``OneShotSearch``: one unit of work,
run in memory by whoever claims it and stored whole.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Optional

import numpy as np

from .backends.base import Outcome, SearchContext, precount
from .chunk_store import ChunkStore, pack, unpack, worker_id
from .table import Table

LEASE_S = 1800.0


@dataclasses.dataclass
class Status:
    """Progress of one stored search, read from storage."""

    done: int               # progress units done (raw points, trials or searches)
    total: int
    evaluated: int          # configurations evaluated
    feasible: int
    front: np.ndarray       # min-form objectives of feasible points seen so far
    finished: bool
    state: str              # todo | running | done
    running: int            # units held by workers now
    detail: str             # e.g. "3/21 chunks, 2 running"


class StoredSearch:
    """The interface (see the module docstring); ``key`` names the search in the storage and
    ``total`` counts its progress units (``unit``)."""

    unit = "searches"
    key: str
    total: int

    def __init__(self, ctx: SearchContext, backend, *, seed: int, budget: Optional[int]):
        self.ctx, self.backend, self.seed, self.budget = ctx, backend, int(seed), budget
        self.choice = None  # set by ``auto``: what it picked and why (recorded by ``collect``)
        self._valid: Optional[tuple] = None

    @property
    def label(self) -> str:
        """``name`` or ``name:sampler`` of the backend that runs the search."""
        sampler = self.sampler
        return self.backend.name + (f":{sampler}" if sampler else "")

    @property
    def sampler(self) -> Optional[str]:
        return self.backend.sampler

    def valid_size(self) -> Optional[int]:
        """Valid configurations in the space (None when too large to count), computed once."""
        if self._valid is None:
            self._valid = (precount(self.ctx)[0],)
        return self._valid[0]

    def open(self, store: ChunkStore) -> None:
        raise NotImplementedError

    def work(self, store: ChunkStore, *, seed_offset: int = 0, lease_s: float = LEASE_S) -> int:
        raise NotImplementedError

    def status(self, store: ChunkStore) -> Status:
        raise NotImplementedError

    def recover(self, store: ChunkStore) -> Optional[str]:
        raise NotImplementedError

    def help(self, store: ChunkStore, status: Status, *, lease_s: float = LEASE_S) -> None:
        """While waiting for other workers: do any work that is (again) available."""
        self.work(store, lease_s=lease_s)

    def collect(self, store: ChunkStore) -> Outcome:
        outcome = self._collect(store)
        if self.choice is not None:
            from .backends.auto import record_choice

            record_choice(outcome, self.choice)
        return outcome

    def _collect(self, store: ChunkStore) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections this object keeps (readers); it stays usable."""


def chunk_status(ctx: SearchContext, store: ChunkStore, key: str, n_chunks: int, total: int,
                 done_units: Optional[int] = None) -> Status:
    """``Status`` of a search kept as chunks (``done_units``: default the raw points of done chunks)."""
    p = store.progress(key)
    infos = store.infos(key) if p["done"] else {}
    fronts = [np.asarray(i["front"], float) for i in infos.values() if i.get("front")]
    state = "done" if p["done"] == n_chunks else ("running" if p["running"] or p["done"] else "todo")
    detail = f"{p['done']}/{n_chunks} chunks" + (f", {p['running']} running" if p["running"] else "")
    return Status(done=int(p["raw_done"] if done_units is None else done_units), total=total,
                  evaluated=sum(int(i.get("valid", 0)) for i in infos.values()),
                  feasible=sum(int(i.get("feasible", 0)) for i in infos.values()),
                  front=np.vstack(fronts) if fronts else np.zeros((0, len(ctx.objectives))),
                  finished=p["done"] == n_chunks, state=state, running=p["running"], detail=detail)


def reset_note(n: int, what: str) -> Optional[str]:
    return f"{n} {what}(s) left running by an earlier process were queued again" if n else None


class OneShotSearch(StoredSearch):
    """A search stored whole (pymoo, or any backend without its own stored form): whoever
    claims it runs it in memory and stores the outcome."""

    def __init__(self, ctx, backend, *, seed, budget, default_budget: int):
        super().__init__(ctx, backend, seed=seed, budget=budget)
        ident = json.dumps({"problem": ctx.problem_id(), "space": ctx.space.fingerprint(),
                            "objectives": [str(o) for o in ctx.objectives],
                            "constraints": [c.text for c in ctx.constraints], "backend": backend.name,
                            "sampler": backend.sampler, "options": backend.options.model_dump(exclude_unset=True),
                            "budget": budget, "seed": self.seed}, sort_keys=True, default=str)
        self.key = f"{backend.name}-" + hashlib.sha256(ident.encode()).hexdigest()[:16]
        self.total = int(budget or default_budget)

    def open(self, store):
        store.open_study(self.key, [(0, 1)], {"kind": self.backend.name, "problem": self.ctx.problem_id(),
                                              "sampler": self.sampler})

    def work(self, store, *, seed_offset=0, lease_s=LEASE_S):
        worker = worker_id()
        if store.claim(self.key, worker, lease_s) is None:
            return 0
        out = self.backend.run(self.ctx, budget=self.budget, seed=self.seed, n_jobs=1, storage=None, progress=None)
        meta = {"evaluations": out.evaluations, "proposals": out.proposals, "sampler": out.sampler,
                "valid_size": out.valid_size, "truncated": out.truncated, "counts": out.counts, "notes": out.notes,
                "extra": out.extra, "pareto": None if out.pareto is None else [int(i) for i in out.pareto]}
        feasible = out.table["feasible"] if len(out.table) else np.zeros(0, bool)
        info = {"raw": out.proposals, "valid": out.evaluations, "feasible": int(feasible.sum())}
        return int(store.complete(self.key, 0, worker, pack(out.table, meta), info))

    def status(self, store):
        st = chunk_status(self.ctx, store, self.key, 1, self.total)
        st.done = self.total if st.finished else 0
        return st

    def recover(self, store):
        return reset_note(store.reset_running(self.key), "search")

    def _collect(self, store):
        ((_, _, _, payload),) = store.done_parts(self.key)
        table, meta = unpack(payload)
        pareto = None if meta.get("pareto") is None else np.asarray(meta["pareto"], dtype=np.int64)
        return Outcome(table=table if table is not None else Table(), evaluations=int(meta["evaluations"]),
                       proposals=int(meta["proposals"]), sampler=meta.get("sampler"),
                       valid_size=meta.get("valid_size"), pareto=pareto, truncated=bool(meta.get("truncated")),
                       counts=meta.get("counts") or {}, notes=list(meta.get("notes") or []),
                       extra=dict(meta.get("extra") or {}))
