"""Studies: batch jobs of design-space searches from YAML that leave a report folder.

A study file (``studies/*.yaml``) names one or more scenarios (workload, hardware, ops), a search
space, objectives, constraints, a backend and budget, an optional sweep, and report options.
``load_study(path)`` validates it (errors name the file, line and field); ``run_study`` runs every
(scenario x sweep value) search -- in parallel through joblib, resumable from an SQL storage
(SQLite in the out folder by default, PostgreSQL for workers on many machines) -- and
``write_report`` writes ``result.json``, ``trials.csv``, ``pareto.csv``, ``report.md`` and
``report.html``. See docs/studies.md.
"""
from __future__ import annotations

__all__ = ["load_study", "Study", "Task", "run_study", "work_study", "collect_study", "write_report",
           "StudyStore"]


def __getattr__(name):  # lazy: importing mlsysim.study stays cheap
    if name in ("load_study", "Study", "Task", "study_from_record"):
        from . import spec

        return getattr(spec, name)
    if name in ("run_study", "work_study", "collect_study"):
        from . import runner

        return getattr(runner, name)
    if name == "write_report":
        from .report import write_report

        return write_report
    if name == "StudyStore":
        from .storage import StudyStore

        return StudyStore
    raise AttributeError(f"module 'mlsysim.study' has no attribute {name!r}")
