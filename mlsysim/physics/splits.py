"""The parallel split of distributed training: one typed object, one vocabulary, one candidate grid
and one best-split search.

Calculon's separation (Isaev et al. 2023, SC'23) keeps the *execution* apart from the application
(model) and the system (cluster). Here the execution is :class:`ParallelSplit` with the field names
used everywhere -- plans, search spaces, the evaluator, the search problems, the physics and the JSON:

    tp, pp, cp, ep, dp, microbatch, zero_stage, recompute, sequence_parallel, virtual_stages

"The best split for this model on this fleet" is :func:`best_split`, computed here only: ``mlsysim
eval`` (the evaluator's training lens) and the placement / hardware search problems all call it, on
the same :func:`candidate_grid` (expert parallelism included for MoE models; any pipeline degree whose
stages can each hold a layer, since :func:`mlsysim.physics.distributed.distributed_core` places uneven
stages as Llama 3 and BLOOM did).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Optional

import numpy as np

from .training_memory import RECOMPUTE_MODES

#: The one vocabulary of a split (order = how a split is printed).
SPLIT_FIELDS = ("tp", "pp", "cp", "ep", "dp", "microbatch", "zero_stage", "recompute", "sequence_parallel",
                "virtual_stages")
#: Other spellings accepted on input (the seed API's ``tp_size=`` keywords, Megatron's flag names);
#: outputs always use :data:`SPLIT_FIELDS`.
SPLIT_ALIASES = {"tp_size": "tp", "pp_size": "pp", "cp_size": "cp", "ep_size": "ep", "dp_size": "dp",
                 "microbatch_size": "microbatch", "micro_batch": "microbatch", "micro_batch_size": "microbatch",
                 "mb": "microbatch", "activation_recomputation": "recompute", "sp": "sequence_parallel",
                 "zero": "zero_stage", "virtual_pipeline_stages": "virtual_stages"}
#: Default tokens per training sequence when none is given: the model's context, capped at 8,192
#: (Llama 3 pre-training ran at 8k, Llama Team 2024 Sec. 3.4.1); one rule for eval, search and physics.
DEFAULT_SEQ_LEN = 8192
#: Memory settings the automatic split tries for every (tp, pp, cp, ep, microbatch): (ZeRO stage,
#: recomputation). ZeRO-1 is Megatron's distributed optimizer, ZeRO-3 FSDP FULL_SHARD.
AUTO_MEMORY_SETTINGS = ((1, "selective"), (1, "full"), (3, "selective"), (3, "full"))
#: Pipeline degrees the grid tries besides the divisors of the layer count (uneven stages allowed).
PIPELINE_DEGREES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
MICROBATCHES = (1, 2, 4)
#: Context parallelism is tried from this sequence length on (Llama 3 used CP 16 at 131k context).
CP_FROM_SEQ_LEN = 32768


def default_seq_len(model) -> int:
    """Training sequence length when none is given (:data:`DEFAULT_SEQ_LEN`, capped at the context)."""
    return int(min(model.max_seq_len, DEFAULT_SEQ_LEN))


def canonical_name(name: str) -> str:
    """The vocabulary name of a split field given in any accepted spelling."""
    return SPLIT_ALIASES.get(name, name)


def recompute_codes(values) -> np.ndarray:
    """Recomputation names (``RECOMPUTE_MODES``) or codes -> the physics core's float codes."""
    values = np.asarray(values)
    if values.dtype.kind in "iuf":
        return values.astype(float)
    codes = np.full(values.shape, np.nan)
    for i, name in enumerate(RECOMPUTE_MODES):
        codes[values == name] = i
    if np.isnan(codes).any():
        from ..core.errors import UnknownNameError

        bad = values[np.isnan(codes)].ravel()[0]
        raise UnknownNameError("recomputation mode", str(bad), RECOMPUTE_MODES)
    return codes


