"""PlacementProblem: where (grid region), on what (accelerator) and how big (nodes) to train a
model, priced with a carbon tax. ``HardwareProblem`` is the same question with the region fixed.

For each (accelerator, node count) the training throughput is that of the best feasible parallel
split (``physics.splits.best_split``, the search ``mlsysim eval`` uses too); a fixed token budget then gives the time to train, and the fleet's
TCO share and carbon over that time come from the economics and sustainability cores (which share
``physics.power``). The carbon tax turns carbon into dollars: cost = TCO + tax x tCO2e
(a Pigouvian price; e.g. the U.S. EPA 2023 social cost of carbon is ~190 USD/tCO2e).
"""
from __future__ import annotations

import numpy as np

from ...core.catalog import registry
from ...core.errors import UserInputError
from ...physics.economics import DEFAULT_AMORTIZATION_YEARS, DEFAULT_MAINTENANCE_RATE, economics_si
from ...physics.inputs import SECONDS_PER_YEAR
from ...physics.power import DEFAULT_UTILIZATION
from ...physics.sustainability import sustainability_si
from ...systems.fleet import default_node, fleet_for
from ...physics.splits import best_split, default_seq_len
from .training import train_tokens_of

PLACEMENT_METRICS = {
    "cost_usd": "USD", "tco_usd": "USD", "carbon_tax_usd": "USD", "carbon_kg": "kg", "energy": "J",
    "time_to_train": "s", "tokens_per_s": "token/s", "mfu": "", "num_accelerators": "", "water_l": "L",
}
PLACEMENT_DISPLAY = {"carbon_kg": "t", "energy": "MWh", "time_to_train": "day", "water_l": "kL"}


def node_of(hardware):
    """The catalog node type built around ``hardware`` (DGX H100 for H100, ...); a clear error when none."""
    node = default_node(hardware)
    if node is None:
        with_nodes = sorted({n.accelerator.key for n in registry("nodes").all()})
        raise UserInputError(f"no node type in the catalog holds {hardware.name}",
                             hint=f"accelerators with a node type: {', '.join(with_nodes)}; or add a node in a user catalog")
    return node


