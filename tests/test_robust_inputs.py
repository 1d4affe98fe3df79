"""Issue #8, bad inputs: every entry point (Python API, mlsys.yaml plans, user catalogs, search
spaces, the DSE, CLI flags) answers a bad input with a clear ``MLSysimError`` -- what, where, how
to fix -- and the documented exit code; never a traceback, never a silently wrong number.

docs/robustness.md lists every input tried here and what it returns. Tests marked "bug #N" failed
before the fix of that number in docs/robustness.md.
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest

import mlsysim
from mlsysim import DistributedModel, Engine, ServingModel
from mlsysim.core import catalog
from mlsysim.core.errors import (InfeasibleError, MLSysimError, SchemaError, StorageError, UnitError,
                                 UnknownNameError, UserInputError)
from mlsysim.core.units import Q_, parse_quantity
from mlsysim.dse import DSE
from mlsysim.dse.space import SearchSpace
from mlsysim.evaluator import SystemEvaluator
from mlsysim.models.types import TransformerWorkload
from mlsysim.plan import load_plan

from robust_cli import run_many

H100, LLAMA, RESNET = "H100", "Llama3_8B", "ResNet50"
NAN, INF = float("nan"), float("inf")


@pytest.fixture
def restore_registries():
    """User catalogs mutate the global registries: snapshot and restore them."""
    catalog._ensure_loaded()
    snap = {s: (dict(r._entries), dict(r._index)) for s, r in catalog._REGISTRIES.items()}
    yield
    for s, (entries, index) in snap.items():
        catalog._REGISTRIES[s]._entries, catalog._REGISTRIES[s]._index = entries, index


def expect(fn, cls, *fragments):
    """``fn()`` raises ``cls`` (an MLSysimError) whose text holds every fragment."""
    with pytest.raises(MLSysimError) as info:
        fn()
    assert isinstance(info.value, cls), f"{type(info.value).__name__}: {info.value}"
    text = str(info.value)
    for f in fragments:
        assert f in text, f"{f!r} not in {text!r}"
    return info.value


# ------------------------------------------------------------------------------------------------
# Python API
# ------------------------------------------------------------------------------------------------
API_CASES = [
    # (id, call, error class, fragments)
    ("batch 0", lambda: Engine.solve(RESNET, H100, batch_size=0), UserInputError, ["batch_size", "> 0"]),
    ("batch -1", lambda: Engine.solve(RESNET, H100, batch_size=-1), UserInputError, ["batch_size"]),
    ("batch 1.5", lambda: Engine.solve(RESNET, H100, batch_size=1.5), UserInputError, ["whole number"]),
    ("batch nan", lambda: Engine.solve(RESNET, H100, batch_size=NAN), UserInputError, ["finite"]),
    ("batch inf", lambda: Engine.solve(RESNET, H100, batch_size=INF), UserInputError, ["finite"]),
    ("batch str", lambda: Engine.solve(RESNET, H100, batch_size="4"), UserInputError, ["expected a number"]),
    ("batch bool", lambda: Engine.solve(RESNET, H100, batch_size=True), UserInputError, ["expected a number"]),
    ("batch in ms", lambda: Engine.solve(RESNET, H100, batch_size=Q_(4, "ms")), UnitError, ["plain number"]),
    ("precision", lambda: Engine.solve(RESNET, H100, precision="fp17"), UnknownNameError, ["fp16"]),
    ("efficiency 0", lambda: Engine.solve(RESNET, H100, efficiency=0), UserInputError, ["efficiency"]),
    ("efficiency 2", lambda: Engine.solve(RESNET, H100, efficiency=2), UserInputError, ["(0, 1]"]),
    ("unknown hw", lambda: Engine.solve(RESNET, "H10"), UnknownNameError, ["H100"]),
    ("unknown model", lambda: Engine.solve("Lama3_8B", H100), UnknownNameError, ["Llama3_8B"]),
    # bug 1: an entry of the wrong registry passed through and crashed with AttributeError
    ("hw as model", lambda: Engine.solve(mlsysim.Hardware.H100, H100), UserInputError,
     ["expected a model", "HardwareNode"]),
    ("model as fleet", lambda: DistributedModel().solve(LLAMA, mlsysim.Models.Llama3_8B, batch_size=8),
     UserInputError, ["expected a cluster"]),
    ("seq 0", lambda: ServingModel().solve(LLAMA, H100, seq_len=0), UserInputError, ["seq_len"]),
    ("seq in bytes", lambda: ServingModel().solve(LLAMA, H100, seq_len=Q_(5, "GB")), UnitError, ["plain number"]),
    ("tp 3", lambda: ServingModel().solve(LLAMA, H100, tp_size=3), UserInputError, ["divide", "heads"]),
    ("output -1", lambda: ServingModel().solve(LLAMA, H100, output_len=-1), UserInputError, [">= 0"]),
    # bug 2: ServingModel accepted efficiency > 1 (faster than the hardware's peak) silently
    ("serving efficiency 5", lambda: ServingModel().solve(LLAMA, H100, efficiency=5), UserInputError, ["(0, 1]"]),
    ("serving CNN", lambda: ServingModel().solve(RESNET, H100), UserInputError, ["transformer"]),
    ("zero 4", lambda: DistributedModel().solve(LLAMA, "H100_256", batch_size=256, zero_stage=4),
     UserInputError, ["zero_stage"]),
    ("recompute", lambda: DistributedModel().solve(LLAMA, "H100_256", batch_size=256,
                                                   activation_recomputation="some"), UnknownNameError, ["none"]),
    ("fleet unknown", lambda: DistributedModel().solve(LLAMA, "H100_25", batch_size=256), UnknownNameError,
     ["H100_256"]),
    ("eval days nan", lambda: SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, duration_days=NAN),
     UserInputError, ["duration_days", "finite"]),
    # bug 3: 1e300 days overflowed to inf seconds: NaN costs and RuntimeWarnings, or None with no word
    ("eval days 1e308", lambda: SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, duration_days=1e308),
     UserInputError, ["duration_days", "too large"]),
    ("eval kwh -1", lambda: SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, kwh_price=-1),
     UserInputError, ["kwh_price"]),
    ("eval utilization 2", lambda: SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, utilization=2),
     UserInputError, ["utilization"]),
    ("eval mode", lambda: SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, mode="train"),
     UnknownNameError, ["training"]),
    ("eval CNN training", lambda: SystemEvaluator.evaluate(model_obj=RESNET, hardware_obj=H100, mode="training"),
     UserInputError, ["transformer"]),
    ("eval grid", lambda: SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, grid="Mars"),
     UnknownNameError, ["grid region"]),
    ("eval tp > node", lambda: SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, nodes=1,
                                                        parallelism={"tp": 16}), UserInputError, ["exceeds"]),
    # bug 4: a node count above the schema's 1,000,000 escaped as a raw pydantic ValidationError
    ("eval nodes 1e8", lambda: SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, nodes=10 ** 8),
     SchemaError, ["node_count", "1000000"]),
    ("fleet with_nodes 1e8", lambda: mlsysim.Systems.Clusters.H100_256.with_nodes(10 ** 8), SchemaError,
     ["node_count"]),
    ("fleet with_nodes 0", lambda: mlsysim.Systems.Clusters.H100_256.with_nodes(0), SchemaError, ["node_count"]),
    # bug 5: an architecture too large for float64 overflowed (OverflowError / inf) only in the physics
    ("model 1e400 layers", lambda: TransformerWorkload.build(key="X", name="x", family="Language", source="a test source",
                                                             layers=10 ** 400, hidden=64, heads=4, ffn=8, vocab=8),
     SchemaError, ["parameters"]),
    ("model 1e200 layers", lambda: TransformerWorkload.build(key="X", name="x", family="Language", source="a test source",
                                                             layers=10 ** 200, hidden=64, heads=4, ffn=8, vocab=8),
     SchemaError, ["parameters"]),
    # bug 6: booleans read as numbers (True -> 1) by pydantic's lax mode
    ("model layers True", lambda: TransformerWorkload.build(key="X", name="x", family="Language", source="a test source",
                                                            layers=True, hidden=64, heads=4, ffn=8, vocab=8),
     SchemaError, ["layers", "boolean"]),
    # bug 7: parse_quantity leaked ZeroDivisionError, TokenError, AssertionError and OverflowError
    ("quantity 1/0", lambda: parse_quantity("1/0 GB", expected="byte"), UnitError, ["cannot read"]),
    ("quantity (", lambda: parse_quantity("(80 GB", expected="byte"), UnitError, ["cannot read"]),
    ("quantity :", lambda: parse_quantity(":", expected="byte"), UnitError, []),
    ("quantity 2**2000", lambda: parse_quantity("2**2000 GB", expected="byte"), UnitError, ["too large"]),
    ("quantity no number", lambda: parse_quantity("GB", expected="byte"), UnitError, ["no number"]),
    ("quantity ms as bytes", lambda: parse_quantity("80 ms", expected="byte"), UnitError, ["[time]"]),
]


@pytest.mark.parametrize("call, cls, fragments", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_python_api_rejects_bad_input(call, cls, fragments):
    expect(call, cls, *fragments)


def test_python_api_signature_errors_are_plain_type_errors():
    """An unknown keyword is a programming error, reported by Python itself (documented)."""
    with pytest.raises(TypeError, match="foo"):
        Engine.solve(RESNET, H100, foo=1)


def test_huge_but_finite_inputs_give_finite_numbers_or_an_infeasible_verdict():
    """Absurdly large (finite) batches are computed, and reported as not fitting, not as inf/NaN."""
    r = ServingModel().solve(LLAMA, H100, batch_size=10 ** 20)
    assert r.feasible is False and "GB" in r.reason
    assert math.isfinite(r.ttft.magnitude) and math.isfinite(r.itl.magnitude)
    ev = SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, batch_size=10 ** 20)
    assert ev.feasibility.status == "FAIL"
    assert all(v is None or math.isfinite(v) for lens in (ev.feasibility, ev.performance, ev.macro)
               for v in lens.metrics.values())


def test_macro_figures_that_overflow_are_null_with_a_note():
    """bug 3: a duration that fits in days but whose costs overflow: null figures *and* a note,
    and no RuntimeWarning leaking to the terminal."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev = SystemEvaluator.evaluate(model_obj=LLAMA, hardware_obj=H100, duration_days=1e300)
    assert ev.macro.metrics["tco_usd"] is None
    assert any("not finite" in n and "tco_usd" in n for n in ev.notes), ev.notes


