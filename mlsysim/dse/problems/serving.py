"""BatchingProblem: batch size, tensor parallelism, replicas, weight/KV precision and accelerator
for serving an LLM at ``qps`` requests/s, on the ServingModel and TailLatencyModel cores.

Each replica runs ``batch_size`` requests at once; a request holds its slot for
TTFT + (output_len - 1) x ITL, so the fleet is an M/M/c queue with c = replicas x batch_size
servers; a request's service time is nearly deterministic, so M/D/c (Erlang C with the Cosmetatos
correction, as in physics.queueing; Kleinrock 1975, "Queueing Systems" Vol. 1). Cost per million output
tokens = accelerators x price per accelerator-second / output tokens per second x 1e6, with the
price from the catalog's cloud price or, without one, the owned-fleet TCO per accelerator-hour.
"""
from __future__ import annotations

import numpy as np

from ...core.catalog import registry
from ...core.errors import UserInputError
from ...physics.economics import (DEFAULT_AMORTIZATION_YEARS, DEFAULT_KWH_PRICE, DEFAULT_MAINTENANCE_RATE,
                                  economics_si)
from ...physics.inputs import SECONDS_PER_HOUR, SECONDS_PER_YEAR
from ...physics.power import DEFAULT_PUE, DEFAULT_UTILIZATION
from ...physics.queueing import tail_latency_si
from ...physics.serving import serving_core
from .placement import node_of

SERVING_METRICS = {
    "p99_latency": "s", "p50_latency": "s", "ttft": "s", "itl": "s", "e2e_latency": "s",
    "tokens_per_s": "token/s", "capacity_qps": "1/s", "utilization": "", "usd_per_Mtoken": "USD",
    "accelerators": "", "memory_per_device": "byte", "capacity": "byte",
}
SERVING_DISPLAY = {"p99_latency": "ms", "p50_latency": "ms", "ttft": "ms", "itl": "ms", "e2e_latency": "ms",
                   "memory_per_device": "GB", "capacity": "GB"}


def usd_per_accelerator_second(hardware, grid=None) -> float:
    """Cloud price when the catalog has one, else the owned TCO per accelerator-second
    (amortized node price + maintenance + energy at the grid's price and PUE)."""
    if np.isfinite(hardware.si["cloud_usd_per_s"]):
        return hardware.si["cloud_usd_per_s"]
    try:
        node = node_of(hardware)
        per_node, host_w, price = node.accelerators_per_node, node.si["host_power"], node.si["price_usd"]
    except UserInputError:  # no node type: the accelerator alone (no host power or price)
        per_node, host_w, price = 1, 0.0, hardware.si["price_usd"]
    g = grid.si if grid is not None else {"usd_per_j": DEFAULT_KWH_PRICE.m_as("USD/J"), "pue": DEFAULT_PUE}
    eco = economics_si(per_node, 1.0, hardware.si["tdp"], host_w, price, SECONDS_PER_HOUR, DEFAULT_UTILIZATION,
                       g["pue"], g["usd_per_j"], DEFAULT_AMORTIZATION_YEARS * SECONDS_PER_YEAR,
                       DEFAULT_MAINTENANCE_RATE)
    return float(eco["usd_per_accelerator_hour"]) / SECONDS_PER_HOUR


class BatchingProblem:
    """Serve ``model`` at ``qps`` requests/s with prompts of ``prompt_len`` and ``output_len`` output tokens."""

    display_units = SERVING_DISPLAY
    uncertainty_family = "serving"    # intervals from the serving validation residuals

    def __init__(self, model, *, qps: float, prompt_len: int = 1024, output_len: int = 256, hardware=None,
                 grid=None, gpus_per_node: int = 8):
        if getattr(model, "kind", None) != "transformer":
            raise UserInputError(f"serving search needs an LLM (transformer); {model.name} is a {model.kind}")
        if not (qps > 0 and np.isfinite(qps)):
            raise UserInputError(f"qps must be a positive number of requests per second, got {qps!r}")
        self.model, self.qps = model, float(qps)
        self.prompt_len, self.output_len = int(prompt_len), int(output_len)
        self.hardware = None if hardware is None else registry("hardware").get(hardware)
        self.grid = None if grid is None else registry("grids").get(grid)
        self.metric_units = dict(SERVING_METRICS)
        self.constants = {"qps": self.qps, "heads": float(model.heads), "kv_heads": float(model.n_kv_heads),
                          "gpus_per_node": float(gpus_per_node), "prompt_len": float(prompt_len),
                          "output_len": float(output_len)}
        hw = self.hardware.key if self.hardware is not None else "any"
        self.id = f"serving:{model.key}:qps{self.qps:g}:p{prompt_len}:o{output_len}:hw={hw}"

    def evaluate(self, configs: dict) -> dict:
        n = len(next(iter(configs.values())))
        col = lambda k, d: np.asarray(configs.get(k, np.full(n, d)))  # noqa: E731
        b = col("batch_size", 1).astype(float)
        tp = col("tp", 1).astype(float)
        reps = col("replicas", 1).astype(float)
        prec = col("precision", "fp16").astype(object)
        kvp = col("kv_precision", "fp16").astype(object)
        default_hw = self.hardware.key if self.hardware is not None else "H100"
        hws = col("hardware", default_hw).astype(object)
        out = {k: np.full(n, np.nan) for k in self.metric_units}
        feasible = np.zeros(n, dtype=bool)
        reason = np.full(n, "", dtype=object)
        for key in sorted({(h, p, k) for h, p, k in zip(hws, prec, kvp)}):
            rows = (hws == key[0]) & (prec == key[1]) & (kvp == key[2])
            hw = registry("hardware").get(key[0])
            r = serving_core(self.model, hw, batch_size=b[rows], prompt_len=self.prompt_len,
                             output_len=self.output_len, tp=tp[rows], precision=key[1], kv_precision=key[2])
            service = r["e2e_latency"]
            q = tail_latency_si(self.qps, service, reps[rows] * b[rows], deterministic=True)
            acc = reps[rows] * tp[rows]
            tokens = np.minimum(self.qps, reps[rows] * b[rows] / service) * self.output_len
            price = usd_per_accelerator_second(hw, self.grid)
            values = {"p99_latency": q["p99_latency"], "p50_latency": q["p50_latency"], "ttft": r["ttft"],
                      "itl": r["itl"], "e2e_latency": service, "tokens_per_s": tokens,
                      "capacity_qps": reps[rows] * b[rows] / service, "utilization": q["utilization"],
                      "usd_per_Mtoken": acc * price / tokens * 1e6, "accelerators": acc,
                      "memory_per_device": r["memory_per_device"], "capacity": r["capacity"]}
            for k, v in values.items():
                out[k][rows] = v
            fits, stable = r["feasible"], q["stable"]
            feasible[rows] = fits & stable & np.isfinite(values["usd_per_Mtoken"])
            reason[rows] = np.where(~fits, "does not fit in device memory (or tp does not divide the heads, or tp > 1 without an accelerator link)",
                                    np.where(~stable, f"unstable: {self.qps:g} req/s exceeds the replicas' capacity",
                                             np.where(np.isfinite(values["usd_per_Mtoken"]), "",
                                                      f"no price for {hw.name} in the catalog")))
        out["feasible"] = feasible
        out["reason"] = reason
        return out