class PlacementProblem:
    """Region x accelerator x node count for training ``model`` on ``train_tokens`` tokens."""

    display_units = PLACEMENT_DISPLAY

    def __init__(self, model, *, global_batch: int, seq_len: int | None = None, precision: str = "bf16",
                 carbon_tax_usd_per_t: float = 0.0, max_nodes: int = 1024, train_tokens: float | None = None,
                 region=None, utilization: float = DEFAULT_UTILIZATION):
        if carbon_tax_usd_per_t < 0 or not np.isfinite(carbon_tax_usd_per_t):
            raise UserInputError(f"carbon tax must be a non-negative number of USD per tCO2e, got {carbon_tax_usd_per_t!r}")
        self.model = model
        self.global_batch = int(global_batch)
        self.seq_len = int(seq_len or default_seq_len(model))
        self.precision = precision
        self.tax = float(carbon_tax_usd_per_t)
        self.train_tokens = train_tokens_of(model, train_tokens)  # default: Hoffmann et al. 2022
        self.region = None if region is None else registry("grids").get(region)
        self.utilization = float(utilization)
        self.metric_units = dict(PLACEMENT_METRICS)
        self.constants = {"max_nodes": float(max_nodes), "carbon_tax": self.tax}
        self._throughput: dict[tuple[str, float], tuple[float, float]] = {}
        where = self.region.key if self.region is not None else "any"
        self.id = (f"placement:{model.key}:B{self.global_batch}:s{self.seq_len}:{precision}:tax{self.tax:g}:"
                   f"tok{self.train_tokens:.4g}:region={where}")

    def _best(self, hardware, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best-split throughput and MFU per node count (cached per accelerator and count)."""
        todo = [n for n in np.unique(nodes) if (hardware.key, float(n)) not in self._throughput]
        if todo:
            fleet = fleet_for(hardware, int(max(todo)), node=node_of(hardware))
            best = best_split(self.model, fleet, np.asarray(todo, dtype=float), global_batch=self.global_batch,
                              seq_len=self.seq_len, precision=self.precision)
            tput_all = np.where(best.feasible, best.metrics["tokens_per_s"], 0.0)
            mfu_all = np.where(best.feasible, best.metrics["mfu"], 0.0)
            for n, tput, mfu in zip(todo, tput_all, mfu_all):
                self._throughput[(hardware.key, float(n))] = (float(tput), float(mfu))
        pairs = [self._throughput[(hardware.key, float(n))] for n in nodes]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    def evaluate(self, configs: dict) -> dict:
        n = len(next(iter(configs.values())))
        nodes = np.asarray(configs["nodes"], dtype=float)
        hw_names = np.asarray(configs["hardware"], dtype=object)
        if self.region is not None and "region" not in configs:
            regions = np.full(n, self.region.key, dtype=object)
        else:
            regions = np.asarray(configs["region"], dtype=object)
        out = {k: np.full(n, np.nan) for k in self.metric_units}
        feasible = np.zeros(n, dtype=bool)
        reason = np.full(n, "", dtype=object)
        for hw_name in np.unique(hw_names):
            rows = hw_names == hw_name
            hw = registry("hardware").get(hw_name)
            node = node_of(hw)
            tput, mfu = self._best(hw, nodes[rows])
            g = node.accelerators_per_node
            acc = nodes[rows] * g
            with np.errstate(divide="ignore"):
                time_s = np.where(tput > 0, self.train_tokens / np.where(tput > 0, tput, 1.0), np.inf)
            grids = [registry("grids").get(r) for r in regions[rows]]
            gsi = {k: np.array([gr.si[k] for gr in grids]) for k in ("kg_per_j", "usd_per_j", "pue", "l_per_j")}
            finite_t = np.where(np.isfinite(time_s), time_s, 0.0)
            eco = economics_si(acc, nodes[rows], hw.si["tdp"], node.si["host_power"], node.si["price_usd"], finite_t,
                               self.utilization, gsi["pue"], gsi["usd_per_j"],
                               DEFAULT_AMORTIZATION_YEARS * SECONDS_PER_YEAR, DEFAULT_MAINTENANCE_RATE)
            embodied = hw.embodied_carbon.m_as("kg") if hw.embodied_carbon is not None else 0.0
            sus = sustainability_si(acc, nodes[rows], hw.si["tdp"], node.si["host_power"], finite_t, self.utilization,
                                    gsi["pue"], gsi["kg_per_j"], gsi["l_per_j"], embodied)
            tax_usd = self.tax * sus["carbon_kg"] / 1000.0
            values = {"cost_usd": eco["tco_usd"] + tax_usd, "tco_usd": eco["tco_usd"], "carbon_tax_usd": tax_usd,
                      "carbon_kg": sus["carbon_kg"], "energy": sus["facility_energy_j"], "time_to_train": time_s,
                      "tokens_per_s": tput, "mfu": mfu, "num_accelerators": acc, "water_l": sus["water_l"]}
            for k, v in values.items():
                out[k][rows] = v
            ok = (tput > 0) & np.isfinite(eco["tco_usd"]) & np.isfinite(sus["carbon_kg"])
            feasible[rows] = ok
            why = np.where(tput > 0, f"{hw.name}: no price or power figure in the catalog",
                           f"no parallel split of {self.model.name} fits on this many {hw.name}")
            reason[rows] = np.where(ok, "", why)
        out["feasible"] = feasible
        out["reason"] = reason
        return out


def HardwareProblem(model, *, region, **kwargs) -> PlacementProblem:
    """Which accelerator and how many, in a fixed ``region``: a placement problem with one region."""
    return PlacementProblem(model, region=region, **kwargs)