@dataclass(frozen=True)
class ParallelSplit:
    """One parallel split. ``dp`` None means "the rest": accelerators / (tp·pp·cp);
    ``sequence_parallel`` None means "on whenever tp > 1" (Megatron's recommended setting)."""

    tp: int = 1
    pp: int = 1
    cp: int = 1
    ep: int = 1
    dp: Optional[int] = None
    microbatch: int = 1
    zero_stage: int = 0
    recompute: str = "none"
    sequence_parallel: Optional[bool] = None
    virtual_stages: int = 1

    def __post_init__(self):
        from ..core.errors import UnknownNameError, UserInputError

        for name in ("tp", "pp", "cp", "ep", "microbatch", "virtual_stages") + (("dp",) if self.dp is not None else ()):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise UserInputError(f"parallelism.{name} must be a positive whole number, got {v!r}")
        if isinstance(self.zero_stage, bool) or self.zero_stage not in (0, 1, 2, 3):
            raise UserInputError(f"parallelism.zero_stage must be 0, 1, 2 or 3, got {self.zero_stage!r}")
        if self.recompute not in RECOMPUTE_MODES:
            raise UnknownNameError("recomputation mode", str(self.recompute), RECOMPUTE_MODES)
        if self.sequence_parallel and self.tp == 1:
            raise UserInputError("parallelism.sequence_parallel needs tp > 1")

    @classmethod
    def from_mapping(cls, mapping: Mapping) -> "ParallelSplit":
        """A split from a mapping in the vocabulary or an accepted alias; unknown keys are refused
        with the nearest field name."""
        from ..core.errors import UnknownNameError, UserInputError

        out: dict = {}
        for key, value in mapping.items():
            name = canonical_name(str(key))
            if name not in SPLIT_FIELDS:
                raise UnknownNameError("parallelism field", str(key), SPLIT_FIELDS)
            if name in out:
                raise UserInputError(f"parallelism.{name} is given twice ({key!r} is another name for it)")
            if value is None:
                continue
            out[name] = value
        for name in ("tp", "pp", "cp", "ep", "dp", "microbatch", "zero_stage", "virtual_stages"):
            if name in out:
                out[name] = _whole(out[name], name)
        if "sequence_parallel" in out:
            out["sequence_parallel"] = bool(out["sequence_parallel"])
        if "recompute" in out:
            out["recompute"] = str(out["recompute"])
        return cls(**out)

    @property
    def sp(self) -> bool:
        """Sequence parallelism as applied: the explicit choice, else on with tp > 1."""
        return self.tp > 1 if self.sequence_parallel is None else bool(self.sequence_parallel)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sequence_parallel"] = self.sp
        return d

    def label(self) -> str:
        """Compact text: ``TP8 PP16x8 CP2 EP4 DP64 mb1 Z1 selective SP``."""
        parts = [f"TP{self.tp}", f"PP{self.pp}" + (f"x{self.virtual_stages}" if self.virtual_stages > 1 else "")]
        parts += [f"CP{self.cp}"] if self.cp > 1 else []
        parts += [f"EP{self.ep}"] if self.ep > 1 else []
        parts += [f"DP{self.dp}"] if self.dp is not None else []
        parts += [f"mb{self.microbatch}", f"Z{self.zero_stage}", self.recompute] + (["SP"] if self.sp else [])
        return " ".join(parts)

    def arrays(self) -> dict:
        """The split as length-1 arrays in the vocabulary (the form :func:`core_arguments` takes)."""
        d = self.to_dict()
        if d["dp"] is None:
            del d["dp"]
        return {k: np.array([v], dtype=object if k == "recompute" else float) for k, v in d.items()}


def _whole(value, name) -> int:
    from ..core.errors import UserInputError

    try:
        f = float(value)
    except (TypeError, ValueError):
        f = float("nan")
    if isinstance(value, bool) or not math.isfinite(f) or f != round(f):
        raise UserInputError(f"parallelism.{name} must be a whole number, got {value!r}")
    return int(f)


def core_arguments(configs: Mapping, n: int) -> dict:
    """Vocabulary-named arrays (any subset; defaults as :class:`ParallelSplit`) -> the keyword
    arguments of ``distributed_core``."""
    get = lambda k, default: np.broadcast_to(np.asarray(configs.get(k, default)), (n,))  # noqa: E731
    tp = get("tp", 1).astype(float)
    sp = configs.get("sequence_parallel")
    sp = (tp > 1) if sp is None else get("sequence_parallel", 0).astype(float) * (tp > 1)
    args = {"tp": tp, "pp": get("pp", 1).astype(float), "cp": get("cp", 1).astype(float),
            "ep": get("ep", 1).astype(float), "micro_batch": get("microbatch", 1).astype(float),
            "zero_stage": get("zero_stage", 0).astype(float), "recompute": recompute_codes(get("recompute", "none")),
            "sp": np.asarray(sp, dtype=float), "virtual_stages": get("virtual_stages", 1).astype(float)}
    if "dp" in configs:
        args["dp"] = get("dp", 1).astype(float)
    return args


def evaluate_splits(model, cluster, configs: Mapping, *, global_batch, seq_len, precision="bf16",
                    nodes=None) -> dict:
    """``distributed_core`` on vocabulary-named arrays of splits (one vectorized call)."""
    from .distributed import distributed_core

    n = len(np.atleast_1d(next(iter(configs.values())))) if configs else 1
    if nodes is None and "nodes" in configs:
        nodes = np.asarray(configs["nodes"], dtype=float)
    return distributed_core(model, cluster, global_batch=global_batch, seq_len=seq_len, precision=precision,
                            nodes=nodes, **core_arguments(configs, n))


def powers_of_two(limit: int) -> list[int]:
    """1, 2, 4, ... up to ``limit``."""
    out, v = [], 1
    while v <= limit:
        out.append(v)
        v *= 2
    return out


