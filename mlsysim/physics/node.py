"""Domain 1: one accelerator. The roofline model (Williams, Waterman & Patterson 2009, "Roofline:
an insightful visual performance model for multicore architectures", CACM 52(4)).

time = max(FLOPs / (peak x efficiency), bytes / (bandwidth x memory efficiency)); the larger term
names the bottleneck. For a CNN one sample is one image; for a transformer one sample is one
forward pass over ``seq_len`` tokens (prefill), or with ``decode=True`` one generated token per
sequence at context ``seq_len``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import U_BYTE, U_FLOP, U_FLOP_PER_BYTE, U_GB, U_MS, U_SAMPLE_S
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, efficiency_si, to_si
from .efficiency import MEMORY_EFFICIENCY, compute_efficiency

# Activation bytes written per token per layer in a transformer forward pass: 34·h bytes at 16-bit
# (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", Eq. 1,
# without the attention-score term, which FlashAttention does not materialize). Inference writes
# and reads each once.
ACTIVATION_BYTES_PER_TOKEN_LAYER_FP16 = 34.0


def transformer_activation_traffic(model, tokens, precision) -> np.ndarray | float:
    """Bytes of activations written and read by a forward pass over ``tokens`` tokens."""
    per_token = 2.0 * ACTIVATION_BYTES_PER_TOKEN_LAYER_FP16 * model.hidden * model.layers * bytes_per_element(precision) / 2.0
    return per_token * tokens


def moe_weight_bytes_touched(model, tokens, precision) -> np.ndarray | float:
    """Weight bytes read by one step processing ``tokens`` tokens: an MoE layer reads only the
    experts its tokens route to, E·(1 - (1 - k/E)^tokens) of them in expectation (uniform routing)."""
    b = bytes_per_element(precision)
    if not getattr(model, "is_moe", False):
        return model.parameters * b
    tokens = np.asarray(tokens, dtype=float)
    e, k = model.experts, model.experts_per_token
    used = e * (1.0 - (1.0 - k / e) ** tokens)
    unused = model.moe_layers * (e - used) * model.expert_params
    return (model.parameters - unused) * b


def roofline_si(model, hardware, *, batch_size, precision="fp16", efficiency=None, seq_len=None,
                decode=False) -> dict:
    """Vectorized roofline over numpy arrays (SI units). Returns flops, bytes, compute_time,
    memory_time, latency, throughput (samples/s), memory_footprint and feasible."""
    b = np.asarray(batch_size, dtype=float)
    peak = hardware.peak_flops_si(precision)
    bw = hardware.si["memory_bandwidth"] * MEMORY_EFFICIENCY
    eff = compute_efficiency(model, 1, hardware, precision) if efficiency is None else np.asarray(efficiency, dtype=float)
    if getattr(model, "kind", None) == "transformer":
        s = np.asarray(seq_len if seq_len is not None else min(model.max_seq_len, 2048), dtype=float)
        kv_per_token = model.kv_cache_bytes_per_token(precision)
        if decode:
            flops = b * model.forward_flops_per_token(s)
            weights_read = moe_weight_bytes_touched(model, b, precision)
            bytes_ = weights_read + b * s * kv_per_token + transformer_activation_traffic(model, b, precision)
        else:
            flops = b * s * model.forward_flops_per_token(s)
            weights_read = moe_weight_bytes_touched(model, b * s, precision)
            bytes_ = weights_read + transformer_activation_traffic(model, b * s, precision) + b * s * kv_per_token
        footprint = model.weight_bytes(precision) + b * s * kv_per_token
    else:
        flops = b * model.flops_per_sample_si
        act = model.activation_bytes(precision)
        bytes_ = model.weight_bytes(precision) + b * act
        footprint = model.weight_bytes(precision) + b * act
    compute_time = flops / (peak * eff)
    memory_time = bytes_ / bw
    latency = np.maximum(compute_time, memory_time)
    return {
        "flops": flops, "bytes": bytes_, "compute_time": compute_time, "memory_time": memory_time,
        "latency": latency, "throughput": b / latency, "memory_footprint": footprint,
        "feasible": footprint <= hardware.si["memory_capacity"], "efficiency": eff,
    }


@dataclass
class NodeProfile(Result):
    """Result of ``SingleNodeModel.solve`` / ``Engine.solve``."""

    latency: object
    throughput: object
    bottleneck: str
    compute_time: object
    memory_time: object
    flops: object
    memory_traffic: object
    arithmetic_intensity: object
    ridge_point: object
    memory_footprint: object
    feasible: bool
    efficiency: float
    precision: str


class SingleNodeModel:
    """Roofline latency, throughput and bottleneck of one workload on one accelerator."""

    def solve(self, model, hardware, batch_size=1, precision: str = "fp16", efficiency=None,
              seq_len=None, decode: bool = False) -> NodeProfile:
        from ..core.catalog import registry

        model = registry("models").get(model)
        hardware = registry("hardware").get(hardware)
        b = to_si(batch_size, "", what="batch_size", integer=True)
        eff = efficiency_si(efficiency)
        s = None if seq_len is None else to_si(seq_len, "", what="seq_len", integer=True)
        bytes_per_element(precision)  # validates the name
        r = roofline_si(model, hardware, batch_size=b, precision=precision, efficiency=eff, seq_len=s, decode=decode)
        bottleneck = np.where(r["compute_time"] >= r["memory_time"], "Compute", "Memory")
        scalar = np.ndim(r["feasible"]) == 0
        return NodeProfile(
            latency=as_unit(r["latency"] * 1e3, U_MS),
            throughput=as_unit(r["throughput"], U_SAMPLE_S),
            bottleneck=str(bottleneck) if scalar else bottleneck,
            compute_time=as_unit(r["compute_time"] * 1e3, U_MS),
            memory_time=as_unit(r["memory_time"] * 1e3, U_MS),
            flops=as_unit(r["flops"], U_FLOP),
            memory_traffic=as_unit(r["bytes"], U_BYTE),
            arithmetic_intensity=as_unit(r["flops"] / r["bytes"], U_FLOP_PER_BYTE),
            ridge_point=as_unit(hardware.peak_flops_si(precision) / hardware.si["memory_bandwidth"], U_FLOP_PER_BYTE),
            memory_footprint=as_unit(r["memory_footprint"] / 1e9, U_GB),
            feasible=bool(r["feasible"]) if scalar else r["feasible"],
            efficiency=float(r["efficiency"]) if np.ndim(r["efficiency"]) == 0 else r["efficiency"],
            precision=precision,
        )


class Engine:
    """The seed's entry point: ``Engine.solve(model, hardware, batch_size, precision, efficiency)``."""

    _model = SingleNodeModel()

    @classmethod
    def solve(cls, model, hardware, batch_size=1, precision: str = "fp16", efficiency=None, **kwargs) -> NodeProfile:
        return cls._model.solve(model, hardware, batch_size=batch_size, precision=precision,
                                efficiency=efficiency, **kwargs)
