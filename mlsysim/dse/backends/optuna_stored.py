"""The optuna search as a ``StoredSearch``: one optuna study (named as ``OptunaBackend.run``
names it) in the shared database. Workers ask and tell until it holds ``budget`` trials
(COMPLETE + RUNNING); the result replays the COMPLETE trials (their configurations are
re-evaluated once, vectorized, to rebuild the table). A trial RUNNING longer than the lease is
presumed dead, marked FAIL and asked again by whoever waits.
"""
from __future__ import annotations

import threading

import numpy as np

from ..stored import LEASE_S, Status, StoredSearch
from .base import Outcome, TrialLog
from .optuna_backend import (DEFAULT_BUDGET, close_storage, open_storage, params_to_configs, quiet_optuna,
                             recover_running, study_name, work_on)


class OptunaSearch(StoredSearch):
    unit = "trials"

    def __init__(self, ctx, backend, *, seed, budget):
        super().__init__(ctx, backend, seed=seed, budget=budget)
        self._sampler = backend.sampler_for(ctx)
        self.total = int(budget or DEFAULT_BUDGET[self._sampler])
        self.key = backend.options.study_name or study_name(ctx, self.seed, self._sampler)
        self._reader = None  # (url, optuna storage) kept open for repeated status reads
        self._lock = threading.Lock()  # a progress thread reads status too

    @property
    def sampler(self):
        return self._sampler

    def open(self, store):
        """Nothing to create: the first worker creates the optuna study."""

    def work(self, store, *, seed_offset=0, lease_s=LEASE_S):
        return work_on(store.url, self.key, self.ctx, self._sampler, self.seed + seed_offset, self.backend.options,
                       self.total, valid_size=self.valid_size())["told"]

    def _with_study(self, url, fn):
        """``fn(study, storage)`` on the stored study (None when it does not exist yet)."""
        with quiet_optuna() as optuna:
            storage = open_storage(url)
            try:
                return fn(optuna.load_study(study_name=self.key, storage=storage), storage)
            except KeyError:
                return None
            finally:
                close_storage(storage)

    def _trials(self, url):
        with quiet_optuna(), self._lock:
            if self._reader is None or self._reader[0] != url:
                self._close_reader()
                self._reader = (url, open_storage(url))
            storage = self._reader[1]
            try:
                sid = storage.get_study_id_from_name(self.key)
            except KeyError:
                return []
            return storage.get_all_trials(sid, deepcopy=False)

    def status(self, store):
        from optuna.trial import TrialState

        trials = self._trials(store.url)
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        running = sum(t.state == TrialState.RUNNING for t in trials)
        feas = [t for t in complete if all(c <= 0 for c in (t.system_attrs.get("constraints") or [0.0]))]
        front = (np.array([np.asarray(t.values, float) * self.ctx.signs for t in feas]) if feas
                 else np.zeros((0, len(self.ctx.objectives))))
        unique = len({tuple(sorted(t.params.items())) for t in complete})
        valid = self.valid_size()
        finished = running == 0 and (len(complete) >= self.total or (valid is not None and unique >= valid))
        return Status(done=min(len(complete), self.total), total=self.total, evaluated=unique, feasible=len(feas),
                      front=front, finished=finished, state="done" if finished else ("running" if trials else "todo"),
                      running=running, detail=f"{len(complete)}/{self.total} trials"
                                              + (f", {running} running" if running else ""))

    def recover(self, store):
        n = self._with_study(store.url, recover_running)
        return f"{n} trial(s) left RUNNING by an earlier process were marked FAIL and asked again" if n else None

    def help(self, store, status, *, lease_s=LEASE_S):
        stale = lambda study, storage: recover_running(study, storage, older_than_s=lease_s, requeue=False)
        if status.running == 0 or self._with_study(store.url, stale):
            self.work(store, lease_s=lease_s)

    def _collect(self, store):
        from optuna.trial import TrialState

        def read(study, _storage):
            trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            return sorted(trials, key=lambda t: t.number), len(study.get_trials(deepcopy=False,
                                                                                states=(TrialState.FAIL,)))

        trials, failed = self._with_study(store.url, read) or ([], 0)
        log = TrialLog(self.ctx)
        if trials:
            log.submit(params_to_configs(self.ctx, [t.params for t in trials]))
        notes = [f"{len(trials)} completed optuna trial(s) of study {self.key!r}; their {log.evaluations:,} distinct "
                 "configurations were re-evaluated from storage to build the table"]
        if failed:
            notes.append(f"{failed} trial(s) failed (left RUNNING by a killed worker) and were asked again")
        valid = self.valid_size()
        if valid is not None and log.evaluations >= valid and len(trials) < self.total:
            notes.append(f"stopped early: all {valid:,} valid configurations have been evaluated")
        return Outcome(table=log.table(), evaluations=log.evaluations, proposals=len(trials), sampler=self._sampler,
                       valid_size=valid, notes=notes, extra={"study_name": self.key, "trials_complete": len(trials)})

    def close(self):
        with self._lock:
            self._close_reader()

    def _close_reader(self):
        if self._reader is not None:
            close_storage(self._reader[1])
            self._reader = None
