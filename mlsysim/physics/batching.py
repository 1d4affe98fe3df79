"""Continuous batching with chunked prefill, with (or without) paged KV-cache allocation.

Continuous (iteration-level) batching admits a new request whenever one finishes instead of
waiting for the whole batch (Yu et al. 2022, "Orca: A Distributed Serving System for
Transformer-Based Generative Models", OSDI). How many requests run at once is then limited by
``max_batch``, by how many requests' KV caches fit in the memory the engine may use after the
weights and its activation workspace (``serving.GPU_MEMORY_UTILIZATION`` of the device, vLLM's
default), and by the iteration's token budget:

* **without paging** a request reserves a contiguous KV region for the longest sequence it may
  reach (``reserve_len``, default the model's ``max_seq_len``); Kwon et al. 2023 ("Efficient
  Memory Management for Large Language Model Serving with PagedAttention", SOSP, Sec. 2.3 and
  Fig. 2) measure that only 20-38 % of the KV memory of such systems holds token states;
* **with PagedAttention** the cache is allocated in blocks of ``block_size`` tokens on demand,
  so the only waste is the unfilled part of each sequence's last block, (block_size - 1)/2 tokens
  on average (Kwon et al. 2023, Sec. 4.2).

Admission (``admission``): ``"on_demand"`` (vLLM: blocks are allocated as tokens are generated,
with preemption when memory runs out, so a request holds its current context) or ``"no_evict"``
(TensorRT-LLM's default ``CapacitySchedulerPolicy.GUARANTEED_NO_EVICT``: a request is admitted
only if the blocks for its whole prompt + output fit, so each running request reserves
``p + o`` tokens of KV, of which ``p + o/2`` are filled on average).

Prefills are **chunked and mixed with decodes** (Agrawal et al. 2024, "Taming Throughput-Latency
Tradeoff in LLM Inference with Sarathi-Serve", OSDI): every iteration runs one decode token for
each of the ``n`` running requests plus prompt chunks. In steady state ``n/o`` requests finish per
iteration (``o`` = output length), so the iteration carries ``n·p/o`` prefill tokens (``p`` =
prompt length) beside its ``n`` decode tokens; the iteration token budget
``serving.MAX_NUM_BATCHED_TOKENS`` caps n·(1 + p/o). The running requests are spread uniformly
over their decode lifetimes, holding ``p + o/2`` tokens of KV cache on average. One iteration is
``serving.step_time_si`` over those tokens (weights read once, shared by decode and prefill
tokens; KV of the n contexts read; causal attention of the chunks), so

    throughput = n / t_iteration            (output tokens/s),   ITL = t_iteration,

and the request rate is throughput / o. ``ttft`` is the prefill of one request alone (no queue).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import U_TOKEN_S, ureg
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, efficiency_si, gb as _gb, ms as _ms, to_si
from .serving import (GPU_MEMORY_UTILIZATION, MAX_NUM_BATCHED_TOKENS, _step, serving_core, serving_setup,
                      workspace_bytes)

# vLLM's default KV block size (tokens per block): Kwon et al. 2023, Sec. 7.2 (block size 16).
DEFAULT_BLOCK_SIZE = 16
# Default output length of a request: ShareGPT conversations average ~ 200-340 output tokens
# (Kwon et al. 2023, Fig. 11); 256 is a round figure in that range.
DEFAULT_OUTPUT_LEN = 256
#: KV admission policies (see the module docstring).
ADMISSION_POLICIES = ("on_demand", "no_evict")

# Unit objects built once at import (attribute access on the registry re-parses the name each time).
_TOK_S, _REQ_S, _GB_S = U_TOKEN_S, ureg.request / ureg.second, ureg.GB / ureg.second
_KJ, _TOK = ureg.kilojoule, ureg.token


def batching_core(model, hardware, *, max_batch, prompt_len, output_len, tp=1, precision="fp16",
                  kv_precision=None, paged=True, block_size=DEFAULT_BLOCK_SIZE, reserve_len=None,
                  efficiency=None, admission: str = "on_demand") -> dict:
    """Vectorized continuous-batching physics (SI units); arrays broadcast over ``max_batch``,
    ``prompt_len``, ``output_len``, ``tp``, ``paged`` (0/1) and ``block_size``.

    ``reserve_len`` is the per-request KV reservation without paging (default ``model.max_seq_len``,
    never less than ``prompt_len + output_len``). Returns throughput (output tokens/s),
    request_throughput, decode_throughput, itl, ttft, e2e_latency, max_concurrent,
    effective_batch, kv_fragmentation, kv_budget, kv_used, kv_allocated, kv_per_request,
    weights_per_device, token_budget_limited and feasible.
    """
    kv_precision = kv_precision or precision
    mb = np.asarray(max_batch, dtype=float)
    p = np.asarray(prompt_len, dtype=float)
    o = np.asarray(output_len, dtype=float)
    paged = np.asarray(paged, dtype=float)
    blk = np.asarray(block_size, dtype=float)
    full_ctx = p + o
    s = serving_setup(model, hardware, tp, precision, kv_precision, efficiency)

    # One request alone: its prefill (TTFT).
    one = serving_core(model, hardware, batch_size=1.0, prompt_len=p, output_len=o, tp=tp,
                       precision=precision, kv_precision=kv_precision, efficiency=efficiency)
    weights_dev = s["weights_dev"]
    kv_token_dev = s["kv_token_dev"]
    capacity = hardware.si["memory_capacity"]
    budget = np.maximum(GPU_MEMORY_UTILIZATION * capacity - weights_dev
                        - workspace_bytes(model, MAX_NUM_BATCHED_TOKENS, precision), 0.0)

    mean_ctx = p + o / 2.0
    reserve = np.maximum(float(model.max_seq_len) if reserve_len is None else np.asarray(reserve_len, dtype=float),
                         full_ctx)
    if admission not in ADMISSION_POLICIES:
        raise ValueError(f"admission must be one of {ADMISSION_POLICIES}, got {admission!r}")
    paged_tokens = (mean_ctx if admission == "on_demand" else full_ctx) + (blk - 1.0) / 2.0
    alloc_tokens = np.where(paged > 0, paged_tokens, reserve)
    per_request = alloc_tokens * kv_token_dev
    max_concurrent = np.floor(budget / per_request)
    o_safe = np.maximum(o, 1.0)
    tokens_per_request_iter = 1.0 + p / o_safe          # decode token + its share of prefill chunks
    by_tokens = np.floor(MAX_NUM_BATCHED_TOKENS / tokens_per_request_iter)
    eff_b = np.minimum(np.minimum(mb, max_concurrent), np.maximum(by_tokens, 1.0))
    feasible = eff_b >= 1.0
    n = np.maximum(eff_b, 1.0)

    it = _step(model, s, tokens=n * tokens_per_request_iter, kv_read_tokens=n * mean_ctx + n * p / o_safe,
               attention_pairs=n * mean_ctx + (n / o_safe) * p * p / 2.0)
    itl = it["total"]
    ttft = one["ttft"]
    ok = feasible & (o > 0)
    throughput = np.where(ok, n / itl, 0.0)
    req_tput = np.where(ok, n / (itl * o_safe), 0.0)
    return {
        "throughput": throughput, "request_throughput": req_tput,
        "decode_throughput": np.where(feasible, n / itl, 0.0),
        "itl": itl, "ttft": ttft, "e2e_latency": np.where(ok, ttft + o * itl, np.inf),
        "max_concurrent": max_concurrent, "effective_batch": eff_b,
        "kv_fragmentation": (alloc_tokens - mean_ctx) / alloc_tokens,
        "kv_budget": budget, "kv_used": eff_b * mean_ctx * kv_token_dev,
        "kv_allocated": eff_b * per_request, "kv_per_request": per_request,
        "weights_per_device": weights_dev + 0 * eff_b, "feasible": feasible,
        "kv_limited": max_concurrent < np.minimum(mb, by_tokens),
        "token_budget_limited": by_tokens < np.minimum(mb, max_concurrent),
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
              kv_precision: str | None = None, reserve_len=None, efficiency=None,
              admission: str = "on_demand") -> ContinuousBatchingResult:
        """``seq_len`` is the prompt length; ``max_batch`` the scheduler's cap on running requests;
        ``reserve_len`` the per-request KV reservation without paging (default the model's
        ``max_seq_len``); ``admission`` "on_demand" (vLLM) or "no_evict" (TensorRT-LLM's default)."""
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
                          kv_precision=kv_precision, paged=paged, block_size=blk, reserve_len=res, efficiency=eff,
                          admission=admission)
        feasible = _py(r["feasible"])
        reason = ""
        if np.ndim(feasible) == 0 and not feasible:
            need = float(np.asarray(r["weights_per_device"])) + float(np.asarray(r["kv_per_request"]))
            reason = (f"one request needs {need / 1e9:.1f} GB per device (weights + its KV cache) beyond the activation "
                      f"workspace, but {hardware.name} leaves {float(np.asarray(r['kv_budget'])) / 1e9 + float(np.asarray(r['weights_per_device'])) / 1e9:.1f} GB "
                      f"for weights and KV ({GPU_MEMORY_UTILIZATION:.0%} of {hardware.si['memory_capacity'] / 1e9:.0f} GB less the workspace): raise tp_size, "
                      f"use a smaller precision" + ("" if np.all(paged > 0) else " or enable paged_attention"))
        bottleneck = np.where(r["kv_limited"], "kv_memory", np.where(r["token_budget_limited"], "token_budget", "max_batch"))
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
