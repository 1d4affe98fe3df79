"""The four questions ``mlsysim optimize`` and studies ask of a plan, as ready search setups:
a problem bound to the plan's model/fleet/region, the shipped space, default objectives,
constraints and winner rule. Everything can be overridden (``space``, ``objectives``, ...).

* ``parallelism`` -- how many nodes (up to the plan's fleet) and which parallel split? Two
  objectives: training throughput (max) vs GPU-hours per million tokens (min); knee winner.
* ``placement``   -- which region, accelerator and fleet size under a carbon tax? Cost including
  the tax (min) vs carbon (min), finishing within the plan's ``ops.duration_days``.
* ``hardware``    -- which accelerator and how many, in the plan's region? Time to train (min) vs
  cost (min), within the same deadline.
* ``batching``    -- batch, tensor parallelism, replicas and precision to serve at ``qps``:
  cost per million tokens (min) vs P99 latency (min), with the P99 SLA as a constraint.
"""
from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Sequence

from ..core.errors import UnknownNameError, UserInputError
from .space import SearchSpace

KINDS = ("parallelism", "placement", "hardware", "batching")
_SPACE_FILE = {"parallelism": "parallelism.yaml", "placement": "placement.yaml", "hardware": "hardware.yaml",
               "batching": "serving.yaml"}
DEFAULT_OBJECTIVES = {
    "parallelism": ["maximize: tokens_per_s", "minimize: gpu_hours_per_Mtoken"],
    "placement": ["minimize: cost_usd", "minimize: carbon_kg"],
    "hardware": ["minimize: time_to_train", "minimize: cost_usd"],
    "batching": ["minimize: usd_per_Mtoken", "minimize: p99_latency"],
}
QUESTIONS = {
    "parallelism": "How many nodes, split how? Training throughput vs GPU-hours per million tokens.",
    "placement": "Where, on what and how big? Cost (with the carbon tax) vs carbon of the training run.",
    "hardware": "Which accelerator and how many? Time to train vs cost.",
    "batching": "How to batch, split and replicate for serving? Cost per million tokens vs P99 latency.",
}


def question_text(kind: str, objectives: Sequence[str] | None) -> str:
    """The question a search answers: the preset's, or its first sentence plus the objectives given."""
    if not objectives:
        return QUESTIONS[kind]
    head = QUESTIONS[kind].split("?")[0] + "?"
    return f"{head} {' vs '.join(str(o) for o in objectives)}."


def spaces_dir() -> pathlib.Path:
    """The shipped search spaces: ``mlsysim/search_spaces/`` (package data; the repository's top-level
    ``search_spaces/`` holds symlinks to these files). Refer to one by name: ``--space parallelism``."""
    from ..core.resources import shipped_dir

    return shipped_dir("search space")


@dataclasses.dataclass
class SearchSetup:
    """Everything a search needs; ``dse()`` turns it into a ready ``DSE``."""

    kind: str
    question: str
    problem: Any
    space: SearchSpace
    objectives: list[str]
    constraints: list[str]
    winner: Any
    context: dict

    def dse(self, backend: str = "auto", sampler: str | None = None, **options):
        from .engine import DSE

        return DSE(self.space, objectives=self.objectives, constraints=self.constraints, problem=self.problem,
                   winner=self.winner, backend=backend, sampler=sampler, **options)


def _load_space(kind: str, space) -> SearchSpace:
    if space is None:
        return SearchSpace.from_yaml(spaces_dir() / _SPACE_FILE[kind])
    if isinstance(space, (str, pathlib.Path)):
        return SearchSpace.from_yaml(space)
    return SearchSpace.coerce(space)


def _pow2_up_to(space: SearchSpace, name: str, limit: int) -> SearchSpace:
    """Keep only the values of dimension ``name`` that are <= ``limit`` (and say so when none is)."""
    if name not in space.dimensions or space.dimensions[name].values() is None:
        return space
    keep = [v for v in space.dimensions[name].values().tolist() if v <= limit]
    if not keep:
        raise UserInputError(f"the search space's '{name}' values are all above the plan's {limit}",
                             hint=f"raise hardware.nodes in the plan or lower '{name}' in the space")
    return space.restrict(name, keep)


