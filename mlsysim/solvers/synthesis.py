"""What hardware meets a latency SLA? The decode roofline, inverted.

One decode step of ``b`` sequences at context ``s`` reads B bytes (weights + KV cache +
activations) and performs F FLOPs in two phases (GEMMs, attention), each a roofline
``max(F_i / (peak · eff), B_i / (bandwidth · mem_eff_i))``, plus a fixed per-step overhead
(Williams et al. 2009; Pope et al. 2023; ``physics.serving``).
Meeting ``ITL <= target`` therefore needs, per device,

    memory bandwidth >= B / (target · mem_eff)
    peak FLOP/s      >= F / (target · eff)
    memory capacity  >= weights + KV cache + runtime reserve

and a time-to-first-token target adds the same two bounds for the prefill. When the two phases
are bound by different resources, both bounds are raised by the same factor until the step meets
the target (latency is inversely proportional to a joint scaling of FLOP/s and bandwidth). The bytes, FLOPs and
efficiencies are exactly ``serving_core``'s: the solver evaluates ``serving_core`` on two probe
devices -- one with unit bandwidth and unlimited FLOP/s, one with unit FLOP/s and unlimited
bandwidth -- whose latencies *are* B/mem_eff and F/eff, so the inverse can never drift from the
forward model. A device with the three required specs runs the workload at exactly the target
(tensor-parallel communication is not included: it depends on a link the solver does not pick).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pint

from ..core.units import U_BYTE, U_BYTE_S, U_FLOP_S, U_S, U_TOKEN, ureg
from ..hardware.types import bytes_per_element
from ..physics.base import Result, as_unit, efficiency_si, to_si

DEFAULT_SEQ_LEN = 2048  # ServingModel's default context
_MS, _GB, _TB_S, _TFLOP_S = ureg.millisecond, ureg.GB, ureg.TB / ureg.second, ureg.TFLOP / ureg.second
_FLOP_PER_BYTE, _S_PER_TOKEN = ureg.FLOP / U_BYTE, U_S / U_TOKEN


class _SpecProbe:
    """A duck-typed accelerator with the given SI specs, as ``serving_core`` reads them."""

    def __init__(self, peak: float, bandwidth: float):
        self._peak = peak
        self.si = {"peak_flops": peak, "memory_bandwidth": bandwidth, "memory_capacity": np.inf,
                   "link_bandwidth": np.inf, "link_latency": 0.0}

    def peak_flops_si(self, precision):
        return self._peak


_BW_PROBE = _SpecProbe(np.inf, 1.0)
_FLOPS_PROBE = _SpecProbe(1.0, np.inf)


def synthesis_core(model, *, target_itl, batch_size=1, seq_len=DEFAULT_SEQ_LEN, tp=1, precision="fp16",
                   kv_precision=None, efficiency=None, target_ttft=None) -> dict:
    """Vectorized minimum specs per device (SI: bytes/s, FLOP/s, bytes) for ``ITL <= target_itl``
    (and ``TTFT <= target_ttft`` when given); broadcasts over every numeric argument."""
    from ..physics.serving import STEP_OVERHEAD_S, serving_core

    from ..physics.efficiency import compute_efficiency

    kv_precision = kv_precision or precision
    # the per-step framework overhead is a fixed time: the hardware must meet what is left of the target
    target_itl = np.asarray(target_itl, dtype=float) - STEP_OVERHEAD_S
    target_ttft = None if target_ttft is None else np.asarray(target_ttft, dtype=float) - STEP_OVERHEAD_S
    # The forward model's GEMM efficiency depends on the device's own ridge point (efficiency.
    # roofline_d_half), i.e. on the answer: iterate to the fixed point (converges in a few steps,
    # the dependence is weak). A given ``efficiency`` needs no iteration.
    eff = efficiency
    guess = None  # the device of the previous iteration (None: the default half-size D_HALF)
    prev = None
    for _ in range(1 if efficiency is not None else 200):
        if efficiency is None:
            eff = compute_efficiency(model, tp, guess, precision)
        kw = dict(batch_size=batch_size, prompt_len=seq_len, output_len=0.0, tp=tp, precision=precision,
                  kv_precision=kv_precision, efficiency=eff)
        mem = serving_core(model, _BW_PROBE, **kw)     # latencies in seconds at 1 byte/s
        cmp = serving_core(model, _FLOPS_PROBE, **kw)  # latencies in seconds at 1 FLOP/s
        bw = (mem["itl"] - STEP_OVERHEAD_S) / target_itl
        flops = (cmp["itl"] - STEP_OVERHEAD_S) / target_itl
        if target_ttft is not None:
            bw = np.maximum(bw, (mem["ttft"] - STEP_OVERHEAD_S) / target_ttft)
            flops = np.maximum(flops, (cmp["ttft"] - STEP_OVERHEAD_S) / target_ttft)
        # A step is a sum of phases (GEMM, attention), each a roofline: a device with both lower
        # bounds can still miss the target when the phases are bound by different resources.
        # Latency scales as 1/k when FLOP/s and bandwidth both scale by k, so scale both up by the
        # miss of the device that has exactly the two bounds.
        both = serving_core(model, _SpecProbe(flops, bw), **kw)
        scale = (both["itl"] - STEP_OVERHEAD_S) / target_itl
        if target_ttft is not None:
            scale = np.maximum(scale, (both["ttft"] - STEP_OVERHEAD_S) / target_ttft)
        scale = np.maximum(scale, 1.0)
        bw, flops = bw * scale, flops * scale
        guess = _SpecProbe(flops, bw)
        if prev is not None and np.allclose(flops, prev, rtol=1e-13, atol=0.0):
            break
        prev = flops
    return {"required_bandwidth": bw, "required_flops": flops, "required_memory": mem["memory_per_device"],
            "ridge_point": flops / bw}


def _seconds(value, what: str) -> float:
    """A latency target in seconds: a time (``50 ms``) or a time per token (``30 ms/token``)."""
    from ..core.errors import UnitError
    from ..core.units import parse_quantity

    example = "pass e.g. Q_('50 ms') or Q_('30 ms/token')"
    if isinstance(value, str):
        value = parse_quantity(value, what=what)
    if not isinstance(value, pint.Quantity):
        raise UnitError(f"{what}: {value!r} has no unit; a latency target must be a time or a time per token",
                        hint=example)
    if value.check("[time]"):
        return to_si(value, U_S, what=what)
    if value.is_compatible_with(_S_PER_TOKEN):
        return to_si(value, _S_PER_TOKEN, what=what)
    raise UnitError(f"{what}: {value:~} has units {value.units:~} ({value.dimensionality}); expected a time "
                    f"(ms) or a time per token (ms/token)", hint=example)


@dataclass
class SynthesisResult(Result):
    """Minimum per-device specs for the SLA. ``candidates`` (computed on first access) lists the
    catalog hardware meeting all three."""

    required_bandwidth: object
    required_flops: object
    required_memory: object
    ridge_point: object
    target_latency: object
    target_ttft: object
    batch_size: int
    seq_len: int
    tp_size: int
    precision: str

    @property
    def required_bw(self):
        return self.required_bandwidth

    def meets(self, hardware) -> bool:
        """Does ``hardware`` (an entry or a catalog name) meet all three required specs?"""
        from ..core.catalog import registry

        hw = registry("hardware").get(hardware)
        return bool(hw.si["memory_bandwidth"] >= self.required_bandwidth.m_as(U_BYTE_S)
                    and hw.peak_flops_si(self.precision) >= self.required_flops.m_as(U_FLOP_S)
                    and hw.si["memory_capacity"] >= self.required_memory.m_as(U_BYTE))

    @cached_property
    def candidates(self) -> list[str]:
        """Names of the catalog accelerators that meet the specs (bandwidth, FLOP/s at the
        requested precision, capacity)."""
        from ..core.catalog import registry

        return [hw.name for hw in registry("hardware").all() if self.meets(hw)]


class SynthesisSolver:
    """Minimum memory bandwidth, FLOP/s and memory per device for an LLM latency target."""

    def solve(self, model, target_latency, batch_size=1, precision: str = "fp16", seq_len=None,
              target_ttft=None, tp_size=1, kv_precision: str | None = None, efficiency=None) -> SynthesisResult:
        """``target_latency`` is the inter-token latency SLA, as a time (``Q_("50 ms")``) or a
        time per token (``Q_("30 ms/token")``); ``target_ttft`` optionally bounds the prefill."""
        from ..core.catalog import registry
        from ..core.errors import UserInputError

        model = registry("models").get(model)
        if getattr(model, "kind", None) != "transformer":
            raise UserInputError(f"SynthesisSolver inverts LLM decode latency and needs a transformer; {model.name} is a {model.kind}")
        target = _seconds(target_latency, "target_latency")
        ttft = None if target_ttft is None else _seconds(target_ttft, "target_ttft")
        b = to_si(batch_size, "", what="batch_size", integer=True)
        s = to_si(seq_len if seq_len is not None else min(model.max_seq_len, DEFAULT_SEQ_LEN), "",
                  what="seq_len", integer=True)
        t = to_si(tp_size, "", what="tp_size", integer=True)
        eff = efficiency_si(efficiency)
        kv_precision = kv_precision or precision
        bytes_per_element(precision), bytes_per_element(kv_precision)
        r = synthesis_core(model, target_itl=target, batch_size=b, seq_len=s, tp=t, precision=precision,
                           kv_precision=kv_precision, efficiency=eff, target_ttft=ttft)
        return SynthesisResult(
            required_bandwidth=as_unit(r["required_bandwidth"] / 1e12, _TB_S),
            required_flops=as_unit(r["required_flops"] / 1e12, _TFLOP_S),
            required_memory=as_unit(r["required_memory"] / 1e9, _GB),
            ridge_point=as_unit(r["ridge_point"], _FLOP_PER_BYTE),
            target_latency=as_unit(target * 1e3, _MS),
            target_ttft=None if ttft is None else as_unit(ttft * 1e3, _MS),
            batch_size=_int(b), seq_len=_int(s), tp_size=_int(t), precision=precision,
        )


def _int(x):
    x = np.asarray(x).astype(np.int64)
    return x.item() if x.ndim == 0 else x
