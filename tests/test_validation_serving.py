"""The serving validation table (validation/serving_runs.yaml, mlsysim.validation.serving)."""
from __future__ import annotations

import pytest

from mlsysim.validation import _read, data_dir, summarize
from mlsysim.validation.serving import (GOAL_MAE, GOAL_MAX, format_serving, meets_serving_goal, predict_serving,
                                        serving_table)


@pytest.fixture(scope="module")
def rows():
    return serving_table()


def test_at_least_twelve_cited_measurements(rows):
    raw = _read(data_dir() / "serving_runs.yaml")
    assert len(rows) >= 12
    for run in raw["runs"]:
        assert run["source"] in raw["sources"] and run["where"], run["id"]
        assert run["source"] in raw["config_notes"], f"{run['id']}: the source's open choices must be stated"
    assert len({r.id for r in rows}) == len(rows)


def test_error_is_relative_to_the_measurement(rows):
    for r in rows:
        assert r.error == pytest.approx((r.predicted - r.measured) / r.measured, rel=1e-12)
        assert r.predicted > 0


def test_static_batch_is_output_tokens_over_prefill_plus_decode_steps():
    from mlsysim.core.catalog import registry
    from mlsysim.physics.serving import serving_core

    run = {"id": "x", "source": "s", "model": "Llama2_7B", "hardware": "H100", "tp": 1, "precision": "fp8",
           "kv_precision": "fp8", "mode": "static", "batch": 48, "prompt_len": 2048, "output_len": 2048,
           "measured": {"metric": "output_tokens_per_s_per_gpu", "value": 1000.0}}
    r = predict_serving(run)
    m, hw = registry("models").get("Llama2_7B"), registry("hardware").get("H100")
    core = serving_core(m, hw, batch_size=48, prompt_len=2048, output_len=1024, tp=1, precision="fp8",
                        kv_precision="fp8")
    # 48 x 2048 output tokens over one batched prefill and 2047 decode steps at context 2048 + 1024
    assert r.predicted == pytest.approx(48 * 2048 / (core["ttft"] + 2047 * core["itl"]), rel=1e-12)


def test_printed_summary_states_the_figures_and_the_goal(rows):
    s = summarize(rows)
    text = format_serving(rows)
    assert f"mean absolute error {100 * s['mae']:.1f}%" in text and f"max {100 * s['max']:.1f}%" in text
    met = s["mae"] <= GOAL_MAE and s["max"] <= GOAL_MAX
    assert meets_serving_goal(s) is met
    assert ("goal: MAE <= 15%, max <= 30%: met" in text) is met
    assert ("NOT met" in text) is (not met)
