"""Analytic toy problems shared by the DSE engine tests (no physics; no tests in this module)."""
from __future__ import annotations

import numpy as np

from mlsysim.dse import SearchSpace

D_PENALTY = {"x": 0.0, "y": 0.3, "z": 0.6, "w": 0.9, "v": 1.2}


class Quadratic:
    """Single objective over an int grid: f = (x - 7)^2 + (y + 3)^2 + 1, optimum at (7, -3)."""

    metric_units = {"f": "", "t": "s"}
    display_units = {"t": "ms"}
    constants = {}
    id = "toy:quadratic"

    def evaluate(self, c):
        x, y = c["x"].astype(float), c["y"].astype(float)
        return {"f": (x - 7) ** 2 + (y + 3) ** 2 + 1, "t": (x + 20) * 1e-3, "feasible": np.ones(len(x), bool)}


QUAD_SPACE = {"dimensions": {"x": {"type": "int", "low": -20, "high": 20}, "y": {"type": "int", "low": -10, "high": 10}}}


class LineFront:
    """Bi-objective f1 = x, f2 = (k - x)^2 over x in 0..k with a useless second dimension y:
    every x is Pareto-optimal at y = 0 (f2 grows with y)."""

    metric_units = {"f1": "", "f2": ""}
    display_units = {}
    constants = {"k": 12.0}
    id = "toy:line"

    def evaluate(self, c):
        x, y = c["x"].astype(float), c["y"].astype(float)
        return {"f1": x, "f2": (12 - x) ** 2 + y, "feasible": np.ones(len(x), bool)}


LINE_SPACE = {"dimensions": {"x": {"type": "int", "low": 0, "high": 12}, "y": {"type": "int", "low": 0, "high": 5}}}


class ZDTLike:
    """A discrete ZDT1-like problem on ~50k points with rules and model infeasibility.

    x1 = a/49; g = 1 + 4 b/39 + 0.5 |log2 c - 2| + penalty(d); f1 = x1, f2 = g (1 - sqrt(x1/g)).
    The exact front is b = 0, c = 4, d = "x" for every a allowed by the rules. Rows with d = "v"
    and a > 40 are infeasible (the model says so)."""

    metric_units = {"f1": "", "f2": "", "cost": "USD"}
    display_units = {}
    constants = {"m": 7.0}
    id = "toy:zdt"

    def evaluate(self, c):
        a, b, cc = c["a"].astype(float), c["b"].astype(float), c["c"].astype(float)
        pen = np.zeros(len(a))
        for k, v in D_PENALTY.items():
            pen[c["d"] == k] = v
        x1 = a / 49.0
        g = 1 + 4 * b / 39.0 + 0.5 * np.abs(np.log2(cc) - 2) + pen
        feasible = ~((c["d"] == "v") & (a > 40))
        return {"f1": x1, "f2": g * (1 - np.sqrt(x1 / g)), "cost": 100 * cc + b,
                "feasible": feasible, "reason": np.where(feasible, "", "too hot").astype(object)}


ZDT_SPACE = {
    "dimensions": {
        "a": {"type": "int", "low": 0, "high": 49},
        "b": {"type": "int", "low": 0, "high": 39},
        "c": {"type": "pow2", "low": 1, "high": 16},
        "d": {"type": "categorical", "values": list(D_PENALTY)},
    },
    "rules": ["(a + b) % m != 3", "c <= 8 or b < 20"],
}


def zdt_space() -> SearchSpace:
    return SearchSpace.from_dict(ZDT_SPACE)
