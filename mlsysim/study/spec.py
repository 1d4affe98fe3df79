"""The study file (``studies/*.yaml``): schema, loading with file/line/field errors, and its
expansion into tasks -- one search per (scenario x sweep value).

::

    name: quickstart
    description: Llama-3-8B on up to 8 DGX H100 nodes
    question: parallelism            # parallelism | placement | hardware | batching
    scenarios:
      - name: llama3-8b
        workload: {name: Llama3_8B, batch_size: 256, seq_len: 4096}   # the plan's sections
        hardware: {name: H100, nodes: 8}
        ops: {region: US_Avg, duration_days: 30}
        train_tokens: 1.0e+12        # optional: carbon_tax, qps, sla_ms, prompt_len, output_len
    space: parallelism               # a shipped space's name, a file, an inline space, or {file: ..., fixed: ...}
    objectives: ["maximize: tokens_per_s", "minimize: gpu_hours_per_Mtoken"]
    constraints: ["memory_per_device <= 0.9 * capacity"]
    winner: knee
    backend: exhaustive              # or {name: exhaustive, chunk_size: 4096}
    budget: 2000                     # optimizers only
    seed: 0
    sweep: {carbon_tax: [0, 50, 100]}  # expands every scenario
    report: {top: 15}

Each task is built with ``mlsysim.dse.presets.setup(question, plan, ...)`` -- the code path of
``mlsysim optimize`` -- and its search space is resolved (file read, preset defaults, ``fixed``
and ``restrict`` applied) when the study is loaded, so a stored study record rebuilds the exact
same searches on any machine without the YAML or the shipped search spaces.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import pathlib
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..core.errors import MLSysimError, SchemaError, UnknownNameError
from ..core.yamlio import read_yaml, validation_messages
from ..plan import HardwareSpec, OpsSpec, Plan, WorkloadSpec, _where

RECORD_FORMAT = "mlsysim.study-record/1"
Question = Literal["parallelism", "placement", "hardware", "batching"]
#: Scenario parameters a sweep may vary (besides plan fields such as ``workload.batch_size``).
SWEEP_PARAMS = ("carbon_tax", "qps", "sla_ms", "prompt_len", "output_len", "train_tokens")
#: Units of the sweepable parameters (for reports).
PARAM_UNITS = {"carbon_tax": "USD/tCO2e", "qps": "1/s", "sla_ms": "ms", "prompt_len": "token", "output_len": "token",
               "train_tokens": "token"}
_PLAN_SECTIONS = {"workload": WorkloadSpec, "hardware": HardwareSpec, "ops": OpsSpec}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ScenarioSpec(_Strict):
    """One situation to search: what runs (workload), on what (hardware), where (ops), and the
    question's parameters. ``space``/``objectives``/``constraints``/``winner``/``question``
    override the study's for this scenario."""

    name: str = Field(min_length=1, max_length=120, description="scenario name (unique in the study)")
    description: str = ""
    question: Optional[Question] = Field(default=None, description="overrides the study's question")
    workload: WorkloadSpec
    hardware: HardwareSpec
    ops: OpsSpec
    carbon_tax: Optional[float] = Field(default=None, ge=0, description="USD per tCO2e (placement, hardware)")
    train_tokens: Optional[float] = Field(default=None, gt=0, description="training token budget (default 20 x "
                                                                          "parameters)")
    qps: Optional[float] = Field(default=None, gt=0, description="requests per second to serve (batching)")
    sla_ms: Optional[float] = Field(default=None, gt=0, description="P99 latency SLA in ms (batching)")
    prompt_len: Optional[int] = Field(default=None, gt=0, description="prompt tokens per request (batching)")
    output_len: Optional[int] = Field(default=None, gt=0, description="generated tokens per request (batching)")
    space: Optional[Union[str, dict]] = None
    objectives: Optional[list[Union[str, dict]]] = None
    constraints: Optional[list[str]] = None
    winner: Optional[Union[str, dict]] = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if any(ch in v for ch in "[]\n\r\t,"):
            raise ValueError("a scenario name may not contain brackets, commas or control characters")
        return v


