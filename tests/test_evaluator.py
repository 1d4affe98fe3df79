"""SystemEvaluator: the three lenses, metric paths with units, asserts."""
from __future__ import annotations

import json
import math

import pytest

import mlsysim
from mlsysim.core.errors import SchemaError, UnitError, UnknownNameError, UserInputError
from mlsysim.evaluator import METRICS, SystemEvaluator, metric_paths, resolve_metric
from mlsysim.systems.fleet import fleet_for


@pytest.fixture(scope="module")
def seed_eval():
    """The seed's Python API call, verbatim."""
    return mlsysim.SystemEvaluator.evaluate(
        scenario_name="Llama-3 8B on H100",
        model_obj=mlsysim.Models.Language.Llama3_8B,
        hardware_obj=mlsysim.Hardware.Cloud.H100,
        batch_size=32,
        precision="fp16",
        efficiency=0.45,
    )


@pytest.fixture(scope="module")
def training_eval():
    return SystemEvaluator.evaluate("70B training", "Llama3_70B", "H100", batch_size=1024, nodes=32,
                                    grid="Quebec", duration_days=14)


def test_seed_call_has_three_lenses(seed_eval):
    d = seed_eval.to_dict()
    for lens in ("feasibility", "performance", "macro"):
        assert d[lens]["status"] in ("PASS", "WARN", "FAIL")
        assert set(d[lens]["metrics"]) == set(d[lens]["units"])
        for k, v in d[lens]["metrics"].items():
            assert v is None or isinstance(v, (int, float)), (lens, k, v)
    assert d["feasibility"]["status"] == "PASS"
    assert d["inputs"]["mode"] == "inference"
    json.dumps(d, allow_nan=False)


def test_seed_scorecard_is_plain_text(seed_eval):
    text = seed_eval.scorecard()
    assert "Llama-3 8B on H100" in text
    for word in ("Feasibility", "Performance", "Macro", "TTFT", "ITL", "TCO", "bottleneck"):
        assert word in text
    assert "\x1b[" not in text  # no terminal escape codes
    assert str(seed_eval) == text


def test_llm_inference_metrics(seed_eval):
    p = seed_eval.performance.metrics
    assert p["latency"] == pytest.approx(p["ttft"])  # latency of an LLM forward pass = TTFT
    assert p["itl"] < p["ttft"]
    assert 0 < p["mfu"] <= 1
    assert p["throughput"] == pytest.approx(32 / (p["latency"] / 1e3))
    assert seed_eval.performance.details["bottleneck"] in ("Compute", "Memory")
    f = seed_eval.feasibility.metrics
    assert f["memory_utilization"] == pytest.approx(f["memory_per_device"] / f["memory_capacity"])
    assert f["kv_cache"] > 0


def test_efficiency_is_used(seed_eval):
    low = SystemEvaluator.evaluate("", "Llama3_8B", "H100", batch_size=32, precision="fp16", efficiency=0.2)
    # compute-bound prefill: lower efficiency, longer latency
    assert low.metric("performance.latency") > seed_eval.metric("performance.latency")


def test_macro_lens_numbers(seed_eval, training_eval):
    m = seed_eval.to_dict()["macro"]["metrics"]
    assert m["tco_usd"] > 0 and m["energy_kwh"] > 0 and m["carbon_kg"] > 0
    assert m["tco_usd"] == pytest.approx(m["capex_usd"] + m["opex_usd"])
    assert seed_eval.to_dict()["macro"]["units"]["tco_usd"] == "USD"
    t = training_eval.macro
    assert t.details["grid"] == "Quebec" and t.details["duration_days"] == 14
    # same fleet for longer: proportionally more energy
    longer = SystemEvaluator.evaluate("", "Llama3_70B", "H100", batch_size=1024, nodes=32, grid="Quebec",
                                      duration_days=28)
    assert longer.macro.metrics["energy_kwh"] == pytest.approx(2 * t.metrics["energy_kwh"])


