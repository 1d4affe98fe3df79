"""The ``mlsys.yaml`` plan: a declarative evaluation (infrastructure as code) and its compilation.

A plan names a workload, the hardware and how many nodes of it, the site it runs in, optionally a
fixed parallel split, and ``assert`` constraints on metric paths::

    version: "1.0"
    workload:
      name: "Llama3_70B"        # catalog model
      batch_size: 4096          # global batch (training) or batch per replica (inference)
    hardware:
      name: "H100"              # catalog accelerator
      nodes: 64                 # nodes of the default node type of that accelerator
    ops:
      region: "Quebec"          # catalog grid region: electricity price, carbon, PUE, water
      duration_days: 14.0
    constraints:
      assert:
        - metric: "performance.latency"
          max: 50.0             # a bare number is in the metric's display unit (ms here)

``load_plan(path)`` parses and validates it (errors name the file, line and field);
``Plan.evaluate()`` compiles it to a ``SystemEvaluator.evaluate`` call and checks the asserts;
``plan_json_schema()`` is the JSON Schema ``mlsysim schema`` prints.
"""
from __future__ import annotations

import pathlib
from typing import Any, Literal, Optional, Union

from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from .core.errors import SchemaError, UnknownNameError, UserInputError
from .core.yamlio import parse_yaml, read_yaml, validation_messages, where
from .core.strict import StrictModel
from .evaluator import METRICS, resolve_metric