class ReportSpec(_Strict):
    top: int = Field(default=15, gt=0, description="Pareto rows shown per scenario in text and markdown")


class StudySpec(_Strict):
    """A study file (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, title="mlsysim study (studies/*.yaml)")

    version: Optional[Literal[1, "1", "1.0"]] = Field(default=None, description="study format version (1)")
    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
                      description="study name: letters, digits, '_', '.', '-'")
    description: str = ""
    question: Question = Field(description="parallelism | placement | hardware | batching")
    scenarios: list[ScenarioSpec] = Field(min_length=1)
    space: Optional[Union[str, dict]] = Field(
        default=None, description="a search space file (relative to the study file) or a shipped space's name "
                                  "(parallelism, placement, hardware, serving), an inline "
                                  "space, or {file, fixed, restrict}; default: the question's shipped space")
    objectives: Optional[list[Union[str, dict]]] = Field(default=None, description="default: the question's")
    constraints: list[str] = Field(default_factory=list)
    winner: Optional[Union[str, dict]] = Field(default=None, description="knee (default for several objectives), "
                                                                         "lexicographic, weighted, ...")
    backend: Union[str, dict] = Field(default="auto", description="exhaustive | optuna | pymoo | auto, or "
                                                                   "{name: ..., option: value}")
    sampler: Optional[str] = None
    budget: Optional[int] = Field(default=None, gt=0, description="configurations an optimizer proposes")
    seed: int = Field(default=0, ge=0)
    sweep: dict[str, list[Union[int, float, str]]] = Field(default_factory=dict)
    report: ReportSpec = Field(default_factory=ReportSpec)


# ------------------------------------------------------------------------------------------------
# Tasks
# ------------------------------------------------------------------------------------------------
class _ScenarioPlan(Plan):
    """A plan built from a study scenario: its error locations point into the study file."""

    _prefix: tuple = ()

    def where(self, *keys: str) -> str:
        return _where(self._source, self._lines, tuple(self._prefix) + tuple(keys))


@dataclasses.dataclass
class Task:
    """One search of a study: a scenario at one sweep point. Plain JSON data (``to_dict``), so it
    can be stored, sent to another process or machine, and rebuilt."""

    name: str
    scenario: str
    sweep: dict
    question: str
    plan: dict
    params: dict
    space: dict
    objectives: Optional[list]
    constraints: list
    winner: Any
    backend: str
    sampler: Optional[str]
    options: dict
    budget: Optional[int]
    seed: int
    _plan: Any = dataclasses.field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("name", "scenario", "sweep", "question", "plan", "params", "space",
                                             "objectives", "constraints", "winner", "backend", "sampler", "options",
                                             "budget", "seed")}

    @classmethod
    def from_dict(cls, d: dict) -> "Task":
        return cls(**{k: d[k] for k in ("name", "scenario", "sweep", "question", "plan", "params", "space",
                                        "objectives", "constraints", "winner", "backend", "sampler", "options",
                                        "budget", "seed")})

    def plan_obj(self) -> Plan:
        if self._plan is None:
            self._plan = Plan.model_validate({"version": "1.0", **self.plan})
        return self._plan

    def setup(self):
        """The ``SearchSetup`` of this task (``mlsysim.dse.presets.setup``)."""
        from ..dse.presets import setup

        return setup(self.question, self.plan_obj(), space=self.space, objectives=self.objectives,
                     constraints=list(self.constraints), winner=self.winner, **self.params)

    def dse(self):
        """(setup, DSE) with the task's backend, sampler and options."""
        s = self.setup()
        return s, s.dse(backend=self.backend, sampler=self.sampler, **self.options)

    def resolve(self):
        """(setup, bound context, backend name, sampler, options, auto-why or None): ``auto`` is
        decided here, with the same rule as ``AutoBackend`` (recorded in the result)."""
        from ..dse.backends.auto import AutoBackend

        s, dse = self.dse()
        ctx = dse.bind()
        name, _, samp = self.backend.partition(":")
        sampler = samp or self.sampler
        options = dict(self.options)
        why = None
        if name == "auto":  # the options the chosen backend takes are forwarded to it
            choice = AutoBackend(**options).choose(ctx, self.budget)
            name, sampler, options, why = choice.name, choice.sampler, choice.options, choice.why
        return s, dse, ctx, name, sampler, options, why