# ------------------------------------------------------------------------------------------------
# mlsys.yaml plans
# ------------------------------------------------------------------------------------------------
PLAN = """\
version: "1.0"
workload:
  name: "Llama3_8B"
  batch_size: 256
hardware:
  name: "H100"
  nodes: 4
ops:
  region: "Quebec"
  duration_days: 14.0
"""
ASSERT = "constraints:\n  assert:\n    - {metric: performance.latency, max: %s}\n"
PLAN_CASES = [
    # (id, text, error class, fragments); "<file>" stands for the plan's path
    ("batch -1", PLAN.replace("256", "-1"), SchemaError, ["<file>:4:3", "workload.batch_size", "greater than 0"]),
    ("batch 0", PLAN.replace("256", "0"), SchemaError, ["workload.batch_size"]),
    ("batch nan", PLAN.replace("256", ".nan"), SchemaError, ["finite"]),
    ("batch 2.5", PLAN.replace("256", "2.5"), SchemaError, ["fractional"]),
    ("batch in ms", PLAN.replace("256", "'256 ms'"), SchemaError, ["valid integer"]),
    ("batch list", PLAN.replace("256", "[1, 2]"), SchemaError, ["valid integer"]),
    ("batch true (bug 6)", PLAN.replace("256", "true"), SchemaError, ["<file>:4:3", "boolean"]),
    ("days -1", PLAN.replace("14.0", "-1"), SchemaError, ["ops.duration_days"]),
    ("days nan", PLAN.replace("14.0", ".nan"), SchemaError, ["ops.duration_days"]),
    ("days inf", PLAN.replace("14.0", ".inf"), SchemaError, ["ops.duration_days", "finite"]),
    ("days in ms", PLAN.replace("14.0", "'14 ms'"), SchemaError, ["ops.duration_days"]),
    ("nodes 0", PLAN.replace("nodes: 4", "nodes: 0"), SchemaError, ["hardware.nodes"]),
    ("nodes 1e9 (bug 4)", PLAN.replace("nodes: 4", "nodes: 1000000000"), UserInputError,
     ["<file>:7:3: hardware.nodes", "node_count"]),
    ("region unknown", PLAN.replace("Quebec", "Quebek"), UnknownNameError, ["<file>:9:3: ops.region", "Quebec"]),
    ("hardware unknown", PLAN.replace('"H100"', '"H10"'), UnknownNameError, ["hardware.name", "H100"]),
    ("model unknown", PLAN.replace('"Llama3_8B"', '"Llama9"'), UnknownNameError, ["workload.name"]),
    ("model is hardware", PLAN.replace('"Llama3_8B"', '"H100"'), UnknownNameError, ["unknown model"]),
    ("extra top key", PLAN + "foo: 1\n", SchemaError, ["foo: unknown field"]),
    ("extra nested key", PLAN.replace("  nodes: 4\n", "  nodes: 4\n  gpus: 8\n"), SchemaError,
     ["hardware.gpus: unknown field", "nodes"]),
    ("typo key", PLAN.replace("batch_size", "batchsize"), SchemaError, ["did you mean 'batch_size'"]),
    ("missing section", PLAN.split("ops:")[0], SchemaError, ["ops: required field is missing"]),
    ("missing version", PLAN.replace('version: "1.0"\n', ""), SchemaError, ["version"]),
    ("version 2", PLAN.replace('"1.0"', '"2.0"'), SchemaError, ["version"]),
    ("section is a list", PLAN.replace("ops:\n  region", "ops: [1]\nx:\n  region"), SchemaError, ["ops"]),
    ("kwh_price -1", PLAN + "  kwh_price: -1\n", SchemaError, ["ops.kwh_price"]),
    ("kwh_price inf", PLAN + "  kwh_price: .inf\n", SchemaError, ["ops.kwh_price", "finite"]),
    ("kwh_price with unit", PLAN + "  kwh_price: '0.05 USD/kWh'\n", SchemaError, ["ops.kwh_price"]),
    ("utilization 2", PLAN + "  utilization: 2\n", SchemaError, ["ops.utilization"]),
    ("efficiency nan", PLAN.replace("  batch_size: 256\n", "  batch_size: 256\n  efficiency: .nan\n"),
     SchemaError, ["workload.efficiency"]),
    ("precision fp7", PLAN.replace("  batch_size: 256\n", "  batch_size: 256\n  precision: fp7\n"),
     SchemaError, ["workload.precision"]),
    ("mode train", PLAN.replace("  batch_size: 256\n", "  batch_size: 256\n  mode: train\n"),
     SchemaError, ["workload.mode"]),
    ("CNN training", PLAN.replace('"Llama3_8B"', "ResNet50").replace(
        "  batch_size: 256\n", "  batch_size: 256\n  mode: training\n"), UserInputError, ["transformer"]),
    ("tp 16 > node", PLAN + "parallelism: {tp: 16}\n", UserInputError, ["exceeds the 8 accelerators"]),
    ("zero 5", PLAN + "parallelism: {zero_stage: 5}\n", SchemaError, ["parallelism.zero_stage"]),
    ("recompute partial", PLAN + "parallelism: {recompute: partial}\n", SchemaError, ["parallelism.recompute"]),
    ("sp with tp 1", PLAN + "parallelism: {tp: 1, sequence_parallel: true}\n", UserInputError, ["tp > 1"]),
    ("node of other hw", PLAN.replace("  nodes: 4\n", "  nodes: 4\n  node: DGX_A100\n"), UserInputError,
     ["hardware.node", "holds A100"]),
    ("fabric unknown", PLAN.replace("  nodes: 4\n", "  nodes: 4\n  fabric: IB_NDX\n"), UnknownNameError,
     ["hardware.fabric", "IB_NDR"]),
    ("assert metric unknown", PLAN + ASSERT.replace("performance.latency", "performance.latncy") % 5,
     UnknownNameError, ["constraints.assert.0.metric", "performance.latency"]),
    ("assert bytes for ms", PLAN + ASSERT % "'5 GB'", UnitError, ["[information]", "'ms'"]),
    ("assert nan", PLAN + ASSERT % ".nan", SchemaError, ["constraints.assert.0.max", "finite"]),
    ("assert 'nan ms' (bug 8)", PLAN + ASSERT % "'nan ms'", UnitError, ["finite"]),
    ("assert 'inf ms' (bug 8)", PLAN + ASSERT % "'inf ms'", UnitError, ["finite"]),
    ("assert '1e999 ms' (bug 8)", PLAN + ASSERT % "'1e999 ms'", UnitError, ["finite"]),
    ("assert true (bug 6)", PLAN + ASSERT % "true", SchemaError, ["constraints.assert.0.max", "boolean"]),
    ("assert no number", PLAN + ASSERT % "'ms'", UnitError, ["no number"]),
    ("assert no bound", PLAN + "constraints:\n  assert:\n    - {metric: performance.latency}\n", SchemaError,
     ["'max' or 'min'"]),
    ("assert null", PLAN + "constraints:\n  assert:\n", SchemaError, ["constraints.assert"]),
    ("duplicate key (bug 9)", PLAN + "ops: {region: France, duration_days: 1}\n", SchemaError,
     ["duplicate key 'ops'", "line 8"]),
    ("duplicate nested key (bug 9)", PLAN.replace("  nodes: 4\n", "  nodes: 4\n  nodes: 8\n"), SchemaError,
     ["duplicate key 'nodes'"]),
    ("tab", PLAN.replace("  name", "\tname"), SchemaError, ["malformed YAML", "line 3"]),
    ("unclosed", PLAN + "x: [1, 2\n", SchemaError, ["malformed YAML"]),
    ("python tag", "!!python/object/apply:os.system ['echo hi']\n", SchemaError, ["malformed YAML"]),
    ("NUL byte", "\x00", SchemaError, ["malformed YAML"]),
    ("scalar", "42\n", SchemaError, ["must be a mapping"]),
    ("list", "- 1\n", SchemaError, ["must be a mapping"]),
    ("empty", "", SchemaError, ["empty"]),
    ("non-string key", PLAN + "1: 2\n", SchemaError, ["Keys should be strings"]),
    # bug 23 (fuzz): PyYAML's constructors leak IndexError/ValueError on an explicit tag without a value
    ("explicit tag without value", PLAN.replace('"1.0"', "!!int "), SchemaError, ["malformed YAML"]),
    ("float tag on text", PLAN.replace("14.0", "!!float abc"), SchemaError, ["malformed YAML"]),
    # bug 24 (fuzz): an unknown key containing "[" was mistaken for a pydantic tag: IndexError
    ("key with a bracket", PLAN + "'a[<<': 1\n", SchemaError, ["a[<<: unknown field"]),
]


