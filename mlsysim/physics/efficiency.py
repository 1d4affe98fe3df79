"""Achievable compute: how much of a device's peak FLOP/s a workload can use.

The model is the same for every case (no per-run constants):

* a large matrix multiply reaches ``MATMUL_EFFICIENCY`` of dense peak;
* smaller matrices lose efficiency because their data movement no longer hides behind the math:
  ``1 / (1 + d_half · sum(1/d))`` over the dimensions ``d`` a device holds (e.g. ``hidden / tp``);
* when the device is known (every physics path passes it), the half-efficiency dimension comes from the
  device's roofline instead of the fixed ``D_HALF`` (:func:`roofline_d_half`), and the token
  dimension of the GEMM (microbatch x sequence) enters the same way;
* fixed-shape CNN inference uses ``CNN_EFFICIENCY``.

Whether a workload is then compute- or memory-bound is the roofline's business
(``mlsysim.physics.node``): this module only says how fast the math units run when busy.
"""
from __future__ import annotations

from dataclasses import dataclass

import functools
import pathlib
from contextlib import contextmanager

import numpy as np

from ..core.units import U_FLOP_S
from .base import Result, as_unit, to_si

# GEMM efficiency of an accelerator whose family is not in ``data/calibration/efficiency.yaml``' families, and of
# calls that do not name a device: the table's default family rate times its fitted training factor
# (0.80 x 0.86 ~ 0.69, see kernel_efficiency). Large bf16/fp16 GEMMs reach 80-87% of dense peak on
# NVIDIA parts (S. Bekman, ml-engineering, "Maximum Achievable Matmul FLOPS comparison table").
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

EFFICIENCY_TABLE = pathlib.Path(__file__).resolve().parent.parent / "data" / "calibration" / "efficiency.yaml"
#: Fitted constants temporarily replaced by :func:`calibrated` (the leave-one-source-out re-fit).
_OVERRIDES: dict = {}


