"""The one split module (mlsysim.physics.splits): vocabulary, uneven pipeline layout, the best-split
search shared by `eval` and the placement problem, and the published production configurations."""
from __future__ import annotations

import numpy as np
import pytest
import yaml

from mlsysim.core.catalog import registry
from mlsysim.core.errors import UnknownNameError, UserInputError
from mlsysim.dse.problems.placement import PlacementProblem
from mlsysim.dse.space import SearchSpace
from mlsysim.evaluator import SystemEvaluator
from mlsysim.physics.distributed import pipeline_layout
from mlsysim.physics.splits import (SPLIT_FIELDS, ParallelSplit, best_split, candidate_grid, default_seq_len,
                                    evaluate_splits)
from mlsysim.validation import DATA_DIR
from mlsysim.validation.training import load_cases

MODELS = registry("models")


def test_one_vocabulary_with_aliases_and_did_you_mean():
    s = ParallelSplit.from_mapping({"tp_size": 8, "pp": 16, "micro_batch": 2, "activation_recomputation": "full"})
    assert (s.tp, s.pp, s.microbatch, s.recompute) == (8, 16, 2, "full")
    assert tuple(s.to_dict()) == SPLIT_FIELDS
    assert s.sp is True and ParallelSplit(tp=1).sp is False
    with pytest.raises(UnknownNameError) as exc:
        ParallelSplit.from_mapping({"microbatchsize": 2})
    assert "microbatch" in str(exc.value)
    with pytest.raises(UserInputError):
        ParallelSplit.from_mapping({"pp": 0})          # no silent "0 means 1"
    with pytest.raises(UserInputError):
        ParallelSplit.from_mapping({"tp": 8, "tp_size": 4})
    with pytest.raises(UnknownNameError):
        ParallelSplit(recompute="sometimes")


def test_uneven_pipeline_layout_hand_arithmetic():
    # Llama 3 405B: 126 layers on 16 stages, the head worth 0.66 layers on the last stage:
    # k* = (126 - 15 x 0.66) / 16 = 7.26 -> 7 layers last, ceil(119 / 15) = 8 on the middle stages,
    # 126 - 7 - 14 x 8 = 7 on the first (Meta: "one layer less on the first and the last stage").
    lay = pipeline_layout(126, 16, 0.66)
    assert (float(lay["first"]), float(lay["middle"]), float(lay["last"])) == (7, 8, 7)
    assert float(lay["load"]) == pytest.approx(max(8, 7 + 0.66))
    # even division keeps the even layout: 96 layers on 8 stages, head 0.35 -> 12 everywhere,
    # the last stage's 12 + 0.35 is the slowest
    lay = pipeline_layout(96, 8, 0.35)
    assert (float(lay["first"]), float(lay["middle"]), float(lay["last"])) == (12, 12, 12)
    assert float(lay["load"]) == pytest.approx(12.35)
    # one stage holds everything
    assert float(pipeline_layout(32, 1, 0.5)["load"]) == pytest.approx(32.5)


def test_candidate_grid_has_expert_parallelism_and_uneven_stages():
    g = candidate_grid(MODELS.get("DeepSeek_V3"), 8, 128, 4096)
    assert (g["ep"] > 1).any()
    g = candidate_grid(MODELS.get("Llama3_405B"), 8, 16384, 8192)
    assert 16 in set(g["pp"])                      # 126 layers: 16 stages are proposed
    assert default_seq_len(MODELS.get("Llama3_405B")) == 8192


def test_best_split_beats_or_equals_every_candidate():
    model, cluster = MODELS.get("Llama3_70B"), registry("clusters").get("H100_256")
    best = best_split(model, cluster, global_batch=512, seq_len=4096)
    grid = candidate_grid(model, 8, 256, 4096)
    r = evaluate_splits(model, cluster, grid, global_batch=512, seq_len=4096)
    assert best.feasible[0]
    assert best.metrics["tokens_per_s"][0] == pytest.approx(np.where(r["feasible"], r["tokens_per_s"], 0).max())
    assert best.at(0).dp * best.at(0).tp * best.at(0).pp * best.at(0).cp == 256