@pytest.mark.parametrize("text, cls, fragments", [c[1:] for c in PLAN_CASES], ids=[c[0] for c in PLAN_CASES])
def test_plan_rejects_bad_input(tmp_path, text, cls, fragments):
    path = tmp_path / "plan.yaml"
    path.write_text(text)
    expect(lambda: load_plan(path).evaluate(), cls, *[f.replace("<file>", str(path)) for f in fragments])


def test_plan_file_problems(tmp_path):
    expect(lambda: load_plan(tmp_path / "missing.yaml"), SchemaError, "file not found")
    expect(lambda: load_plan(tmp_path), SchemaError, "is a directory")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    expect(lambda: load_plan(binary), SchemaError, "cannot read file")


def test_duplicate_key_check_allows_yaml_merge_keys(tmp_path):
    """The duplicate-key check (bug 9) ignores merge keys (``<<``), which legitimately override."""
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN.replace('  region: "Quebec"\n', '  <<: {region: France, duration_days: 1.0}\n  region: Quebec\n'))
    plan = load_plan(path)
    assert plan.ops.region == "Quebec" and plan.ops.duration_days == 14.0
    from mlsysim.core.yamlio import parse_yaml

    doc, _ = parse_yaml("a: &a {x: 1, y: 2}\nb:\n  <<: *a\n  x: 3\n")
    assert doc["b"]["x"] == 3 and doc["b"]["y"] == 2


