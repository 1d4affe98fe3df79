"""Which hardware specification limits a workload? Finite-difference elasticities of latency.

For each specification x of the accelerator (peak FLOP/s, memory bandwidth, memory capacity)
the solver builds a copy of the hardware with x raised by ``perturbation_pct`` and re-evaluates
the same Tier-1 physics:

    sensitivity(x) = (latency(x·(1+δ)) / latency(x) - 1) / δ

so -0.9 means "10 % more of x makes it ~9 % faster" (a pure 1/x dependence gives
(1/1.1 - 1)/0.1 = -0.909), and 0 means x does not limit this workload. On a roofline only one
of FLOP/s and bandwidth binds at a time (Williams et al. 2009), so one of the two is ~0 unless
the workload sits at the ridge point or communication adds a constant term.

Capacity does not enter the roofline time of a fixed configuration: its sensitivity is 0 while
the configuration's feasibility (does it fit in memory?) is unchanged. When the extra capacity
turns an infeasible configuration into a feasible one the latency goes from "cannot run" to
finite, counted as a 100 % reduction: sensitivity = -1/δ, which then names capacity as the
binding constraint. (A fixed batch is evaluated; that more capacity would also allow a larger
batch is a throughput question for ``ContinuousBatchingModel`` or the DSE.)

What "latency" means is chosen by ``workload``: ``"decode"`` (inter-token latency from
``serving_core``), ``"prefill"`` (time to first token) or, for ``"auto"``, decode for
transformers and the roofline (``Engine``) latency for CNNs. An infeasible configuration is
still evaluated (``feasible`` says so), as a first-order "what limits it" answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.units import ureg
from ..hardware.types import HardwareNode, bytes_per_element
from ..physics.base import Result, as_unit, efficiency_si, to_si

SPEC_KEYS = ("peak_flops", "memory_bandwidth", "memory_capacity")
WORKLOADS = ("auto", "decode", "prefill")
DEFAULT_SEQ_LEN = 2048  # ServingModel's default context
_MS = ureg.millisecond


def scaled_hardware(hw: HardwareNode, *, flops: float = 1.0, bandwidth: float = 1.0, capacity: float = 1.0) -> HardwareNode:
    """A new ``HardwareNode`` with every peak FLOP/s figure times ``flops``, memory bandwidth times
    ``bandwidth`` and capacity times ``capacity``; the original is untouched.

    The copy is built by validation, not ``model_copy``: ``model_copy`` would carry over the
    original's cached SI magnitudes (``hw.si``) and share its per-precision peak cache.
    """
    c, m = hw.compute, hw.memory
    compute = c.model_copy(update={"peak_flops": c.peak_flops * flops,
                                   "precision_flops": {k: v * flops for k, v in c.precision_flops.items()}})
    memory = m.model_copy(update={"bandwidth": m.bandwidth * bandwidth, "capacity": m.capacity * capacity})
    data = {name: getattr(hw, name) for name in type(hw).model_fields}
    data.update(compute=compute, memory=memory)
    return type(hw)(**data)


def latency_si(model, hardware, *, workload, batch_size, seq_len, precision, tp=1, efficiency=None):
    """(latency in s, feasible) of ``model`` on ``hardware`` for the resolved ``workload``
    ("decode", "prefill" or "roofline")."""
    if workload == "roofline":
        from ..physics.node import roofline_si

        r = roofline_si(model, hardware, batch_size=batch_size, precision=precision, efficiency=efficiency,
                        seq_len=seq_len)
        return r["latency"], r["feasible"]
    from ..physics.serving import serving_core

    r = serving_core(model, hardware, batch_size=batch_size, prompt_len=seq_len, output_len=0.0, tp=tp,
                     precision=precision, kv_precision=precision, efficiency=efficiency)
    return (r["itl"] if workload == "decode" else r["ttft"]), r["feasible"]


@dataclass
class SensitivityResult(Result):
    """Result of ``SensitivitySolver.solve``: ``sensitivities`` maps 'peak_flops',
    'memory_bandwidth', 'memory_capacity' to elasticities of latency (negative = more is faster)."""

    sensitivities: dict
    binding_constraint: str
    baseline_latency: object
    perturbed_latency: dict
    workload: str
    feasible: bool
    perturbation_pct: float
    precision: str
    batch_size: int
    seq_len: object = field(default=None)

    @property
    def bw_sensitivity(self) -> float:
        return self.sensitivities["memory_bandwidth"]

    @property
    def flops_sensitivity(self) -> float:
        return self.sensitivities["peak_flops"]

    @property
    def capacity_sensitivity(self) -> float:
        return self.sensitivities["memory_capacity"]


class SensitivitySolver:
    """Elasticity of latency with respect to each hardware specification, and the binding one."""

    def solve(self, model, hardware, batch_size=1, precision: str = "fp16", seq_len=None,
              perturbation_pct=0.10, workload: str = "auto", tp_size=1, efficiency=None) -> SensitivityResult:
        from ..core.catalog import registry
        from ..core.errors import UnknownNameError, UserInputError

        model = registry("models").get(model)
        hardware = registry("hardware").get(hardware)
        if workload not in WORKLOADS:
            raise UnknownNameError("sensitivity workload", str(workload), WORKLOADS)
        is_llm = getattr(model, "kind", None) == "transformer"
        if workload == "auto":
            workload = "decode" if is_llm else "roofline"
        elif not is_llm:
            raise UserInputError(f"workload={workload!r} needs a transformer; {model.name} is a {model.kind}",
                                 hint="use workload='auto' for CNNs (roofline latency)")
        b = to_si(batch_size, "", what="batch_size", integer=True)
        pct = to_si(perturbation_pct, "", what="perturbation_pct")
        t = to_si(tp_size, "", what="tp_size", integer=True)
        eff = efficiency_si(efficiency)
        if np.ndim(b) or np.ndim(pct) or np.ndim(t):
            raise UserInputError("SensitivitySolver evaluates one configuration: pass scalars",
                                 hint="loop, or use the DSE for sweeps")
        if is_llm:
            s = to_si(seq_len if seq_len is not None else min(model.max_seq_len, DEFAULT_SEQ_LEN), "",
                      what="seq_len", integer=True)
        else:
            s = None
        bytes_per_element(precision)
        kw = dict(workload=workload, batch_size=b, seq_len=s, precision=precision, tp=t, efficiency=eff)

        base, base_ok = latency_si(model, hardware, **kw)
        base, base_ok = float(base), bool(base_ok)
        variants = {"peak_flops": scaled_hardware(hardware, flops=1.0 + pct),
                    "memory_bandwidth": scaled_hardware(hardware, bandwidth=1.0 + pct),
                    "memory_capacity": scaled_hardware(hardware, capacity=1.0 + pct)}
        sens, perturbed = {}, {}
        for key in SPEC_KEYS:
            lat, ok = latency_si(model, variants[key], **kw)
            lat, ok = float(lat), bool(ok)
            perturbed[key] = as_unit(lat * 1e3, _MS)
            if not base_ok and ok:
                sens[key] = -1.0 / pct          # from "cannot run" to runs: a 100 % reduction
            else:
                e = (lat / base - 1.0) / pct
                sens[key] = 0.0 if abs(e) < 1e-12 else e
        binding = max(SPEC_KEYS, key=lambda k: abs(sens[k]))
        return SensitivityResult(
            sensitivities=sens, binding_constraint=binding,
            baseline_latency=as_unit(base * 1e3, _MS), perturbed_latency=perturbed,
            workload=workload, feasible=base_ok, perturbation_pct=pct, precision=precision,
            batch_size=int(b), seq_len=None if s is None else int(s),
        )
