"""Prediction intervals from the validation residuals (issue 11 item 7).

Method: for every validation case the ratio *measured / predicted* is taken in rate orientation
(throughput, MFU: as is; step time, TTFT: inverted, so a ratio < 1 always means "the model is
optimistic"). The 10th and 90th percentiles of those ratios per family -- training (leave-one-source-out
residuals: constants re-fitted without the case's source), serving, energy -- give an 80% interval:
a reported rate x lies in [x·lo, x·hi], a reported time t in [t/hi, t/lo], an amount (energy, carbon)
in [x·lo, x·hi] with the energy family's ratios. The figures live in
``data/calibration/intervals.yaml``, written by ``python -m mlsysim.validation --write-intervals``;
a test fails when they are stale. Empirical quantiles of held-out residuals are the split-conformal
construction (Vovk et al. 2005; Lei et al. 2018, JASA 113(523)); errors of similar configurations
are correlated, so treating each metric's interval independently is conservative.
"""
from __future__ import annotations

import functools
import pathlib

import numpy as np

INTERVALS_FILE = pathlib.Path(__file__).resolve().parent.parent / "data" / "calibration" / "intervals.yaml"
QUANTILES = (0.10, 0.90)

#: How a metric depends on the family's rate error: "rate" scales with it, "time" inversely,
#: "amount" with the energy ratio.
RATE, TIME, AMOUNT = "rate", "time", "amount"
METRIC_ORIENTATION = {
    "tokens_per_s": RATE, "samples_per_s": RATE, "throughput": RATE, "mfu": RATE, "hfu": RATE,
    "goodput": RATE, "step_time": TIME, "latency": TIME, "time_to_train": TIME, "gpu_hours_per_Mtoken": TIME,
    "usd_per_Mtoken": TIME, "usd_per_million_tokens": TIME, "cost_usd": TIME, "ttft": TIME, "itl": TIME,
    "e2e_latency": TIME, "energy": AMOUNT, "energy_kwh": AMOUNT, "carbon_kg": AMOUNT, "carbon": AMOUNT,
    "water_l": AMOUNT, "avg_power_kw": AMOUNT,
}


@functools.lru_cache(maxsize=1)
def interval_table() -> dict:
    import yaml

    with open(INTERVALS_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def ratio_band(ratios) -> tuple[float, float]:
    """(lo, hi) = the :data:`QUANTILES` of measured/predicted ratios."""
    lo, hi = np.quantile(np.asarray(ratios, dtype=float), QUANTILES)
    return float(lo), float(hi)


def metric_interval(metric: str, value, family: str):
    """The 80% interval of a reported ``value`` of ``metric`` under ``family``'s residuals
    (``training``, ``serving``; amounts use ``energy``), or None for a metric without one."""
    kind = METRIC_ORIENTATION.get(metric)
    if kind is None or value is None or not np.isfinite(value):
        return None
    fam = interval_table()["families"]["energy" if kind == AMOUNT else family]
    lo, hi = fam["ratio_low"], fam["ratio_high"]
    return (value / hi, value / lo) if kind == TIME else (value * lo, value * hi)


def metrics_interval(metrics: dict, family: str) -> dict:
    """``{metric: [low, high]}`` for every metric of ``metrics`` that has an interval."""
    out = {}
    for k, v in metrics.items():
        iv = metric_interval(k, v, family)
        if iv is not None:
            out[k] = [iv[0], iv[1]]
    return out


def robust_pareto(values: np.ndarray, front_index, objectives, family: str) -> np.ndarray:
    """Which Pareto points stay Pareto-optimal whatever the errors within the interval: no other
    feasible point (with different objective values) at its optimistic end dominates the Pareto point
    at its pessimistic end. ``values`` holds the objectives of the feasible points (columns in
    ``objectives`` order: (metric, +1 maximize or -1 minimize)), ``front_index`` the rows of the Pareto
    points; a metric without an interval is taken as exact."""
    pts = np.asarray(values, dtype=float)
    front_index = np.asarray(front_index, dtype=int)
    pess, opt = np.empty((len(front_index), pts.shape[1])), np.empty_like(pts)
    for j, (metric, sign) in enumerate(objectives):
        band = metric_interval(metric, 1.0, family)
        lo, hi = (1.0, 1.0) if band is None else band
        worse, better = (lo, hi) if sign > 0 else (hi, lo)      # maximize: the low end is worse
        pess[:, j] = pts[front_index, j] * worse * sign          # "larger is better" space
        opt[:, j] = pts[:, j] * better * sign
    robust = np.ones(len(front_index), dtype=bool)
    for i, row in enumerate(front_index):
        other = np.any(pts != pts[row], axis=1)
        dominated = other & np.all(opt >= pess[i], axis=1) & np.any(opt > pess[i], axis=1)
        robust[i] = not dominated.any()
    return robust
