"""Weight-streaming execution (Cerebras wafer-scale style) for LLM inference.

In weight-streaming mode the parameters live in an external memory service (Cerebras MemoryX)
and stream onto the wafer one layer at a time, while activations (and here the KV cache) stay in
on-chip SRAM; weight transfer is overlapped with the previous layer's compute (Cerebras Systems
2021/2022, "Weight Streaming Execution" white paper and the SwarmX/MemoryX documentation; Lie
2022, "Cerebras Architecture Deep Dive", Hot Chips 34). Every step streams the weights once and
shares them over the whole batch, so for one decode step of ``b`` sequences

    stream time   = weight bytes / streaming bandwidth        (independent of b)
    compute time  = b · FLOPs per token / (peak · efficiency)
    step time     = max(stream time, compute time)            (transfer overlapped with compute)
    time per generated token = step time / b = max(W / (B_stream · b), FLOPs / (peak · eff))

Throughput b / step grows linearly with the batch until compute time reaches stream time: the
smallest such batch (``optimal_batch``) is the streaming ridge point
``W · peak · eff / (B_stream · FLOPs per token)``; beyond it the wafer is compute-bound and a
larger batch only adds latency. A mixture-of-experts model streams only the experts its tokens
route to (``moe_weight_bytes_touched``). The on-chip memory (``hardware.memory.capacity``) must
hold the KV cache of the batch and the in-flight activations; ``max_batch_on_chip`` is the
largest batch that does, which for large models at 150 GB/s is far below ``optimal_batch`` --
the reason wafer-scale *inference* keeps weights on-wafer when they fit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import U_BYTE_S, U_TOKEN_S, ureg
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, efficiency_si, gb as _gb, ms as _ms, to_si
from .efficiency import compute_efficiency
from .node import moe_weight_bytes_touched, transformer_activation_traffic

# External I/O of a Cerebras CS-2 / CS-3 system: 1.2 Tb/s (12 x 100 GbE) = 150 GB/s, the rate at
# which MemoryX/SwarmX must deliver weights to keep the wafer busy (Cerebras, "SwarmX" and
# "Weight Streaming Execution" documentation; CS-3 system datasheet, "System I/O: 1.2 Tb/s").
DEFAULT_STREAMING_BANDWIDTH = 1.2e12 / 8.0  # bytes/s

_MAX_ITER = 64

# Unit objects built once at import (attribute access on the registry re-parses the name each time).
_TOK_S, _REQ_S, _GB_S = U_TOKEN_S, ureg.request / ureg.second, ureg.GB / ureg.second
_KJ, _TOK = ureg.kilojoule, ureg.token


def streaming_core(model, hardware, *, batch_size, seq_len, precision="fp16", kv_precision=None,
                   streaming_bandwidth=DEFAULT_STREAMING_BANDWIDTH, efficiency=None) -> dict:
    """Vectorized weight-streaming inference (SI units), broadcasting over ``batch_size``,
    ``seq_len`` and ``streaming_bandwidth``. Returns stream_time, compute_time, step_time (ITL),
    time_per_token, throughput (tokens/s), ttft, optimal_batch, on_chip_bytes, feasible."""
    kv_precision = kv_precision or precision
    b = np.asarray(batch_size, dtype=float)
    s = np.asarray(seq_len, dtype=float)
    bw = np.asarray(streaming_bandwidth, dtype=float)
    peak = hardware.peak_flops_si(precision)
    eff = compute_efficiency(model, 1, hardware, precision) if efficiency is None else np.asarray(efficiency, dtype=float)
    rate = peak * eff
    flops_token = model.forward_flops_per_token(s)

    stream = moe_weight_bytes_touched(model, b, precision) / bw + 0.0 * b   # same shape as the batch
    compute = b * flops_token / rate
    step = np.maximum(stream, compute)

    # Prefill of the prompt: the weights stream once for all b·s tokens.
    pre_stream = moe_weight_bytes_touched(model, b * s, precision) / bw + 0.0 * b
    ttft = np.maximum(pre_stream, b * s * flops_token / rate)

    # Streaming ridge point: smallest integer b with b·F/rate >= W(b)/bw. W(b) is constant for a
    # dense model (one iteration) and grows with b for an MoE model (fixed-point iteration from 1,
    # which increases monotonically to the least solution).
    c = rate / (bw * flops_token)
    opt = np.ones(np.broadcast(c, b).shape)
    for _ in range(_MAX_ITER if getattr(model, "is_moe", False) else 1):
        nxt = np.maximum(np.ceil(c * moe_weight_bytes_touched(model, opt, precision) * (1.0 - 1e-12)), 1.0)
        if np.array_equal(nxt, opt):
            break
        opt = nxt

    # On-chip SRAM holds the KV cache of the batch and one layer's activations of the prompt.
    per_seq = s * model.kv_cache_bytes_per_token(kv_precision) + transformer_activation_traffic(model, s, precision) / model.layers
    on_chip = b * per_seq
    return {
        "stream_time": stream, "compute_time": compute, "step_time": step, "time_per_token": step / b,
        "throughput": b / step, "ttft": ttft, "optimal_batch": opt, "on_chip_bytes": on_chip,
        "feasible": on_chip <= hardware.si["memory_capacity"], "stream_bound": stream >= compute,
        "weight_bytes_streamed": stream * bw,
        "max_batch_on_chip": np.floor(hardware.si["memory_capacity"] / per_seq),
    }


@dataclass
class WeightStreamingResult(Result):
    """Result of ``WeightStreamingModel.solve``: ``itl`` is the time of one decode step (every
    sequence of the batch gets one token), ``time_per_token`` that step amortized over the batch."""

    itl: object
    time_per_token: object
    throughput: object
    optimal_batch: object
    max_batch_on_chip: object
    stream_time: object
    compute_time: object
    ttft: object
    bottleneck: object
    weight_bytes_streamed: object
    on_chip_memory: object
    on_chip_capacity: object
    feasible: object
    streaming_bandwidth: object
    precision: str


def _int(x):
    x = np.asarray(x).astype(np.int64)
    return x.item() if x.ndim == 0 else x


class WeightStreamingModel:
    """Wafer-scale weight-streaming inference: throughput vs batch and the batch at which the
    wafer stops waiting for weights (``optimal_batch``)."""

    def solve(self, model, hardware, seq_len=2048, batch_size=1, precision: str = "fp16",
              streaming_bandwidth=None, kv_precision: str | None = None, efficiency=None) -> WeightStreamingResult:
        """``streaming_bandwidth`` (bytes/s quantity) defaults to 1.2 Tb/s = 150 GB/s, the
        external I/O of a Cerebras CS-2/CS-3 system."""
        from ..core.catalog import registry
        from ..core.errors import UserInputError

        model = registry("models").get(model)
        hardware = registry("hardware").get(hardware)
        if getattr(model, "kind", None) != "transformer":
            raise UserInputError(f"WeightStreamingModel needs a transformer (LLM) workload; {model.name} is a {model.kind}")
        b = to_si(batch_size, "", what="batch_size", integer=True)
        s = to_si(seq_len, "", what="seq_len", integer=True)
        bw = (DEFAULT_STREAMING_BANDWIDTH if streaming_bandwidth is None
              else to_si(streaming_bandwidth, U_BYTE_S, what="streaming_bandwidth"))
        eff = efficiency_si(efficiency)
        kv_precision = kv_precision or precision
        bytes_per_element(precision), bytes_per_element(kv_precision)
        r = streaming_core(model, hardware, batch_size=b, seq_len=s, precision=precision, kv_precision=kv_precision,
                           streaming_bandwidth=bw, efficiency=eff)
        bound = np.where(r["stream_bound"], "Streaming", "Compute")
        feasible = r["feasible"]
        opt = np.asarray(r["optimal_batch"]).astype(np.int64)
        return WeightStreamingResult(
            itl=_ms(r["step_time"]), time_per_token=_ms(r["time_per_token"]),
            throughput=as_unit(r["throughput"], _TOK_S),
            optimal_batch=opt.item() if opt.ndim == 0 else opt,
            max_batch_on_chip=_int(r["max_batch_on_chip"]),
            stream_time=_ms(r["stream_time"]), compute_time=_ms(r["compute_time"]),
            ttft=_ms(r["ttft"]), bottleneck=str(bound) if bound.ndim == 0 else bound,
            weight_bytes_streamed=_gb(r["weight_bytes_streamed"]),
            on_chip_memory=_gb(r["on_chip_bytes"]),
            on_chip_capacity=_gb(hardware.si["memory_capacity"]),
            feasible=bool(feasible) if np.ndim(feasible) == 0 else feasible,
            streaming_bandwidth=as_unit(bw / 1e9, _GB_S), precision=precision,
        )
