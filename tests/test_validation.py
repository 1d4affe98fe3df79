"""The validation table (python -m mlsysim.validation): predictions against published training
runs and energy reports. The table is printed (pytest -s shows it); the assertions check that it is
complete and well-formed, and hold the accuracy the model reaches today so a physics change that
makes it worse fails here (docs/validation.md discusses every case)."""
from __future__ import annotations

import json
import math

import pytest
import yaml

from mlsysim import validation as V


@pytest.fixture(scope="module")
def training():
    return V.training_table()


@pytest.fixture(scope="module")
def energy():
    return V.energy_table()


def test_data_files_cite_every_case():
    raw = yaml.safe_load((V.DATA_DIR / "training_runs.yaml").read_text())
    ids = [r["id"] for r in raw["runs"]]
    assert len(ids) == len(set(ids))
    assert len(ids) >= 8
    for run in raw["runs"]:
        assert run["source"] in raw["sources"], run["id"]
        assert run["where"].strip(), run["id"]
        assert run["measured"]["metric"] in V.METRICS, run["id"]
        assert run["measured"]["value"] > 0, run["id"]
        assert run["model"] in raw["models"], run["id"]
    en = yaml.safe_load((V.DATA_DIR / "energy_reports.yaml").read_text())
    assert len(en["reports"]) >= 4
    for rep in en["reports"]:
        assert rep["source"] in en["sources"], rep["id"]
        assert rep["where"].strip() and rep["measured"]["energy_mwh"] > 0, rep["id"]


def test_model_shapes_reproduce_published_parameter_counts():
    raw = yaml.safe_load((V.DATA_DIR / "training_runs.yaml").read_text())
    published = {"gpt_175b": 174.6e9, "gpt_530b": 529.6e9, "gpt_1t": 1008.0e9,   # Narayanan 2021 Table 1/2
                 "llama3_405b": 405.85e9,                                         # HF safetensors total
                 "mpt_7b": 6.659e9, "mpt_70b": 64.862e9}                          # llm-foundry NumParams
    for key, n in published.items():
        assert V.build_model(key, raw["models"][key]).parameters == pytest.approx(n, rel=2e-3), key


def test_training_table_is_produced_and_finite(training):
    print("\n" + V.format_training(training))
    assert len(training) >= 8
    for r in training:
        assert math.isfinite(r.predicted) and r.predicted > 0, r.id
        assert math.isfinite(r.error), r.id
        assert r.step_time_s > 0 and 0 < r.mfu < 1, r.id
    s = V.summarize(training)
    text = V.format_training(training)
    assert "mean absolute error" in text and f"{100 * s['mae']:.1f}%" in text and f"{100 * s['max']:.1f}%" in text


def test_training_figures_are_printed_as_computed_and_goals_reported_honestly(training, capsys):
    """Issue 11 goals (training MAE <= 7%, every case within 20%, leave-one-source-out MAE <= 10%) are
    printed with a met / NOT met verdict that matches the figures; the figures printed are the ones
    computed here. docs/validation.md lists the cases that miss and why."""
    from mlsysim.validation.calibrate import format_loso, leave_one_source_out
    from mlsysim.validation.training import load_cases

    s = V.summarize(training)
    text = V.format_training(training)
    verdict = "met" if s["mae"] <= V.GOAL_MAE and s["max"] <= V.GOAL_MAX else "NOT met"
    assert f"mean absolute error {100 * s['mae']:.1f}%, max {100 * s['max']:.1f}%" in text
    assert f"max <= {100 * V.GOAL_MAX:.0f}%: {verdict}]" in text
    loso = leave_one_source_out(load_cases())
    assert loso.mae >= 0.8 * s["mae"]                 # held-out errors cannot be much better than in-sample
    line = format_loso(loso, V.GOAL_LOSO)
    assert f"MAE {100 * loso.mae:.1f}%" in line and ("NOT met" in line) == (loso.mae > V.GOAL_LOSO)
    # the shipped fitted constant is the all-sources fit (a stale constant fails here)
    assert loso.catalog_value == pytest.approx(loso.all_sources_fit)
    V.main([])
    assert line in capsys.readouterr().out


def test_well_modelled_sources_do_not_regress(training):
    """The Megatron-LM A100 sources the model covers well stay within the 20% goal per case
    (Korthikanti et al. 2022 Table 5; Narayanan et al. 2021 Table 2)."""
    for src in ("korthikanti2022", "narayanan2021"):
        rows = [r for r in training if r.source == src]
        assert rows and V.summarize(rows)["max"] <= 0.21, src


def test_energy_table_is_produced_and_finite(energy):
    print("\n" + V.format_energy(energy))
    assert len(energy) >= 4
    for r in energy:
        assert math.isfinite(r.predicted_mwh) and r.predicted_mwh > 0, r.id
        assert math.isfinite(r.error) and math.isfinite(r.predicted_tco2e), r.id
    assert "mean absolute error" in V.format_energy(energy)


def test_megatron_flop_count_matches_eq3():
    # Narayanan et al. 2021 eq. (3) for GPT-3 175B, B = 1536, s = 2048: 96 B s l h^2 (1 + s/6h + V/16lh)
    raw = yaml.safe_load((V.DATA_DIR / "training_runs.yaml").read_text())
    m = V.build_model("gpt_175b", raw["models"]["gpt_175b"])
    l, h, v, s, b = 96, 12288, 51200, 2048, 1536
    assert V.megatron_hw_flops(m, b, s) == pytest.approx(96 * b * s * l * h * h * (1 + s / (6 * h) + v / (16 * l * h)))


def test_cli_prints_table_and_json(capsys):
    assert V.main([]) == 0
    out = capsys.readouterr().out
    assert "K22-175B-sel" in out and "P21-GPT3" in out and "mean absolute error" in out
    assert V.main(["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"training", "training_summary", "energy", "energy_summary", "serving", "serving_summary"}
    assert data["training_summary"]["n"] == len(data["training"])


def test_tokens_per_s_per_gpu_metric_is_tokens_over_step_time(training):
    """The convention-free throughput metric: global batch x sequence / step time / GPUs."""
    raw = yaml.safe_load((V.DATA_DIR / "training_runs.yaml").read_text())
    runs = {r["id"]: r for r in raw["runs"]}
    rows = [r for r in training if r.metric == "tokens_per_s_per_gpu"]
    assert rows
    for r in rows:
        run = runs[r.id]
        seq = raw["models"][run["model"]]["seq_len"]
        tokens = run["parallel"]["global_batch"] * seq
        assert r.predicted == pytest.approx(tokens / r.step_time_s / r.gpus, rel=1e-9), r.id


def test_training_table_spans_sources_and_hardware(training):
    """Issue 11 item 6: at least 40 runs from at least 8 independent sources."""
    assert len(training) >= 40
    assert len({r.source for r in training}) >= 8