# ------------------------------------------------------------------------------------------------
# User catalogs
# ------------------------------------------------------------------------------------------------
HW = """\
hardware:
  - key: MyChip
    name: My Chip
    category: Cloud
    vendor: Me
    release_year: 2024
    source: "internal datasheet v1"
    compute: {peak_flops: 100 TFLOP/s, default_precision: bf16}
    memory: {capacity: 80 GB, bandwidth: 2 TB/s}
    tdp: 500 W
"""
SRC = "source: 'a test source'"
CATALOG_CASES = [
    ("capacity in ms", HW.replace("80 GB", "80 ms"), ["<file>:2", "MyChip", "memory.capacity", "[time]"]),
    ("capacity -80", HW.replace("80 GB", "-80 GB"), ["memory.capacity", "> 0"]),
    ("capacity 0", HW.replace("80 GB", "0 GB"), ["memory.capacity", "> 0"]),
    ("capacity nan", HW.replace("80 GB", "nan GB"), ["finite"]),
    ("capacity 1e400", HW.replace("80 GB", "1e400 GB"), ["finite"]),
    ("capacity 2**100000 (bug 7)", HW.replace("80 GB", "'2**100000 GB'"), ["memory.capacity"]),
    ("capacity 1/0 (bug 7)", HW.replace("80 GB", "'1/0 GB'"), ["memory.capacity", "cannot read"]),
    ("capacity bare number (bug 10)", HW.replace("80 GB", "80"), ["memory.capacity", "no unit"]),
    ("capacity unit only (bug 10)", HW.replace("80 GB", "GB"), ["memory.capacity", "no number"]),
    ("capacity bool", HW.replace("80 GB", "true"), ["memory.capacity"]),
    ("capacity null", HW.replace("80 GB", "null"), ["memory.capacity"]),
    ("capacity list", HW.replace("80 GB", "[80, GB]"), ["memory.capacity"]),
    ("capacity dict without unit", HW.replace("80 GB", "{value: 80}"), ["'value' and 'unit'"]),
    ("tdp missing", HW.replace("    tdp: 500 W\n", ""), ["tdp", "required"]),
    ("extra key", HW + "    gpus: 8\n", ["gpus", "unknown field"]),
    ("bad key", HW.replace("key: MyChip", "key: 'My Chip'"), ["Python identifier"]),
    ("category", HW.replace("Cloud", "Space"), ["category"]),
    ("precision", HW.replace("bf16}", "bf17}"), ["default_precision"]),
    ("unknown section", "gpus: []\n", ["catalog section", "gpus"]),
    ("section not list", "hardware: {a: 1}\n", ["must be a list"]),
    ("entry not mapping", "hardware: [1]\n", ["must be a mapping"]),
    ("top-level list", "- 1\n", ["must be a mapping"]),
    ("alias collides", HW.replace("name: My Chip", "name: My Chip\n    aliases: [h100]"), ["already names"]),
    ("key twice in one file (bug 11)", HW + HW.replace("hardware:\n", ""), ["defined twice"]),
    ("field twice (bug 9)", HW + "    tdp: 600 W\n", ["duplicate key 'tdp'", "line 10"]),
    ("node accel unknown", f"nodes:\n  - {{key: N1, name: n, accelerator: H10, accelerators_per_node: 8, "
                           f"host_power: 1 kW, {SRC}}}\n", ["accelerator", "H100"]),
    ("node accel is a model", f"nodes:\n  - {{key: N1, name: n, accelerator: Llama3_8B, accelerators_per_node: 8, "
                              f"host_power: 1 kW, {SRC}}}\n", ["unknown hardware"]),
    ("node 0 per node", f"nodes:\n  - {{key: N1, name: n, accelerator: H100, accelerators_per_node: 0, "
                        f"host_power: 1 kW, {SRC}}}\n", ["accelerators_per_node"]),
    ("cluster 0 nodes", f"clusters:\n  - {{key: C1, name: c, node: DGX_H100, node_count: 0, fabric: IB_NDR, {SRC}}}\n",
     ["node_count"]),
    ("grid pue 0.5", f"grids:\n  - {{key: G1, name: g, country: X, carbon_intensity: 2 gCO2e/kWh, electricity_price: "
                     f"0.04 USD/kWh, pue: 0.5, wue: 0.3 L/kWh, {SRC}}}\n", ["pue"]),
    ("grid intensity in ms", f"grids:\n  - {{key: G1, name: g, country: X, carbon_intensity: 2 ms, electricity_price: "
                             f"0.04 USD/kWh, pue: 1.2, wue: 0.3 L/kWh, {SRC}}}\n", ["carbon_intensity"]),
    ("model layers 0", f"models:\n  - {{key: M1, name: m, family: Language, {SRC}, layers: 0, hidden: 64, heads: 4, "
                       "ffn: 128, vocab: 100}\n", ["layers"]),
    ("model layers true (bug 6)", f"models:\n  - {{key: M1, name: m, family: Language, {SRC}, layers: true, "
                                  "hidden: 64, heads: 4, ffn: 128, vocab: 100}\n", ["layers", "boolean"]),
    ("model huge (bug 5)", f"models:\n  - {{key: M1, name: m, family: Language, {SRC}, layers: 1000000000000, "
                           "hidden: 1000000000000, heads: 4, ffn: 128, vocab: 100}\n", ["parameters"]),
    ("cnn params inf", f"models:\n  - {{key: M1, kind: cnn, name: m, family: Vision, {SRC}, params: .inf, "
                       "flops_per_sample: 1 GFLOP, activation_bytes_per_sample: 1 MB}\n", ["params"]),
    ("cnn flops in bytes", f"models:\n  - {{key: M1, kind: cnn, name: m, family: Vision, {SRC}, params: 10, "
                           "flops_per_sample: 1 GB, activation_bytes_per_sample: 1 MB}\n", ["flops_per_sample"]),
    ("model kind", f"models:\n  - {{key: M1, kind: rnn, name: m, family: Language, {SRC}}}\n", ["rnn"]),
    ("heads vs kv_heads", f"models:\n  - {{key: M1, name: m, family: Language, {SRC}, layers: 2, hidden: 64, "
                          "heads: 4, kv_heads: 3, ffn: 128, vocab: 100}\n", ["kv_heads"]),
    ("malformed", "hardware: [\n", ["malformed YAML", "line"]),
    # bug 25 (fuzz): a null section key ("? ") crashed the did-you-mean (None.lower())
    ("null section key", "? \n", ["catalog section", "None"]),
    ("explicit tag without value", "hardware: !!int \n", ["malformed YAML"]),
]


@pytest.mark.parametrize("text, fragments", [c[1:] for c in CATALOG_CASES], ids=[c[0] for c in CATALOG_CASES])
def test_catalog_rejects_bad_input_and_changes_nothing(tmp_path, restore_registries, text, fragments):
    path = tmp_path / "my.yaml"
    path.write_text(text)
    before = {s: dict(catalog.registry(s)._entries) for s in catalog.LOAD_ORDER}
    expect(lambda: mlsysim.load_catalog(path), UserInputError, *[f.replace("<file>", str(path)) for f in fragments])
    assert {s: dict(catalog.registry(s)._entries) for s in catalog.LOAD_ORDER} == before  # all or nothing


def test_catalog_file_problems(tmp_path, restore_registries):
    expect(lambda: mlsysim.load_catalog(tmp_path / "nope.yaml"), SchemaError, "file not found")
    expect(lambda: mlsysim.load_catalog(tmp_path), SchemaError, "cannot read")
    assert mlsysim.load_catalog(_write(tmp_path / "empty.yaml", "")) == {s: [] for s in catalog.LOAD_ORDER}
    ok = mlsysim.load_catalog(_write(tmp_path / "ok.yaml", HW.replace("80 GB", "{value: 80, unit: GB}")))
    assert ok["hardware"][0].memory.capacity == Q_(80, "GB")