PLAN_VERSION = "1.0"
_PRECISION = Literal["fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "fp4", "int4"]
_METRIC_PATHS = [m.path for m in METRICS] + [f"{m.lens}.metrics.{m.name}" for m in METRICS]


class _Strict(StrictModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class WorkloadSpec(_Strict):
    """What runs: a catalog model and its batch."""

    name: str = Field(description="catalog model name or alias, e.g. 'Llama3_70B' (see `mlsysim zoo models`)")
    batch_size: int = Field(gt=0, description="global batch in sequences/images (training) or the batch of "
                                                "one replica (inference)")
    seq_len: Optional[int] = Field(default=None, gt=0, description="tokens per sequence (transformers); default "
                                                                    "2048, capped at the model's context")
    precision: Optional[_PRECISION] = Field(default=None, description="numeric precision; default bf16 for "
                                                                       "training, fp16 for inference")
    mode: Optional[Literal["training", "inference"]] = Field(
        default=None, description="default: training for a transformer, inference otherwise")
    output_len: int = Field(default=0, ge=0, description="LLM inference: generated tokens per request")
    efficiency: Optional[float] = Field(default=None, gt=0, le=1,
                                        description="inference: fraction of peak FLOP/s reached (default: derived)")


class HardwareSpec(_Strict):
    """Where it runs: an accelerator, the node type holding it, how many nodes, the network."""

    name: str = Field(description="catalog accelerator, e.g. 'H100' (see `mlsysim zoo hardware`)")
    nodes: int = Field(default=1, gt=0, description="number of nodes (servers)")
    node: Optional[str] = Field(default=None, description="catalog node type; default: the catalog node whose "
                                                          "accelerator is this hardware")
    fabric: Optional[str] = Field(default=None, description="catalog inter-node fabric; default: the fabric of a "
                                                            "catalog cluster of that node")


class OpsSpec(_Strict):
    """The site and the period of the macro lens (cost, energy, carbon)."""

    region: str = Field(description="catalog grid region, e.g. 'Quebec' (see `mlsysim zoo grids`)")
    duration_days: float = Field(gt=0, description="period of the TCO, energy and carbon figures, in days")
    kwh_price: Optional[float] = Field(default=None, gt=0, description="electricity price in USD/kWh; default: "
                                                                       "the region's")
    utilization: Optional[float] = Field(default=None, ge=0, le=1,
                                         description="accelerator power utilization in [0, 1] (default 0.75)")


class ParallelismSpec(_Strict):
    """A fixed parallel split (training; inference uses ``tp`` only). Absent: chosen automatically."""

    tp: int = Field(default=1, gt=0, description="tensor-parallel degree (inside one node)")
    pp: int = Field(default=1, gt=0, description="pipeline-parallel stages")
    cp: int = Field(default=1, gt=0, description="context-parallel degree")
    ep: int = Field(default=1, gt=0, description="expert-parallel degree (MoE)")
    microbatch: int = Field(default=1, gt=0, description="micro-batch size in sequences")
    zero_stage: int = Field(default=1, ge=0, le=3, description="ZeRO stage 0-3")
    recompute: Literal["none", "selective", "full", "selective_op"] = Field(
        default="selective", description="activation recomputation (mlsysim.physics.training_memory.RECOMPUTE_MODES)")
    sequence_parallel: Optional[bool] = Field(default=None, description="default: on when tp > 1")
    virtual_stages: int = Field(default=1, gt=0, description="interleaved pipeline chunks per stage")


class AssertSpec(_Strict):
    """A bound on one metric: ``value <= max`` and/or ``value >= min``."""

    metric: str = Field(description="metric path, e.g. 'performance.latency' or 'macro.metrics.tco_usd'",
                        json_schema_extra={"enum": _METRIC_PATHS})
    max: Optional[Union[float, str]] = Field(
        default=None, description="upper bound: a number in the metric's display unit, or a quantity such as '50 ms'")
    min: Optional[Union[float, str]] = Field(
        default=None, description="lower bound: a number in the metric's display unit, or a quantity")

    @model_validator(mode="after")
    def _has_bound(self):
        if self.max is None and self.min is None:
            raise ValueError("an assert needs 'max' or 'min'")
        return self


class ConstraintsSpec(_Strict):
    asserts: list[AssertSpec] = Field(default_factory=list, alias="assert",
                                      description="bounds on metrics; a violated one makes `mlsysim eval` exit 3")


class Plan(_Strict):
    """An ``mlsys.yaml`` plan (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="mlsysim plan (mlsys.yaml)")

    version: Literal["1.0"] = Field(description="plan format version")
    workload: WorkloadSpec
    hardware: HardwareSpec
    ops: OpsSpec
    parallelism: Optional[ParallelismSpec] = None
    constraints: ConstraintsSpec = Field(default_factory=ConstraintsSpec)

    # Path and per-key line numbers of the YAML file it came from (for error messages).
    _source: Optional[str] = None
    _lines: dict = {}

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v) == 1.0:
            return PLAN_VERSION
        if isinstance(v, str) and v.strip() in ("1", "1.0"):
            return PLAN_VERSION
        return v

    # -- locations --------------------------------------------------------------------------
    def where(self, *keys: str) -> str:
        """``file:line: a.b`` for error messages."""
        return _where(self._source, self._lines, keys)

    # -- compilation -------------------------------------------------------------------------
    def evaluate_kwargs(self) -> dict[str, Any]:
        """The ``SystemEvaluator.evaluate`` keyword arguments this plan compiles to (catalog names
        resolved; unknown names raise ``UnknownNameError`` naming the plan file and line)."""
        from .systems.fleet import fleet_for

        w, h, o = self.workload, self.hardware, self.ops
        model = _lookup("models", w.name, self.where("workload", "name"))
        hardware = _lookup("hardware", h.name, self.where("hardware", "name"))
        if h.node is not None:
            _lookup("nodes", h.node, self.where("hardware", "node"))
        if h.fabric is not None:
            _lookup("fabrics", h.fabric, self.where("hardware", "fabric"))
        grid = _lookup("grids", o.region, self.where("ops", "region"))
        notes: list[str] = []
        try:
            cluster = fleet_for(hardware, h.nodes, node=h.node, fabric=h.fabric, notes=notes)
        except UserInputError as exc:  # e.g. a node type that does not hold this accelerator
            if isinstance(exc, UnknownNameError):
                raise
            field = "nodes" if isinstance(exc, SchemaError) else "node"  # SchemaError: the fleet's node count
            raise UserInputError(f"{self.where('hardware', field)}: {exc.message}", hint=exc.hint) from None
        is_transformer = getattr(model, "kind", None) == "transformer"
        mode = w.mode or ("training" if is_transformer and not model.encoder_only else "inference")
        precision = w.precision or ("bf16" if mode == "training" else "fp16")
        kwargs = dict(
            scenario_name=f"{model.name} on {h.nodes} x {cluster.node.name}" + (f" ({self._source})" if self._source else ""),
            model_obj=model, hardware_obj=hardware, fleet=cluster, batch_size=w.batch_size, precision=precision,
            efficiency=w.efficiency, grid=grid, duration_days=o.duration_days, seq_len=w.seq_len, mode=mode,
            output_len=w.output_len, kwh_price=o.kwh_price, utilization=o.utilization,
            parallelism=self.parallelism.model_dump() if self.parallelism is not None else None,
        )
        kwargs["_notes"] = notes
        return kwargs

    def evaluate(self):
        """Evaluate the plan and check its asserts; returns the ``Evaluation`` (``.passed``)."""
        from .evaluator import SystemEvaluator

        kwargs = self.evaluate_kwargs()
        notes = kwargs.pop("_notes")
        ev = SystemEvaluator.evaluate(**kwargs)
        ev.notes[:0] = notes
        ev.inputs["plan"] = self._source
        ev.check(self.constraints.asserts)
        return ev


def _lookup(section: str, name: str, where: str):
    from .core.catalog import registry

    try:
        return registry(section).get(name)
    except UnknownNameError as exc:
        raise UnknownNameError(exc.kind, exc.name, exc.valid, where=where) from None


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------
def _where(source, lines, keys) -> str:
    """``file:line:col: a.b`` of plan keys (``<plan>`` when it came from no file)."""
    return where(source or "<plan>", lines, keys)


def _read(path: pathlib.Path) -> tuple[Any, dict]:
    from .core.resources import resolve_file

    return read_yaml(resolve_file(path, "plan"), "plan")  # a path, else a shipped plan by name


def parse_plan_text(text: str, source: str = "<plan>") -> tuple[Any, dict]:
    """YAML text -> (data, key line map); a syntax error is a SchemaError with line and column."""
    return parse_yaml(text, source)


def validate_plan(data: Any, *, source: str = "<plan>", lines: Optional[dict] = None) -> Plan:
    """Validate parsed YAML ``data`` as a ``Plan``; errors name the file, line, column and field."""
    lines = lines or {}
    if data is None:
        raise SchemaError(f"{source}: the plan is empty", hint="see `mlsysim schema` for the plan format")
    if not isinstance(data, dict):
        raise SchemaError(f"{source}: a plan must be a mapping with version, workload, hardware, ops "
                          f"(got {type(data).__name__})", hint="see `mlsysim schema` for the plan format")
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        msgs = validation_messages(exc, source=source, lines=lines, model_cls=Plan)
        raise SchemaError("invalid plan:\n  " + "\n  ".join(msgs),
                          hint="`mlsysim schema` prints the plan's JSON Schema") from None
    plan._source, plan._lines = source, lines
    for i, a in enumerate(plan.constraints.asserts):
        try:
            spec = resolve_metric(a.metric)
        except UnknownNameError as exc:
            located = UnknownNameError(exc.kind, exc.name, exc.valid,
                                       where=_where(source, lines, ("constraints", "assert", i, "metric")))
            located.hint = exc.hint  # keeps the list of valid metric paths
            raise located from None
        from .evaluator import limit_value
        for bound in ("max", "min"):
            raw = getattr(a, bound)
            if raw is not None:
                limit_value(raw, spec, what=_where(source, lines, ("constraints", "assert", i, bound)))
    return plan


def load_plan(path: Union[str, pathlib.Path], overrides: Optional[dict[str, Any]] = None) -> Plan:
    """Read and validate a plan file. ``overrides`` maps dotted keys (``workload.batch_size``) to
    values applied before validation (what the CLI flags of ``mlsysim eval PLAN`` do)."""
    path = pathlib.Path(path)
    data, lines = _read(path)
    if overrides and isinstance(data, dict):
        for key, value in overrides.items():
            if value is None:
                continue
            *parents, leaf = key.split(".")
            d = data
            for p in parents:
                d = d.setdefault(p, {}) if isinstance(d, dict) else d
            if isinstance(d, dict):
                d[leaf] = value
    return validate_plan(data, source=str(path), lines=lines)


def plan_json_schema() -> dict:
    """The JSON Schema of a plan (what ``mlsysim schema`` prints)."""
    schema = Plan.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