@dataclasses.dataclass
class Study:
    """A loaded study: its tasks and report options."""

    name: str
    description: str
    question: str
    tasks: list[Task]
    report: dict
    sweep: dict
    source: Optional[str] = None

    def record(self) -> dict:
        """The JSON record stored with the results (enough to rebuild every task)."""
        return {"format": RECORD_FORMAT, "name": self.name, "description": self.description,
                "question": self.question, "report": dict(self.report), "sweep": dict(self.sweep),
                "tasks": [t.to_dict() for t in self.tasks], "source": self.source}

    @property
    def id(self) -> str:
        """``name-hash``: the same file (and overrides) gives the same id on every machine."""
        rec = self.record()
        rec.pop("source", None)
        digest = hashlib.sha256(json.dumps(rec, default=str).encode()).hexdigest()[:10]  # order-sensitive
        return f"{self.name}-{digest}"


def study_from_record(record: dict) -> Study:
    if not isinstance(record, dict) or record.get("format") != RECORD_FORMAT:
        raise SchemaError("the stored study record is not in a format this mlsysim understands",
                          hint=f"expected {RECORD_FORMAT!r}; was it written by another version?")
    return Study(name=record["name"], description=record.get("description", ""), question=record["question"],
                 tasks=[Task.from_dict(t) for t in record["tasks"]], report=dict(record.get("report") or {}),
                 sweep=dict(record.get("sweep") or {}), source=record.get("source"))


# ------------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------------
def load_study(path: str | pathlib.Path, *, seed: int | None = None, budget: int | None = None,
               backend: str | None = None) -> Study:
    """Read, validate and expand a study file (a path, or the name of a shipped study such as
    ``quickstart``); ``seed``/``budget``/``backend`` override the file's. Errors name the file, the
    line and the field."""
    from ..core.resources import resolve_file

    path = resolve_file(path, "study")
    data, lines = read_yaml(path, "study")
    if isinstance(data, dict):
        for key, value in (("seed", seed), ("budget", budget)):
            if value is not None:
                data[key] = value
        if backend is not None:
            if isinstance(data.get("backend"), dict):
                data["backend"] = {**data["backend"], "name": backend}
            else:
                data["backend"] = backend
    return build_study(data, source=str(path), lines=lines, base=path.resolve().parent)


