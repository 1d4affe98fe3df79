"""LLM serving on one device or a tensor-parallel group: TTFT, ITL, KV cache, memory fit.

One engine step (a prefill, a decode step or a mixed chunked-prefill iteration) is the sum of
phases that run as separate kernels (Pope et al. 2023, "Efficiently Scaling Transformer
Inference", MLSys, Sec. 2-3; Kwon et al. 2023, vLLM, Sec. 4):

* **GEMM phase** -- the projections and MLP of all tokens in the step: a roofline of
  2·(matmul params)·tokens FLOPs against the weight bytes read once per step (plus activation
  traffic), weights streamed at ``MEMORY_EFFICIENCY`` of the HBM bandwidth;
* **attention phase** -- QK^T/softmax/AV over each token's context: a roofline of 4·L·d_attn FLOPs
  per (query, context) token pair (half of the square for a causal prefill) against the KV-cache
  bytes read, streamed at the *paged-attention* efficiency ``KV_READ_EFFICIENCY``
  (FlashInfer / PagedAttention kernel figures, ``data/calibration/kernels.yaml``);
* **tensor-parallel all-reduces** -- two per layer of the step's activations (Shoeybi et al. 2019,
  Megatron-LM, Sec. 3), ring time from ``collectives.all_reduce_time``;
* a per-step **framework overhead** ``STEP_OVERHEAD_S`` (scheduler, sampling, launch gaps).

KV cache = 2·L·n_kv·d_head·bytes per token (GQA; Ainslie et al. 2023). Memory: weights + KV +
an activation workspace for one forward pass of at most ``MAX_NUM_BATCHED_TOKENS`` tokens must fit
in ``GPU_MEMORY_UTILIZATION`` of the device (vLLM's default 0.9); the rest is the runtime reserve,
so ``memory_per_device`` = (weights + KV + workspace) / GPU_MEMORY_UTILIZATION.

Precision: ``precision`` is the weight format (its bytes are read each step) and sets the math
rate from the catalog's per-precision peak; int4 is weight-only (AWQ, Lin et al. 2024; GPTQ,
Frantar et al. 2023): int4 weights are dequantized into fp16 GEMMs, so int4 reads 0.5 byte per
weight at the fp16 peak. ``kv_precision`` sets the KV-cache bytes.
"""
from __future__ import annotations

import pathlib
from dataclasses import dataclass

import numpy as np
import yaml

from ..core.units import Q_, U_GB, U_MS, U_TOKEN_S
from ..core.catalog import registry
from ..core.errors import UserInputError
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, efficiency_si, to_si
from .collectives import LINK_EFFICIENCY, all_reduce_time
from .efficiency import MEMORY_EFFICIENCY, compute_efficiency
from .node import ACTIVATION_BYTES_PER_TOKEN_LAYER_FP16, moe_weight_bytes_touched, transformer_activation_traffic

#: The sourced serving-kernel constants (value, unit, source): ``mlsysim/data/calibration/kernels.yaml``.
KERNELS_PATH = pathlib.Path(__file__).resolve().parent.parent / "data" / "calibration" / "kernels.yaml"
with open(KERNELS_PATH, encoding="utf-8") as _fh:
    KERNELS = yaml.safe_load(_fh)


def _constant(name: str, unit: str = "") -> float:
    entry = KERNELS["defaults"][name]
    return float(Q_(entry["value"], entry["unit"] or "").m_as(unit)) if unit else float(entry["value"])


#: Paged decode-attention kernels stream the KV cache at this fraction of HBM bandwidth (kernels.yaml).
KV_READ_EFFICIENCY = _constant("kv_read_efficiency")
#: Host-side time per engine step not hidden behind GPU work, seconds (kernels.yaml).
STEP_OVERHEAD_S = _constant("step_overhead", "s")
#: Fraction of device memory the engine may fill (vLLM gpu_memory_utilization default; kernels.yaml).
GPU_MEMORY_UTILIZATION = _constant("gpu_memory_utilization")
#: Token budget of one iteration under chunked prefill (Sarathi-Serve; TensorRT-LLM/vLLM default).
MAX_NUM_BATCHED_TOKENS = _constant("max_num_batched_tokens")

