"""Training runs of the validation table: each published run prepared once (model, cluster, the
published split as a :class:`~mlsysim.physics.splits.ParallelSplit`) and predicted with
``distributed_core`` at default settings."""
from __future__ import annotations

from dataclasses import dataclass

from . import METRICS, Row, _read, build_cluster, build_model, data_dir, load_systems, megatron_hw_flops

#: Keys of a run's ``parallel:`` mapping that describe the step, not the split.
STEP_KEYS = ("global_batch", "overlap_dp", "precision")
BREAKDOWN = ("compute_time", "tp_comm_time", "cp_comm_time", "ep_comm_time", "pp_comm_time", "bubble_time",
             "dp_comm_exposed", "zero3_gather_time", "optimizer_time")


@dataclass
class Case:
    run: dict
    model: object
    cluster: object
    node: object
    split: object
    global_batch: int
    precision: str
    overlap: bool

    @property
    def id(self) -> str:
        return self.run["id"]

    @property
    def source(self) -> str:
        return self.run["source"]


def prepare_case(run: dict, models: dict, systems: dict) -> Case:
    """The typed inputs of one ``runs:`` entry (the split in the one vocabulary of physics.splits)."""
    from ..physics.splits import ParallelSplit

    node = systems["nodes"][run["node"]]
    par = dict(run["parallel"])
    step = {k: par.pop(k) for k in STEP_KEYS if k in par}
    return Case(run=run, model=models[run["model"]], cluster=build_cluster(node, systems["fabrics"][run["fabric"]],
                int(run["gpus"])), node=node, split=ParallelSplit.from_mapping(par),
                global_batch=int(step["global_batch"]), precision=step.get("precision", "bf16"),
                overlap=bool(step.get("overlap_dp", True)))


def load_cases(directory=None) -> list[Case]:
    d = data_dir(directory)
    raw = _read(d / "training_runs.yaml")
    systems = load_systems(d)
    models = {k: build_model(k, s) for k, s in raw["models"].items()}
    return [prepare_case(run, models, systems) for run in raw["runs"]]


def predict_case(case: Case) -> Row:
    """The run's published metric as the physics predicts it."""
    from ..physics.distributed import distributed_core
    from ..physics.splits import core_arguments

    seq = case.model.max_seq_len
    r = distributed_core(case.model, case.cluster, global_batch=case.global_batch, seq_len=seq,
                         overlap_comm=float(case.overlap), precision=case.precision,
                         **core_arguments(case.split.arrays(), 1))
    r = {k: (v.item() if hasattr(v, "size") and v.size == 1 else v) for k, v in r.items()}
    step, gpus = float(r["step_time"]), int(case.run["gpus"])
    metric = case.run["measured"]["metric"]
    if metric == "mfu":
        pred = float(r["mfu"])
    elif metric == "hfu":
        pred = float(r["hfu"])
    elif metric == "step_time_s":
        pred = step
    elif metric == "tflops_megatron_hw":
        pred = megatron_hw_flops(case.model, case.global_batch, seq) / (step * gpus) / 1e12
    elif metric == "tokens_per_s_per_gpu":
        pred = float(r["tokens_per_s"]) / gpus
    else:
        raise ValueError(f"{case.id}: unknown metric {metric!r}; expected one of {sorted(METRICS)}")
    meas = float(case.run["measured"]["value"])
    label = case.split.label()
    label = label if case.split.dp is not None else label.replace(" mb", f" DP{float(r['dp']):g} mb", 1)
    label += f" {case.precision}" if case.precision != "bf16" else ""
    return Row(id=case.id, source=case.source, model=case.model.name, hardware=case.node.accelerator.name,
               gpus=gpus, split=label, metric=metric, measured=meas, predicted=pred, error=(pred - meas) / meas,
               step_time_s=step, mfu=float(r["mfu"]), valid=bool(r["valid"]) and bool(r["feasible"]),
               breakdown={k: float(r[k]) for k in BREAKDOWN}, notes=case.run.get("config_notes", ""))