# ---- eval and optimize agree (issue 12: one best-split search) ---------------------------------
CASE_MODELS = [m.key for m in MODELS.all() if getattr(m, "kind", None) == "transformer"]
FLEETS = (2, 8, 32, 128)
BATCHES = (256, 1024, 2048)


def test_eval_and_placement_pick_the_same_best_split():
    """H100 x every catalog transformer x 4 fleet sizes x 3 batch sizes: ``mlsysim eval``'s training
    lens and ``optimize placement``'s problem report the same best throughput."""
    hw = registry("hardware").get("H100")
    compared = 0
    for key in CASE_MODELS:
        model = MODELS.get(key)
        for batch in BATCHES:
            prob = PlacementProblem(model, global_batch=batch, max_nodes=max(FLEETS))
            nodes = np.asarray(FLEETS, dtype=float)
            out = prob.evaluate({"nodes": nodes, "hardware": np.full(len(FLEETS), "H100", dtype=object),
                                 "region": np.full(len(FLEETS), "US_Avg", dtype=object)})
            for n, tput in zip(FLEETS, out["tokens_per_s"]):
                ev = SystemEvaluator.evaluate(model_obj=model, hardware_obj=hw, nodes=n, batch_size=batch,
                                              seq_len=prob.seq_len, mode="training", precision="bf16")
                fits = ev.feasibility.status == "PASS"
                rate = ev.performance.metrics["tokens_per_s"] if fits else 0.0
                assert rate == pytest.approx(tput, rel=1e-9), (key, n, batch)
                compared += 1
    assert compared == len(CASE_MODELS) * len(FLEETS) * len(BATCHES) >= 264


# ---- the published production configurations -----------------------------------------------------
PRODUCTION = ("L3-405B-8K", "L3-405B-16K", "TT-8B-8", "TT-8B-128", "TT-70B-256", "TT-405B-512-1F1B",
              "N21-175B-384", "N21-175B-1536", "K22-175B-sel", "NEMO-GPT3-175B-128", "BLOOM-176B-384")


@pytest.fixture(scope="module")
def production_cases():
    cases = {c.id: c for c in load_cases()}
    return [cases[i] for i in PRODUCTION]


def test_published_production_configurations_are_feasible(production_cases):
    for c in production_cases:
        r = evaluate_splits(c.model, c.cluster, c.split.arrays(), global_batch=c.global_batch,
                            seq_len=c.model.max_seq_len, precision=c.precision)
        assert bool(np.ravel(r["valid"])[0]), c.id
        assert bool(np.ravel(r["feasible"])[0]), (c.id, float(np.ravel(r["memory_per_device"])[0]) / 1e9)


def test_shipped_parallelism_space_proposes_every_published_split(production_cases):
    space = SearchSpace.from_yaml("parallelism")
    for c in production_cases:
        g = c.cluster.accelerators_per_node
        consts = {"max_nodes": float(c.cluster.node_count), "gpus_per_node": float(g), "heads": float(c.model.heads),
                  "kv_heads": float(c.model.n_kv_heads), "layers": float(c.model.layers),
                  "experts": float(c.model.experts), "global_batch": float(c.global_batch),
                  "seq_len": float(c.model.max_seq_len)}
        split = c.split.to_dict()
        config = {"nodes": c.cluster.node_count, "tp": split["tp"], "pp": split["pp"], "cp": split["cp"],
                  "ep": split["ep"], "microbatch": split["microbatch"], "zero_stage": split["zero_stage"],
                  "recompute": split["recompute"], "sequence_parallel": int(split["sequence_parallel"]),
                  "virtual_stages": split["virtual_stages"]}
        sp = space.with_constants(consts)
        for name, value in config.items():
            domain = sp._domain(name)
            if domain is not None:
                assert value in set(domain.tolist()), (c.id, name, value)
        arrays = {k: np.array([v], dtype=object if isinstance(v, str) else float) for k, v in config.items()}
        assert bool(sp.check_rules(sp.complete(arrays)).valid[0]), c.id


def test_validation_runs_use_the_split_vocabulary():
    raw = yaml.safe_load((DATA_DIR / "training_runs.yaml").read_text())
    for run in raw["runs"]:
        par = {k: v for k, v in run["parallel"].items() if k not in ("global_batch", "overlap_dp", "precision")}
        ParallelSplit.from_mapping(par)
