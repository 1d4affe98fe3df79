"""The outcome of a search: every trial, the Pareto set, the winner and why, and provenance.

``to_json()`` is the machine form (the CLI prints it, reports embed it). Metric values there are
numbers in each metric's display unit, listed once in the top-level ``"units"`` map. The
hypervolume is that of the Pareto front normalized by its own ideal and nadir points with the
reference point at 1.1 in every objective (both recorded under ``hypervolume_reference``); to
compare two searches use :meth:`SearchResult.compare`, which normalizes both by the reference's
front. The same seed gives the same ``to_json()`` apart from ``wall_time_s``.
"""
from __future__ import annotations

import collections
import dataclasses
import pathlib
from typing import Any

import numpy as np

from .indicators import REF_POINT, bounds, compare_fronts, hypervolume
from .objective import Objective
from .table import Table, json_number

SCHEMA = "mlsysim.dse.result/1"


@dataclasses.dataclass
class SearchResult:
    """Trials table (configs + metrics + feasible + violation + reason), Pareto rows, winner."""

    trials: Table
    config_names: list[str]
    objectives: list[Objective]
    constraints: list[str]
    metric_units: dict[str, str]
    display_units: dict[str, str]
    pareto: np.ndarray
    winner: int | None
    winner_rule: str
    why: str
    backend: str
    sampler: str | None
    seed: int
    space_size: int | None
    valid_size: int | None
    evaluations: int
    proposals: int
    wall_time_s: float
    provenance: dict[str, Any] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    #: which validation residuals bound this problem's metrics (mlsysim.physics.uncertainty)
    uncertainty_family: str = "training"

    # -- views -------------------------------------------------------------------------------
    @property
    def F(self) -> np.ndarray:
        """Objective matrix of all trials, minimization form (maximized metrics negated)."""
        signs = np.array([o.sign for o in self.objectives])
        return np.column_stack([self.trials[o.metric] for o in self.objectives]) * signs

    @property
    def feasible(self) -> np.ndarray:
        return self.trials["feasible"]

    @property
    def metrics(self) -> list[str]:
        return list(self.metric_units)

    def unit(self, metric: str) -> str:
        return self.display_units.get(metric) or self.metric_units.get(metric, "")

    def _factor(self, metric: str) -> float:
        from ..core.units import Q_

        src, dst = self.metric_units.get(metric, ""), self.display_units.get(metric)
        return 1.0 if not dst or dst == src else float(Q_(1.0, src or "").m_as(dst))

    def config(self, i: int) -> dict[str, Any]:
        """The configuration of trial row ``i`` (dimensions and derived values)."""
        return {k: json_number(self.trials[k][i], integral_as_int=True) for k in self.config_names}

    def metric_values(self, i: int, *, display: bool = True) -> dict[str, Any]:
        """Metrics of row ``i``: numbers in display units (``display=False``: SI magnitudes)."""
        return {m: json_number(float(self.trials[m][i]) * (self._factor(m) if display else 1.0))
                for m in self.metrics}

    @property
    def winner_config(self) -> dict[str, Any] | None:
        return None if self.winner is None else self.config(self.winner)

    @property
    def winner_metrics(self) -> dict[str, Any] | None:
        return None if self.winner is None else self.metric_values(self.winner)

    def pareto_table(self) -> Table:
        return self.trials.take(self.pareto)

    def front(self) -> np.ndarray:
        """Objective values (minimization form) of the Pareto rows."""
        return self.F[self.pareto]

    def hypervolume_info(self) -> tuple[float | None, dict | None]:
        if len(self.objectives) < 2 or not len(self.pareto):
            return None, None
        P = self.front()
        ideal, nadir = bounds(P)
        signs = np.array([o.sign for o in self.objectives])
        ref = {
            "normalization": "ideal and nadir of this Pareto front",
            "ref_point": REF_POINT,
            "ideal": {o.metric: json_number(v * s * self._factor(o.metric)) for o, v, s in zip(self.objectives, ideal, signs)},
            "nadir": {o.metric: json_number(v * s * self._factor(o.metric)) for o, v, s in zip(self.objectives, nadir, signs)},
        }
        return hypervolume(P, REF_POINT, ideal=ideal, nadir=nadir), ref

    def compare(self, reference: "SearchResult") -> dict[str, float]:
        """Hypervolume ratio, IGD+ and coverage of this front against ``reference``'s front."""
        return compare_fronts(self.front(), reference.front())

    def robustness(self) -> dict[str, Any] | None:
        """How many Pareto points stay Pareto-optimal whatever the model's errors within its 80%
        interval (``physics.uncertainty.robust_pareto`` against every feasible trial), and whether the
        winner is one of them."""
        from ..physics.uncertainty import robust_pareto

        if self.winner is None or not len(self.pareto):
            return None
        feasible = np.flatnonzero(self.feasible)
        values = np.column_stack([self.trials[o.metric][feasible] for o in self.objectives])
        where = {row: i for i, row in enumerate(feasible.tolist())}
        front_rows = [where[int(r)] for r in self.pareto]
        robust = robust_pareto(values, front_rows, [(o.metric, -o.sign) for o in self.objectives],
                               self.uncertainty_family)
        winner_robust = bool(robust[list(self.pareto).index(self.winner)]) if self.winner in self.pareto else False
        return {"robust_pareto_points": int(robust.sum()), "pareto_points": int(len(robust)),
                "winner_robust": winner_robust, "family": self.uncertainty_family,
                "meaning": "Pareto points that no other feasible design can dominate when every metric may be "
                           "off by the model's 80% validation interval"}

    # -- exports -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        from ..physics.uncertainty import metrics_interval

        hv, hv_ref = self.hypervolume_info()
        feasible = self.trials["feasible"] if len(self.trials) else np.zeros(0, bool)
        reasons = collections.Counter(self.trials["reason"][~feasible].tolist()) if len(self.trials) else {}
        winner = None if self.winner is None else {"config": self.winner_config, "metrics": self.winner_metrics}
        return {
            "kind": "dse_result",
            "schema": SCHEMA,
            "backend": self.backend,
            "sampler": self.sampler,
            "seed": self.seed,
            "space_size": self.space_size,
            "valid_size": self.valid_size,
            "evaluations": self.evaluations,
            "proposals": self.proposals,
            "trials": len(self.trials),
            "feasible": int(feasible.sum()),
            "infeasible_reasons": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:10]),
            "objectives": [{"metric": o.metric, "direction": o.direction, "unit": self.unit(o.metric)}
                           for o in self.objectives],
            "constraints": list(self.constraints),
            "units": {m: self.unit(m) for m in self.metrics},
            "winner": winner,
            "winner_rule": self.winner_rule,
            "why": self.why,
            "winner_interval": None if self.winner is None else {
                k: [json_number(v) for v in band] for k, band in
                metrics_interval(self.winner_metrics, self.uncertainty_family).items()},
            "robustness": self.robustness(),
            "pareto": [{"config": self.config(i), "metrics": self.metric_values(i)} for i in self.pareto.tolist()],
            "hypervolume": json_number(hv) if hv is not None else None,
            "hypervolume_reference": hv_ref,
            "notes": list(self.notes),
            "wall_time_s": round(self.wall_time_s, 6),
            "provenance": self.provenance,
        }

    def _export_columns(self) -> tuple[list[str], list[str], Table]:
        names = [k for k in self.config_names] + self.metrics + ["feasible", "violation", "reason"]
        cols = {k: self.trials[k] for k in names}
        for m in self.metrics:
            cols[m] = cols[m] * self._factor(m)
        header = list(self.config_names) + [f"{m} [{self.unit(m)}]" if self.unit(m) else m for m in self.metrics] \
            + ["feasible", "violation", "reason"]
        return names, header, Table(cols)

    def to_csv(self, path, *, table: str = "trials") -> pathlib.Path:
        """Write the trials (``table="trials"``) or the Pareto set (``"pareto"``) as CSV, metrics in
        display units (named in the header)."""
        if table not in ("trials", "pareto"):
            raise ValueError(f"table must be 'trials' or 'pareto', got {table!r}")
        names, header, t = self._export_columns()
        if table == "pareto":
            t = t.take(self.pareto)
        path = pathlib.Path(path)
        t.to_csv(path, names, header)
        return path

    def to_dataframe(self, *, table: str = "trials"):
        """The trials or Pareto set as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_dataframe() needs pandas: pip install pandas (or use to_csv / trials)") from None
        names, header, t = self._export_columns()
        if table == "pareto":
            t = t.take(self.pareto)
        return pd.DataFrame({h: t[n] for n, h in zip(names, header)})

    def __repr__(self) -> str:
        win = "none" if self.winner is None else self.winner_config
        return (f"<SearchResult {self.backend}{':' + self.sampler if self.sampler else ''}: {len(self.trials)} trials, "
                f"{int(self.trials['feasible'].sum()) if len(self.trials) else 0} feasible, {len(self.pareto)} on the "
                f"front, winner {win}>")

