"""Acceptance test (a) of the DSE issue: on a real parallelism space -- Llama-3-70B on 512 H100
(64 DGX H100 nodes on InfiniBand NDR), global batch 4096 x 2048 tokens, ``search_spaces/parallelism.yaml``
restricted as ``mlsysim optimize parallelism`` does (nodes <= 64, ep = 1) -- optuna and pymoo reach
>= 95% of the exhaustive front's hypervolume and recover >= 50% of the exact front's points within
10% of the space's evaluations (at most 20,000); IGD+ is reported in every assertion message.

* "The space's evaluations" = what the exhaustive search evaluates: the 52,752 *valid*
  configurations (of 145,152 raw). The budget is 10% of that, 5,275 **proposals** (optuna trials,
  pymoo evaluations), the stricter reading: re-proposed configurations count although they are
  answered from a cache; the unique evaluations are reported too.
* Two objective sets. ``default`` (max tokens_per_s, min gpu_hours_per_Mtoken) is what the CLI
  optimizes, but its exact front has only 3 points (one split on 16/32/64 nodes), so coverage
  moves in steps of 1/3. ``cost-memory`` (min gpu_hours_per_Mtoken, min memory_per_device: what
  memory headroom costs per token) has a 35-point front (with the physics of this writing)
  spanning 4.7-74 GB: a real trade-off, where coverage >= 0.5 means finding 18 specific designs.
  Both are asserted; the test checks that this front has >= 20 points.
* Fixed seed 0. The distribution over seeds 0-9 is in docs/dse.md ("Quality and speed on the real
  parallelism space"); every assertion below held for all ten seeds there.
* optuna TPE is not asserted: multi-objective TPE costs ~0.3 s per trial at a few thousand trials
  on this space (2,637 trials took 13 min), far beyond a test's time, and at the budgets it can
  afford it reaches neither bar (1%: HV ratio 0.52 / 0.89, coverage 1/3 / 1/35; benchmarks/bench_dse.py).

Runtime: ~30 s on the 2-core machine class (optuna's 5,275 trials are most of it).
"""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("optuna")
pytest.importorskip("pymoo")

HV_BAR, COVERAGE_BAR, SHARE, CAP = 0.95, 0.5, 0.10, 20_000
OBJECTIVES = {
    "default": ["maximize: tokens_per_s", "minimize: gpu_hours_per_Mtoken"],
    "cost-memory": ["minimize: gpu_hours_per_Mtoken", "minimize: memory_per_device"],
}


@pytest.fixture(scope="module")
def setting():
    import mlsysim
    from mlsysim.dse import DSE
    from mlsysim.dse.presets import spaces_dir
    from mlsysim.dse.problems import ParallelismProblem
    from mlsysim.dse.space import SearchSpace
    from mlsysim.systems.fleet import fleet_for

    problem = ParallelismProblem(mlsysim.Models.Llama3_70B, fleet_for(mlsysim.Hardware.H100, 64),
                                 global_batch=4096, seq_len=2048)
    space = (SearchSpace.from_yaml(spaces_dir() / "parallelism.yaml")
             .restrict("nodes", [1, 2, 4, 8, 16, 32, 64]).restrict("ep", [1])
             # the domains the quality figures of docs/dse.md were measured on (the shipped space
             # has grown since: uneven pipeline stages, cp up to 16, microbatch 16, selective_op)
             .restrict("pp", [1, 2, 4, 8, 16, 32]).restrict("cp", [1, 2, 4]).restrict("microbatch", [1, 2, 4, 8])
             .restrict("recompute", ["none", "selective", "full"]).restrict("virtual_stages", [1, 2, 4]))
    exact = {name: DSE(space, objectives=objs, problem=problem, backend="exhaustive").run()
             for name, objs in OBJECTIVES.items()}
    return problem, space, exact


def test_the_space_and_its_exact_fronts(setting):
    _, space, exact = setting
    ex = exact["cost-memory"]
    assert space.size == 145_152 and ex.valid_size == ex.evaluations
    assert ex.valid_size == exact["default"].valid_size
    # the objective set that makes coverage meaningful must have a real front
    assert len(np.unique(ex.front(), axis=0)) >= 20, len(ex.pareto)


@pytest.mark.parametrize("objectives", list(OBJECTIVES))
@pytest.mark.parametrize("backend", ["pymoo:nsga2", "optuna:nsga2"])
def test_optimizer_reaches_the_exact_front_within_10_percent(setting, backend, objectives, record_property):
    from mlsysim.dse import DSE

    problem, space, exact = setting
    ex = exact[objectives]
    budget = min(CAP, int(SHARE * ex.valid_size))
    r = DSE(space, objectives=OBJECTIVES[objectives], problem=problem, backend=backend).run(budget=budget, seed=0)
    c = r.compare(ex)
    n_front = len(np.unique(ex.front(), axis=0))
    found = round(c["coverage"] * n_front)
    msg = (f"{backend} on '{objectives}' with {r.proposals:,} proposals ({r.evaluations:,} unique evaluations) "
           f"of a {budget:,} budget: hypervolume ratio {c['hypervolume_ratio']:.4f}, IGD+ {c['igd_plus']:.4f}, "
           f"coverage {c['coverage']:.2f} ({found}/{n_front} exact-front points)")
    print(msg)
    for key in ("hypervolume_ratio", "igd_plus", "coverage"):
        record_property(key, c[key])
    assert r.proposals <= budget, msg
    assert c["hypervolume_ratio"] >= HV_BAR, msg
    assert c["coverage"] >= COVERAGE_BAR, msg
    if backend.startswith("pymoo"):
        # history-wide duplicate elimination: every proposal is a configuration not proposed before
        assert len(r.trials) == r.proposals, msg


@pytest.mark.parametrize("sampler", ["nsga2", "nsga3"])
def test_fast_ga_bookkeeping_proposes_exactly_what_optuna_does(setting, sampler):
    """The O(1) generation bookkeeping (optuna_backend.fast_ga_class) is a pure speed-up."""
    from mlsysim.dse import DSE

    problem, space, _ = setting
    runs = [DSE(space, objectives=OBJECTIVES["cost-memory"], problem=problem, backend="optuna", sampler=sampler,
                population_size=20, fast_ga=fast).run(budget=240, seed=5) for fast in (True, False)]
    for k in space.free + ["gpu_hours_per_Mtoken", "memory_per_device", "feasible"]:
        a, b = runs[0].trials[k], runs[1].trials[k]
        same = np.array_equal(a, b, equal_nan=True) if a.dtype != object else list(a) == list(b)
        assert len(a) == len(b) and same, k


def test_ga_samplers_get_every_dimension_suggested(setting):
    """NSGA-II/III search the intersection of all trials' parameters: a conditional dimension
    (virtual_stages only when pp > 1) must be a parameter of every trial to be inherited."""
    import optuna

    problem, space, _ = setting
    space = space.with_constants(problem.constants)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.RandomSampler(seed=0))
    pp1 = [t for t in (study.ask() for _ in range(100)) if space.suggest(t)["pp"] == 1]
    assert pp1 and all("virtual_stages" not in t.params for t in pp1)  # define-by-run (TPE, random)
    for _ in range(20):
        t = study.ask()
        values = space.suggest(t, conditional=False)
        assert set(t.params) == set(values) == set(space.free)
