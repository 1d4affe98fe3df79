"""Continuous batching with (or without) paged KV-cache allocation.

Continuous (iteration-level) batching admits a new request whenever one finishes instead of
waiting for the whole batch (Yu et al. 2022, "Orca: A Distributed Serving System for
Transformer-Based Generative Models", OSDI). How many requests run at once is then limited by
``max_batch`` or by how many requests' KV caches fit in the memory left after the weights:

* **without paging** a request reserves a contiguous KV region for the longest sequence it may
  reach (``reserve_len``, default the model's ``max_seq_len``); Kwon et al. 2023 ("Efficient
  Memory Management for Large Language Model Serving with PagedAttention", SOSP, Sec. 2.3 and
  Fig. 2) measure that only 20-38 % of the KV memory of such systems holds token states, i.e.
  60-80 % is wasted by reservation and fragmentation;
* **with PagedAttention** the cache is allocated in blocks of ``block_size`` tokens on demand,
  so the only waste is the unfilled part of each sequence's last block: fewer than
  ``block_size`` tokens per sequence, (block_size - 1)/2 on average (Kwon et al. 2023, Sec. 4.2;
  under 4 % in their measurements).

In steady state the running requests are spread uniformly over their decode lifetimes, so a
request holds on average ``prompt + output/2`` tokens of KV cache; ITL is evaluated by
``serving_core`` at that mean context and at the effective batch. Prefills are serialized with
the decode steps (no chunked prefill): per completed batch of ``n`` requests the engine spends
``n`` prefills plus ``output_len`` decode steps, so

    throughput = n·output_len / (n·TTFT₁ + output_len·ITL(n))      (output tokens/s)

and, by Little's law, the mean request latency is ``n / request_throughput``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import U_TOKEN_S, ureg
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, efficiency_si, gb as _gb, ms as _ms, to_si
from .serving import RUNTIME_RESERVE_BYTES, serving_core

# vLLM's default KV block size (tokens per block): Kwon et al. 2023, Sec. 7.2 (block size 16).
DEFAULT_BLOCK_SIZE = 16
# Default output length of a request: ShareGPT conversations average ~ 200-340 output tokens
# (Kwon et al. 2023, Fig. 11); 256 is a round figure in that range.
DEFAULT_OUTPUT_LEN = 256

# Unit objects built once at import (attribute access on the registry re-parses the name each time).
_TOK_S, _REQ_S, _GB_S = U_TOKEN_S, ureg.request / ureg.second, ureg.GB / ureg.second
_KJ, _TOK = ureg.kilojoule, ureg.token


def batching_core(model, hardware, *, max_batch, prompt_len, output_len, tp=1, precision="fp16",
                  kv_precision=None, paged=True, block_size=DEFAULT_BLOCK_SIZE, reserve_len=None,
                  efficiency=None) -> dict:
    """Vectorized continuous-batching physics (SI units); arrays broadcast over ``max_batch``,
    ``prompt_len``, ``output_len``, ``tp``, ``paged`` (0/1) and ``block_size``.

    ``reserve_len`` is the per-request KV reservation without paging (default ``model.max_seq_len``,
    never less than ``prompt_len + output_len``). Returns throughput (output tokens/s),
    request_throughput, decode_throughput, itl, ttft, e2e_latency, max_concurrent,
    effective_batch, kv_fragmentation, kv_budget, kv_used, kv_allocated, kv_per_request,
    weights_per_device and feasible.
    """
    kv_precision = kv_precision or precision
    mb = np.asarray(max_batch, dtype=float)
    p = np.asarray(prompt_len, dtype=float)
    o = np.asarray(output_len, dtype=float)
    paged = np.asarray(paged, dtype=float)
    blk = np.asarray(block_size, dtype=float)
    full_ctx = p + o

    # One request alone: its prefill (TTFT) and, from serving_core's memory accounting, the KV
    # bytes one token occupies on one device (linear in the context, so read off exactly).
    one = serving_core(model, hardware, batch_size=1.0, prompt_len=p, output_len=o, tp=tp,
                       precision=precision, kv_precision=kv_precision, efficiency=efficiency)
    weights_dev = one["weights_per_device"]
    kv_token_dev = (one["memory_per_device"] - weights_dev - RUNTIME_RESERVE_BYTES) / full_ctx
    capacity = hardware.si["memory_capacity"]
    budget = np.maximum(capacity - weights_dev - RUNTIME_RESERVE_BYTES, 0.0)

    mean_ctx = p + o / 2.0
    reserve = np.maximum(float(model.max_seq_len) if reserve_len is None else np.asarray(reserve_len, dtype=float),
                         full_ctx)
    alloc_tokens = np.where(paged > 0, mean_ctx + (blk - 1.0) / 2.0, reserve)
    per_request = alloc_tokens * kv_token_dev
    max_concurrent = np.floor(budget / per_request)
    eff_b = np.minimum(mb, max_concurrent)
    feasible = eff_b >= 1.0

    dec = serving_core(model, hardware, batch_size=np.maximum(eff_b, 1.0), prompt_len=p, output_len=o / 2.0,
                       tp=tp, precision=precision, kv_precision=kv_precision, efficiency=efficiency)
    itl = dec["itl"]
    ttft = one["ttft"]
    cycle = eff_b * ttft + o * itl                 # time to turn over eff_b requests
    ok = feasible & (cycle > 0)
    safe_cycle = np.where(ok, cycle, 1.0)
    throughput = np.where(ok, eff_b * o / safe_cycle, 0.0)
    req_tput = np.where(ok, eff_b / safe_cycle, 0.0)
    return {
        "throughput": throughput, "request_throughput": req_tput,
        "decode_throughput": np.where(feasible, eff_b / itl, 0.0),
        "itl": itl, "ttft": ttft, "e2e_latency": np.where(ok, cycle, np.inf),
        "max_concurrent": max_concurrent, "effective_batch": eff_b,
        "kv_fragmentation": (alloc_tokens - mean_ctx) / alloc_tokens,
        "kv_budget": budget, "kv_used": eff_b * mean_ctx * kv_token_dev,
        "kv_allocated": eff_b * per_request, "kv_per_request": per_request,
        "weights_per_device": weights_dev, "feasible": feasible,
        "kv_limited": max_concurrent < mb,
    }


@dataclass
class ContinuousBatchingResult(Result):
    """Result of ``ContinuousBatchingModel.solve``. ``throughput`` counts output tokens per second
    including the prefills; ``kv_fragmentation`` is the fraction of the allocated KV memory that
    holds no token; KV quantities are per device."""

    throughput: object
    request_throughput: object
    decode_throughput: object
    max_concurrent_requests: object
    effective_batch: object
    kv_fragmentation: object
    itl: object
    ttft: object
    e2e_latency: object
    kv_cache_budget: object
    kv_cache_used: object
    kv_cache_allocated: object
    kv_per_request: object
    feasible: object
    bottleneck: object
    reason: str
    paged_attention: object
    block_size: object
    precision: str


def _py(x):
    x = np.asarray(x)
    if x.ndim == 0:
        return x.item()
    return x


class ContinuousBatchingModel:
    """Throughput, KV-memory-limited concurrency and fragmentation of continuous batching,
    with PagedAttention (vLLM) or contiguous per-request KV reservation."""

    def solve(self, model, hardware, seq_len=2048, max_batch=256, output_len=DEFAULT_OUTPUT_LEN,
              precision: str = "fp16", paged_attention=True, block_size=DEFAULT_BLOCK_SIZE, tp_size=1,
              kv_precision: str | None = None, reserve_len=None, efficiency=None) -> ContinuousBatchingResult:
        """``seq_len`` is the prompt length; ``max_batch`` the scheduler's cap on running requests;
        ``reserve_len`` the per-request KV reservation without paging (default the model's
        ``max_seq_len``)."""
        from ..core.catalog import registry
        from ..core.errors import UserInputError

        model = registry("models").get(model)
        hardware = registry("hardware").get(hardware)
        if getattr(model, "kind", None) != "transformer":
            raise UserInputError(f"ContinuousBatchingModel needs a transformer (LLM) workload; {model.name} is a {model.kind}",
                                 hint="use Engine.solve for CNN inference")
        mb = to_si(max_batch, "", what="max_batch", integer=True)
        p = to_si(seq_len, "", what="seq_len", integer=True)
        o = to_si(output_len, "", what="output_len", integer=True, allow_zero=True)
        blk = to_si(block_size, "", what="block_size", integer=True)
        t = to_si(tp_size, "", what="tp_size", integer=True)
        res = None if reserve_len is None else to_si(reserve_len, "", what="reserve_len", integer=True)
        eff = efficiency_si(efficiency)
        kv_precision = kv_precision or precision
        bytes_per_element(precision), bytes_per_element(kv_precision)
        paged = np.asarray(paged_attention, dtype=bool).astype(float)
        r = batching_core(model, hardware, max_batch=mb, prompt_len=p, output_len=o, tp=t, precision=precision,
                          kv_precision=kv_precision, paged=paged, block_size=blk, reserve_len=res, efficiency=eff)
        feasible = _py(r["feasible"])
        reason = ""
        if np.ndim(feasible) == 0 and not feasible:
            need = float(np.asarray(r["weights_per_device"])) + RUNTIME_RESERVE_BYTES + float(np.asarray(r["kv_per_request"]))
            reason = (f"one request needs {need / 1e9:.1f} GB per device (weights + runtime + its KV cache) but "
                      f"{hardware.name} has {hardware.si['memory_capacity'] / 1e9:.0f} GB: raise tp_size, "
                      f"use a smaller precision" + ("" if np.all(paged > 0) else " or enable paged_attention"))
        bottleneck = np.where(r["kv_limited"], "kv_memory", "max_batch")
        return ContinuousBatchingResult(
            throughput=as_unit(r["throughput"], _TOK_S),
            request_throughput=as_unit(r["request_throughput"], _REQ_S),
            decode_throughput=as_unit(r["decode_throughput"], _TOK_S),
            max_concurrent_requests=_py(r["max_concurrent"].astype(int) if np.ndim(r["max_concurrent"]) else int(r["max_concurrent"])),
            effective_batch=_py(np.asarray(r["effective_batch"]).astype(int)),
            kv_fragmentation=_py(r["kv_fragmentation"]),
            itl=_ms(r["itl"]), ttft=_ms(r["ttft"]),
            e2e_latency=_ms(r["e2e_latency"]),
            kv_cache_budget=_gb(r["kv_budget"]),
            kv_cache_used=_gb(r["kv_used"]),
            kv_cache_allocated=_gb(r["kv_allocated"]),
            kv_per_request=_gb(r["kv_per_request"]),
            feasible=feasible, bottleneck=str(bottleneck) if bottleneck.ndim == 0 else bottleneck,
            reason=reason, paged_attention=_py(paged > 0), block_size=_py(np.asarray(blk).astype(int)), precision=precision,
        )
