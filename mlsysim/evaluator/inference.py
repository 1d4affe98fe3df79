"""The inference lens: the roofline of one forward pass; for a decoder LLM the serving model
(TTFT, ITL, KV cache) over the tensor-parallel degrees that fit inside one node."""
from __future__ import annotations

import math
from typing import Any

from .checks import _pos_int
from .metrics import STATUS_FAIL, STATUS_PASS, STATUS_WARN
from .results import Lens, _no_fit
from ..physics.splits import powers_of_two


def _inference(model, hardware, cluster, b, s, o, precision, kv_precision, eff, par, notes):
    import numpy as np

    from ..physics.collectives import LINK_EFFICIENCY
    from ..physics.node import roofline_si
    from ..physics.serving import serving_core

    n_acc = cluster.total_accelerators if cluster is not None else 1
    per_node = cluster.accelerators_per_node if cluster is not None else 1
    peak = hardware.peak_flops_si(precision)
    cap = hardware.si["memory_capacity"]
    ignored = [k for k in ("pp", "cp", "ep") if par.get(k, 1) not in (None, 1)]
    if ignored:
        notes.append(f"inference: parallelism {', '.join(ignored)} ignored (replicas use tensor parallelism only)")
    r = roofline_si(model, hardware, batch_size=float(b), precision=precision, efficiency=eff, seq_len=s)
    bottleneck = "Compute" if float(r["compute_time"]) >= float(r["memory_time"]) else "Memory"
    details: dict[str, Any] = {"bottleneck": bottleneck}
    is_llm = getattr(model, "kind", None) == "transformer" and not model.encoder_only

    if not is_llm:
        if par.get("tp", 1) not in (None, 1):
            notes.append("inference: tp ignored for a non-LLM workload (one replica per accelerator)")
        lat = float(r["latency"])
        mem = float(r["memory_footprint"])
        feas_metrics = {"memory_per_device": mem / 1e9, "memory_capacity": cap / 1e9,
                        "memory_utilization": mem / cap, "weights_per_device": model.weight_bytes(precision) / 1e9,
                        "accelerators": float(n_acc)}
        fits = mem <= cap
        perf = {"latency": lat * 1e3, "throughput": n_acc * b / lat, "mfu": float(r["flops"]) / (lat * peak),
                "compute_time": float(r["compute_time"]) * 1e3, "memory_time": float(r["memory_time"]) * 1e3,
                "arithmetic_intensity": float(r["flops"]) / float(r["bytes"])}
        details["replicas"] = n_acc
        feas = Lens("feasibility", STATUS_PASS if fits else STATUS_FAIL, feas_metrics,
                    {"reason": "" if fits else _no_fit(mem, cap, hardware, "use a smaller batch or precision")})
        perf_lens = Lens("performance", STATUS_PASS if fits else STATUS_WARN, perf, details)
        return feas, perf_lens, {"samples_per_s": perf["throughput"], "tokens_per_s": None}

    # Decoder LLM: the serving model over the candidate tensor-parallel degrees, in one call.
    if cluster is not None:
        link_bw = cluster.node.si["intra_bandwidth"] * LINK_EFFICIENCY
        link_lat = cluster.node.si["intra_latency"]
    elif hardware.interconnect is None:  # a lone device without links: tp = 1, nothing to send
        link_bw, link_lat = math.inf, 0.0
    else:
        link_bw = link_lat = None
    fixed_tp = par.get("tp")
    if fixed_tp not in (None,):
        tps = np.array([float(_pos_int(fixed_tp, "parallelism.tp"))])
        if tps[0] > per_node:
            from ..core.errors import UserInputError
            raise UserInputError(f"tp={int(tps[0])} exceeds the {per_node} accelerators of one node",
                                 hint="tensor parallelism stays inside a node; lower tp or use more accelerators per node")
    else:
        tps = np.array([float(t) for t in powers_of_two(min(per_node, n_acc)) if model.heads % t == 0] or [1.0])
    sv = serving_core(model, hardware, batch_size=float(b), prompt_len=float(s), output_len=float(o), tp=tps,
                      precision=precision, kv_precision=kv_precision, efficiency=eff, link_bw=link_bw,
                      link_lat=link_lat)
    feasible = np.atleast_1d(sv["feasible"])
    i = int(np.argmax(feasible)) if feasible.any() else len(tps) - 1
    tp = int(tps[i])
    pick = {k: float(np.atleast_1d(v)[i]) if np.ndim(v) else float(v)
            for k, v in sv.items() if k not in ("feasible", "decode_bound_memory")}
    fits = bool(feasible[i])
    if fixed_tp is None and len(tps) > 1:
        details["tp_choice"] = ("smallest tensor-parallel degree that fits" if fits
                                else "no tensor-parallel degree inside one node fits; showing the largest")
    replicas = max(n_acc // tp, 1)
    if n_acc % tp:
        notes.append(f"{n_acc} accelerators do not divide into replicas of tp={tp}: {n_acc % tp} left idle")
    ttft, itl = pick["ttft"], pick["itl"]
    mem = pick["memory_per_device"]
    feas_metrics = {"memory_per_device": mem / 1e9, "memory_capacity": cap / 1e9, "memory_utilization": mem / cap,
                    "weights_per_device": pick["weights_per_device"] / 1e9, "kv_cache": pick["kv_cache_size"] / 1e9,
                    "accelerators": float(n_acc)}
    perf = {"latency": ttft * 1e3, "throughput": replicas * b / ttft, "tokens_per_s": replicas * b / itl,
            "mfu": float(r["flops"]) / (ttft * tp * peak),
            "compute_time": float(r["compute_time"]) * 1e3 if tp == 1 else None,
            "memory_time": float(r["memory_time"]) * 1e3 if tp == 1 else None,
            "arithmetic_intensity": float(r["flops"]) / float(r["bytes"]),
            "ttft": ttft * 1e3, "itl": itl * 1e3, "e2e_latency": pick["e2e_latency"] * 1e3}
    decode_bound = np.atleast_1d(sv["decode_bound_memory"])[i]
    details["decode_bottleneck"] = "Memory" if bool(decode_bound) else "Compute"
    details["parallelism"] = {"tp": tp, "replicas": replicas}
    reason = "" if fits else _no_fit(mem, cap, hardware, "raise tp, use more accelerators per node, or lower precision")
    feas = Lens("feasibility", STATUS_PASS if fits else STATUS_FAIL, feas_metrics, {"reason": reason})
    perf_lens = Lens("performance", STATUS_PASS if fits else STATUS_WARN, perf, details)
    return feas, perf_lens, {"samples_per_s": perf["throughput"], "tokens_per_s": perf["tokens_per_s"]}