def test_catalog_quantity_zero_needs_no_unit(tmp_path, restore_registries):
    """0 is 0 in any unit, so a bare 0 stays accepted (bug 10 rejects other bare numbers)."""
    text = f"nodes:\n  - {{key: N1, name: n, accelerator: H100, accelerators_per_node: 8, host_power: 0, {SRC}}}\n"
    added = mlsysim.load_catalog(_write(tmp_path / "n.yaml", text))
    assert added["nodes"][0].host_power.magnitude == 0


def _write(path, text):
    path.write_text(text)
    return path


# ------------------------------------------------------------------------------------------------
# Search spaces
# ------------------------------------------------------------------------------------------------
def _space(dims, **extra):
    return {"dimensions": dims, **extra}


SPACE_CASES = [
    ("inverted", _space({"tp": {"type": "int", "low": 8, "high": 1}}), SchemaError, ["inverted range"]),
    ("pow2 not a power", _space({"tp": {"type": "pow2", "low": 3, "high": 8}}), SchemaError, ["power of two"]),
    ("pow2 zero", _space({"tp": {"type": "pow2", "low": 0, "high": 8}}), SchemaError, ["tp.low"]),
    # bug 12: 2**100 silently wrapped around in int64; 1e20 values crashed numpy
    ("pow2 2**100", _space({"tp": {"type": "pow2", "low": 1, "high": 2 ** 100}}), SchemaError, ["too large"]),
    ("int 1e20 values", _space({"n": {"type": "int", "low": 1, "high": 10 ** 15}}), SchemaError, ["per dimension"]),
    ("float grid 1e14", _space({"x": {"type": "float", "low": 0, "high": 1, "grid": 10 ** 14}}), SchemaError,
     ["per dimension"]),
    ("choice 1e30", _space({"n": [1, 10 ** 30]}), SchemaError, ["at most"]),
    ("int low true (bug 6)", _space({"tp": {"type": "int", "low": True, "high": 8}}), SchemaError,
     ["tp.low", "boolean"]),
    ("constant true (bug 6)", _space({"tp": [1, 2]}, constants={"a": True}), SchemaError, ["constants.a"]),
    ("float nan (bug 6)", _space({"x": {"type": "float", "low": NAN, "high": 8, "grid": 3}}), SchemaError,
     ["finite"]),
    ("float inf (bug 6)", _space({"x": {"type": "float", "low": 0, "high": INF, "grid": 3}}), SchemaError,
     ["finite"]),
    ("choice nan (bug 6)", _space({"x": [NAN, 1.0]}), SchemaError, ["finite"]),
    ("constant nan (bug 6)", _space({"tp": [1, 2]}, constants={"a": NAN}), SchemaError, ["finite"]),
    ("log low 0", _space({"x": {"type": "float", "low": 0, "high": 8, "log": True}}), SchemaError, ["low > 0"]),
    ("empty values", _space({"x": {"type": "choice", "values": []}}), SchemaError, ["empty"]),
    ("duplicates", _space({"x": [1, 1]}), SchemaError, ["duplicates"]),
    ("mixed values", _space({"x": [1, "a"]}), SchemaError, ["mix of numbers and strings"]),
    ("unknown type", _space({"x": {"type": "ints", "low": 1, "high": 2}}), SchemaError, ["ints"]),
    ("unknown field", _space({"x": {"type": "int", "low": 1, "high": 2, "stepp": 1}}), SchemaError, ["stepp"]),
    ("missing field", _space({"x": {"type": "int", "low": 1}}), SchemaError, ["x.high"]),
    ("dimensions list", {"dimensions": [1, 2]}, SchemaError, ["must be a mapping"]),
    ("no dimensions", {"name": "x"}, SchemaError, ["at least one dimension"]),
    ("not a mapping", [1, 2], SchemaError, ["must be a mapping"]),
    ("reserved name", _space({"feasible": [1, 2]}), SchemaError, ["not allowed"]),
    ("keyword name", _space({"if": [1, 2]}), SchemaError, ["not allowed"]),
    ("when without default", _space({"tp": [1, 2], "v": {"values": [1, 2], "when": "tp > 1"}}), SchemaError,
     ["needs a 'default'"]),
    ("fixed outside", _space({"tp": [1, 2]}, fixed={"tp": 3}), SchemaError, ["outside"]),
    ("rule syntax", _space({"tp": [1, 2]}, rules=["tp >"]), SchemaError, ["cannot parse"]),
    ("rule not a string", _space({"tp": [1, 2]}, rules=[1]), SchemaError, ["rules.0"]),
    ("rule attribute", _space({"tp": [1, 2]}, rules=["tp.real > 0"]), SchemaError, ["not allowed"]),
    ("rule call", _space({"tp": [1, 2]}, rules=["__import__('os')"]), SchemaError, ["unknown function"]),
    # bug 13: arity of one-argument functions unchecked (numpy TypeError at evaluation)
    ("rule abs(a, b)", _space({"tp": [1, 2]}, rules=["abs(tp, 1) > 0"]), SchemaError, ["exactly one argument"]),
    # bug 14: deeply nested text crashed the parser with RecursionError
    ("rule nested 5000", _space({"tp": [1, 2]}, rules=["-" * 5000 + "tp > 0"]), SchemaError, ["nested too deeply"]),
    ("rule unknown name", _space({"tp": [1, 2]}, rules=["tq > 1"]), UnknownNameError, ["did you mean 'tp'"]),
    ("derived cycle", _space({"tp": [1, 2]}, derived={"a": "b", "b": "a"}), UnknownNameError, ["'b'"]),
    # bug 26 (fuzz): a non-mapping 'fixed' crashed the shorthand expansion with ValueError
    ("fixed not a mapping", _space({"tp": [1, 2]}, fixed="0"), SchemaError, ["'fixed' must be a mapping"]),
]


@pytest.mark.parametrize("data, cls, fragments", [c[1:] for c in SPACE_CASES], ids=[c[0] for c in SPACE_CASES])
def test_search_space_rejects_bad_input(data, cls, fragments):
    expect(lambda: SearchSpace.from_dict(data).check(), cls, *fragments)


EVAL_CASES = [
    # bug 15: Python-scalar arithmetic raised ZeroDivisionError/OverflowError; now NaN/inf like arrays
    ("mod by zero constant", _space({"tp": [1, 2]}, constants={"z": 0, "n": 4}, rules=["n % z == 0"]),
     InfeasibleError, ["n % z == 0"]),
    ("pow overflow", _space({"tp": [1, 2]}, rules=["2 ** 10000 < tp"]), InfeasibleError, ["2 ** 10000 < tp"]),
    # bug 16: arithmetic or numeric comparison on a categorical raised TypeError
    ("string arithmetic", _space({"p": ["a", "b"]}, rules=["p + 1 > 0"]), SchemaError, ["rules[0]", "p + 1"]),
    ("string compared to number", _space({"p": ["a", "b"]}, rules=["p > 1"]), SchemaError, ["rules[0]"]),
    ("log2 of a string", _space({"p": ["a", "b"]}, rules=["log2(p) > 1"]), SchemaError, ["rules[0]"]),
    ("derived string", _space({"p": ["x", "y"]}, derived={"a": "p"}), SchemaError, ["derived.a"]),
    ("every point invalid", _space({"tp": [1, 2, 4]}, rules=["tp > 5"]), InfeasibleError,
     ["all 3 points", "'tp > 5'"]),
]


