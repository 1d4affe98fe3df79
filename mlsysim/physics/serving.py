"""LLM serving on one device or a tensor-parallel group: TTFT, ITL, KV cache, memory fit.

Prefill is a roofline over the prompt (compute-bound for long prompts); each decode step reads the
weights and the KV cache once, so at small batch ITL ~ (weight + KV bytes) / bandwidth
(Pope et al. 2023, "Efficiently Scaling Transformer Inference", MLSys, Sec. 2-3). KV cache =
2·L·n_kv·d_head·bytes per token (GQA; Ainslie et al. 2023). Tensor parallelism splits weights,
heads and FLOPs over ``tp`` devices and adds two all-reduces per layer (Shoeybi et al. 2019,
Megatron-LM, Sec. 3).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import U_GB, U_MS, U_TOKEN_S
from ..core.catalog import registry
from ..core.errors import UserInputError
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, efficiency_si, to_si
from .collectives import LINK_EFFICIENCY, all_reduce_time
from .efficiency import MEMORY_EFFICIENCY, compute_efficiency
from .node import moe_weight_bytes_touched, transformer_activation_traffic

# Runtime workspace per device (CUDA context, cuBLAS workspace, allocator reserve): ~1-2 GB in
# vLLM/TensorRT-LLM deployments (Kwon et al. 2023, vLLM, Sec. 6 sets aside memory for activations).
RUNTIME_RESERVE_BYTES = 2e9


def serving_core(model, hardware, *, batch_size, prompt_len, output_len, tp, precision, kv_precision,
                 efficiency=None, link_bw=None, link_lat=None) -> dict:
    """Vectorized serving physics (SI units). Arrays broadcast over batch_size, prompt_len,
    output_len and tp."""
    b = np.asarray(batch_size, dtype=float)
    p = np.asarray(prompt_len, dtype=float)
    o = np.asarray(output_len, dtype=float)
    t = np.asarray(tp, dtype=float)
    peak = hardware.peak_flops_si(precision)
    bw = hardware.si["memory_bandwidth"] * MEMORY_EFFICIENCY
    link_bw = hardware.si["link_bandwidth"] * LINK_EFFICIENCY if link_bw is None else link_bw
    link_lat = hardware.si["link_latency"] if link_lat is None else link_lat
    eff = compute_efficiency(model, t, hardware, precision) if efficiency is None else np.asarray(efficiency, dtype=float)
    act_bytes = bytes_per_element(precision)
    kv_token = model.kv_cache_bytes_per_token(kv_precision)
    # KV heads split over tp; with fewer KV heads than tp ranks they are replicated.
    kv_split = np.minimum(t, model.n_kv_heads if not model.is_mla else 1.0)
    n_layers_ar = 2.0 * model.layers

    # Prefill: the whole prompt for b sequences.
    pre_flops = b * p * model.forward_flops_per_token(p) / t
    pre_bytes = (moe_weight_bytes_touched(model, b * p, precision) / t
                 + transformer_activation_traffic(model, b * p, precision) / t + b * p * kv_token / kv_split)
    pre_comm = n_layers_ar * all_reduce_time(b * p * model.hidden * act_bytes, t, link_bw, link_lat)
    ttft = np.maximum(pre_flops / (peak * eff), pre_bytes / bw) + pre_comm

    # One decode step at the full context (prompt + output): the slowest token of the request.
    ctx = p + o
    dec_flops = b * model.forward_flops_per_token(ctx) / t
    dec_bytes = (moe_weight_bytes_touched(model, b, precision) / t + b * ctx * kv_token / kv_split
                 + transformer_activation_traffic(model, b, precision) / t)
    dec_comm = n_layers_ar * all_reduce_time(b * model.hidden * act_bytes, t, link_bw, link_lat)
    dec_compute, dec_memory = dec_flops / (peak * eff), dec_bytes / bw
    itl = np.maximum(dec_compute, dec_memory) + dec_comm

    kv_total = b * ctx * kv_token
    weights_dev = model.weight_bytes(precision) / t
    mem_dev = weights_dev + kv_total / kv_split + RUNTIME_RESERVE_BYTES
    # tensor parallelism needs a link between the accelerators: without one (no interconnect in
    # the catalog) its all-reduces never finish, so the split is infeasible, not merely slow
    linked = (t <= 1.0) | (np.asarray(link_bw, dtype=float) > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tokens_per_s = np.where(np.isfinite(itl), b / itl, np.nan)  # never "0 tokens/s" for an endless step
        e2e = ttft + np.where(o > 1.0, (o - 1.0) * itl, 0.0)
    return {
        "ttft": ttft, "itl": itl, "kv_cache_size": kv_total, "weights_per_device": weights_dev,
        "memory_per_device": mem_dev, "capacity": hardware.si["memory_capacity"] + 0 * mem_dev,
        "feasible": (mem_dev <= hardware.si["memory_capacity"]) & (np.mod(model.heads, t) == 0) & linked,
        "tokens_per_s": tokens_per_s, "e2e_latency": e2e,
        "decode_bound_memory": dec_memory >= dec_compute, "tp_comm_per_token": dec_comm,
    }


@dataclass
class ServingResult(Result):
    ttft: object
    itl: object
    kv_cache_size: object
    throughput: object
    e2e_latency: object
    memory_per_device: object
    weights_per_device: object
    capacity_per_device: object
    feasible: object
    decode_bottleneck: object
    reason: str
    tp_size: object
    precision: str


class ServingModel:
    """LLM inference latency (TTFT, ITL), KV-cache footprint and whether it fits."""

    def solve(self, model, hardware, seq_len=2048, batch_size=1, output_len=0, prompt_len=None,
              precision: str = "fp16", kv_precision: str | None = None, tp_size=1,
              efficiency=None) -> ServingResult:
        model = registry("models").get(model)
        hardware = registry("hardware").get(hardware)
        if getattr(model, "kind", None) != "transformer":
            raise UserInputError(f"ServingModel needs a transformer (LLM) workload; {model.name} is a {model.kind}",
                                 hint="use Engine.solve for CNN inference")
        b = to_si(batch_size, "", what="batch_size", integer=True)
        s = to_si(seq_len if prompt_len is None else prompt_len, "", what="seq_len", integer=True)
        o = to_si(output_len, "", what="output_len", integer=True, allow_zero=True)
        t = to_si(tp_size, "", what="tp_size", integer=True)
        eff = efficiency_si(efficiency)
        if np.any(np.mod(model.heads, np.asarray(t)) != 0):
            raise UserInputError(f"tp_size={tp_size!r} must divide the {model.heads} attention heads of {model.name}",
                                 hint="use a divisor of the head count, e.g. 1, 2, 4 or 8")
        kv_precision = kv_precision or precision
        bytes_per_element(precision), bytes_per_element(kv_precision)
        r = serving_core(model, hardware, batch_size=b, prompt_len=s, output_len=o, tp=t,
                         precision=precision, kv_precision=kv_precision, efficiency=eff)
        feasible = r["feasible"]
        if np.ndim(feasible) == 0:
            need = r["memory_per_device"]
            if not feasible and t > 1 and hardware.si["link_bandwidth"] <= 0:
                reason = (f"{hardware.name} has no accelerator interconnect in the catalog: tensor parallelism "
                          f"(tp_size={int(t)}) needs one; use tp_size=1 or add the link to the catalog entry")
            else:
                reason = "" if feasible else (
                    f"needs {need / 1e9:.1f} GB per device (weights {r['weights_per_device'] / 1e9:.1f} GB + KV "
                    f"{r['kv_cache_size'] / 1e9 / max(1.0, float(np.minimum(t, model.n_kv_heads))):.1f} GB + runtime "
                    f"{RUNTIME_RESERVE_BYTES / 1e9:.0f} GB) but {hardware.name} has "
                    f"{hardware.si['memory_capacity'] / 1e9:.0f} GB: raise tp_size or use a smaller precision")
            feasible = bool(feasible)
        else:
            reason = ""
        bound = np.where(r["decode_bound_memory"], "Memory", "Compute")
        return ServingResult(
            ttft=as_unit(r["ttft"] * 1e3, U_MS),
            itl=as_unit(r["itl"] * 1e3, U_MS),
            kv_cache_size=as_unit(r["kv_cache_size"] / 1e9, U_GB),
            throughput=as_unit(r["tokens_per_s"], U_TOKEN_S),
            e2e_latency=as_unit(r["e2e_latency"] * 1e3, U_MS),
            memory_per_device=as_unit(r["memory_per_device"] / 1e9, U_GB),
            weights_per_device=as_unit(r["weights_per_device"] / 1e9, U_GB),
            capacity_per_device=as_unit(hardware.si["memory_capacity"] / 1e9, U_GB),
            feasible=feasible, decode_bottleneck=str(bound) if bound.ndim == 0 else bound,
            reason=reason, tp_size=int(t) if np.ndim(t) == 0 else t.astype(int), precision=precision,
        )
