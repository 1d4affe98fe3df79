"""Achievable compute: how much of a device's peak FLOP/s a workload can use.

The model is the same for every case (no per-run constants):

* a large matrix multiply reaches ``MATMUL_EFFICIENCY`` of dense peak;
* smaller weight matrices lose efficiency to tile quantization and launch overhead, modelled as
  ``d / (d + D_HALF)`` for each weight dimension ``d`` that a device holds (e.g. ``hidden / tp``);
* fixed-shape CNN inference uses ``CNN_EFFICIENCY``.

Whether a workload is then compute- or memory-bound is the roofline's business
(``mlsysim.physics.node``): this module only says how fast the math units run when busy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import U_FLOP_S
from .base import Result, as_unit, to_si

# Large bf16/fp16 GEMMs on tensor-core GPUs reach ~80% of dense peak: NVIDIA, "Matrix Multiplication
# Background User's Guide" (Deep Learning Performance docs, 2023), Fig. 4-5 (A100, large M=N=K);
# Megatron-LM reports 138-163 TFLOP/s of 312 on A100 *including* communication and bubbles
# (Narayanan et al. 2021, Table 1), consistent with ~80% inside the GEMMs.
MATMUL_EFFICIENCY = 0.75
# Half-efficiency dimension of the per-device weight matrix (GEMM tiles are 128-256 wide; a
# 128-wide dimension fills about half the SMs' pipelines). NVIDIA GEMM guide, "Tile/Wave quantization".
D_HALF = 128.0
# MLPerf Inference v3.0 (2023), closed division, ResNet-50 offline on one A100 SXM: ~39k samples/s
# at INT8 -> 39e3 x 8.2e9 FLOP / 624e12 OP/s = 0.51 of peak.
CNN_EFFICIENCY = 0.50
# Streaming reads of weights/KV reach ~85-90% of the HBM datasheet bandwidth (Jia et al. 2018,
# "Dissecting the NVIDIA Volta GPU Architecture via Microbenchmarking", Sec. 3: 850/900 GB/s on V100).
MEMORY_EFFICIENCY = 0.90

WORKLOAD_TYPES = ("training", "prefill", "decode", "cnn_inference")


def size_factor(*dims) -> np.ndarray | float:
    """Product of d/(d + D_HALF) over the per-device weight-matrix dimensions."""
    f = 1.0
    for d in dims:
        d = np.asarray(d, dtype=float)
        f = f * d / (d + D_HALF)
    return f


def transformer_matmul_efficiency(hidden, ffn, tp) -> np.ndarray | float:
    """Efficiency of a transformer layer's GEMMs on one device of a ``tp``-way split: the
    per-device matrices are hidden x hidden/tp (attention) and hidden x ffn/tp (MLP)."""
    hidden = np.asarray(hidden, dtype=float)
    tp = np.asarray(tp, dtype=float)
    return MATMUL_EFFICIENCY * size_factor(hidden) * size_factor(np.minimum(hidden, ffn) / tp)


def compute_efficiency(model, tp=1) -> np.ndarray | float:
    """Fraction of peak FLOP/s the math of ``model`` reaches on one device."""
    if getattr(model, "kind", None) == "transformer":
        inner = model.moe_ffn if model.is_moe else model.ffn
        return transformer_matmul_efficiency(model.hidden, inner, tp)
    return CNN_EFFICIENCY


@dataclass
class EfficiencyResult(Result):
    workload_type: str
    compute_efficiency: float
    achievable_flops: object
    mfu: float
    bound: str


class EfficiencyModel:
    """Achievable FLOP/s and model FLOPs utilization (MFU) of a workload on a device."""

    def solve(self, model, hardware, workload_type: str = "training", batch_size=1, seq_len=None,
              tp_size=1, precision: str = "bf16") -> EfficiencyResult:
        from .node import roofline_si
        from ..core.errors import UnknownNameError

        if workload_type not in WORKLOAD_TYPES:
            raise UnknownNameError("workload type", workload_type, WORKLOAD_TYPES)
        tp = to_si(tp_size, "", what="tp_size", integer=True)
        eff = compute_efficiency(model, tp)
        peak = hardware.peak_flops_si(precision)
        achievable = peak * eff
        if workload_type == "training":
            mfu, bound = eff, "Compute"
        else:
            r = roofline_si(model, hardware, batch_size=batch_size, precision=precision,
                            efficiency=eff, seq_len=seq_len, decode=(workload_type == "decode"))
            mfu = r["flops"] / (r["latency"] * peak)
            bound = "Compute" if r["compute_time"] >= r["memory_time"] else "Memory"
        return EfficiencyResult(workload_type=workload_type, compute_efficiency=eff,
                                achievable_flops=as_unit(achievable, U_FLOP_S), mfu=float(np.asarray(mfu).item()) if np.ndim(mfu) == 0 else mfu,
                                bound=bound)