@pytest.mark.parametrize("data, cls, fragments", [c[1:] for c in EVAL_CASES], ids=[c[0] for c in EVAL_CASES])
def test_search_space_evaluation_errors(data, cls, fragments):
    expect(lambda: SearchSpace.from_dict(data).count_valid(), cls, *fragments)


def test_conditions_and_encodings_with_pinned_values():
    """bug 27 (fuzz): a ``when`` on a pinned (fixed) dimension raised KeyError when sampling, and
    encoding a space with nothing free raised StopIteration."""
    space = SearchSpace.from_dict(_space({"zero": [0, 1], "vpp": {"values": [1, 2], "when": "zero > 0", "default": 1}},
                                         fixed={"zero": 1}))
    cfg = space.sample(4, 0)
    assert set(cfg["vpp"].tolist()) <= {1, 2} and space.count_valid() == 2
    only_fixed = SearchSpace.from_dict({"fixed": {"a": 1}})
    assert only_fixed.encode({}).shape == (0, 0) and only_fixed.count_valid() == 1


def test_optimizers_refuse_a_space_with_nothing_to_search():
    """bug 28: optuna on a fully pinned space returned no trial and no winner, silently (pymoo
    already refused it); the exhaustive backend evaluates its one point."""
    problem = lambda c: {"x": np.asarray(c["a"], dtype=float)}  # noqa: E731
    for backend in ("optuna", "pymoo"):
        expect(lambda: DSE({"fixed": {"a": 1.0}}, objective="x", backend=backend).run(problem=problem, budget=4),
               UserInputError, "nothing to search")
    assert DSE({"fixed": {"a": 1.0}}, objective="x", backend="exhaustive").run(problem=problem).winner_config == {"a": 1}


