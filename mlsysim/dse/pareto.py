"""Pareto (non-dominated) filtering, for minimization.

Maximized objectives are sign-flipped first (:func:`min_form`). A point is kept when no other
point is at least as good in every objective and strictly better in one. **Duplicates are all
kept**: several configurations with the same objective vector on the front are all reported (they
are different designs with equal merit); indicators deduplicate in objective space themselves.

Two objectives use an O(n log n) sort-and-sweep (Kung, Luccio & Preparata 1975); more use
``moocore.is_nondominated(keep_weakly=True)`` (imported lazily), else a blocked O(n^2) numpy scan.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np


def min_form(values: np.ndarray, signs: Sequence[float]) -> np.ndarray:
    """Objective matrix (n, m) with maximized columns negated."""
    return np.asarray(values, dtype=float) * np.asarray(signs, dtype=float)[None, :]


def non_dominated(F: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``F`` (n, m), minimizing every column."""
    F = np.asarray(F, dtype=float)
    if F.ndim != 2:
        raise ValueError(f"F must be (n, m), got shape {F.shape}")
    n, m = F.shape
    if n == 0:
        return np.zeros(0, dtype=bool)
    if m == 1:
        return F[:, 0] == F[:, 0].min()
    if m == 2:
        return _sweep2(F)
    try:
        import moocore
    except ImportError:
        return non_dominated_numpy(F)
    return np.asarray(moocore.is_nondominated(F, keep_weakly=True), dtype=bool)


def _sweep2(F: np.ndarray) -> np.ndarray:
    order = np.lexsort((F[:, 1], F[:, 0]))
    f1, f2 = F[order, 0], F[order, 1]
    new_group = np.ones(len(f1), dtype=bool)
    new_group[1:] = f1[1:] != f1[:-1]
    group = np.cumsum(new_group) - 1
    group_min = f2[new_group]                      # sorted by f2 inside each f1 group
    prev_best = np.concatenate(([np.inf], np.minimum.accumulate(group_min)[:-1]))
    keep_sorted = (f2 == group_min[group]) & (group_min[group] < prev_best[group])
    keep = np.empty(len(f1), dtype=bool)
    keep[order] = keep_sorted
    return keep


def non_dominated_numpy(F: np.ndarray, block: int = 512) -> np.ndarray:
    """Blocked O(n^2 m) reference implementation (no optional dependency)."""
    F = np.asarray(F, dtype=float)
    n = len(F)
    keep = np.ones(n, dtype=bool)
    for lo in range(0, n, block):
        P = F[lo:lo + block]
        le = np.all(F[None, :, :] <= P[:, None, :], axis=2)
        lt = np.any(F[None, :, :] < P[:, None, :], axis=2)
        keep[lo:lo + block] = ~np.any(le & lt, axis=1)
    return keep


def pareto_indices(F: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
    """Indices (ascending) of the non-dominated rows among ``eligible`` rows with finite values."""
    F = np.asarray(F, dtype=float)
    ok = np.all(np.isfinite(F), axis=1)
    if eligible is not None:
        ok &= np.asarray(eligible, dtype=bool)
    idx = np.flatnonzero(ok)
    return idx[non_dominated(F[idx])] if len(idx) else idx


def unique_rows(F: np.ndarray) -> np.ndarray:
    """Distinct objective vectors (for indicators)."""
    return np.unique(np.asarray(F, dtype=float), axis=0) if len(F) else np.asarray(F, dtype=float)