def test_grid_changes_carbon_not_performance():
    a = SystemEvaluator.evaluate("", "ResNet50", "A100", batch_size=64, grid="Quebec")
    b = SystemEvaluator.evaluate("", "ResNet50", "A100", batch_size=64, grid="Poland")
    assert a.macro.metrics["carbon_kg"] < b.macro.metrics["carbon_kg"]
    assert a.performance.metrics["latency"] == b.performance.metrics["latency"]


def test_cnn_inference_has_no_llm_metrics():
    ev = SystemEvaluator.evaluate("", "ResNet50", "A100", batch_size=64)
    assert ev.metric("performance.ttft") is None
    assert ev.metric("performance.latency") > 0
    with pytest.raises(UserInputError, match="not computed"):
        ev.check([{"metric": "performance.ttft", "max": 10}])


def test_training_auto_split(training_eval):
    ev = training_eval
    assert ev.inputs["mode"] == "training" and ev.inputs["accelerators"] == 256
    split = ev.performance.details["parallelism"]
    assert split["auto"] is True
    assert split["tp"] * split["pp"] * split["dp"] * split["cp"] == 256
    assert ev.feasibility.status == "PASS"
    assert ev.feasibility.metrics["memory_per_device"] <= ev.feasibility.metrics["memory_capacity"]
    assert 0 < ev.performance.metrics["mfu"] < 1
    assert ev.performance.metrics["latency"] > 0  # one optimizer step, ms


def test_training_auto_split_is_best_of_fixed(training_eval):
    """The automatic split is at least as fast as a hand-picked feasible one."""
    split = training_eval.performance.details["parallelism"]
    other = {"tp": 8, "pp": 4, "zero_stage": 1, "recompute": "selective"}
    fixed = SystemEvaluator.evaluate("", "Llama3_70B", "H100", batch_size=1024, nodes=32, grid="Quebec",
                                     duration_days=14, parallelism=other)
    assert fixed.performance.details["parallelism"]["auto"] is False
    assert fixed.performance.details["parallelism"]["tp"] == 8
    if fixed.feasible:
        assert training_eval.metric("performance.tokens_per_s") >= fixed.metric("performance.tokens_per_s") * 0.999
    same = SystemEvaluator.evaluate("", "Llama3_70B", "H100", batch_size=1024, nodes=32, grid="Quebec",
                                    duration_days=14, parallelism={k: split[k] for k in
                                                                   ("tp", "pp", "cp", "ep", "microbatch",
                                                                    "zero_stage", "recompute")})
    assert same.metric("performance.latency") == pytest.approx(training_eval.metric("performance.latency"))


def test_infeasible_is_reported_not_raised():
    ev = SystemEvaluator.evaluate("", "Llama3_405B", "H100", batch_size=1, precision="fp16")
    assert ev.feasibility.status == "FAIL"
    assert "GB" in ev.feasibility.details["reason"]
    assert ev.to_dict()["feasibility"]["metrics"]["memory_utilization"] > 1


def test_fleet_argument_and_mismatch():
    ev = SystemEvaluator.evaluate("", "Llama3_8B", None, batch_size=256, fleet="H100_256")
    assert ev.inputs["accelerators"] == 256 and ev.inputs["hardware"] == "H100"
    with pytest.raises(UserInputError, match="does not match"):
        SystemEvaluator.evaluate("", "Llama3_8B", "A100", batch_size=256, fleet="H100_256")


def test_fleet_for_default_node():
    c = fleet_for(mlsysim.Hardware.H100, 4)
    assert c.node.accelerator.key == "H100" and c.node_count == 4 and c.total_accelerators == 4 * c.node.accelerators_per_node


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": -1}, "batch_size"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.5}, "batch_size"),
    ({"efficiency": 1.5}, "efficiency"),
    ({"duration_days": 0}, "duration_days"),
    ({"mode": "serving"}, "mode"),
])
def test_bad_inputs_raise_user_errors(kwargs, match):
    with pytest.raises(UserInputError, match=match) as info:
        SystemEvaluator.evaluate("", "Llama3_8B", "H100", **kwargs)
    assert info.value.exit_code == 2