def test_tensor_parallelism_without_a_link_is_infeasible_not_zero_throughput():
    """bug 22: tp > 1 on an accelerator without an interconnect in the catalog reported
    "fits: yes" and a decode throughput of 0 tokens/s (b / inf), with a RuntimeWarning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = ServingModel().solve(LLAMA, "L4", tp_size=2)
    assert r.feasible is False and "interconnect" in r.reason
    assert math.isnan(r.throughput.magnitude)
    assert ServingModel().solve(LLAMA, "L4", tp_size=1).feasible is True


def test_search_space_yaml_errors_name_file_and_line(tmp_path):
    p = _write(tmp_path / "s.yaml", "dimensions:\n  tp: {type: int, low: 8, high: 1}\n")
    expect(lambda: SearchSpace.from_yaml(p), SchemaError, f"{p}:2", "inverted range")
    p = _write(tmp_path / "d.yaml", "dimensions:\n  tp: [1, 2]\n  tp: [4]\n")  # bug 9
    expect(lambda: SearchSpace.from_yaml(p), SchemaError, "duplicate key 'tp'", "line 3")
    expect(lambda: SearchSpace.from_yaml(tmp_path / "missing.yaml"), SchemaError, "file not found")


# ------------------------------------------------------------------------------------------------
# The DSE engine
# ------------------------------------------------------------------------------------------------
def _problem(c):
    return {"latency": 10 + 100 / np.asarray(c["tp"], dtype=float)}


DSE_CASES = [
    ("objective unknown", dict(objective="minimize: latncy"), {}, UnknownNameError, ["did you mean 'latency'"]),
    ("objective direction", dict(objective="smallest: latency"), {}, SchemaError, ["minimize or maximize"]),
    ("no objective", dict(), {}, SchemaError, ["no objective"]),
    ("constraint units", dict(objective="latency", constraints=["latency < 1 GB"]), {}, UnitError, ["[information]"]),
    ("constraint syntax", dict(objective="latency", constraints=["latency <"]), {}, SchemaError, ["metric <= value"]),
    # bug 17: a non-finite bound made a constraint hold nowhere (nan) or everywhere (inf), silently
    ("constraint nan", dict(objective="latency", constraints=["latency < nan"]), {}, SchemaError, ["finite"]),
    ("constraint inf", dict(objective="latency", constraints=["latency < inf"]), {}, SchemaError, ["finite"]),
    ("constraint 1e999", dict(objective="latency", constraints=["latency < 1e999"]), {}, SchemaError, ["finite"]),
    ("constraint 1/0", dict(objective="latency", constraints=["latency < 1/0"]), {}, SchemaError, ["finite"]),
    ("constraint odd text (bug 7)", dict(objective="latency", constraints=["latency < 5 (("]), {}, UnitError,
     ["cannot read"]),
    ("constraint 1/0 ms (bug 7)", dict(objective="latency", constraints=["latency < 1/0 ms"]), {}, UnitError,
     ["cannot read"]),
    ("backend unknown", dict(objective="latency", backend="optimus"), {}, UnknownNameError, ["optuna"]),
    ("sampler unknown", dict(objective="latency", backend="optuna:xx"), {}, UnknownNameError, ["tpe"]),
    ("winner unknown", dict(objective="latency", winner="bogus"), {}, UnknownNameError, ["knee"]),
    ("budget 0", dict(objective="latency"), dict(budget=0), SchemaError, ["budget"]),
    ("budget 2.5", dict(objective="latency"), dict(budget=2.5), SchemaError, ["budget"]),
    # bug 18: seed/n_jobs went unchecked to numpy/optuna/joblib (ValueError deep inside)
    ("seed -1", dict(objective="latency", backend="optuna"), dict(seed=-1, budget=4), SchemaError, ["seed"]),
    ("seed 2**70", dict(objective="latency"), dict(seed=2 ** 70), SchemaError, ["seed"]),
    ("seed str", dict(objective="latency"), dict(seed="a"), SchemaError, ["seed"]),
    ("n_jobs 0", dict(objective="latency"), dict(n_jobs=0), SchemaError, ["n_jobs"]),
    ("storage unreachable", dict(objective="latency", backend="optuna"),
     dict(budget=3, storage="postgresql://u:secret@127.0.0.1:1/db"), StorageError, ["***"]),
    ("storage folder missing", dict(objective="latency", backend="optuna"),
     dict(budget=3, storage="/nonexistent/dir/x.db"), StorageError, ["storage"]),
    ("storage junk URL", dict(objective="latency", backend="optuna"), dict(budget=3, storage="notaurl://"),
     StorageError, ["storage"]),
    ("storage int", dict(objective="latency", backend="optuna"), dict(budget=3, storage=5), StorageError,
     ["storage"]),
    ("problem returns None", dict(objective="latency"), dict(problem=lambda c: None), SchemaError, ["dict"]),
    ("problem wrong shape", dict(objective="latency"), dict(problem=lambda c: {"latency": np.ones(5)}), SchemaError,
     ["shape"]),
]


@pytest.mark.parametrize("init, run, cls, fragments", [c[1:] for c in DSE_CASES], ids=[c[0] for c in DSE_CASES])
def test_dse_rejects_bad_input(init, run, cls, fragments):
    run = {"problem": _problem, **run}
    expect(lambda: DSE({"tp": [1, 2, 4]}, **init).run(**run), cls, *fragments)
    if "secret" in str(run.get("storage")):
        with pytest.raises(StorageError) as info:
            DSE({"tp": [1, 2]}, **init).run(**run)
        assert "secret" not in str(info.value)  # the password is redacted


def test_dse_constraints_no_point_satisfies_keep_every_trial():
    """Nothing is lost: the result holds every evaluated trial and says why each failed."""
    r = DSE({"tp": [1, 2, 4]}, objective="latency", constraints=["latency < 1"]).run(problem=_problem)
    assert r.winner is None and r.winner_config is None and len(r.trials) == 3
    j = r.to_json()
    assert j["feasible"] == 0 and j["winner"] is None
    assert any("latency < 1" in k for k in j["infeasible_reasons"])


def test_problem_token_budget_must_be_positive():
    """bug 19: train_tokens=0 silently fell back to the default; -1 and NaN gave negative/NaN times."""
    from mlsysim.dse.problems import ParallelismProblem, PlacementProblem

    model, fleet = mlsysim.Models.Llama3_8B, mlsysim.Systems.Clusters.H100_256
    for bad in (0, -1, NAN, INF, "many", True):
        expect(lambda: ParallelismProblem(model, fleet, global_batch=256, train_tokens=bad), UserInputError,
               "train_tokens")
        expect(lambda: PlacementProblem(model, global_batch=256, train_tokens=bad), UserInputError, "train_tokens")
    assert ParallelismProblem(model, fleet, global_batch=256).train_tokens == pytest.approx(20 * model.parameters)


# ------------------------------------------------------------------------------------------------
# CLI flags: exit codes, messages on stderr, never a traceback
# ------------------------------------------------------------------------------------------------
E = "error:"  # every user error starts "mlsysim: error: ..."
CLI_CASES = [
    # (argv, exit code, stderr fragments)
    (["eval", LLAMA, H100, "--batch-size", "0"], 2, [E, "batch_size"]),
    (["eval", LLAMA, H100, "--batch-size", "-5"], 2, [E, "batch_size"]),
    (["eval", LLAMA, H100, "--batch-size", "abc"], 2, ["--batch-size", "integer"]),
    (["eval", LLAMA, H100, "--batch-size", "1e3"], 2, ["--batch-size"]),
    (["eval", LLAMA, H100, "--seq-len", "0"], 2, [E, "seq_len"]),
    (["eval", LLAMA, H100, "--efficiency", "2"], 2, [E, "efficiency"]),
    (["eval", LLAMA, H100, "--efficiency", "nan"], 2, [E, "finite"]),
    (["eval", LLAMA, H100, "--days", "inf"], 2, [E, "finite"]),
    (["eval", LLAMA, H100, "--days", "-1"], 2, [E, "duration_days"]),
    (["eval", LLAMA, H100, "--days", "1e308"], 2, [E, "too large"]),          # bug 3
    (["eval", LLAMA, H100, "--kwh-price", "nan"], 2, [E, "kwh_price"]),
    (["eval", LLAMA, H100, "--utilization", "2"], 2, [E, "utilization"]),
    (["eval", LLAMA, H100, "--nodes", "0"], 2, [E, "--nodes"]),
    (["eval", LLAMA, H100, "--nodes", "100000000"], 2, [E, "node_count"]),  # bug 4
    (["eval", LLAMA, "--fleet", "H100_256", "--nodes", "100000000"], 2, [E, "node_count"]),  # bug 4
    (["eval", LLAMA, H100, "--tp", "0"], 2, [E, "parallelism.tp"]),
    (["eval", LLAMA, H100, "--precision", "fp7"], 2, [E, "did you mean 'fp8'"]),
    (["eval", LLAMA, H100, "--mode", "train"], 2, [E, "training"]),
    (["eval", LLAMA, H100, "--region", "Mars"], 2, [E, "grid region"]),
    (["eval", LLAMA, H100, "--fleet", "H100_25"], 2, [E, "H100_256"]),
    (["eval", LLAMA, H100, "--node", "DGX_A100", "--nodes", "2"], 2, [E, "holds A100"]),
    (["eval", LLAMA, H100, "--fabric", "IB_XXX", "--nodes", "2"], 2, [E, "IB_"]),
    (["eval", LLAMA, H100, "--assert", "foo"], 2, [E, "METRIC<=LIMIT"]),
    (["eval", LLAMA, H100, "--assert", "performance.latency<=5GB"], 2, [E, "[information]"]),
    (["eval", LLAMA, H100, "--assert", "performance.latency<=nan"], 2, [E, "finite"]),
    (["eval", LLAMA, H100, "--assert", "performance.latncy<=5"], 2, [E, "performance.latency"]),
    (["eval", LLAMA, H100, "--assert", "performance.latency<=1e-9"], 3, ["assert violated"]),
    (["eval", LLAMA, H100, "--output-len", "-1"], 2, [E, "output_len"]),
    (["eval", LLAMA], 2, [E, "missing HARDWARE"]),
    (["eval", H100, LLAMA], 2, [E, "unknown model"]),
    (["eval", RESNET, H100, "--mode", "training"], 2, [E, "transformer"]),
    (["eval", "missing.yaml"], 2, [E, "file not found"]),
    (["eval", "plan.yaml", H100], 2, [E, "not both"]),
    (["eval", "plan.yaml", "--fleet", "H100_256"], 2, [E, "--fleet"]),
    (["eval", "plan.yaml", "--batch-size", "-1"], 2, [E, "plan.yaml:4:3", "batch_size"]),
    (["eval", "plan.yaml", "--nodes", "100000000"], 2, [E, "hardware.nodes"]),   # bug 4
    (["eval", "bad_plan.yaml"], 2, [E, "bad_plan.yaml:3:3", "workload.name", "did you mean"]),
    (["eval", "dup_plan.yaml"], 2, [E, "duplicate key"]),                          # bug 9
    (["--catalog", "missing.yaml", "zoo"], 2, [E, "file not found"]),
    (["--catalog", "plan.yaml", "zoo"], 2, [E, "catalog section"]),
    (["--catalog", "bad_catalog.yaml", "zoo"], 2, [E, "memory.capacity", "no unit"]),   # bug 10
    (["zoo", "show", "H10"], 2, [E, "H100"]),
    (["zoo", "show", "H100", "--kind", "gpus"], 2, [E, "registry"]),
    (["zoo", "gpus"], 2, ["No such command"]),
    (["serve", LLAMA, H100, "--tp", "3"], 2, [E, "divide"]),
    (["serve", LLAMA, H100, "--tp", "0"], 2, [E, "tp_size"]),
    (["serve", LLAMA, H100, "--seq-len", "0"], 2, [E, "seq_len"]),
    (["serve", LLAMA, H100, "--efficiency", "nan"], 2, [E, "efficiency"]),
    (["serve", LLAMA, H100, "--kv-precision", "fp7"], 2, [E, "precision"]),
    (["serve", RESNET, H100], 2, [E, "transformer"]),
    (["schema", "result", "nope"], 2, [E, "result schema"]),
    (["schema", "catalog", "nope"], 2, [E, "catalog section"]),
    (["--output", "yaml", "zoo"], 2, ["--output"]),
    (["nocommand"], 2, ["No such command"]),
    (["optimize", "parallelism", "plan.yaml", "--budget", "0"], 2, ["--budget"]),
    (["optimize", "parallelism", "plan.yaml", "--space", "missing.yaml"], 2, [E, "file not found"]),
    (["optimize", "parallelism", "plan.yaml", "--space", "bad_space.yaml"], 2, [E, "bad_space.yaml:3"]),
    (["optimize", "parallelism", "plan.yaml", "--space", "infeasible_space.yaml"], 2, [E, "violate its rules"]),
    (["optimize", "parallelism", "plan.yaml", "--objective", "minimize: latncy"], 2, [E, "unknown metric"]),
    (["optimize", "parallelism", "plan.yaml", "--constraint", "step_time <= 1 GB"], 2, [E, "[information]"]),
    (["optimize", "parallelism", "plan.yaml", "--constraint", "step_time <= nan"], 2, [E, "finite"]),  # bug 17
    (["optimize", "parallelism", "plan.yaml", "--constraint", "step_time <= 1 ns"], 2, [E, "feasible"]),  # bug 20
    (["optimize", "parallelism", "plan.yaml", "--backend", "optimus"], 2, [E, "optuna"]),
    (["optimize", "parallelism", "plan.yaml", "--winner", "bogus"], 2, [E, "winner rule"]),
    (["optimize", "parallelism", "plan.yaml", "--seed", "-1", "--backend", "optuna", "--budget", "4"], 2,
     [E, "seed"]),                                                                    # bug 18
    (["optimize", "parallelism", "plan.yaml", "--jobs", "0"], 2, [E, "n_jobs"]),       # bug 18
    (["optimize", "parallelism", "plan.yaml", "--train-tokens", "-1"], 2, [E, "train_tokens"]),   # bug 19
    (["optimize", "parallelism", "plan.yaml", "--train-tokens", "nan"], 2, [E, "train_tokens"]),  # bug 19
    (["optimize", "parallelism", "plan.yaml", "--backend", "optuna", "--budget", "4", "--storage",
      "postgresql://u:secret@127.0.0.1:1/db"], 2, [E, "***"]),
    (["optimize", "parallelism", "plan.yaml", "--backend", "optuna", "--budget", "4", "--storage",
      "/nonexistent/dir/x.db"], 2, [E, "storage"]),
    (["optimize", "batching", "plan.yaml", "--qps", "0"], 2, [E, "--qps"]),
    (["optimize", "batching", "plan.yaml", "--qps", "inf"], 2, [E, "qps"]),
    (["optimize", "placement", "plan.yaml", "--carbon-tax", "inf"], 2, [E, "carbon tax"]),
    (["optimize", "batching", "plan.yaml"], 2, ["--qps"]),
]
CLI_FILES = {
    "plan.yaml": PLAN,
    "bad_plan.yaml": PLAN.replace('"Llama3_8B"', '"Llama3_8C"'),
    "dup_plan.yaml": PLAN + "ops: {region: France, duration_days: 1}\n",
    "bad_catalog.yaml": HW.replace("80 GB", "80"),
    "bad_space.yaml": "dimensions:\n  nodes: {type: pow2, low: 1, high: 4}\n  tp: {type: int, low: 8, high: 1}\n",
    "infeasible_space.yaml": "dimensions:\n  nodes: [1, 2]\n  tp: [1, 2]\nrules: ['tp > 4']\n",
}


NO_FEASIBLE = ["optimize", "parallelism", "plan.yaml", "--constraint", "step_time <= 1 ns"]
# In JSON mode an error writes the error document to stdout (docs/cli.md), usage errors included.
JSON_CASES = [["-o", "json", *argv] for argv in (
    ["eval", LLAMA, H100, "--batch-size", "0"], ["eval", LLAMA, H100, "--batch-size", "abc"],
    ["eval", "plan.yaml", "--nodes", "100000000"], ["serve", LLAMA, H100, "--tp", "3"],
    ["eval", "dup_plan.yaml"], ["optimize", "parallelism", "plan.yaml", "--jobs", "0"])]


@pytest.fixture(scope="module")
def cli_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    for name, text in CLI_FILES.items():
        (d / name).write_text(text)
    argvs = [c[0] for c in CLI_CASES] + JSON_CASES + [["-o", "json", *NO_FEASIBLE]]
    return dict(zip(map(tuple, argvs), run_many(argvs, cwd=d)))


@pytest.mark.parametrize("argv, code, fragments", CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_cli_bad_input(cli_results, argv, code, fragments):
    r = cli_results[tuple(argv)]
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, str(r)
    assert r.returncode == code, str(r)
    for f in fragments:
        assert f in r.stderr, f"{f!r} not in stderr of\n{r}"


@pytest.mark.parametrize("argv", JSON_CASES, ids=[" ".join(a) for a in JSON_CASES])
def test_cli_json_mode_error_document(cli_results, argv):
    """Exit 2 with exactly one JSON document on stdout, the error (bug 21: usage errors had none)."""
    r = cli_results[tuple(argv)]
    assert r.returncode == 2 and "Traceback" not in r.stderr, str(r)
    doc = json.loads(r.stdout)
    assert doc["schema"] == "mlsysim.error/1" and doc["error"]["exit_code"] == 2 and doc["error"]["message"]


def test_cli_no_feasible_point_prints_the_report_then_exits_2(cli_results):
    """bug 20: `optimize` with constraints no point meets exited 0; now the full report (text, or
    the one JSON document), then InfeasibleError on stderr and exit 2."""
    r = cli_results[tuple(NO_FEASIBLE)]
    assert "no feasible configuration" in r.stdout and "infeasible:" in r.stdout
    j = cli_results[("-o", "json", *NO_FEASIBLE)]
    assert j.returncode == 2, str(j)
    doc = json.loads(j.stdout)                       # exactly one JSON document: the search result
    assert doc["winner"] is None and doc["feasible"] == 0 and doc["trials"] > 0
    assert "none of the" in j.stderr


MLSYSIM = shutil.which("mlsysim")


@pytest.mark.skipif(MLSYSIM is None, reason="the mlsysim console script is not installed")
@pytest.mark.parametrize("argv, code", [
    (["-o", "json", "eval", LLAMA, "H10"], 2),
    (["eval", "plan.yaml", "--assert", "performance.latency<=1e-9"], 3),
])
def test_console_script_exit_codes(tmp_path, argv, code):
    """The same through the installed console script, in a fresh interpreter (a few cases)."""
    (tmp_path / "plan.yaml").write_text(PLAN)
    r = subprocess.run([MLSYSIM, *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == code and "Traceback" not in r.stderr, (r.returncode, r.stderr)
    if argv[0] == "-o":
        assert json.loads(r.stdout)["error"]["suggestions"][0] == "H100"