def candidate_grid(model, accelerators_per_node: int, max_accelerators: int, seq_len: int) -> dict:
    """Every split the automatic search tries, as vocabulary-named arrays.

    tp: powers of two up to a node that divide the heads; pp: :data:`PIPELINE_DEGREES` and the
    divisors of the layer count up to 64 that leave every stage a layer (uneven stages allowed);
    cp: 1, or powers of two up to 8 from :data:`CP_FROM_SEQ_LEN` tokens on; ep (MoE only): powers of two
    dividing the expert count; microbatch :data:`MICROBATCHES`; memory settings
    :data:`AUTO_MEMORY_SETTINGS`; sequence parallelism with tp > 1; no interleaving."""
    n_acc = int(max_accelerators)
    tps = [t for t in powers_of_two(min(accelerators_per_node, n_acc)) if model.heads % t == 0] or [1]
    pps = sorted({p for p in PIPELINE_DEGREES if p <= model.layers}
                 | {p for p in range(1, 65) if model.layers % p == 0})
    cps = [c for c in powers_of_two(8) if seq_len % c == 0] if seq_len >= CP_FROM_SEQ_LEN else [1]
    eps = ([e for e in powers_of_two(min(model.experts, n_acc)) if model.experts % e == 0] if model.is_moe else [1])
    rows = [(t, p, c, e, mb, z, r) for t in tps for p in pps for c in cps for e in eps for mb in MICROBATCHES
            for z, r in AUTO_MEMORY_SETTINGS if t * p * c <= n_acc]
    cols = list(zip(*rows))
    grid = {name: np.asarray(col, dtype=float) for name, col in
            zip(("tp", "pp", "cp", "ep", "microbatch", "zero_stage"), cols[:6])}
    grid["recompute"] = np.asarray(cols[6], dtype=object)
    grid["sequence_parallel"] = (grid["tp"] > 1).astype(float)
    grid["virtual_stages"] = np.ones(len(rows))
    return grid


@dataclass
class BestSplits:
    """The chosen split per node count: ``split`` and ``metrics`` are arrays aligned with ``nodes``.
    Where no candidate is feasible, the valid split with the least memory is reported
    (``feasible`` False); where none is valid, the first candidate."""

    nodes: np.ndarray
    split: dict
    metrics: dict
    feasible: np.ndarray
    valid: np.ndarray
    candidates: int
    feasible_count: np.ndarray

    def at(self, i: int = 0) -> ParallelSplit:
        """The chosen split of the ``i``-th node count as a :class:`ParallelSplit`."""
        kw = {k: (str(v[i]) if k == "recompute" else bool(v[i]) if k == "sequence_parallel" else int(v[i]))
              for k, v in self.split.items()}
        kw["dp"] = int(round(float(self.metrics["dp"][i])))
        return ParallelSplit(**kw)


def best_split(model, cluster, nodes=None, *, global_batch, seq_len=None, precision="bf16") -> BestSplits:
    """The highest-throughput feasible split of ``model`` on ``cluster`` (or on each node count in
    ``nodes`` of the cluster's node type), from :func:`candidate_grid` in one vectorized call.
    Ties in throughput go to the split with less memory per device."""
    nodes = np.atleast_1d(np.asarray(cluster.node_count if nodes is None else nodes, dtype=float))
    s = default_seq_len(model) if seq_len is None else int(seq_len)
    g = cluster.accelerators_per_node
    grid = candidate_grid(model, g, int(nodes.max()) * g, s)
    k = len(grid["tp"])
    cfg = {name: np.tile(col, len(nodes)) for name, col in grid.items()}
    r = evaluate_splits(model, cluster, cfg, global_batch=global_batch, seq_len=s, precision=precision,
                        nodes=np.repeat(nodes, k))
    full = lambda key: np.broadcast_to(np.asarray(r[key]), (len(nodes) * k,)).reshape(len(nodes), k)  # noqa: E731
    feasible, valid, mem = full("feasible").astype(bool), full("valid").astype(bool), full("memory_per_device")
    rate = np.where(feasible, full("tokens_per_s"), -np.inf)
    best = rate.max(axis=1, keepdims=True)
    # highest throughput; among (near-)equal throughputs the least memory
    tied = feasible & (rate >= best * (1.0 - 1e-9))
    pick_feasible = np.argmin(np.where(tied, mem, np.inf), axis=1)
    pick_valid = np.argmin(np.where(valid, mem, np.inf), axis=1)
    any_feasible, any_valid = feasible.any(axis=1), valid.any(axis=1)
    pick = np.where(any_feasible, pick_feasible, np.where(any_valid, pick_valid, 0))
    rows = np.arange(len(nodes)) * k + pick
    metrics = {key: np.broadcast_to(np.asarray(v), (len(nodes) * k,))[rows] for key, v in r.items()}
    split = {name: grid[name][pick] for name in grid}
    return BestSplits(nodes=nodes, split=split, metrics=metrics, feasible=any_feasible, valid=any_valid,
                      candidates=k, feasible_count=feasible.sum(axis=1))