def test_unknown_names_suggest():
    with pytest.raises(UnknownNameError) as info:
        SystemEvaluator.evaluate("", "Llama3_8B", "H10")
    assert "H100" in info.value.suggestions
    with pytest.raises(UnknownNameError, match="precision"):
        SystemEvaluator.evaluate("", "Llama3_8B", "H100", precision="fp17")


def test_training_a_cnn_is_a_user_error():
    with pytest.raises(UserInputError, match="transformer"):
        SystemEvaluator.evaluate("", "ResNet50", "A100", mode="training")


# ---- metric paths and asserts -------------------------------------------------------------
def test_metric_paths_documented():
    paths = metric_paths()
    assert len(paths) == len(set(paths))
    assert {"performance.latency", "macro.tco_usd", "feasibility.memory_per_device"} <= set(paths)
    assert resolve_metric("macro.metrics.tco_usd").path == "macro.tco_usd"
    assert resolve_metric("performance.latency").unit == "ms"
    with open(_docs_cli()) as f:
        doc = f.read()
    for m in METRICS:
        assert f"`{m.path}`" in doc, f"{m.path} missing from docs/cli.md"


def _docs_cli():
    import pathlib
    return pathlib.Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_unknown_metric_path_lists_valid_paths():
    with pytest.raises(UnknownNameError) as info:
        resolve_metric("performance.latencyy")
    text = str(info.value)
    assert "performance.latency" in info.value.suggestions
    assert "macro.tco_usd" in text and "feasibility.memory_per_device" in text  # the full list
    assert info.value.exit_code == 2


def test_asserts_units(seed_eval):
    lat = seed_eval.metric("performance.latency")  # ms
    res = seed_eval.check([
        {"metric": "performance.latency", "max": lat * 2},            # bare number: ms
        {"metric": "performance.latency", "max": f"{lat * 2 / 1000} s"},  # converted
        {"metric": "performance.metrics.latency", "min": lat / 2},
        {"metric": "feasibility.memory_utilization", "max": "90 %"},
    ])
    assert all(r.passed for r in res) and seed_eval.passed
    res = seed_eval.check([{"metric": "performance.latency", "max": lat / 2, "min": 1.0}])
    assert [r.passed for r in res] == [False, True]
    assert not seed_eval.passed
    d = seed_eval.to_dict()["asserts"][0]
    assert d == {"metric": "performance.latency", "value": pytest.approx(lat), "unit": "ms", "op": "<=",
                 "limit": pytest.approx(lat / 2), "passed": False}
    with pytest.raises(UnitError):
        seed_eval.check([{"metric": "performance.latency", "max": "3 GB"}])
    with pytest.raises(SchemaError):
        seed_eval.check([{"metric": "performance.latency"}])
    seed_eval.check([])
    assert seed_eval.passed


def test_values_are_finite_or_null(training_eval):
    for lens in ("feasibility", "performance", "macro"):
        for v in training_eval.to_dict()[lens]["metrics"].values():
            assert v is None or math.isfinite(v)


def test_markdown(seed_eval):
    md = seed_eval.to_markdown()
    assert md.startswith("# ") and "| metric | value | path |" in md


def test_device_without_links_and_without_price():
    """A PCIe card without an interconnect entry: finite numbers; no price: TCO null, macro WARN."""
    ev = SystemEvaluator.evaluate("", "Llama3_1B", "T4", batch_size=4)
    assert all(v is None or math.isfinite(v) for v in ev.performance.metrics.values())
    assert ev.performance.metrics["latency"] > 0
    no_price = SystemEvaluator.evaluate("", "Llama3_8B", "TPUv5e", batch_size=1)
    if mlsysim.Hardware.TPUv5e.price_usd is None:
        assert no_price.macro.metrics["tco_usd"] is None and no_price.macro.status == "WARN"
        assert any("cost not computed" in n for n in no_price.notes)
    json.dumps(no_price.to_dict(), allow_nan=False)