@functools.lru_cache(maxsize=1)
def _table() -> dict:
    import yaml

    with open(EFFICIENCY_TABLE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def fitted_constant(name: str) -> float:
    """A constant of ``data/calibration/efficiency.yaml`` marked ``fitted`` (or its :func:`calibrated` override)."""
    return float(_OVERRIDES.get(name, _table()[name]["value"]))


@contextmanager
def calibrated(**values):
    """Evaluate with fitted constants replaced, e.g. ``calibrated(training_gemm_factor=0.8)``: how
    the validation re-fits a constant without one source. Unknown names are refused."""
    unknown = [k for k in values if not _table().get(k, {}).get("fitted")]
    if unknown:
        raise KeyError(f"not a fitted constant of {EFFICIENCY_TABLE.name}: {', '.join(unknown)}")
    saved = dict(_OVERRIDES)
    _OVERRIDES.update({k: float(v) for k, v in values.items()})
    try:
        yield
    finally:
        _OVERRIDES.clear()
        _OVERRIDES.update(saved)


def kernel_family(hardware) -> dict:
    """The ``data/calibration/efficiency.yaml`` family entry of ``hardware`` (matched on its key or name), else
    the default entry (with ``key: default``)."""
    text = f"{getattr(hardware, 'key', '')} {getattr(hardware, 'name', '')}".lower().replace("_", " ")
    compact = text.replace(" ", "")
    for fam in _table()["families"]:
        if any(m.lower().replace("_", " ") in text or m.lower().replace(" ", "") in compact for m in fam["match"]):
            return fam
    return {"key": "default", **_table()["default"]}


def kernel_efficiency(hardware, precision: str = "bf16") -> tuple[float, float]:
    """(GEMM, attention) fractions of dense peak for ``hardware``'s family: the family's matmul rate
    (its FP8 rate for ``fp8`` where measured) times the fitted ``training_gemm_factor``, and its
    fused-attention (forward + backward) rate."""
    fam = kernel_family(hardware)
    gemm = fam.get("gemm_fp8", fam["gemm"]) if precision == "fp8" else fam["gemm"]
    return gemm["value"] * fitted_constant("training_gemm_factor"), fam["attention"]["value"]


def size_factor(*dims, d_half=D_HALF) -> np.ndarray | float:
    """GEMM efficiency factor 1 / (1 + d_half · sum(1/d)) over the per-device GEMM dimensions.

    This is the roofline time of a GEMM written as math time plus memory time (see
    ``roofline_d_half``): t = FLOPs/peak · (1 + d_half · (1/M + 1/N + 1/K)). It is monotone: more
    peak FLOP/s or more bandwidth never makes a GEMM slower (a product of d/(d + d_half) terms,
    its first-order form, is not)."""
    inv = 0.0
    for d in dims:
        inv = inv + 1.0 / np.asarray(d, dtype=float)
    return 1.0 / (1.0 + np.asarray(d_half, dtype=float) * inv)


def roofline_d_half(hardware, precision: str = "bf16") -> float:
    """Half-efficiency GEMM dimension of ``hardware`` from its roofline (Williams, Waterman &
    Patterson 2009, CACM 52(4)).

    A GEMM (M x K) . (K x N) does 2MNK FLOPs and moves at least b(MK + KN + MN) bytes of b-byte
    elements, so its arithmetic intensity is I = 2 / (b (1/M + 1/N + 1/K)). Adding the memory
    time to the math time (t = FLOPs/peak + bytes/bandwidth) gives an efficiency
    I / (I + R) = 1 / (1 + (b R / 2) (1/M + 1/N + 1/K)) with R = peak / bandwidth the ridge point
    (``size_factor``). So the half-efficiency dimension is b R / 2 elements: 153 on an A100 (312 TFLOP/s, 2.04 TB/s, bf16),
    295 on an H100 SXM (989 TFLOP/s, 3.35 TB/s): a device with more FLOPs per byte of HBM
    bandwidth needs bigger matrices to stay busy. No constant is fitted."""
    from ..hardware.types import bytes_per_element

    peak = hardware.peak_flops_si(precision)
    return bytes_per_element(precision) * peak / (2.0 * hardware.si["memory_bandwidth"])


def transformer_matmul_efficiency(hidden, ffn, tp, tokens=None, d_half=D_HALF,
                                  peak_fraction=MATMUL_EFFICIENCY) -> np.ndarray | float:
    """Efficiency of a transformer layer's GEMMs on one device of a ``tp``-way split: the
    per-device matrices are hidden x hidden/tp (attention) and hidden x ffn/tp (MLP). With
    ``tokens`` (rows of the activation matrix: microbatch x sequence / cp) that dimension counts
    too; ``d_half`` is the half-efficiency dimension (``roofline_d_half`` for a known device) and
    ``peak_fraction`` the large-GEMM rate (``kernel_efficiency`` for a known device)."""
    hidden = np.asarray(hidden, dtype=float)
    tp = np.asarray(tp, dtype=float)
    dims = (hidden, np.minimum(hidden, ffn) / tp) + (() if tokens is None else (tokens,))
    # one additive factor over all three GEMM dimensions: a product of per-dimension factors is
    # not monotone in the device's peak (more FLOP/s could make a layer slower)
    return peak_fraction * size_factor(*dims, d_half=d_half)


def compute_efficiency(model, tp=1, hardware=None, precision: str = "bf16") -> np.ndarray | float:
    """Fraction of peak FLOP/s the math of ``model`` reaches on one device (of a ``tp``-way split);
    with ``hardware`` the half-efficiency size comes from its roofline (``roofline_d_half``),
    the same rule the training model uses, else ``D_HALF``."""
    if getattr(model, "kind", None) == "transformer":
        inner = model.moe_ffn if model.is_moe else model.ffn
        if hardware is None:
            return transformer_matmul_efficiency(model.hidden, inner, tp)
        return transformer_matmul_efficiency(model.hidden, inner, tp, d_half=roofline_d_half(hardware, precision),
                                             peak_fraction=kernel_efficiency(hardware, precision)[0])
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
        from ..core.catalog import registry
        from ..core.errors import UnknownNameError
        from ..hardware.types import bytes_per_element
        from .node import roofline_si

        model = registry("models").get(model)
        hardware = registry("hardware").get(hardware)
        if workload_type not in WORKLOAD_TYPES:
            raise UnknownNameError("workload type", workload_type, WORKLOAD_TYPES)
        bytes_per_element(precision)
        tp = to_si(tp_size, "", what="tp_size", integer=True)
        batch_size = to_si(batch_size, "", what="batch_size", integer=True)
        seq_len = None if seq_len is None else to_si(seq_len, "", what="seq_len", integer=True)
        eff = compute_efficiency(model, tp, hardware, precision)
        peak = hardware.peak_flops_si(precision)
        achievable = peak * eff
        if workload_type == "training":
            mfu, bound = eff, "Compute"
        else:
            r = roofline_si(model, hardware, batch_size=batch_size, precision=precision,
                            efficiency=eff, seq_len=seq_len, decode=(workload_type == "decode"))
            mfu = r["flops"] / (r["latency"] * peak)
            bound = np.where(r["compute_time"] >= r["memory_time"], "Compute", "Memory")
        scalar = lambda x: np.asarray(x).item() if np.ndim(x) == 0 else x  # noqa: E731
        return EfficiencyResult(workload_type=workload_type, compute_efficiency=scalar(eff),
                                achievable_flops=as_unit(achievable, U_FLOP_S), mfu=scalar(mfu),
                                bound=str(bound) if np.ndim(bound) == 0 else bound)
