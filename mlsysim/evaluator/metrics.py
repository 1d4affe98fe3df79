"""The metric table: every metric's dotted path (``lens.metric``), display unit and meaning.

docs/cli.md lists the same table.
"""
from __future__ import annotations

import dataclasses

LENSES = ("feasibility", "performance", "macro")
STATUS_PASS, STATUS_WARN, STATUS_FAIL = "PASS", "WARN", "FAIL"


@dataclasses.dataclass(frozen=True)
class MetricSpec:
    lens: str
    name: str
    unit: str
    description: str

    @property
    def path(self) -> str:
        return f"{self.lens}.{self.name}"

    @property
    def pint_unit(self) -> str:
        """The display unit as pint reads it (``fraction`` and ``count`` are dimensionless)."""
        return _PINT_UNIT.get(self.unit, self.unit)


_PINT_UNIT = {"fraction": "dimensionless", "count": "dimensionless", "samples/s": "sample/s",
              "tokens/s": "token/s", "USD/Mtoken": "USD"}

METRICS: tuple[MetricSpec, ...] = tuple(MetricSpec(*m) for m in (
    ("feasibility", "memory_per_device", "GB",
     "peak memory one accelerator needs: weights, KV cache or training state and activations, runtime reserve"),
    ("feasibility", "memory_capacity", "GB", "memory of one accelerator"),
    ("feasibility", "memory_utilization", "fraction", "memory_per_device / memory_capacity (above 1: does not fit)"),
    ("feasibility", "weights_per_device", "GB", "weight bytes held by one accelerator"),
    ("feasibility", "kv_cache", "GB", "LLM inference: KV cache of the batch at seq_len + output_len (one replica)"),
    ("feasibility", "accelerators", "count", "accelerators evaluated (the whole fleet, or 1)"),
    ("performance", "latency", "ms",
     "inference: one forward pass of the batch (LLM: time to first token); training: one optimizer step"),
    ("performance", "throughput", "samples/s", "sequences or images per second over all accelerators"),
    ("performance", "tokens_per_s", "tokens/s",
     "LLM: training tokens/s, or generated (decode) tokens/s in inference, over all accelerators"),
    ("performance", "mfu", "fraction", "model FLOPs utilization: useful FLOP/s over peak FLOP/s"),
    ("performance", "compute_time", "ms", "single-device inference: roofline compute term"),
    ("performance", "memory_time", "ms", "single-device inference: roofline memory term"),
    ("performance", "arithmetic_intensity", "FLOP/byte", "inference: FLOPs per byte of memory traffic"),
    ("performance", "ttft", "ms", "LLM inference: time to first token (prefill of the batch)"),
    ("performance", "itl", "ms", "LLM inference: inter-token latency (one decode step at full context)"),
    ("performance", "e2e_latency", "ms", "LLM inference: TTFT + (output_len - 1) x ITL"),
    ("performance", "scaling_efficiency", "fraction", "training: ideal step time / modelled step time"),
    ("performance", "bubble_fraction", "fraction", "training: pipeline bubble share of the step"),
    ("performance", "communication_time", "ms", "training: exposed communication per step"),
    ("macro", "tco_usd", "USD", "total cost of ownership over duration_days (CapEx + OpEx)"),
    ("macro", "capex_usd", "USD", "capital expense attributed to duration_days"),
    ("macro", "opex_usd", "USD", "operating expense over duration_days (energy, maintenance)"),
    ("macro", "hardware_usd", "USD", "full purchase price of the fleet"),
    ("macro", "energy_kwh", "kWh", "facility energy over duration_days (IT energy x PUE)"),
    ("macro", "avg_power_kw", "kW", "average facility power"),
    ("macro", "carbon_kg", "kg", "carbon footprint over duration_days, kg CO2e"),
    ("macro", "water_l", "L", "site water over duration_days"),
    ("macro", "usd_per_million_tokens", "USD",
     "LLM: TCO per million tokens (training tokens, or generated tokens) at the modelled rate"),
))
METRIC_BY_PATH: dict[str, MetricSpec] = {m.path: m for m in METRICS}


def metric_paths() -> list[str]:
    """Every valid metric path (``lens.metric``); ``lens.metrics.metric`` is accepted too."""
    return [m.path for m in METRICS]


def resolve_metric(path: str) -> MetricSpec:
    """The metric named by ``path`` (``performance.latency`` or ``performance.metrics.latency``).

    An unknown path raises ``UnknownNameError`` (exit code 2) naming the closest valid paths and
    listing all of them.
    """
    from ..core.errors import UnknownNameError

    p = str(path).strip()
    parts = p.split(".")
    if len(parts) == 3 and parts[1] == "metrics":
        p = f"{parts[0]}.{parts[2]}"
    spec = METRIC_BY_PATH.get(p)
    if spec is None:
        err = UnknownNameError("metric path", str(path), metric_paths())
        listing = "valid metric paths: " + ", ".join(metric_paths())
        err.hint = f"{err.hint}\n  {listing}" if err.suggestions else listing
        raise err
    return spec
