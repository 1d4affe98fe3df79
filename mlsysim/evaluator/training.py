"""The training lens: ``mlsysim.physics.distributed`` on a fixed parallel split, or every
(tp, pp[, ep]) split in one vectorized call and the highest-throughput feasible one chosen."""
from __future__ import annotations

import math

from ..systems.fleet import single_device_fleet
from .checks import _pos_int, _zero
from .metrics import STATUS_FAIL, STATUS_PASS, STATUS_WARN
from .results import Lens, _no_fit

_RECOMPUTE = {"none": 0, "selective": 1, "full": 2}
_RECOMPUTE_NAME = {v: k for k, v in _RECOMPUTE.items()}
#: Memory-saving settings the automatic split tries for every (tp, pp[, ep]):
#: (ZeRO stage, recomputation) -- distributed optimizer with selective or full recomputation,
#: and ZeRO-3 with full recomputation for models whose state does not fit otherwise.
AUTO_MEMORY_SETTINGS = ((1, 1), (1, 2), (3, 2))


def _training(model, hardware, cluster, b, s, precision, eff, par, notes):
    import numpy as np

    from ..core.errors import UserInputError
    from ..physics.distributed import distributed_core, reason_text

    if cluster is None:
        cluster = single_device_fleet(hardware)
    if eff is not None:
        notes.append("training: efficiency is derived per split by the distributed model; the given value is ignored")
    n_acc = cluster.total_accelerators
    per_node = cluster.accelerators_per_node
    fixed = any(par.get(k) is not None for k in ("tp", "pp", "cp", "ep", "microbatch", "zero_stage", "recompute"))
    if fixed:
        rc = par.get("recompute") or "selective"
        if rc not in _RECOMPUTE:
            from ..core.errors import UnknownNameError
            raise UnknownNameError("recomputation mode", str(rc), _RECOMPUTE)
        tp = _pos_int(par.get("tp") or 1, "parallelism.tp")
        if tp > per_node:
            raise UserInputError(f"parallelism.tp={tp} exceeds the {per_node} accelerators of one node",
                                 hint="tensor parallelism stays inside a node")
        sp = par.get("sequence_parallel")
        grid = {
            "tp": np.array([float(tp)]), "pp": np.array([float(_pos_int(par.get("pp") or 1, "parallelism.pp"))]),
            "cp": np.array([float(_pos_int(par.get("cp") or 1, "parallelism.cp"))]),
            "ep": np.array([float(_pos_int(par.get("ep") or 1, "parallelism.ep"))]),
            "mb": np.array([float(_pos_int(par.get("microbatch") or 1, "parallelism.microbatch"))]),
            "zero": np.array([float(_zero(par.get("zero_stage")))]),
            "rc": np.array([float(_RECOMPUTE[rc])]),
        }
        grid["sp"] = np.array([float(tp > 1 if sp is None else bool(sp))])
        if grid["sp"][0] and tp == 1:
            raise UserInputError("parallelism.sequence_parallel needs tp > 1")
    else:
        tps = [t for t in _powers_of_two(min(per_node, n_acc)) if model.heads % t == 0] or [1]
        pps = [p for p in _divisors(model.layers) if p <= n_acc]
        eps = ([e for e in _powers_of_two(min(model.experts, n_acc)) if model.experts % e == 0]
               if model.is_moe else [1])
        combos = [(t, p, e, z, r) for t in tps for p in pps for e in eps for z, r in AUTO_MEMORY_SETTINGS
                  if t * p * e <= n_acc]
        arr = np.array(combos, dtype=float).T
        grid = {"tp": arr[0], "pp": arr[1], "ep": arr[2], "zero": arr[3], "rc": arr[4],
                "cp": np.ones(arr.shape[1]), "mb": np.ones(arr.shape[1]), "sp": (arr[0] > 1).astype(float)}
    out = distributed_core(model, cluster, tp=grid["tp"], pp=grid["pp"], cp=grid["cp"], ep=grid["ep"],
                           micro_batch=grid["mb"], global_batch=float(b), seq_len=float(s),
                           zero_stage=grid["zero"], recompute=grid["rc"], sp=grid["sp"], precision=precision)
    n = len(grid["tp"])
    col = lambda k: np.broadcast_to(np.asarray(out[k]), (n,))  # noqa: E731
    feasible, valid = col("feasible").astype(bool), col("valid").astype(bool)
    if feasible.any():
        rate = np.where(feasible, col("tokens_per_s"), -np.inf)
        i = int(np.argmax(rate))
    elif valid.any():
        i = int(np.argmin(np.where(valid, col("memory_per_device"), np.inf)))
    else:
        i = 0
    v = {k: float(col(k)[i]) for k in out if k not in ("feasible", "valid", "reason_code")}
    reason = str(reason_text(col("reason_code")[i]))
    fits = bool(feasible[i])
    if not fixed:
        n_feasible = int(feasible.sum())
        notes.append(f"automatic split: {n} candidate splits evaluated, {n_feasible} feasible; "
                     + ("chose the highest throughput" if fits else
                        "none feasible, showing the valid split with the least memory" if valid.any() else
                        "no valid split (check batch size and accelerator count)"))
    split = {"tp": int(grid["tp"][i]), "pp": int(grid["pp"][i]), "dp": _int_or_float(v["dp"]),
             "cp": int(grid["cp"][i]), "ep": int(grid["ep"][i]), "microbatch": int(grid["mb"][i]),
             "microbatches": _int_or_float(v["microbatches"]), "zero_stage": int(grid["zero"][i]),
             "recompute": _RECOMPUTE_NAME[int(grid["rc"][i])], "sequence_parallel": bool(grid["sp"][i]),
             "auto": not fixed}
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


def _powers_of_two(limit: int) -> list[int]:
    out, t = [], 1
    while t <= limit:
        out.append(t)
        t *= 2
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _int_or_float(x: float):
    return int(x) if math.isfinite(x) and x == int(x) else x
