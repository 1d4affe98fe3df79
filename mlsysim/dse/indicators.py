"""Quality indicators of an approximated Pareto front (all in minimization form).

* hypervolume -- volume dominated by the front up to a reference point (Zitzler & Thiele 1998),
  via ``pymoo.indicators.hv.HV`` (moocore underneath).
* IGD+ -- inverted generational distance plus, Pareto-compliant (Ishibuchi et al. 2015), via
  ``pymoo.indicators.igd_plus.IGDPlus``.
* coverage -- share of the exact front's distinct points that were found (a front can score 90%
  hypervolume with almost none of the exact points: report both, see OPTIMIZER_FACTS).

Fronts are compared after normalizing by the *reference* front's ideal and nadir points, with
the reference point at 1.1 in every normalized objective (pymoo's convention).
"""
from __future__ import annotations

import numpy as np

from .pareto import non_dominated, unique_rows

REF_POINT = 1.1


def normalize(F: np.ndarray, ideal: np.ndarray, nadir: np.ndarray) -> np.ndarray:
    """Scale each objective so that ideal -> 0 and nadir -> 1 (a zero range stays 0)."""
    span = np.where(nadir - ideal > 0, nadir - ideal, 1.0)
    return (np.asarray(F, dtype=float) - ideal) / span


def bounds(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ideal, nadir) of a front: per-objective minimum and maximum."""
    F = np.asarray(F, dtype=float)
    return F.min(axis=0), F.max(axis=0)


def hypervolume(F: np.ndarray, ref: np.ndarray | float = REF_POINT, *, ideal=None, nadir=None) -> float:
    """Hypervolume of ``F`` (normalized by ideal/nadir when given) w.r.t. ``ref``."""
    F = np.asarray(F, dtype=float)
    if len(F) == 0:
        return 0.0
    if ideal is not None:
        F = normalize(F, np.asarray(ideal, float), np.asarray(nadir, float))
    ref = np.broadcast_to(np.asarray(ref, dtype=float), (F.shape[1],))
    F = F[np.all(F < ref, axis=1)]
    if len(F) == 0:
        return 0.0
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=ref)(unique_rows(F)))


def igd_plus(F: np.ndarray, reference_front: np.ndarray, *, ideal=None, nadir=None) -> float:
    """IGD+ of ``F`` against ``reference_front`` (lower is better; 0 = the whole front found)."""
    F, R = np.asarray(F, dtype=float), np.asarray(reference_front, dtype=float)
    if len(F) == 0:
        return float("inf")
    if ideal is not None:
        F, R = normalize(F, ideal, nadir), normalize(R, ideal, nadir)
    from pymoo.indicators.igd_plus import IGDPlus

    return float(IGDPlus(unique_rows(R))(unique_rows(F)))


def coverage(F: np.ndarray, exact_front: np.ndarray, rtol: float = 1e-9) -> float:
    """Share of the distinct points of ``exact_front`` that appear in ``F``."""
    E, F = unique_rows(exact_front), unique_rows(F)
    if len(E) == 0:
        return 1.0
    if len(F) == 0:
        return 0.0
    scale = np.maximum(np.abs(E).max(axis=0), 1e-300)
    hit = np.zeros(len(E), dtype=bool)
    for lo in range(0, len(E), 1024):
        d = np.abs(E[lo:lo + 1024, None, :] - F[None, :, :]) <= rtol * scale
        hit[lo:lo + 1024] = np.any(np.all(d, axis=2), axis=1)
    return float(hit.mean())


def compare_fronts(found: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """Hypervolume ratio, IGD+ and coverage of ``found`` against the ``exact`` front, both
    normalized by the exact front's ideal and nadir (reference point 1.1)."""
    exact = exact[non_dominated(exact)] if len(exact) else exact
    ideal, nadir = bounds(exact)
    hv_exact = hypervolume(exact, ideal=ideal, nadir=nadir)
    hv_found = hypervolume(found, ideal=ideal, nadir=nadir) if len(found) else 0.0
    return {
        "hypervolume": hv_found,
        "hypervolume_exact": hv_exact,
        "hypervolume_ratio": hv_found / hv_exact if hv_exact > 0 else float("nan"),
        "igd_plus": igd_plus(found, exact, ideal=ideal, nadir=nadir),
        "coverage": coverage(found, exact),
    }
