"""Inference-time scaling: the latency, tokens, energy and cost of reasoning.

Chain-of-thought prompting makes a model generate intermediate reasoning steps before its answer
(Wei et al. 2022, "Chain-of-Thought Prompting Elicits Reasoning in Large Language Models",
NeurIPS); self-consistency samples ``n`` reasoning paths and takes the majority answer (Wang et
al. 2023, "Self-Consistency Improves Chain of Thought Reasoning in Language Models", ICLR), and
best-of-n picks the best of ``n`` samples under a verifier; Snell et al. 2024 ("Scaling LLM
Test-Time Compute Optimally can be More Effective than Scaling Model Parameters") study how
to spend that generation budget. Whatever the strategy, the system pays for the tokens:

* the prompt is prefilled once and its KV blocks are shared by the ``samples`` parallel
  sequences (parallel sampling in vLLM, Kwon et al. 2023, Sec. 4.4) -> ``ttft`` at batch 1;
* the ``samples`` sequences then decode ``reasoning_steps x tokens_per_step`` tokens together
  as one batch; the mean inter-token latency is ``serving_core``'s ITL at the mean context
  ``prompt + output/2`` (the KV cache grows linearly during generation);
* total time = TTFT + (tokens - 1) x mean ITL (the first token comes out of the prefill), the
  same accounting as ``ServingModel``'s ``e2e_latency``.

Memory is checked at the final context (``prompt + output``) for all samples, counting the
prompt's KV once per sample (conservative: ignores prefix sharing). Energy is an upper bound at
the accelerators' TDP; cost uses the accelerator's ``cloud_price_per_hour`` when the catalog has it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.units import U_S, U_TOKEN_S, U_USD, ureg
from ..hardware.types import bytes_per_element
from .base import Result, as_unit, efficiency_si, gb as _gb, ms as _ms, to_si
from .serving import serving_core

DEFAULT_TOKENS_PER_STEP = 100
DEFAULT_PROMPT_LEN = 512

# Unit objects built once at import (attribute access on the registry re-parses the name each time).
_TOK_S, _REQ_S, _GB_S = U_TOKEN_S, ureg.request / ureg.second, ureg.GB / ureg.second
_KJ, _TOK = ureg.kilojoule, ureg.token


def reasoning_core(model, hardware, *, reasoning_steps, tokens_per_step=DEFAULT_TOKENS_PER_STEP, samples=1,
                   prompt_len=DEFAULT_PROMPT_LEN, tp=1, precision="fp16", kv_precision=None,
                   efficiency=None) -> dict:
    """Vectorized reasoning cost (SI units), broadcasting over steps, tokens per step, samples,
    prompt length and tp. Returns total_time, ttft, itl, time_per_step, tokens_per_sample,
    total_tokens, energy (J, at TDP), cost (USD, NaN without a price), memory_per_device, feasible."""
    kv_precision = kv_precision or precision
    steps = np.asarray(reasoning_steps, dtype=float)
    tps = np.asarray(tokens_per_step, dtype=float)
    n = np.asarray(samples, dtype=float)
    t = np.asarray(tp, dtype=float)
    out = steps * tps
    kw = dict(tp=t, precision=precision, kv_precision=kv_precision, efficiency=efficiency)
    prefill = serving_core(model, hardware, batch_size=1.0, prompt_len=prompt_len, output_len=out, **kw)
    mean = serving_core(model, hardware, batch_size=n, prompt_len=prompt_len, output_len=out / 2.0, **kw)
    final = serving_core(model, hardware, batch_size=n, prompt_len=prompt_len, output_len=out, **kw)
    ttft, itl = prefill["ttft"], mean["itl"]
    total = ttft + np.maximum(out - 1.0, 0.0) * itl
    devices = t + 0.0 * total
    return {
        "total_time": total, "ttft": ttft, "itl": itl, "time_per_step": tps * itl,
        "tokens_per_sample": out + 0.0 * n, "total_tokens": n * out,
        "energy": hardware.si["tdp"] * devices * total,
        "cost": hardware.si["cloud_usd_per_s"] * devices * total,
        "memory_per_device": final["memory_per_device"], "feasible": final["feasible"],
        "tokens_per_s": n * out / total,
    }


@dataclass
class InferenceScalingResult(Result):
    """Result of ``InferenceScalingModel.solve``. ``cost`` is None when the hardware has no
    ``cloud_price_per_hour``; ``energy`` is an upper bound (accelerators at TDP), None when the
    datasheet gives no TDP."""

    total_reasoning_time: object
    ttft: object
    itl: object
    time_per_step: object
    tokens_per_sample: object
    total_tokens: object
    throughput: object
    energy: object
    cost: object
    memory_per_device: object
    feasible: object
    reasoning_steps: object
    samples: object
    precision: str


def _int(x):
    x = np.asarray(x).astype(np.int64)
    return x.item() if x.ndim == 0 else x


class InferenceScalingModel:
    """How much latency, energy and money chain-of-thought reasoning and best-of-n /
    self-consistency sampling cost on a device (or tensor-parallel group)."""

    def solve(self, model, hardware, reasoning_steps=10, tokens_per_step=DEFAULT_TOKENS_PER_STEP, samples=1,
              prompt_len=DEFAULT_PROMPT_LEN, precision: str = "fp16", tp_size=1, kv_precision: str | None = None,
              efficiency=None) -> InferenceScalingResult:
        from ..core.catalog import registry
        from ..core.errors import UserInputError

        model = registry("models").get(model)
        hardware = registry("hardware").get(hardware)
        if getattr(model, "kind", None) != "transformer":
            raise UserInputError(f"InferenceScalingModel needs a transformer (LLM) workload; {model.name} is a {model.kind}")
        steps = to_si(reasoning_steps, "", what="reasoning_steps", integer=True)
        tps = to_si(tokens_per_step, "", what="tokens_per_step", integer=True)
        n = to_si(samples, "", what="samples", integer=True)
        p = to_si(prompt_len, "", what="prompt_len", integer=True)
        t = to_si(tp_size, "", what="tp_size", integer=True)
        eff = efficiency_si(efficiency)
        kv_precision = kv_precision or precision
        bytes_per_element(precision), bytes_per_element(kv_precision)
        r = reasoning_core(model, hardware, reasoning_steps=steps, tokens_per_step=tps, samples=n, prompt_len=p,
                           tp=t, precision=precision, kv_precision=kv_precision, efficiency=eff)
        cost, energy = r["cost"], r["energy"]
        cost_q = None if np.all(np.isnan(cost)) else as_unit(cost, U_USD)
        energy_q = None if np.all(np.isnan(energy)) else as_unit(energy / 1e3, _KJ)
        feasible = r["feasible"]
        return InferenceScalingResult(
            total_reasoning_time=as_unit(r["total_time"], U_S), ttft=_ms(r["ttft"]),
            itl=_ms(r["itl"]), time_per_step=_ms(r["time_per_step"]),
            tokens_per_sample=as_unit(r["tokens_per_sample"], _TOK), total_tokens=as_unit(r["total_tokens"], _TOK),
            throughput=as_unit(r["tokens_per_s"], _TOK_S),
            energy=energy_q, cost=cost_q,
            memory_per_device=_gb(r["memory_per_device"]),
            feasible=bool(feasible) if np.ndim(feasible) == 0 else feasible,
            reasoning_steps=_int(steps), samples=_int(n), precision=precision,
        )
