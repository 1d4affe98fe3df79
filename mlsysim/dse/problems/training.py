"""ParallelismProblem: throughput vs cost of a training split, on the DistributedModel core."""
from __future__ import annotations

import numpy as np

from ...physics.distributed import reason_text
from ...physics.splits import default_seq_len, evaluate_splits

SECONDS_PER_HOUR = 3600.0

# Metrics every training problem returns, in SI units (pint strings), and how to show them.
TRAINING_METRICS = {
    "step_time": "s", "tokens_per_s": "token/s", "mfu": "", "hfu": "", "scaling_efficiency": "",
    "bubble_fraction": "", "memory_per_device": "byte", "capacity": "byte", "num_accelerators": "",
    "gpu_hours_per_Mtoken": "hour", "usd_per_Mtoken": "USD", "time_to_train": "s",
}
TRAINING_DISPLAY = {"step_time": "s", "memory_per_device": "GB", "capacity": "GB", "time_to_train": "day",
                    "gpu_hours_per_Mtoken": "hour", "tokens_per_s": "token/s"}


def usd_per_accelerator_hour(hardware) -> float:
    """On-demand cloud price per accelerator-hour when the catalog has one, else NaN."""
    return hardware.si["cloud_usd_per_s"] * SECONDS_PER_HOUR


def training_metrics(model, cluster, configs: dict, *, global_batch, seq_len, precision, train_tokens,
                     usd_per_hour=None) -> dict:
    """Evaluate training splits (arrays in ``configs``) and derive cost metrics."""
    n = len(next(iter(configs.values())))
    r = evaluate_splits(model, cluster, configs, global_batch=global_batch, seq_len=seq_len, precision=precision,
                        nodes=np.asarray(configs.get("nodes", np.full(n, cluster.node_count)), dtype=float))
    N = r["num_accelerators"]
    gpu_hours_per_token = N / r["tokens_per_s"] / SECONDS_PER_HOUR
    price = usd_per_accelerator_hour(cluster.hardware) if usd_per_hour is None else usd_per_hour
    return {
        "step_time": r["step_time"], "tokens_per_s": r["tokens_per_s"], "mfu": r["mfu"], "hfu": r["hfu"],
        "scaling_efficiency": r["scaling_efficiency"], "bubble_fraction": r["bubble_fraction"],
        "memory_per_device": r["memory_per_device"], "capacity": r["capacity"],
        "num_accelerators": np.broadcast_to(N, (n,)).astype(float),
        "gpu_hours_per_Mtoken": gpu_hours_per_token * 1e6, "usd_per_Mtoken": gpu_hours_per_token * 1e6 * price,
        "time_to_train": train_tokens / r["tokens_per_s"],
        "feasible": np.broadcast_to(r["feasible"], (n,)), "reason": reason_text(np.broadcast_to(r["reason_code"], (n,))),
    }


def train_tokens_of(model, train_tokens) -> float:
    """The run's token budget: ``train_tokens`` (a positive finite number), else the compute-optimal
    ~20 tokens per parameter (Hoffmann et al. 2022)."""
    if train_tokens is None:
        return 20.0 * model.parameters
    try:
        t = float(train_tokens)
    except (TypeError, ValueError):
        t = float("nan")
    if isinstance(train_tokens, bool) or not (np.isfinite(t) and t > 0):
        from ...core.errors import UserInputError

        raise UserInputError(f"train_tokens must be a positive number of tokens, got {train_tokens!r}",
                             hint="e.g. 1.5e13, or leave it out for ~20 tokens per parameter")
    return t


class ParallelismProblem:
    """How many nodes, split how? ``model`` trained on up to ``cluster.node_count`` nodes of
    ``cluster.node`` with ``global_batch`` sequences of ``seq_len`` tokens per step."""

    display_units = TRAINING_DISPLAY

    def __init__(self, model, cluster, *, global_batch: int, seq_len: int | None = None, precision: str = "bf16",
                 max_nodes: int | None = None, train_tokens: float | None = None, usd_per_hour: float | None = None):
        self.model, self.cluster = model, cluster
        self.global_batch = int(global_batch)
        self.seq_len = int(seq_len or default_seq_len(model))
        self.precision = precision
        self.max_nodes = int(max_nodes or cluster.node_count)
        # Compute-optimal token budget (Hoffmann et al. 2022: ~20 tokens per parameter) unless given.
        self.train_tokens = train_tokens_of(model, train_tokens)
        self.usd_per_hour = usd_per_hour
        price = usd_per_accelerator_hour(cluster.hardware) if usd_per_hour is None else usd_per_hour
        self.metric_units = {k: u for k, u in TRAINING_METRICS.items() if k != "usd_per_Mtoken" or np.isfinite(price)}
        self.constants = {
            "max_nodes": float(self.max_nodes), "gpus_per_node": float(cluster.accelerators_per_node),
            "heads": float(model.heads), "kv_heads": float(model.n_kv_heads), "layers": float(model.layers),
            "experts": float(model.experts), "global_batch": float(self.global_batch), "seq_len": float(self.seq_len),
        }
        self.id = (f"parallelism:{model.key}:{cluster.node.key}x{self.max_nodes}:{cluster.fabric.key}:"
                   f"B{self.global_batch}:s{self.seq_len}:{precision}")

    def evaluate(self, configs: dict) -> dict:
        out = training_metrics(self.model, self.cluster, configs, global_batch=self.global_batch,
                               seq_len=self.seq_len, precision=self.precision, train_tokens=self.train_tokens,
                               usd_per_hour=self.usd_per_hour)
        return {k: v for k, v in out.items() if k in self.metric_units or k in ("feasible", "reason")}