def build_study(data: Any, *, source: str = "<study>", lines: dict | None = None,
                base: pathlib.Path | None = None) -> Study:
    """Validate parsed YAML and expand it into tasks (see ``load_study``)."""
    lines = lines or {}
    base = base or pathlib.Path.cwd()
    spec = validate_study(data, source=source, lines=lines)

    def where(*keys) -> str:
        return _where(source, lines, keys)

    backend, options = _backend(spec, where)
    combos = _sweep(spec, where)
    tasks = []
    for i, sc in enumerate(spec.scenarios):
        for combo in combos:
            tasks.append(_task(spec, sc, i, combo, backend, options, base, source, lines, where))
    names = [t.name for t in tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise SchemaError(f"{where('scenarios')}: scenario names must be unique; repeated: {', '.join(dup)}")
    return Study(name=spec.name, description=spec.description, question=spec.question, tasks=tasks,
                 report=spec.report.model_dump(), sweep={k: list(v) for k, v in spec.sweep.items()}, source=source)


def validate_study(data: Any, *, source: str, lines: dict) -> StudySpec:
    if data is None:
        raise SchemaError(f"{source}: the study file is empty", hint="see docs/studies.md for the format")
    if not isinstance(data, dict):
        raise SchemaError(f"{source}: a study must be a mapping with name, question, scenarios, ... "
                          f"(got {type(data).__name__})", hint="see docs/studies.md for the format")
    try:
        return StudySpec.model_validate(data)
    except ValidationError as exc:
        msgs = validation_messages(exc, source=source, lines=lines, model_cls=StudySpec)
        raise SchemaError("invalid study:\n  " + "\n  ".join(msgs),
                          hint="see docs/studies.md; `mlsysim schema result study` has the report's schema") from None


def _located(exc: MLSysimError, where: str) -> MLSysimError:
    """The same error with ``where`` in front of its message (unless it already names a place)."""
    if where.split(":")[0] not in exc.message:
        exc.message = f"{where}: {exc.message}"
        exc.args = (exc.message,)
    return exc


def _backend(spec: StudySpec, where) -> tuple[str, dict]:
    from ..dse.backends.base import get_backend

    raw = spec.backend
    if isinstance(raw, dict):
        raw = dict(raw)
        name = raw.pop("name", None)
        if not isinstance(name, str):
            raise SchemaError(f"{where('backend')}: a backend mapping needs 'name' (exhaustive, optuna, pymoo, auto)")
        options = raw
    else:
        name, options = raw, {}
    if "sampler" in options:
        raise SchemaError(f"{where('backend', 'sampler')}: give the sampler as the study's 'sampler' field or as "
                          "'optuna:tpe'")
    try:
        get_backend(name, spec.sampler, **options)
    except MLSysimError as exc:
        raise _located(exc, where("backend")) from None
    return name.strip().lower(), options


def _sweep(spec: StudySpec, where) -> list[dict]:
    for key, values in spec.sweep.items():
        section, _, field = key.partition(".")
        ok = key in SWEEP_PARAMS or (section in _PLAN_SECTIONS and field in _PLAN_SECTIONS[section].model_fields)
        if not ok:
            valid = list(SWEEP_PARAMS) + [f"{s}.{f}" for s, m in _PLAN_SECTIONS.items() for f in m.model_fields]
            raise UnknownNameError("sweep parameter", key, valid, where=where("sweep", key))
        if not values:
            raise SchemaError(f"{where('sweep', key)}: give at least one value")
        if len(set(map(str, values))) != len(values):
            raise SchemaError(f"{where('sweep', key)}: repeated values {values!r}")
    keys = list(spec.sweep)
    return [dict(zip(keys, combo)) for combo in itertools.product(*spec.sweep.values())] if keys else [{}]


def _task(spec: StudySpec, sc: ScenarioSpec, i: int, combo: dict, backend: str, options: dict,
          base: pathlib.Path, source: str, lines: dict, where) -> Task:
    prefix = ("scenarios", i)
    plan_data = {s: getattr(sc, s).model_dump(by_alias=True, exclude_none=True) for s in _PLAN_SECTIONS}
    params = {k: getattr(sc, k) for k in SWEEP_PARAMS if getattr(sc, k) is not None}
    for key, value in combo.items():
        section, _, field = key.partition(".")
        if key in SWEEP_PARAMS:
            params[key] = value
        else:
            plan_data[section][field] = value
    name = sc.name + ("[" + ", ".join(f"{k}={v}" for k, v in combo.items()) + "]" if combo else "")
    try:
        plan = _ScenarioPlan.model_validate({"version": "1.0", **plan_data})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise SchemaError(f"{where('sweep') if combo else where(*prefix)}: scenario {name!r}: {loc}: "
                          f"{err['msg']} (got {err.get('input')!r})") from None
    plan._source, plan._lines, plan._prefix = source, lines, prefix
    question = sc.question or spec.question
    space_spec = sc.space if sc.space is not None else spec.space
    space_where = where(*prefix, "space") if sc.space is not None else where("space")
    objectives = sc.objectives if sc.objectives is not None else spec.objectives
    constraints = sc.constraints if sc.constraints is not None else spec.constraints
    winner = sc.winner if sc.winner is not None else spec.winner
    space_arg, fixed, restrict = _space_arg(space_spec, base, space_where)
    from ..dse.presets import setup

    try:
        s = setup(question, plan, space=space_arg, objectives=objectives, constraints=list(constraints),
                  winner=winner, **params)
    except MLSysimError as exc:
        raise _located(exc, f"{where(*prefix)} (scenario {name!r})") from None
    sp = s.space
    try:
        if fixed:
            sp = sp.with_fixed(fixed)
        for dim, values in (restrict or {}).items():
            if not isinstance(values, list):
                raise SchemaError(f"restrict.{dim}: expected a list of values, got {values!r}")
            sp = sp.restrict(dim, values)
    except MLSysimError as exc:
        raise _located(exc, space_where) from None
    task = Task(name=name, scenario=sc.name, sweep=dict(combo), question=question, plan=plan_data, params=params,
                space=sp.fingerprint(), objectives=list(objectives) if objectives is not None else None,
                constraints=list(constraints), winner=winner, backend=backend, sampler=spec.sampler,
                options=dict(options), budget=spec.budget, seed=spec.seed)
    task._plan = plan
    try:  # resolve names, units and the backend now: a bad study fails before any search starts
        task.resolve()
    except MLSysimError as exc:
        keys = "objectives" if "objective" in exc.message or "metric" in exc.message else None
        loc = where(*prefix, keys) if keys and sc.objectives is not None else (where(keys) if keys else where(*prefix))
        raise _located(exc, f"{loc} (scenario {name!r})") from None
    return task


def _space_arg(spec, base: pathlib.Path, where: str):
    """(space argument for presets.setup, fixed, restrict) from the study's ``space`` field."""
    from ..dse.space import SearchSpace

    if spec is None:
        return None, {}, {}
    if isinstance(spec, str):
        return _space_file(spec, base, where), {}, {}
    spec = dict(spec)
    restrict = spec.pop("restrict", None) or {}
    if not isinstance(restrict, dict):
        raise SchemaError(f"{where}: 'restrict' must map dimension names to lists of values")
    if "file" in spec:
        file = spec.pop("file")
        fixed = spec.pop("fixed", None) or {}
        if spec:
            raise SchemaError(f"{where}: with 'file', only 'fixed' and 'restrict' may be given (got "
                              f"{', '.join(map(repr, spec))})", hint="or give the whole space inline")
        if not isinstance(fixed, dict):
            raise SchemaError(f"{where}: 'fixed' must map dimension names to values")
        return _space_file(str(file), base, where), fixed, restrict
    if set(spec) <= {"fixed"}:  # overrides of the question's shipped space
        fixed = spec.get("fixed") or {}
        if not isinstance(fixed, dict):
            raise SchemaError(f"{where}: 'fixed' must map dimension names to values")
        return None, fixed, restrict
    try:
        return SearchSpace.from_dict(spec, where=where), {}, restrict
    except MLSysimError as exc:
        raise _located(exc, where) from None


def _space_file(name: str, base: pathlib.Path, where: str):
    """A ``space:`` file: relative to the study file's folder, else a shipped space by name."""
    from ..core.resources import resolve_file
    from ..dse.space import SearchSpace

    return SearchSpace.from_yaml(resolve_file(name, "search space", bases=[base], where=where))


def study_json_schema() -> dict:
    """The JSON Schema of a study file."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **StudySpec.model_json_schema(by_alias=True)}