# Runtime workspace per device used by the *training* memory model (CUDA context, cuBLAS workspace,
# allocator reserve, ~1-2 GB; Kwon et al. 2023, vLLM, Sec. 6). Serving uses GPU_MEMORY_UTILIZATION.
RUNTIME_RESERVE_BYTES = 2e9

#: Weight-only formats: their math runs at this precision (AWQ / GPTQ int4 kernels dequantize to fp16).
WEIGHT_ONLY_COMPUTE = {"int4": "fp16"}
#: Bytes of an activation element between kernels: 16-bit for every format of 16 bits or fewer.
#: Quantized inference (fp8/int8/int4/fp4) quantizes GEMM *inputs* inside the kernels but keeps the
#: residual stream, norms and tensor-parallel all-reduces in bf16/fp16 (TensorRT-LLM fp8 recipe,
#: docs/source/performance/fp8-quantization.md; Micikevicius et al. 2022, "FP8 Formats for Deep
#: Learning", Sec. 4: fp8 for GEMM inputs, higher precision elsewhere).
ACTIVATION_BYTES_MIN = 2.0


def compute_precision(precision: str) -> str:
    """Precision the GEMMs run at for weights stored in ``precision``."""
    return WEIGHT_ONLY_COMPUTE.get(precision, precision)


def workspace_bytes(model, tokens, precision) -> np.ndarray | float:
    """Activation workspace of one forward pass over ``tokens`` tokens (capped at the iteration
    budget ``MAX_NUM_BATCHED_TOKENS``): one layer's activations are live at a time, 34·h bytes per
    token at 16-bit (Korthikanti et al. 2022, Eq. 1, without the attention-score term)."""
    t = np.minimum(np.asarray(tokens, dtype=float), MAX_NUM_BATCHED_TOKENS)
    return t * ACTIVATION_BYTES_PER_TOKEN_LAYER_FP16 * model.hidden * activation_bytes(precision) / 2.0


def activation_bytes(precision: str) -> float:
    """Bytes of one activation element for weights in ``precision`` (>= 16-bit, see ACTIVATION_BYTES_MIN)."""
    return max(bytes_per_element(precision), ACTIVATION_BYTES_MIN)


def step_time_si(model, *, tokens, kv_read_tokens, attention_pairs, tp, peak, eff, bw_stream, bw_kv, kv_token_dev,
                 act_bytes, precision, link_bw, link_lat, weights_tokens=None) -> dict:
    """Time of one engine step (s) processing ``tokens`` tokens on one device of a ``tp`` group.

    ``kv_read_tokens``: context tokens whose KV entries the step reads or writes (summed over
    sequences); ``attention_pairs``: (query, key) pairs the attention computes (a decode token at
    context c: c pairs; a causal prefill of p tokens: p²/2); ``weights_tokens``: tokens that
    decide which MoE experts are read (default ``tokens``). Returns the phases and their sum."""
    t = tp
    gemm_flops = tokens * (2.0 * model.matmul_params_per_token) / t
    wt = tokens if weights_tokens is None else weights_tokens
    gemm_bytes = (moe_weight_bytes_touched(model, wt, precision)
                  + transformer_activation_traffic(model, tokens, "fp16") * (act_bytes / 2.0)) / t
    gemm = np.maximum(gemm_flops / (peak * eff), gemm_bytes / bw_stream)
    attn_flops = attention_pairs * (4.0 * model.layers * model.d_attn) / t
    attn = np.maximum(attn_flops / (peak * eff), kv_read_tokens * kv_token_dev / bw_kv)
    comm = (2.0 * model.layers) * all_reduce_time(tokens * model.hidden * act_bytes, t, link_bw, link_lat)
    return {"gemm": gemm, "attention": attn, "comm": comm, "total": gemm + attn + comm + STEP_OVERHEAD_S,
            "gemm_compute_bound": gemm_flops / (peak * eff) >= gemm_bytes / bw_stream}


