"""SystemEvaluator: one workload on one accelerator (or a fleet) through three lenses.

* **feasibility** -- does it fit in memory, is the parallel split valid (status PASS / FAIL);
* **performance** -- latency, throughput, bottleneck, MFU; for an LLM also TTFT and ITL;
* **macro** -- total cost of ownership, energy and carbon over ``duration_days``.

Every metric has a dotted path (``performance.latency``) and a documented display unit
(``METRICS``); ``Evaluation.to_dict()`` gives the metrics as plain numbers in those units with a
``units`` map, so ``jq .macro.metrics.tco_usd`` prints a number. Asserts (``max``/``min`` limits on
a metric path; a bare number is in the metric's display unit) are checked by
``Evaluation.check``.

What is computed, by mode:

* ``inference`` (default on a single accelerator): the roofline of one forward pass of the batch
  (``mlsysim.physics.node``); for a decoder LLM the serving model adds TTFT, ITL and the KV cache
  (``mlsysim.physics.serving``). On a fleet each replica spans ``tp`` accelerators of one node
  (the smallest power of two that fits, unless given) and the fleet serves ``N / tp`` replicas.
* ``training`` (default on a fleet, transformers only): ``mlsysim.physics.distributed`` -- a fixed
  parallel split when given, else every (tp, pp[, ep]) split evaluated in one vectorized call and
  the highest-throughput feasible one chosen.

The macro lens runs the ops models (``EconomicsModel`` for TCO, ``SustainabilityModel`` for energy,
carbon and water) on the fleet (a lone accelerator counts as a one-accelerator node carrying its
share of the default node's host power and price).
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Iterable, Mapping, Optional

from ..core.textfmt import fmt_number
from ..systems.fleet import fleet_for, single_device_fleet

LENSES = ("feasibility", "performance", "macro")
STATUS_PASS, STATUS_WARN, STATUS_FAIL = "PASS", "WARN", "FAIL"
DEFAULT_DURATION_DAYS = 365.0
#: Tokens per sequence when none is given (capped at the model's context length).
DEFAULT_SEQ_LEN = 2048
#: Grid region used for the macro lens when none is given (if the catalog has it).
DEFAULT_GRID = "US_Avg"


# ------------------------------------------------------------------------------------------------
# Metric catalog: path, display unit, meaning. docs/cli.md lists the same table.
# ------------------------------------------------------------------------------------------------
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


# ------------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Lens:
    """One lens of an evaluation: a status, numeric metrics in their display units, and details
    (strings and small mappings such as the bottleneck or the parallel split)."""

    name: str
    status: str
    metrics: dict[str, Optional[float]]
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def units(self) -> dict[str, str]:
        return {k: METRIC_BY_PATH[f"{self.name}.{k}"].unit for k in self.metrics}

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "metrics": {k: _clean(v) for k, v in self.metrics.items()},
                "units": self.units, **{k: _jsonable(v) for k, v in self.details.items()}}


@dataclasses.dataclass
class AssertResult:
    """One checked bound: ``value op limit`` (op ``<=`` for ``max``, ``>=`` for ``min``)."""

    metric: str
    value: Optional[float]
    unit: str
    op: str
    limit: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "value": _clean(self.value), "unit": self.unit, "op": self.op,
                "limit": _clean(self.limit), "passed": self.passed}

    def __str__(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        return (f"[{mark}] {self.metric} = {format_value(self.value, self.unit)} "
                f"(limit {self.op} {format_value(self.limit, self.unit)})")


@dataclasses.dataclass
class Evaluation:
    """The result of ``SystemEvaluator.evaluate``: three lenses plus the inputs that produced them."""

    scenario: str
    inputs: dict[str, Any]
    feasibility: Lens
    performance: Lens
    macro: Lens
    notes: list[str] = dataclasses.field(default_factory=list)
    asserts: list[AssertResult] = dataclasses.field(default_factory=list)

    # -- access -----------------------------------------------------------------------------
    def lens(self, name: str) -> Lens:
        return getattr(self, name)

    def metric(self, path: str) -> Optional[float]:
        """Value of a metric path in its display unit (None if not computed for this evaluation)."""
        spec = resolve_metric(path)
        return self.lens(spec.lens).metrics.get(spec.name)

    def __getitem__(self, path: str) -> Optional[float]:
        return self.metric(path)

    @property
    def passed(self) -> bool:
        """True when every checked assert holds."""
        return all(a.passed for a in self.asserts)

    @property
    def feasible(self) -> bool:
        return self.feasibility.status != STATUS_FAIL

    # -- asserts ----------------------------------------------------------------------------
    def check(self, asserts: Iterable[Any]) -> list[AssertResult]:
        """Check ``asserts`` (mappings or objects with ``metric`` and ``max``/``min``); a bare
        number is in the metric's display unit, a string such as ``"50 ms"`` is converted to it.
        Stores and returns the results; unknown paths, unit mismatches and metrics this
        evaluation does not compute raise ``UserInputError`` (exit code 2)."""
        from ..core.errors import SchemaError, UserInputError

        results: list[AssertResult] = []
        for i, a in enumerate(asserts):
            get = (lambda k, a=a: a.get(k)) if isinstance(a, Mapping) else (lambda k, a=a: getattr(a, k, None))
            path = get("metric")
            if not path:
                raise SchemaError(f"assert #{i + 1}: needs a 'metric'")
            spec = resolve_metric(path)
            bounds = [(op, get(k)) for k, op in (("max", "<="), ("min", ">=")) if get(k) is not None]
            if not bounds:
                raise SchemaError(f"assert #{i + 1} ({path}): give 'max' or 'min'")
            value = self.lens(spec.lens).metrics.get(spec.name)
            if value is None:
                have = [f"{spec.lens}.{k}" for k, v in self.lens(spec.lens).metrics.items() if v is not None]
                raise UserInputError(
                    f"assert #{i + 1}: metric {spec.path} is not computed for this evaluation "
                    f"(mode {self.inputs.get('mode')}, model {self.inputs.get('model')})",
                    hint="metrics available here: " + ", ".join(have))
            for op, raw in bounds:
                limit = limit_value(raw, spec, what=f"assert #{i + 1} ({spec.path})")
                ok = value <= limit if op == "<=" else value >= limit
                results.append(AssertResult(spec.path, value, spec.unit, op, limit, bool(ok)))
        self.asserts = results
        return results

    # -- output -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema": "mlsysim.evaluation/1",
            "scenario": self.scenario,
            "inputs": _jsonable(self.inputs),
            "feasibility": self.feasibility.to_dict(),
            "performance": self.performance.to_dict(),
            "macro": self.macro.to_dict(),
            "notes": list(self.notes),
            "asserts": [a.to_dict() for a in self.asserts],
            "passed": self.passed,
        }
        return out

    def scorecard(self) -> str:
        """The plain-text three-lens scorecard."""
        return _scorecard_text(self)

    def to_markdown(self) -> str:
        return _scorecard_markdown(self)

    def __str__(self) -> str:
        return self.scorecard()


def limit_value(raw, spec: MetricSpec, *, what: str) -> float:
    """An assert limit in ``spec``'s display unit: a bare number is taken as already in it, a
    string with a unit ("50 ms", "0.05 s", "80%") is converted (wrong dimension: ``UnitError``)."""
    from ..core.errors import UnitError
    from ..core.units import parse_quantity

    if isinstance(raw, bool):
        raise UnitError(f"{what}: limit must be a number, got {raw!r}")
    if isinstance(raw, (int, float)):
        if not math.isfinite(raw):
            raise UnitError(f"{what}: limit must be finite, got {raw!r}")
        return float(raw)
    q = parse_quantity(raw, expected=spec.pint_unit, what=f"{what} limit")
    limit = float(q.m_as(spec.pint_unit))
    if not math.isfinite(limit):  # the same rule as a bare number: 'nan ms' would fail, 'inf ms' always pass
        raise UnitError(f"{what}: limit must be finite, got {raw!r}")
    return limit


# ------------------------------------------------------------------------------------------------
# The evaluator
# ------------------------------------------------------------------------------------------------
class SystemEvaluator:
    """Full-stack evaluation of one scenario: ``SystemEvaluator.evaluate(...)`` -> ``Evaluation``."""

    @classmethod
    def evaluate(cls, scenario_name: str = "", model_obj=None, hardware_obj=None, batch_size=1,
                 precision: str = "fp16", efficiency=None, fleet=None, grid=None,
                 duration_days=DEFAULT_DURATION_DAYS, seq_len=None, *, mode: Optional[str] = None,
                 output_len=0, kv_precision: Optional[str] = None, nodes=None, parallelism=None,
                 kwh_price=None, utilization=None) -> Evaluation:
        """Evaluate ``model_obj`` on ``hardware_obj`` (or on ``fleet``) through the three lenses.

        Args:
            scenario_name: label printed on the scorecard.
            model_obj, hardware_obj: catalog entries or their names.
            batch_size: sequences/images per forward pass (inference) or global batch (training).
            precision: numeric precision of weights and math (``fp16``, ``bf16``, ``fp8``...).
            efficiency: fraction of peak FLOP/s the software reaches (None: the model's default).
            fleet: a ``Cluster`` (or its name); with ``nodes`` given instead, the default node of the
                hardware times ``nodes``. Neither: a single accelerator.
            grid: grid region of the site (name or ``GridRegion``); default ``US_Avg``.
            duration_days: window of the macro lens (TCO, energy, carbon).
            seq_len: tokens per sequence (transformers); default 2048, capped at the model's context.
            mode: ``inference`` or ``training``; default training on a fleet (transformers), else
                inference.
            output_len: generated tokens per request (LLM inference; ITL is at seq_len + output_len).
            kv_precision: KV-cache precision (default ``precision``).
            parallelism: fixed split ``{tp, pp, cp, ep, microbatch, zero_stage, recompute,
                sequence_parallel}`` (a mapping or object); training default: automatic.
            kwh_price: electricity price in USD/kWh (default: the grid's).
            utilization: accelerator power utilization in [0, 1] for energy (default: the ops default).
        """
        from ..core.catalog import registry
        from ..core.errors import UserInputError
        from ..hardware.types import bytes_per_element

        notes: list[str] = []
        model = registry("models").get(model_obj) if model_obj is not None else None
        if model is None:
            raise UserInputError("evaluate: model_obj is required (a catalog model or its name)")
        cluster = None
        if fleet is not None:
            cluster = registry("clusters").get(fleet)
            if nodes is not None:
                cluster = cluster.with_nodes(_pos_int(nodes, "nodes"))
            hardware = cluster.hardware
            if hardware_obj is not None:
                given = registry("hardware").get(hardware_obj)
                if given.key != hardware.key:
                    raise UserInputError(f"hardware {given.key} does not match the fleet's accelerator {hardware.key}",
                                         hint="drop hardware_obj or choose a fleet with that accelerator")
        else:
            if hardware_obj is None:
                raise UserInputError("evaluate: hardware_obj (or fleet) is required")
            hardware = registry("hardware").get(hardware_obj)
            if nodes is not None:
                cluster = fleet_for(hardware, _pos_int(nodes, "nodes"), notes=notes)

        b = _pos_int(batch_size, "batch_size")
        precision = str(precision).lower()
        bytes_per_element(precision)
        kv_precision = str(kv_precision or precision).lower()
        bytes_per_element(kv_precision)
        eff = None if efficiency is None else _fraction(efficiency, "efficiency", allow_zero=False)
        days = _pos_float(duration_days, "duration_days")
        o = _nonneg_int(output_len or 0, "output_len")
        is_transformer = getattr(model, "kind", None) == "transformer"
        if mode is None:
            mode = "training" if (cluster is not None and is_transformer and not model.encoder_only) else "inference"
        mode = str(mode).lower()
        if mode not in ("inference", "training"):
            from ..core.errors import UnknownNameError
            raise UnknownNameError("mode", mode, ("inference", "training"))
        if mode == "training" and not is_transformer:
            raise UserInputError(f"training mode models transformer training; {model.name} is a {model.kind}",
                                 hint="use mode 'inference' for this model")
        if seq_len is not None:
            s = _pos_int(seq_len, "seq_len")
        elif is_transformer:
            s = min(model.max_seq_len, DEFAULT_SEQ_LEN)
        else:
            s = None
        par = _parallelism_dict(parallelism)

        grid_entry = _grid(grid, notes)
        inputs = {
            "model": model.key, "hardware": hardware.key, "mode": mode, "batch_size": b, "precision": precision,
            "seq_len": s, "efficiency": eff, "fleet": cluster.key if cluster is not None else None,
            "nodes": cluster.node_count if cluster is not None else None,
            "node": cluster.node.key if cluster is not None else None,
            "fabric": cluster.fabric.key if cluster is not None else None,
            "accelerators": cluster.total_accelerators if cluster is not None else 1,
            "grid": grid_entry.key if grid_entry is not None else None, "duration_days": days,
        }
        if mode == "inference" and is_transformer and not model.encoder_only:
            inputs["output_len"] = o
            inputs["kv_precision"] = kv_precision
        import numpy as np

        with np.errstate(all="ignore"):  # non-finite results are reported below, not warned about
            if mode == "training":
                feas, perf, rate = _training(model, hardware, cluster, b, s, precision, eff, par, notes)
            else:
                feas, perf, rate = _inference(model, hardware, cluster, b, s, o, precision, kv_precision, eff, par,
                                              notes)
        _flag_non_finite(perf, notes)
        cost_fleet = cluster if cluster is not None else single_device_fleet(hardware)
        macro = _macro(cost_fleet, grid_entry, days, kwh_price, utilization, rate, notes)
        name = scenario_name or f"{model.name} on {hardware.name}"
        return Evaluation(scenario=name, inputs=inputs, feasibility=feas, performance=perf, macro=macro, notes=notes)


def _grid(grid, notes):
    from ..core.catalog import registry

    if grid is not None:
        return registry("grids").get(grid)
    if DEFAULT_GRID in registry("grids"):
        notes.append(f"no grid region given: using {DEFAULT_GRID} for energy price and carbon")
        return registry("grids").get(DEFAULT_GRID)
    notes.append("no grid region given and no default in the catalog: carbon not computed")
    return None


# ------------------------------------------------------------------------------------------------
# Inference
# ------------------------------------------------------------------------------------------------
def _inference(model, hardware, cluster, b, s, o, precision, kv_precision, eff, par, notes):
    import numpy as np

    from ..physics.collectives import LINK_EFFICIENCY
    from ..physics.node import roofline_si
    from ..physics.serving import serving_core

    n_acc = cluster.total_accelerators if cluster is not None else 1
    per_node = cluster.accelerators_per_node if cluster is not None else 1
    peak = hardware.peak_flops_si(precision)
    cap = hardware.si["memory_capacity"]
    ignored = [k for k in ("pp", "cp", "ep") if par.get(k, 1) not in (None, 1)]
    if ignored:
        notes.append(f"inference: parallelism {', '.join(ignored)} ignored (replicas use tensor parallelism only)")
    r = roofline_si(model, hardware, batch_size=float(b), precision=precision, efficiency=eff, seq_len=s)
    bottleneck = "Compute" if float(r["compute_time"]) >= float(r["memory_time"]) else "Memory"
    details: dict[str, Any] = {"bottleneck": bottleneck}
    is_llm = getattr(model, "kind", None) == "transformer" and not model.encoder_only

    if not is_llm:
        if par.get("tp", 1) not in (None, 1):
            notes.append("inference: tp ignored for a non-LLM workload (one replica per accelerator)")
        lat = float(r["latency"])
        mem = float(r["memory_footprint"])
        feas_metrics = {"memory_per_device": mem / 1e9, "memory_capacity": cap / 1e9,
                        "memory_utilization": mem / cap, "weights_per_device": model.weight_bytes(precision) / 1e9,
                        "accelerators": float(n_acc)}
        fits = mem <= cap
        perf = {"latency": lat * 1e3, "throughput": n_acc * b / lat, "mfu": float(r["flops"]) / (lat * peak),
                "compute_time": float(r["compute_time"]) * 1e3, "memory_time": float(r["memory_time"]) * 1e3,
                "arithmetic_intensity": float(r["flops"]) / float(r["bytes"])}
        details["replicas"] = n_acc
        feas = Lens("feasibility", STATUS_PASS if fits else STATUS_FAIL, feas_metrics,
                    {"reason": "" if fits else _no_fit(mem, cap, hardware, "use a smaller batch or precision")})
        perf_lens = Lens("performance", STATUS_PASS if fits else STATUS_WARN, perf, details)
        return feas, perf_lens, {"samples_per_s": perf["throughput"], "tokens_per_s": None}

    # Decoder LLM: the serving model over the candidate tensor-parallel degrees, in one call.
    if cluster is not None:
        link_bw = cluster.node.si["intra_bandwidth"] * LINK_EFFICIENCY
        link_lat = cluster.node.si["intra_latency"]
    elif hardware.interconnect is None:  # a lone device without links: tp = 1, nothing to send
        link_bw, link_lat = math.inf, 0.0
    else:
        link_bw = link_lat = None
    fixed_tp = par.get("tp")
    if fixed_tp not in (None,):
        tps = np.array([float(_pos_int(fixed_tp, "parallelism.tp"))])
        if tps[0] > per_node:
            from ..core.errors import UserInputError
            raise UserInputError(f"tp={int(tps[0])} exceeds the {per_node} accelerators of one node",
                                 hint="tensor parallelism stays inside a node; lower tp or use more accelerators per node")
    else:
        tps = np.array([float(t) for t in _powers_of_two(min(per_node, n_acc)) if model.heads % t == 0] or [1.0])
    sv = serving_core(model, hardware, batch_size=float(b), prompt_len=float(s), output_len=float(o), tp=tps,
                      precision=precision, kv_precision=kv_precision, efficiency=eff, link_bw=link_bw,
                      link_lat=link_lat)
    feasible = np.atleast_1d(sv["feasible"])
    i = int(np.argmax(feasible)) if feasible.any() else len(tps) - 1
    tp = int(tps[i])
    pick = {k: float(np.atleast_1d(v)[i]) if np.ndim(v) else float(v)
            for k, v in sv.items() if k not in ("feasible", "decode_bound_memory")}
    fits = bool(feasible[i])
    if fixed_tp is None and len(tps) > 1:
        details["tp_choice"] = ("smallest tensor-parallel degree that fits" if fits
                                else "no tensor-parallel degree inside one node fits; showing the largest")
    replicas = max(n_acc // tp, 1)
    if n_acc % tp:
        notes.append(f"{n_acc} accelerators do not divide into replicas of tp={tp}: {n_acc % tp} left idle")
    ttft, itl = pick["ttft"], pick["itl"]
    mem = pick["memory_per_device"]
    feas_metrics = {"memory_per_device": mem / 1e9, "memory_capacity": cap / 1e9, "memory_utilization": mem / cap,
                    "weights_per_device": pick["weights_per_device"] / 1e9, "kv_cache": pick["kv_cache_size"] / 1e9,
                    "accelerators": float(n_acc)}
    perf = {"latency": ttft * 1e3, "throughput": replicas * b / ttft, "tokens_per_s": replicas * b / itl,
            "mfu": float(r["flops"]) / (ttft * tp * peak),
            "compute_time": float(r["compute_time"]) * 1e3 if tp == 1 else None,
            "memory_time": float(r["memory_time"]) * 1e3 if tp == 1 else None,
            "arithmetic_intensity": float(r["flops"]) / float(r["bytes"]),
            "ttft": ttft * 1e3, "itl": itl * 1e3, "e2e_latency": pick["e2e_latency"] * 1e3}
    decode_bound = np.atleast_1d(sv["decode_bound_memory"])[i]
    details["decode_bottleneck"] = "Memory" if bool(decode_bound) else "Compute"
    details["parallelism"] = {"tp": tp, "replicas": replicas}
    reason = "" if fits else _no_fit(mem, cap, hardware, "raise tp, use more accelerators per node, or lower precision")
    feas = Lens("feasibility", STATUS_PASS if fits else STATUS_FAIL, feas_metrics, {"reason": reason})
    perf_lens = Lens("performance", STATUS_PASS if fits else STATUS_WARN, perf, details)
    return feas, perf_lens, {"samples_per_s": perf["throughput"], "tokens_per_s": perf["tokens_per_s"]}


def _flag_non_finite(lens: Lens, notes: list) -> None:
    bad = [k for k, v in lens.metrics.items() if v is not None and not math.isfinite(v)]
    if bad:
        if lens.status == STATUS_PASS:
            lens.status = STATUS_WARN
        notes.append(f"{lens.name}: {', '.join(bad)} not finite (missing catalog data, e.g. a link bandwidth); "
                     "reported as null")


def _no_fit(mem, cap, hardware, advice):
    return (f"needs {mem / 1e9:.1f} GB per device but {hardware.name} has {cap / 1e9:.0f} GB: {advice}")


# ------------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------------
_RECOMPUTE = {"none": 0, "selective": 1, "full": 2}
_RECOMPUTE_NAME = {v: k for k, v in _RECOMPUTE.items()}
#: Memory-saving settings the automatic split tries for every (tp, pp[, ep]):
#: (ZeRO stage, recomputation) -- distributed optimizer with selective or full recomputation,
#: and ZeRO-3 with full recomputation for models whose state does not fit otherwise.
AUTO_MEMORY_SETTINGS = ((1, 1), (1, 2), (3, 2))


def _training(model, hardware, cluster, b, s, precision, eff, par, notes):
    import numpy as np

    from ..core.errors import UserInputError
    from ..physics.distributed import distributed_core, reason_text

    if cluster is None:
        cluster = single_device_fleet(hardware)
    if eff is not None:
        notes.append("training: efficiency is derived per split by the distributed model; the given value is ignored")
    n_acc = cluster.total_accelerators
    per_node = cluster.accelerators_per_node
    fixed = any(par.get(k) is not None for k in ("tp", "pp", "cp", "ep", "microbatch", "zero_stage", "recompute"))
    if fixed:
        rc = par.get("recompute") or "selective"
        if rc not in _RECOMPUTE:
            from ..core.errors import UnknownNameError
            raise UnknownNameError("recomputation mode", str(rc), _RECOMPUTE)
        tp = _pos_int(par.get("tp") or 1, "parallelism.tp")
        if tp > per_node:
            raise UserInputError(f"parallelism.tp={tp} exceeds the {per_node} accelerators of one node",
                                 hint="tensor parallelism stays inside a node")
        sp = par.get("sequence_parallel")
        grid = {
            "tp": np.array([float(tp)]), "pp": np.array([float(_pos_int(par.get("pp") or 1, "parallelism.pp"))]),
            "cp": np.array([float(_pos_int(par.get("cp") or 1, "parallelism.cp"))]),
            "ep": np.array([float(_pos_int(par.get("ep") or 1, "parallelism.ep"))]),
            "mb": np.array([float(_pos_int(par.get("microbatch") or 1, "parallelism.microbatch"))]),
            "zero": np.array([float(_zero(par.get("zero_stage")))]),
            "rc": np.array([float(_RECOMPUTE[rc])]),
        }
        grid["sp"] = np.array([float(tp > 1 if sp is None else bool(sp))])
        if grid["sp"][0] and tp == 1:
            raise UserInputError("parallelism.sequence_parallel needs tp > 1")
    else:
        tps = [t for t in _powers_of_two(min(per_node, n_acc)) if model.heads % t == 0] or [1]
        pps = [p for p in _divisors(model.layers) if p <= n_acc]
        eps = ([e for e in _powers_of_two(min(model.experts, n_acc)) if model.experts % e == 0]
               if model.is_moe else [1])
        combos = [(t, p, e, z, r) for t in tps for p in pps for e in eps for z, r in AUTO_MEMORY_SETTINGS
                  if t * p * e <= n_acc]
        arr = np.array(combos, dtype=float).T
        grid = {"tp": arr[0], "pp": arr[1], "ep": arr[2], "zero": arr[3], "rc": arr[4],
                "cp": np.ones(arr.shape[1]), "mb": np.ones(arr.shape[1]), "sp": (arr[0] > 1).astype(float)}
    out = distributed_core(model, cluster, tp=grid["tp"], pp=grid["pp"], cp=grid["cp"], ep=grid["ep"],
                           micro_batch=grid["mb"], global_batch=float(b), seq_len=float(s),
                           zero_stage=grid["zero"], recompute=grid["rc"], sp=grid["sp"], precision=precision)
    n = len(grid["tp"])
    col = lambda k: np.broadcast_to(np.asarray(out[k]), (n,))  # noqa: E731
    feasible, valid = col("feasible").astype(bool), col("valid").astype(bool)
    if feasible.any():
        rate = np.where(feasible, col("tokens_per_s"), -np.inf)
        i = int(np.argmax(rate))
    elif valid.any():
        i = int(np.argmin(np.where(valid, col("memory_per_device"), np.inf)))
    else:
        i = 0
    v = {k: float(col(k)[i]) for k in out if k not in ("feasible", "valid", "reason_code")}
    reason = str(reason_text(col("reason_code")[i]))
    fits = bool(feasible[i])
    if not fixed:
        n_feasible = int(feasible.sum())
        notes.append(f"automatic split: {n} candidate splits evaluated, {n_feasible} feasible; "
                     + ("chose the highest throughput" if fits else
                        "none feasible, showing the valid split with the least memory" if valid.any() else
                        "no valid split (check batch size and accelerator count)"))
    split = {"tp": int(grid["tp"][i]), "pp": int(grid["pp"][i]), "dp": _int_or_float(v["dp"]),
             "cp": int(grid["cp"][i]), "ep": int(grid["ep"][i]), "microbatch": int(grid["mb"][i]),
             "microbatches": _int_or_float(v["microbatches"]), "zero_stage": int(grid["zero"][i]),
             "recompute": _RECOMPUTE_NAME[int(grid["rc"][i])], "sequence_parallel": bool(grid["sp"][i]),
             "auto": not fixed}
    cap = hardware.si["memory_capacity"]
    mem = v["memory_per_device"]
    feas_metrics = {"memory_per_device": mem / 1e9, "memory_capacity": cap / 1e9, "memory_utilization": mem / cap,
                    "weights_per_device": v["weights_memory"] / 1e9, "accelerators": float(n_acc)}
    breakdown_keys = {"compute_time": "Compute", "tp_comm_time": "TP communication", "cp_comm_time": "CP communication",
                      "ep_comm_time": "EP all-to-all", "pp_comm_time": "PP communication",
                      "bubble_time": "Pipeline bubble", "dp_comm_exposed": "DP gradient reduction",
                      "zero3_gather_time": "ZeRO-3 parameter gathers", "optimizer_time": "Optimizer step"}
    breakdown = {k.removesuffix("_time"): v[k] * 1e3 for k in breakdown_keys if k in v}
    top = max((k for k in breakdown_keys if k in v), key=lambda k: v[k])
    comm = sum(v.get(k, 0.0) for k in ("tp_comm_time", "cp_comm_time", "ep_comm_time", "pp_comm_time",
                                        "dp_comm_exposed", "zero3_gather_time"))
    step = v["step_time"]
    perf = {"latency": step * 1e3, "throughput": v["samples_per_s"], "tokens_per_s": v["tokens_per_s"],
            "mfu": v["mfu"], "scaling_efficiency": v["scaling_efficiency"], "bubble_fraction": v["bubble_fraction"],
            "communication_time": comm * 1e3}
    details = {"bottleneck": breakdown_keys[top], "parallelism": split, "breakdown_ms": breakdown}
    if fits:
        status_reason = ""
    elif reason == "does not fit in device memory":
        status_reason = _no_fit(mem, cap, hardware, "use more accelerators, a higher ZeRO stage, "
                                "full recomputation, or a smaller micro-batch")
    else:
        status_reason = reason
    feas = Lens("feasibility", STATUS_PASS if fits else STATUS_FAIL, feas_metrics, {"reason": status_reason})
    perf_lens = Lens("performance", STATUS_PASS if fits else STATUS_WARN, perf, details)
    return feas, perf_lens, {"samples_per_s": v["samples_per_s"], "tokens_per_s": v["tokens_per_s"]}


# ------------------------------------------------------------------------------------------------
# Macro: cost, energy, carbon
# ------------------------------------------------------------------------------------------------
def _macro(fleet, grid, days, kwh_price, utilization, rate, notes) -> Lens:
    """TCO from ``EconomicsModel``, energy, carbon and water from ``SustainabilityModel``."""
    from ..core.errors import UserInputError
    from ..physics.economics import EconomicsModel
    from ..physics.sustainability import SustainabilityModel

    import numpy as np

    common = {"fleet": fleet, "duration_days": days}
    if utilization is not None:
        common["utilization"] = _fraction(utilization, "utilization")
    metrics: dict[str, Optional[float]] = dict.fromkeys(
        ("tco_usd", "capex_usd", "opex_usd", "hardware_usd", "energy_kwh", "avg_power_kw", "carbon_kg", "water_l"))
    overflow: list[str] = []

    def mag(name, v, unit):  # _mag, remembering which figures were computed but not finite
        x = _mag(v, unit)
        if x is None and v is not None and name not in overflow:
            overflow.append(name)
        return x

    with np.errstate(all="ignore"):  # non-finite figures are reported in a note, not warned about
        try:
            econ = EconomicsModel().solve(**common, grid=grid,
                                          kwh_price=None if kwh_price is None else _pos_float(kwh_price, "kwh_price"))
        except UserInputError as exc:
            if "no price" not in exc.message:
                raise
            notes.append(f"cost not computed: {exc.message}")
            econ = None
        sus = SustainabilityModel().solve(**common, datacenter=grid) if grid is not None else None
    if econ is not None:
        metrics.update(tco_usd=mag("tco_usd", econ.tco_usd, "USD"), capex_usd=mag("capex_usd", econ.capex_usd, "USD"),
                       opex_usd=mag("opex_usd", econ.opex_usd, "USD"),
                       hardware_usd=mag("hardware_usd", econ.hardware_cost_usd, "USD"),
                       energy_kwh=mag("energy_kwh", econ.energy, "kWh"))
        if econ.note:
            notes.append(f"economics: {econ.note}")
    if sus is not None:
        metrics.update(energy_kwh=mag("energy_kwh", sus.energy, "kWh"),
                       carbon_kg=mag("carbon_kg", sus.carbon_footprint_kg, "kg"), water_l=mag("water_l", sus.water, "L"))
        if sus.note:
            notes.append(f"sustainability: {sus.note}")
    if overflow:
        notes.append(f"macro: {', '.join(overflow)} not finite (the inputs are too large to compute with); "
                     "reported as null")
    if metrics["energy_kwh"] is not None:
        metrics["avg_power_kw"] = metrics["energy_kwh"] / (days * 24.0)
    elif fleet.hardware.tdp is None:
        notes.append(f"energy and carbon not computed: {fleet.hardware.name} has no published TDP in the catalog")
    tokens = rate.get("tokens_per_s")
    tco = metrics.get("tco_usd")
    if tokens and tco is not None:
        metrics["usd_per_million_tokens"] = tco / (tokens * days * 86400.0) * 1e6
    missing = [k for k in ("tco_usd", "carbon_kg", "energy_kwh") if metrics.get(k) is None]
    details = {"duration_days": days, "grid": grid.key if grid is not None else None,
               "source": "EconomicsModel + SustainabilityModel"}
    return Lens("macro", STATUS_WARN if missing else STATUS_PASS, metrics, details)


def _first(obj, *names):
    for n in names:
        v = getattr(obj, n, None)
        if v is not None:
            return v
    return None


def _mag(v, unit) -> Optional[float]:
    """A quantity in ``unit`` (or a plain number taken as already in it) as a float; None stays None."""
    if v is None:
        return None
    import pint

    if isinstance(v, pint.Quantity):
        try:
            x = float(v.m_as(unit))
        except pint.DimensionalityError:
            return None
    else:
        try:
            x = float(v)
        except (TypeError, ValueError):
            return None
    return x if math.isfinite(x) else None


# ------------------------------------------------------------------------------------------------
# Input helpers
# ------------------------------------------------------------------------------------------------
def _number(value, what):
    from ..core.errors import UserInputError

    import pint

    if isinstance(value, pint.Quantity):
        if not value.dimensionless:
            from ..core.errors import UnitError
            raise UnitError(f"{what}: expected a plain number, got {value:~}")
        value = float(value.m_as(""))
    if isinstance(value, bool) or value is None:
        raise UserInputError(f"{what}: expected a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UserInputError(f"{what}: expected a number, got {value!r}") from None
    if not math.isfinite(x):
        raise UserInputError(f"{what}: must be finite, got {value!r}")
    return x


def _pos_int(value, what) -> int:
    from ..core.errors import UserInputError

    x = _number(value, what)
    if x <= 0 or x != int(x):
        raise UserInputError(f"{what} must be a positive whole number, got {value!r}")
    return int(x)


def _nonneg_int(value, what) -> int:
    from ..core.errors import UserInputError

    x = _number(value, what)
    if x < 0 or x != int(x):
        raise UserInputError(f"{what} must be a whole number >= 0, got {value!r}")
    return int(x)


def _pos_float(value, what) -> float:
    from ..core.errors import UserInputError

    x = _number(value, what)
    if x <= 0:
        raise UserInputError(f"{what} must be > 0, got {value!r}")
    return x


def _fraction(value, what, *, allow_zero=True) -> float:
    from ..core.errors import UserInputError

    x = _number(value, what)
    if x > 1 or x < 0 or (x == 0 and not allow_zero):
        raise UserInputError(f"{what} must be in {'[0' if allow_zero else '(0'}, 1], got {value!r}")
    return x


def _zero(value) -> int:
    from ..core.errors import UserInputError

    z = 1 if value is None else value
    if z not in (0, 1, 2, 3):
        raise UserInputError(f"parallelism.zero_stage must be 0, 1, 2 or 3, got {value!r}")
    return int(z)


def _parallelism_dict(par) -> dict:
    if par is None:
        return {}
    if hasattr(par, "model_dump"):
        par = par.model_dump()
    elif dataclasses.is_dataclass(par):
        par = dataclasses.asdict(par)
    if not isinstance(par, Mapping):
        from ..core.errors import UserInputError
        raise UserInputError(f"parallelism: expected a mapping such as {{'tp': 8, 'pp': 4}}, got {par!r}")
    aliases = {"tp_size": "tp", "pp_size": "pp", "cp_size": "cp", "ep_size": "ep", "microbatch_size": "microbatch",
               "micro_batch": "microbatch", "activation_recomputation": "recompute"}
    return {aliases.get(k, k): v for k, v in par.items()}


def _powers_of_two(limit: int) -> list[int]:
    out, t = [], 1
    while t <= limit:
        out.append(t)
        t *= 2
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _int_or_float(x: float):
    return int(x) if math.isfinite(x) and x == int(x) else x


# ------------------------------------------------------------------------------------------------
# Formatting
# ------------------------------------------------------------------------------------------------
def _clean(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        x = float(v)
        if not math.isfinite(x):
            return None
        return int(v) if isinstance(v, int) else x
    try:
        return _clean(float(v))
    except (TypeError, ValueError):
        return v


def _jsonable(v):
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (str, bool)) or v is None:
        return v
    if isinstance(v, (int, float)):
        return _clean(v)
    try:
        import numpy as np
        if isinstance(v, np.generic):
            return _clean(v.item())
    except ImportError:  # pragma: no cover
        pass
    return str(v)


def format_value(x: Optional[float], unit: str) -> str:
    if x is None:
        return "n/a"
    if unit == "fraction":
        return f"{fmt_number(x * 100.0)} %"
    if unit == "count":
        return f"{x:,.0f}" if float(x).is_integer() else fmt_number(x)
    if unit == "USD":
        return f"${fmt_number(x)}"
    if unit == "kg":
        return f"{fmt_number(x)} kg CO2e"
    return f"{fmt_number(x)} {unit}"


_LABELS = {
    "memory_per_device": "memory per device", "memory_capacity": "memory capacity",
    "memory_utilization": "memory utilization", "weights_per_device": "weights per device", "kv_cache": "KV cache",
    "accelerators": "accelerators", "latency": "latency", "throughput": "throughput", "tokens_per_s": "tokens/s",
    "mfu": "MFU", "compute_time": "compute time", "memory_time": "memory time",
    "arithmetic_intensity": "arithmetic intensity", "ttft": "TTFT", "itl": "ITL", "e2e_latency": "end-to-end latency",
    "scaling_efficiency": "scaling efficiency", "bubble_fraction": "pipeline bubble",
    "communication_time": "exposed communication", "tco_usd": "TCO", "capex_usd": "CapEx", "opex_usd": "OpEx",
    "energy_kwh": "energy", "hardware_usd": "hardware price", "avg_power_kw": "average power", "carbon_kg": "carbon", "water_l": "water",
    "usd_per_million_tokens": "cost per 1M tokens",
}


_ALWAYS_SHOWN = {("macro", "tco_usd"), ("macro", "energy_kwh"), ("macro", "carbon_kg")}


def _lens_title(ev: Evaluation, lens: Lens) -> str:
    if lens.name == "feasibility":
        return "Feasibility"
    if lens.name == "performance":
        extra = f"bottleneck: {lens.details['bottleneck']}" if lens.details.get("bottleneck") else ""
        return "Performance" + (f"  ({extra})" if extra else "")
    grid = lens.details.get("grid")
    return f"Macro  ({fmt_number(lens.details.get('duration_days'))} days" + (f", grid {grid})" if grid else ")")


def _subject_line(ev: Evaluation) -> str:
    i = ev.inputs
    parts = [f"model {i['model']}", f"hardware {i['hardware']}"]
    if i.get("fleet"):
        parts.append(f"{i['nodes']} x {i['node']} ({i['accelerators']} accelerators, {i['fabric']})")
    parts += [f"{i['mode']}", f"batch {i['batch_size']}", i["precision"]]
    if i.get("seq_len"):
        parts.append(f"seq {i['seq_len']}")
    if i.get("output_len"):
        parts.append(f"output {i['output_len']}")
    return ", ".join(parts)


def _detail_lines(lens: Lens) -> list[str]:
    out = []
    d = lens.details
    if d.get("reason"):
        out.append(f"reason: {d['reason']}")
    if lens.name == "performance":
        par = d.get("parallelism")
        if par:
            keys = ("tp", "pp", "dp", "cp", "ep", "microbatch", "zero_stage", "recompute", "replicas")
            shown = ", ".join(f"{k}={par[k]}" for k in keys if k in par)
            out.append(f"split: {shown}" + (" (automatic)" if par.get("auto") else ""))
        if d.get("decode_bottleneck"):
            out.append(f"decode bottleneck: {d['decode_bottleneck']}")
        if d.get("tp_choice"):
            out.append(f"tp: {d['tp_choice']}")
    if lens.name == "macro" and d.get("source"):
        out.append(f"source: {d['source']}")
    return out


def _scorecard_text(ev: Evaluation) -> str:
    width = 72
    lines = [f"mlsysim scorecard: {ev.scenario}", _wrap(_subject_line(ev), width, "  "), "=" * width]
    for name in LENSES:
        lens = ev.lens(name)
        lines.append(f"[{lens.status}] {_lens_title(ev, lens)}")
        for k, v in lens.metrics.items():
            if v is None and (name, k) not in _ALWAYS_SHOWN:
                continue
            lines.append(f"  {_LABELS.get(k, k):<22}{format_value(v, METRIC_BY_PATH[f'{name}.{k}'].unit):>20}   {name}.{k}")
        for d in _detail_lines(lens):
            lines.append(_wrap(d, width, "  "))
        lines.append("-" * width)
    if ev.asserts:
        lines.append("Asserts: " + ("all passed" if ev.passed else
                                    f"{sum(not a.passed for a in ev.asserts)} of {len(ev.asserts)} violated"))
        lines += [f"  {a}" for a in ev.asserts]
        lines.append("-" * width)
    for n in ev.notes:
        lines.append(_wrap(f"note: {n}", width, ""))
    return "\n".join(lines)


def _wrap(text: str, width: int, indent: str) -> str:
    import textwrap

    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False)


def _scorecard_markdown(ev: Evaluation) -> str:
    lines = [f"# {ev.scenario}", "", _subject_line(ev), ""]
    for name in LENSES:
        lens = ev.lens(name)
        lines += [f"## {_lens_title(ev, lens)}: **{lens.status}**", "", "| metric | value | path |", "|---|---:|---|"]
        for k, v in lens.metrics.items():
            if v is None and (name, k) not in _ALWAYS_SHOWN:
                continue
            lines.append(f"| {_LABELS.get(k, k)} | {format_value(v, METRIC_BY_PATH[f'{name}.{k}'].unit)} | `{name}.{k}` |")
        lines.append("")
        lines += [f"- {d}" for d in _detail_lines(lens)]
        if _detail_lines(lens):
            lines.append("")
    if ev.asserts:
        lines += ["## Asserts", "", "| metric | value | bound | passed |", "|---|---:|---:|---|"]
        for a in ev.asserts:
            lines.append(f"| `{a.metric}` | {format_value(a.value, a.unit)} | {a.op} {format_value(a.limit, a.unit)} | "
                         f"{'yes' if a.passed else '**no**'} |")
        lines.append("")
    if ev.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in ev.notes] + [""]
    return "\n".join(lines)