def setup(kind: str, plan, *, space=None, objectives: Sequence[str] | None = None, constraints: Sequence[str] = (),
          winner=None, carbon_tax: float | None = None, qps: float | None = None, sla_ms: float | None = None,
          prompt_len: int | None = None, output_len: int | None = None, train_tokens: float | None = None) -> SearchSetup:
    """The search setup of question ``kind`` for ``plan`` (a ``mlsysim.plan.Plan``)."""
    from .problems import BatchingProblem, HardwareProblem, ParallelismProblem, PlacementProblem

    if kind not in KINDS:
        raise UnknownNameError("optimization", kind, KINDS)
    kw = plan.evaluate_kwargs()
    kw.pop("_notes", None)
    model, fleet, grid = kw["model_obj"], kw["fleet"], kw["grid"]
    seq_len = kw["seq_len"] or min(getattr(model, "max_seq_len", 2048), 2048)
    precision = kw["precision"]
    tokens = train_tokens if train_tokens is not None else getattr(plan.workload, "train_tokens", None)
    user_space = space is not None
    sp = _load_space(kind, space)
    cons = list(constraints)
    context: dict[str, Any] = {"model": model.key, "hardware": kw["hardware_obj"].key, "nodes": fleet.node_count,
                               "region": getattr(grid, "key", None), "global_batch": kw["batch_size"],
                               "seq_len": seq_len, "precision": precision}
    if getattr(model, "kind", None) != "transformer":
        raise UserInputError(f"'optimize {kind}' searches LLM (transformer) workloads; {model.name} is a {model.kind}",
                             hint="use `mlsysim eval` for CNN workloads")
    if kind == "parallelism":
        problem = ParallelismProblem(model, fleet, global_batch=kw["batch_size"], seq_len=seq_len, precision=precision,
                                     max_nodes=fleet.node_count, train_tokens=tokens)
        if not user_space:
            sp = _pow2_up_to(sp, "nodes", fleet.node_count)
            if not model.is_moe and "ep" in sp.dimensions:
                sp = sp.restrict("ep", [1])
    elif kind in ("placement", "hardware"):
        # The fleet is what is being chosen: its size ranges over the space (not the plan's
        # nodes); the plan's ops.duration_days is the deadline of the training run.
        tax = float(carbon_tax or 0.0)
        context["carbon_tax_usd_per_t"] = tax
        node_values = sp.dimensions["nodes"].values() if "nodes" in sp.dimensions else None
        max_nodes = int(max(node_values)) if node_values is not None else fleet.node_count
        common = dict(global_batch=kw["batch_size"], seq_len=seq_len, precision=precision, carbon_tax_usd_per_t=tax,
                      max_nodes=max_nodes, train_tokens=tokens)
        if kind == "placement":
            problem = PlacementProblem(model, **common)
        else:
            problem = HardwareProblem(model, region=grid.key, **common)
        deadline = getattr(plan.ops, "duration_days", None)
        if deadline:
            cons.append(f"time_to_train <= {deadline:g} day")
            context["deadline_days"] = deadline
    else:  # batching
        if qps is None:
            raise UserInputError("optimize batching needs the request rate", hint="pass --qps REQUESTS_PER_SECOND")
        problem = BatchingProblem(model, qps=qps, prompt_len=prompt_len or seq_len,
                                  output_len=output_len or max(int(getattr(plan.workload, "output_len", 0) or 0), 256),
                                  grid=grid, gpus_per_node=fleet.node.accelerators_per_node)
        context.update(qps=qps, sla_ms=sla_ms)
        if not user_space and "hardware" in sp.dimensions:
            sp = sp.with_fixed(hardware=kw["hardware_obj"].key)
        if sla_ms is not None:
            cons.append(f"p99_latency <= {sla_ms} ms")
    return SearchSetup(kind=kind, question=question_text(kind, objectives), problem=problem, space=sp,
                       objectives=list(objectives) if objectives else list(DEFAULT_OBJECTIVES[kind]),
                       constraints=cons, winner=winner, context=context)
