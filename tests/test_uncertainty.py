"""Prediction intervals from the validation residuals (issue 11 item 7): the interval arithmetic,
the robustness count of a Pareto front, the shipped table being current, and where users see them."""
from __future__ import annotations

import numpy as np
import pytest

from mlsysim.physics import uncertainty as U


@pytest.fixture
def bands(monkeypatch):
    """A fixed table so the hand arithmetic below does not move with the validation data."""
    table = {"families": {"training": {"ratio_low": 0.8, "ratio_high": 1.25},
                          "serving": {"ratio_low": 0.9, "ratio_high": 1.1},
                          "energy": {"ratio_low": 0.95, "ratio_high": 1.5}}}
    monkeypatch.setattr(U, "interval_table", lambda: table)
    return table


def test_interval_arithmetic_by_orientation(bands):
    # a rate scales with measured/predicted: 1000 tokens/s -> [800, 1250]
    assert U.metric_interval("tokens_per_s", 1000.0, "training") == pytest.approx((800.0, 1250.0))
    # a time scales inversely: 10 s -> [10 / 1.25, 10 / 0.8] = [8, 12.5]
    assert U.metric_interval("step_time", 10.0, "training") == pytest.approx((8.0, 12.5))
    # serving family: 20 ms ITL -> [20 / 1.1, 20 / 0.9]
    assert U.metric_interval("itl", 20.0, "serving") == pytest.approx((20 / 1.1, 20 / 0.9))
    # amounts use the energy family whatever the problem: 100 kWh -> [95, 150]
    assert U.metric_interval("energy_kwh", 100.0, "training") == pytest.approx((95.0, 150.0))
    assert U.metric_interval("memory_per_device", 70.0, "training") is None      # not a predicted rate
    assert U.metrics_interval({"mfu": 0.5, "capacity": 80.0}, "training") == {"mfu": [0.4, 0.625]}


def test_robust_pareto_hand_example(bands):
    # maximize throughput (training band 0.8 .. 1.25), minimize memory (no interval: exact).
    # A (100, 10) and B (150, 20) are Pareto-optimal; C (90, 10.5) is dominated by A.
    # Pessimistic A = (80, 10); optimistic B = (187.5, 20): does not dominate (more memory); optimistic
    # C = (112.5, 10.5): more memory too -> A stays. Pessimistic B = (120, 20); optimistic A = (125, 10)
    # dominates it -> B is not robust.
    values = np.array([[100.0, 10.0], [150.0, 20.0], [90.0, 10.5]])
    robust = U.robust_pareto(values, [0, 1], [("tokens_per_s", +1), ("memory_per_device", -1)], "training")
    assert robust.tolist() == [True, False]


def test_shipped_intervals_are_current():
    """data/calibration/intervals.yaml equals what the validation table gives today (regenerate
    with ``python -m mlsysim.validation --write-intervals`` after a physics or data change)."""
    from mlsysim.validation.intervals import compute_intervals

    now = compute_intervals()["families"]
    shipped = U.interval_table()["families"]
    for fam in ("training", "serving", "energy"):
        assert shipped[fam]["cases"] == now[fam]["cases"], fam
        assert shipped[fam]["ratio_low"] == pytest.approx(now[fam]["ratio_low"], abs=1e-3), fam
        assert shipped[fam]["ratio_high"] == pytest.approx(now[fam]["ratio_high"], abs=1e-3), fam
        assert 0 < shipped[fam]["ratio_low"] <= 1.0 <= shipped[fam]["ratio_high"] or fam == "energy"


def test_eval_reports_metrics_interval():
    from mlsysim.evaluator import SystemEvaluator

    ev = SystemEvaluator.evaluate(model_obj="Llama3_8B", hardware_obj="H100", nodes=1, batch_size=64,
                                  mode="training", precision="bf16")
    d = ev.to_dict()
    lo, hi = d["metrics_interval"]["performance.tokens_per_s"]
    value = d["performance"]["metrics"]["tokens_per_s"]
    assert lo < value < hi
    assert "80% interval" in ev.scorecard()


def test_search_result_reports_winner_interval_and_robustness():
    from mlsysim.dse import DSE
    from mlsysim.dse.problems import ParallelismProblem
    from mlsysim.core.catalog import registry

    problem = ParallelismProblem(registry("models").get("Llama3_8B"), registry("clusters").get("H100_256"),
                                 global_batch=256, seq_len=4096, max_nodes=4)
    space = {"nodes": [1, 2, 4], "tp": [1, 2, 4, 8], "zero_stage": [1, 3], "recompute": ["selective", "full"]}
    r = DSE(space, objectives=["maximize: tokens_per_s", "minimize: gpu_hours_per_Mtoken"], problem=problem,
            backend="exhaustive").run()
    j = r.to_json()
    lo, hi = j["winner_interval"]["tokens_per_s"]
    assert lo < j["winner"]["metrics"]["tokens_per_s"] < hi
    rob = j["robustness"]
    assert 0 <= rob["robust_pareto_points"] <= rob["pareto_points"] == len(j["pareto"])
