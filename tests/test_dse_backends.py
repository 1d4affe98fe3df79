"""Every backend on analytic problems with known optima and fronts; reproducibility; parallelism."""
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from test_dse_toys import LINE_SPACE, ZDT_SPACE, LineFront, Quadratic, ZDTLike
from mlsysim.core.errors import InfeasibleError, UnitError, UnknownNameError, UserInputError
from mlsysim.dse import DSE, FunctionProblem, available_backends

SMALL_QUAD = {"dimensions": {"x": {"type": "int", "low": -5, "high": 10}, "y": {"type": "int", "low": -5, "high": 5}}}
ZDT_OBJ = ["min: f1", "min: f2"]


def same_json(a, b):
    ja, jb = a.to_json(), b.to_json()
    ja.pop("wall_time_s"), jb.pop("wall_time_s")
    return json.dumps(ja, sort_keys=True) == json.dumps(jb, sort_keys=True)


@pytest.fixture(scope="module")
def zdt_exact():
    return DSE(ZDT_SPACE, objectives=ZDT_OBJ, backend="exhaustive").run(problem=ZDTLike())


def test_import_does_not_load_optimizers():
    code = ("import sys, mlsysim.dse; bad = [m for m in sys.modules if m.split('.')[0] in "
            "('optuna', 'pymoo', 'joblib', 'sqlalchemy', 'rich')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_available_backends():
    b = available_backends()
    assert set(b) == {"exhaustive", "optuna", "pymoo", "auto"}
    assert {"tpe", "nsga2", "nsga3", "gp", "random", "qmc"} <= set(b["optuna"])
    assert {"nsga2", "nsga3", "moead", "ga"} <= set(b["pymoo"])
    with pytest.raises(UnknownNameError, match="did you mean 'optuna'"):
        DSE(SMALL_QUAD, "min: f", backend="optna")
    with pytest.raises(UnknownNameError):
        DSE(SMALL_QUAD, "min: f", backend="optuna:cmaes")


@pytest.mark.parametrize("backend, budget", [
    ("exhaustive", None), ("optuna:tpe", 120), ("optuna:random", 400), ("optuna:qmc", 400),
    ("optuna:nsga2", 400), ("pymoo:ga", 400), ("pymoo:nsga2", 400),
])
def test_single_objective_optimum(backend, budget):
    r = DSE(SMALL_QUAD, "minimize: f", backend=backend).run(problem=Quadratic(), budget=budget, seed=1)
    assert r.winner_config == {"x": 7, "y": -3}
    assert r.winner_metrics["f"] == 1.0 and r.winner_metrics["t"] == pytest.approx(27.0)   # t shown in ms
    assert r.evaluations <= r.proposals and r.evaluations == int(np.sum(~np.isnan(r.trials["f"])))


def test_gp_sampler_needs_torch_or_runs():
    import importlib.util

    dse = DSE(SMALL_QUAD, "minimize: f", backend="optuna:gp")
    if importlib.util.find_spec("torch") is None:
        with pytest.raises(UserInputError, match="needs PyTorch"):
            dse.run(problem=Quadratic(), budget=20)
    else:
        assert dse.run(problem=Quadratic(), budget=20).evaluations > 0


@pytest.mark.parametrize("backend, budget", [
    ("exhaustive", None), ("optuna:nsga2", 400), ("optuna:nsga3", 400), ("optuna:random", 400),
    ("optuna:tpe", 200), ("pymoo:nsga2", 600), ("pymoo:nsga3", 600), ("pymoo:moead", 1500),
])
def test_bi_objective_known_front(backend, budget):
    """f1 = x, f2 = (12 - x)^2 + y: the exact front is x = 0..12 at y = 0 (13 points)."""
    r = DSE(LINE_SPACE, objectives=["min: f1", "min: f2"], backend=backend).run(problem=LineFront(), budget=budget, seed=0)
    front = sorted((c["x"], c["y"]) for c in (r.config(i) for i in r.pareto))
    assert front == [(x, 0) for x in range(13)]
    assert r.winner is not None and r.winner in set(r.pareto.tolist())


@pytest.mark.parametrize("backend, budget", [("pymoo:nsga2", 3800), ("optuna:nsga2", 2000)])
def test_optimizers_reach_95pct_hypervolume_with_10pct_evaluations(zdt_exact, backend, budget):
    assert zdt_exact.valid_size == zdt_exact.evaluations > 35_000 and zdt_exact.space_size == 50_000
    r = DSE(ZDT_SPACE, objectives=ZDT_OBJ, backend=backend).run(problem=ZDTLike(), budget=budget, seed=0)
    assert r.proposals <= 0.1 * zdt_exact.evaluations
    q = r.compare(zdt_exact)
    assert q["hypervolume_ratio"] >= 0.95, q
    assert q["coverage"] >= 0.5, q


def test_random_search_is_measurably_worse(zdt_exact):
    r = DSE(ZDT_SPACE, objectives=ZDT_OBJ, backend="optuna:random").run(problem=ZDTLike(), budget=2000, seed=0)
    assert r.compare(zdt_exact)["coverage"] < 0.5     # the indicators discriminate


@pytest.mark.parametrize("backend", ["exhaustive", "optuna:nsga2", "optuna:random", "pymoo:nsga2", "pymoo:moead"])
def test_infeasible_points_never_reach_the_front(backend):
    cons = ["f2 <= 0.8", "cost <= 900 USD"]
    r = DSE(ZDT_SPACE, objectives=ZDT_OBJ, constraints=cons, backend=backend).run(problem=ZDTLike(), budget=600, seed=3)
    t = r.trials
    assert len(r.pareto) > 0 and (~t["feasible"]).any()
    for i in r.pareto:
        c = r.config(int(i))
        assert t["feasible"][i] and t["violation"][i] == 0 and t["reason"][i] == ""
        assert t["f2"][i] <= 0.8 and t["cost"][i] <= 900
        assert (c["a"] + c["b"]) % 7 != 3 and (c["c"] <= 8 or c["b"] < 20)
        assert not (c["d"] == "v" and c["a"] > 40)
    reasons = set(t["reason"][~t["feasible"]].tolist())
    assert reasons <= {"too hot", "constraint: f2 <= 0.8", "constraint: cost <= 900 USD",
                       "rule: (a + b) % m != 3", "rule: c <= 8 or b < 20"}


def test_constraint_moves_the_single_objective_winner():
    r = DSE(SMALL_QUAD, "minimize: f", constraints=["f >= 5", "t <= 25 ms"], backend="exhaustive").run(problem=Quadratic())
    c, m = r.winner_config, r.winner_metrics
    assert m["f"] >= 5 and m["t"] <= 25 and m["f"] == 5.0   # (x - 7)^2 + (y + 3)^2 = 4 with x <= 5
    assert c["x"] == 5 and c["y"] == -3


@pytest.mark.parametrize("backend, budget", [("exhaustive", None), ("optuna:nsga2", 300), ("optuna:tpe", 40),
                                             ("pymoo:nsga2", 500), ("pymoo:nsga3", 500), ("auto", 500)])
def test_same_seed_same_result(backend, budget):
    run = lambda seed: DSE(ZDT_SPACE, objectives=ZDT_OBJ, constraints=["cost <= 1000 USD"], backend=backend).run(
        problem=ZDTLike(), budget=budget, seed=seed)
    a, b = run(7), run(7)
    assert same_json(a, b)
    if backend not in ("exhaustive", "auto"):
        assert not same_json(a, run(8))


def test_exhaustive_parallel_equals_serial():
    kw = dict(objectives=ZDT_OBJ, constraints=["f2 <= 2"], backend="exhaustive", chunk_size=4096)
    a = DSE(ZDT_SPACE, **kw).run(problem=ZDTLike(), n_jobs=1)
    b = DSE(ZDT_SPACE, **kw).run(problem=ZDTLike(), n_jobs=2)
    ja, jb = a.to_json(), b.to_json()
    for j in (ja, jb):
        j.pop("wall_time_s"), j["provenance"].pop("n_jobs")
    assert ja == jb and len(a.trials) == len(b.trials) == a.valid_size
    assert (a.trials["_index"] == b.trials["_index"]).all()


def test_exhaustive_keeps_only_the_front_above_max_trials(zdt_exact):
    r = DSE(ZDT_SPACE, objectives=ZDT_OBJ, backend="exhaustive", chunk_size=4096, max_trials=5000).run(problem=ZDTLike())
    assert r.provenance["truncated"] and len(r.trials) == len(r.pareto) == len(zdt_exact.pareto)
    assert "only the Pareto front" in r.notes[0]
    assert r.evaluations == zdt_exact.evaluations and r.to_json()["feasible"] == len(r.pareto)
    assert r.compare(zdt_exact)["coverage"] == 1.0


def test_auto_chooses_and_says_why():
    small = DSE(ZDT_SPACE, objectives=ZDT_OBJ).run(problem=ZDTLike())
    assert small.backend == "exhaustive" and "exhaustive enumeration is fast and exact" in small.provenance["auto"]["why"]
    multi = DSE(ZDT_SPACE, objectives=ZDT_OBJ, max_exhaustive=1000).run(problem=ZDTLike(), budget=300)
    assert multi.backend == "pymoo" and multi.sampler == "nsga2" and "exceed the exhaustive limit" in multi.provenance["auto"]["why"]
    single = DSE(ZDT_SPACE, "min: f2").run(problem=ZDTLike(), budget=30)
    assert single.backend == "optuna" and single.sampler == "tpe" and "budget of 30" in single.notes[0]


def test_progress_callback():
    calls = []
    DSE(ZDT_SPACE, objectives=ZDT_OBJ, backend="exhaustive", chunk_size=10_000).run(
        problem=ZDTLike(), progress=lambda done, total, best: calls.append((done, total, best)))
    assert [c[0] for c in calls] == [10_000, 20_000, 30_000, 40_000, 50_000] and calls[-1][1] == 50_000
    assert calls[-1][2]["pareto_size"] == 43
    calls.clear()
    DSE(SMALL_QUAD, "min: f", backend="optuna:random", batch_size=50).run(
        problem=Quadratic(), budget=100, progress=lambda *a: calls.append(a))
    assert [c[0] for c in calls] == [50, 100] and "f" in calls[-1][2]


def test_optuna_emits_no_deprecation_or_experimental_warnings():
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for s in ("nsga2", "tpe", "qmc", "nsga3"):
            DSE(ZDT_SPACE, objectives=ZDT_OBJ, constraints=["f2 <= 1"], backend=f"optuna:{s}").run(problem=ZDTLike(), budget=30)
    bad = [w for w in rec if issubclass(w.category, (DeprecationWarning, FutureWarning)) or "Experimental" in w.category.__name__]
    assert not bad, [str(w.message) for w in bad]


def test_elementwise_function_equals_vectorized():
    def vec(c):
        return {"f": (c["x"] - 7.0) ** 2 + (c["y"] + 3.0) ** 2 + 1}

    def elem(c):
        return {"f": (c["x"] - 7.0) ** 2 + (c["y"] + 3.0) ** 2 + 1, "feasible": True}

    a = DSE(SMALL_QUAD, "min: f", backend="exhaustive").run(problem=FunctionProblem(vec, {"f": ""}, name="q"))
    b = DSE(SMALL_QUAD, "min: f", backend="exhaustive").run(problem=FunctionProblem(elem, {"f": ""}, vectorized=False, name="q"))
    assert same_json(a, b)


def test_conditional_dimensions_in_every_backend():
    space = {"dimensions": {"pp": [1, 2, 4], "v": {"type": "choice", "values": [1, 2, 3], "when": "pp > 1", "default": 1},
                            "x": {"type": "int", "low": 0, "high": 9}}}

    def f(c):
        return {"cost": c["pp"] * 10.0 - c["v"] * 3.0 + (c["x"] - 4) ** 2}

    for backend in ("exhaustive", "optuna:tpe", "optuna:nsga2", "pymoo:ga"):
        r = DSE(space, "min: cost", backend=backend).run(problem=f, budget=150, seed=0)
        t = r.trials
        assert ((t["pp"] > 1) | (t["v"] == 1)).all(), backend   # conditionals sit at their default
        assert r.winner_config == {"pp": 1, "v": 1, "x": 4}, backend
    assert DSE(space, "min: cost", backend="exhaustive").run(problem=f).valid_size == 10 * (1 + 3 + 3)


def test_seed_dict_form():
    dse = DSE(space={"tp": [1, 2, 4, 8], "batch": [1, 8, 32]}, objective="minimize: latency", constraints=["latency < 50"])
    r = dse.run(problem=lambda c: {"latency": 10 + 100 / c["tp"] + c["batch"]})
    assert r.winner_config == {"tp": 8, "batch": 1} and r.winner_metrics == {"latency": 23.5}
    assert r.to_json()["feasible"] == 4   # latency < 50: tp=4 with batch 1, 8 and tp=8 with batch 1, 8


def test_bad_inputs_raise_the_right_errors():
    with pytest.raises(UnknownNameError, match="valid metric names: f, t"):
        DSE(SMALL_QUAD, "min: latency").run(problem=Quadratic())
    with pytest.raises(UnitError):
        DSE(SMALL_QUAD, "min: f", constraints=["t <= 3 GB"]).run(problem=Quadratic())
    empty = {"dimensions": SMALL_QUAD["dimensions"], "rules": ["x > 100"]}
    for backend in ("exhaustive", "optuna", "pymoo:ga"):
        with pytest.raises(InfeasibleError, match="'x > 100' removes the most"):
            DSE(empty, "min: f", backend=backend).run(problem=Quadratic(), budget=10)
    with pytest.raises(UserInputError, match="single-objective"):
        DSE(SMALL_QUAD, objectives=["min: f", "min: t"], backend="pymoo:ga").run(problem=Quadratic(), budget=10)
    with pytest.raises(UserInputError, match="budget"):
        DSE(SMALL_QUAD, "min: f").run(problem=Quadratic(), budget=0)


@pytest.mark.parametrize("backend, budget", [("optuna:tpe", 80), ("pymoo:ga", 600), ("optuna:nsga2", 400)])
def test_continuous_and_log_float_dimensions(backend, budget):
    space = {"x": {"type": "float", "low": 0.0, "high": 1.0},
             "lr": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True}, "k": [1, 2, 3]}

    def f(c):
        return {"loss": (c["x"] - 0.3) ** 2 + (np.log10(c["lr"]) + 3) ** 2 / 16 + (c["k"] - 2) ** 2}

    r = DSE(space, "min: loss", backend=backend).run(problem=f, budget=budget, seed=0)
    w = r.winner_config
    assert abs(w["x"] - 0.3) < 0.1 and 3e-5 < w["lr"] < 3e-2 and w["k"] == 2, w
    assert r.space_size is None and r.valid_size is None
