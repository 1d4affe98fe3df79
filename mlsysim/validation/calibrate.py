"""Fitted constants and leave-one-source-out (LOSO) figures for the training table.

Only constants marked ``fitted: true`` in ``mlsysim/data/calibration/efficiency.yaml`` are chosen by
looking at validation runs (today one: ``training_gemm_factor``). Everything else comes from datasheets
and kernel benchmarks. The fit minimizes the mean absolute error over a grid of values; for the LOSO
figure each source in turn is held out, the constant re-fitted on the others, and the held-out runs
predicted with that value -- so a source never validates a constant it helped choose.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Values of ``training_gemm_factor`` the fit tries (a 1-D grid is exact enough at 0.01 steps).
FACTOR_GRID = np.round(np.arange(0.70, 1.0001, 0.01), 2)


@dataclass
class LosoResult:
    catalog_value: float           # the value shipped in efficiency.yaml
    all_sources_fit: float         # the fit on every run
    per_source_fit: dict           # source -> the fit without it
    held_out_error: dict           # run id -> error when its source was held out
    mae: float                     # mean |held-out error| over all runs
    max: float
    worst: str


def error_matrix(cases) -> np.ndarray:
    """Signed errors of every case (columns) at every grid value (rows)."""
    from ..physics.efficiency import calibrated
    from .training import predict_case

    errors = np.empty((len(FACTOR_GRID), len(cases)))
    for i, value in enumerate(FACTOR_GRID):
        with calibrated(training_gemm_factor=float(value)):
            errors[i] = [predict_case(c).error for c in cases]
    return errors


def best_value(errors: np.ndarray, mask: np.ndarray) -> int:
    """Grid row with the least mean absolute error over the cases in ``mask``."""
    return int(np.argmin(np.abs(errors[:, mask]).mean(axis=1)))


def leave_one_source_out(cases, errors: np.ndarray | None = None) -> LosoResult:
    from ..physics.efficiency import fitted_constant

    errors = error_matrix(cases) if errors is None else errors
    sources = np.array([c.source for c in cases])
    held = np.empty(len(cases))
    per_source = {}
    for src in dict.fromkeys(sources):
        out = sources == src
        row = best_value(errors, ~out)
        per_source[src] = float(FACTOR_GRID[row])
        held[out] = errors[row, out]
    worst = int(np.argmax(np.abs(held)))
    return LosoResult(catalog_value=fitted_constant("training_gemm_factor"),
                      all_sources_fit=float(FACTOR_GRID[best_value(errors, np.ones(len(cases), bool))]),
                      per_source_fit=per_source, held_out_error={c.id: float(e) for c, e in zip(cases, held)},
                      mae=float(np.abs(held).mean()), max=float(np.abs(held).max()), worst=cases[worst].id)


def format_loso(result: LosoResult, goal: float) -> str:
    fits = ", ".join(f"{s} {v:.2f}" for s, v in result.per_source_fit.items())
    met = "met" if result.mae <= goal else "NOT met"
    return (f"leave-one-source-out: MAE {100 * result.mae:.1f}%, max {100 * result.max:.1f}% ({result.worst})"
            f"   [goal: <= {100 * goal:.0f}%: {met}]\n"
            f"  training_gemm_factor: shipped {result.catalog_value:.2f}, fit on all sources "
            f"{result.all_sources_fit:.2f}; without each source: {fits}")
