"""SearchResult: JSON shape and units, CSV export, provenance, run_search and SearchSpace YAML end to end."""
import csv
import json

import numpy as np
import pytest

from test_dse_toys import QUAD_SPACE, ZDT_SPACE, Quadratic, ZDTLike
from mlsysim.dse import DSE, SearchSpace, run_search

KEYS = {"kind", "backend", "sampler", "seed", "space_size", "valid_size", "evaluations", "feasible", "objectives",
        "constraints", "winner", "winner_rule", "why", "pareto", "units", "hypervolume", "wall_time_s", "provenance"}


def test_json_shape_units_and_provenance():
    r = DSE(QUAD_SPACE, objectives=["min: f", "max: t"], constraints=["t <= 30 ms"], backend="exhaustive").run(problem=Quadratic())
    j = r.to_json()
    assert KEYS <= set(j)
    json.dumps(j)   # JSON-serializable as is
    assert j["kind"] == "dse_result" and j["backend"] == "exhaustive" and j["space_size"] == 41 * 21
    assert j["units"] == {"f": "", "t": "ms"}
    assert j["objectives"] == [{"metric": "f", "direction": "minimize", "unit": ""},
                               {"metric": "t", "direction": "maximize", "unit": "ms"}]
    assert j["constraints"] == ["t <= 30 ms"] and j["feasible"] == 31 * 21
    assert j["infeasible_reasons"] == {"constraint: t <= 30 ms": 10 * 21}
    for p in j["pareto"]:
        assert p["metrics"]["t"] <= 30 and isinstance(p["config"]["x"], int)   # display units (ms)
    assert j["winner"]["config"] in [p["config"] for p in j["pareto"]]
    assert j["winner_rule"] == "knee" and "knee" in j["why"]
    assert 0 < j["hypervolume"] <= 1.21 and j["hypervolume_reference"]["ref_point"] == 1.1
    prov = j["provenance"]
    assert set(prov["versions"]) == {"mlsysim", "optuna", "pymoo", "numpy"} and prov["problem"] == "toy:quadratic"
    assert prov["counts"]["valid"] == 41 * 21


def test_csv_exports(tmp_path):
    r = DSE(ZDT_SPACE, objectives=["min: f1", "min: f2"], constraints=["cost <= 900 USD"], backend="exhaustive").run(problem=ZDTLike())
    trials = list(csv.reader(r.to_csv(tmp_path / "trials.csv").read_text().splitlines()))
    pareto = list(csv.reader(r.to_csv(tmp_path / "pareto.csv", table="pareto").read_text().splitlines()))
    assert trials[0] == ["a", "b", "c", "d", "f1", "f2", "cost [USD]", "feasible", "violation", "reason"]
    assert len(trials) == 1 + len(r.trials) and len(pareto) == 1 + len(r.pareto)
    assert {row[-1] for row in trials[1:]} == {"", "too hot", "constraint: cost <= 900 USD"}
    assert all(row[7] == "True" for row in pareto[1:])


def test_to_dataframe_needs_pandas():
    r = DSE(QUAD_SPACE, "min: f", backend="exhaustive").run(problem=Quadratic())
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pandas"):
            r.to_dataframe()
    else:
        assert len(r.to_dataframe(table="pareto")) == len(r.pareto)


def test_single_objective_json_and_repr():
    r = run_search(Quadratic(), QUAD_SPACE, "minimize: f", backend="exhaustive")
    j = r.to_json()
    assert j["winner"] == {"config": {"x": 7, "y": -3}, "metrics": {"f": 1.0, "t": 27.0}}
    assert j["hypervolume"] is None and j["winner_rule"] == "best" and len(j["pareto"]) == 1
    assert "winner {'x': 7, 'y': -3}" in repr(r)


def test_yaml_space_end_to_end(tmp_path):
    p = tmp_path / "space.yaml"
    p.write_text(
        "name: toy\n"
        "dimensions:\n"
        "  x: {type: int, low: -20, high: 20, step: 2}\n"
        "  y: [-3, 0, 3]\n"
        "  z: {type: float, low: 0.5, high: 4, log: true, grid: 4}\n"
        "derived:\n"
        "  s: \"x + y\"\n"
        "rules:\n"
        "  - \"s % lim != 1\"\n"
        "constants: {lim: 4}\n")
    space = SearchSpace.from_yaml(p)
    assert space.size == 21 * 3 * 4 and space.name == "toy"
    r = DSE(p, "min: f", backend="exhaustive").run(problem=Quadratic())
    assert r.winner_config["x"] == 6 and r.winner_config["y"] == -3 and r.winner_config["s"] == 3
    assert np.all(((r.trials["x"] + r.trials["y"]) % 4) != 1)