def serving_setup(model, hardware, tp, precision, kv_precision, efficiency=None, link_bw=None, link_lat=None) -> dict:
    """The per-device rates and sizes every serving step uses (SI); one place for them."""
    t = np.asarray(tp, dtype=float)
    cprec = compute_precision(precision)
    mem_bw = hardware.si["memory_bandwidth"]
    kv_split = np.minimum(t, model.n_kv_heads if not model.is_mla else 1.0)
    return {
        "tp": t, "peak": hardware.peak_flops_si(cprec),
        "eff": compute_efficiency(model, t, hardware, cprec) if efficiency is None else np.asarray(efficiency, dtype=float),
        "bw_stream": mem_bw * MEMORY_EFFICIENCY, "bw_kv": mem_bw * KV_READ_EFFICIENCY,
        # KV heads split over tp; with fewer KV heads than tp ranks they are replicated.
        "kv_token": model.kv_cache_bytes_per_token(kv_precision), "kv_split": kv_split,
        "kv_token_dev": model.kv_cache_bytes_per_token(kv_precision) / kv_split,
        "act_bytes": activation_bytes(precision), "precision": precision,
        "link_bw": hardware.si["link_bandwidth"] * LINK_EFFICIENCY if link_bw is None else link_bw,
        "link_lat": hardware.si["link_latency"] if link_lat is None else link_lat,
        "weights_dev": model.weight_bytes(precision) / t,
    }


def _step(model, s, **kw):
    return step_time_si(model, tp=s["tp"], peak=s["peak"], eff=s["eff"], bw_stream=s["bw_stream"], bw_kv=s["bw_kv"],
                        kv_token_dev=s["kv_token_dev"], act_bytes=s["act_bytes"], precision=s["precision"],
                        link_bw=s["link_bw"], link_lat=s["link_lat"], **kw)


def serving_core(model, hardware, *, batch_size, prompt_len, output_len, tp, precision, kv_precision,
                 efficiency=None, link_bw=None, link_lat=None) -> dict:
    """Vectorized serving physics (SI units) of a static batch: ``batch_size`` sequences prefilled
    together (TTFT), then decoded together; ``itl`` is the decode step at the full context
    (prompt + output: the slowest token). Arrays broadcast over batch_size, prompt_len, output_len
    and tp."""
    b = np.asarray(batch_size, dtype=float)
    p = np.asarray(prompt_len, dtype=float)
    o = np.asarray(output_len, dtype=float)
    s = serving_setup(model, hardware, tp, precision, kv_precision, efficiency, link_bw, link_lat)
    t = s["tp"]

    # Prefill: the whole prompt of b sequences in one step (causal attention: p²/2 pairs each).
    bp = b * p
    pre = _step(model, s, tokens=bp, kv_read_tokens=bp, attention_pairs=b * p * p / 2.0)
    ttft = pre["total"]

    # One decode step of b sequences at the full context (prompt + output).
    ctx = p + o
    dec = _step(model, s, tokens=b, kv_read_tokens=b * ctx, attention_pairs=b * ctx)
    itl = dec["total"]

    kv_total = b * ctx * s["kv_token"]
    weights_dev = s["weights_dev"]
    used = weights_dev + kv_total / s["kv_split"] + workspace_bytes(model, bp, precision)
    mem_dev = used / GPU_MEMORY_UTILIZATION
    capacity = hardware.si["memory_capacity"]
    # tensor parallelism needs a link between the accelerators: without one (no interconnect in
    # the catalog) its all-reduces never finish, so the split is infeasible, not merely slow
    linked = (t <= 1.0) | (np.asarray(s["link_bw"], dtype=float) > 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        tokens_per_s = np.where(np.isfinite(itl), b / itl, np.nan)  # never "0 tokens/s" for an endless step
        e2e = ttft + np.where(o > 1.0, (o - 1.0) * itl, 0.0)
    return {
        "ttft": ttft, "itl": itl, "kv_cache_size": kv_total, "weights_per_device": weights_dev,
        "memory_per_device": mem_dev, "capacity": capacity + 0 * mem_dev,
        "feasible": (mem_dev <= capacity) & (np.mod(model.heads, t) == 0) & linked,
        "tokens_per_s": tokens_per_s, "e2e_latency": e2e,
        "decode_bound_memory": ~dec["gemm_compute_bound"], "tp_comm_per_token": dec["comm"],
        "itl_gemm": dec["gemm"], "itl_attention": dec["attention"],
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
                    f"{r['kv_cache_size'] / 1e9 / max(1.0, float(np.minimum(t, model.n_kv_heads))):.1f} GB + activation "
                    f"workspace, over the {GPU_MEMORY_UTILIZATION:.0%} of memory a serving engine fills) but {hardware.name} has "
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
