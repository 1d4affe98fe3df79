"""The training lens: ``mlsysim.physics.distributed`` on a fixed parallel split, or the best split
of ``mlsysim.physics.splits.best_split`` (the one best-split search the search problems use too)."""
from __future__ import annotations

import math

import numpy as np

from ..systems.fleet import single_device_fleet
from .metrics import STATUS_FAIL, STATUS_PASS, STATUS_WARN
from .results import Lens, _no_fit


def _training(model, hardware, cluster, b, s, precision, eff, par, notes):
    from ..core.errors import UserInputError
    from ..physics.distributed import reason_text
    from ..physics.splits import ParallelSplit, best_split, evaluate_splits

    if cluster is None:
        cluster = single_device_fleet(hardware)
    if eff is not None:
        notes.append("training: efficiency is derived per split by the distributed model; the given value is ignored")
    n_acc = cluster.total_accelerators
    per_node = cluster.accelerators_per_node
    fixed = any(v is not None for v in par.values())
    if fixed:
        given = dict(par)
        given.setdefault("recompute", None)
        if given["recompute"] is None:        # Megatron's recommended default when a split is given
            given["recompute"] = "selective"
        split = ParallelSplit.from_mapping(given)
        if split.tp > per_node:
            raise UserInputError(f"parallelism.tp={split.tp} exceeds the {per_node} accelerators of one node",
                                 hint="tensor parallelism stays inside a node")
        out = evaluate_splits(model, cluster, split.arrays(), global_batch=float(b), seq_len=float(s),
                              precision=precision)
        v = {k: float(np.ravel(out[k])[0]) for k in out if k not in ("feasible", "valid", "reason_code")}
        fits, reason = bool(np.ravel(out["feasible"])[0]), str(reason_text(np.ravel(out["reason_code"])[0]))
    else:
        best = best_split(model, cluster, global_batch=float(b), seq_len=float(s), precision=precision)
        split = best.at(0)
        out = best.metrics
        v = {k: float(out[k][0]) for k in out if k not in ("feasible", "valid", "reason_code")}
        fits, reason = bool(best.feasible[0]), str(reason_text(out["reason_code"][0]))
        notes.append(f"automatic split: {best.candidates} candidate splits evaluated, {int(best.feasible_count[0])} "
                     "feasible; " + ("chose the highest throughput" if fits else
                                     "none feasible, showing the valid split with the least memory" if best.valid[0]
                                     else "no valid split (check batch size and accelerator count)"))
    details_split = split.to_dict()
    details_split.update(dp=_int_or_float(v["dp"]), microbatches=_int_or_float(v["microbatches"]), auto=not fixed)
    split = details_split
    cap = hardware.si["memory_capacity"]
    mem = v["memory_per_device"]
    feas_metrics = {"memory_per_device": mem / 1e9, "memory_capacity": cap / 1e9, "memory_utilization": mem / cap,
                    "weights_per_device": v["weights_memory"] / 1e9, "accelerators": float(n_acc)}
    breakdown_keys = {"compute_time": "Compute", "tp_comm_time": "TP communication", "cp_comm_time": "CP communication",
                      "ep_comm_time": "EP all-to-all", "pp_comm_time": "PP communication",
                      "bubble_time": "Pipeline bubble", "dp_comm_exposed": "DP gradient reduction",
                      "zero3_gather_time": "ZeRO-3 parameter gathers", "optimizer_time": "Optimizer step"}
    breakdown = {k.removesuffix("_time"): v[k] * 1e3 for k in breakdown_keys if k in v}
    top = max((k for k in breakdown_keys if k in v), key=lambda k: v[k])
    comm = sum(v.get(k, 0.0) for k in ("tp_comm_time", "cp_comm_time", "ep_comm_time", "pp_comm_time",
                                        "dp_comm_exposed", "zero3_gather_time"))
    step = v["step_time"]
    perf = {"latency": step * 1e3, "throughput": v["samples_per_s"], "tokens_per_s": v["tokens_per_s"],
            "mfu": v["mfu"], "scaling_efficiency": v["scaling_efficiency"], "bubble_fraction": v["bubble_fraction"],
            "communication_time": comm * 1e3}
    details = {"bottleneck": breakdown_keys[top], "parallelism": split, "breakdown_ms": breakdown}
    if fits:
        status_reason = ""
    elif reason == "does not fit in device memory":
        status_reason = _no_fit(mem, cap, hardware, "use more accelerators, a higher ZeRO stage, "
                                "full recomputation, or a smaller micro-batch")
    else:
        status_reason = reason
    feas = Lens("feasibility", STATUS_PASS if fits else STATUS_FAIL, feas_metrics, {"reason": status_reason})
    perf_lens = Lens("performance", STATUS_PASS if fits else STATUS_WARN, perf, details)
    return feas, perf_lens, {"samples_per_s": v["samples_per_s"], "tokens_per_s": v["tokens_per_s"]}


def _int_or_float(x: float):
    return int(x) if math.isfinite(x) and x == int(x) else x
