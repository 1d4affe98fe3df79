"""The mlsys.yaml plan: schema, errors with file/line/column, compilation, asserts."""
from __future__ import annotations

import json
import pathlib
import textwrap

import pytest

from mlsysim.core.errors import SchemaError, UnitError, UnknownNameError, UserInputError
from mlsysim.plan import Plan, load_plan, parse_plan_text, plan_json_schema, validate_plan

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seed_examples" / "example_cluster.yaml"
# The seed's plan, verbatim (README "Deep Simulation (Infrastructure as Code)").
SEED_TEXT = """\
version: "1.0"
workload:
  name: "Llama3_70B"
  batch_size: 4096
hardware:
  name: "H100"
  nodes: 64
ops:
  region: "Quebec"
  duration_days: 14.0
constraints:
  assert:
    - metric: "performance.latency"
      max: 50.0
"""


def write(tmp_path, text, name="plan.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.fixture(scope="module")
def seed_eval(tmp_path_factory):
    path = SEED if SEED.exists() else write(tmp_path_factory.mktemp("seed"), SEED_TEXT)
    return load_plan(path).evaluate()


def test_seed_plan_validates():
    data, lines = parse_plan_text(SEED_TEXT, "seed.yaml")
    plan = validate_plan(data, source="seed.yaml", lines=lines)
    assert plan.hardware.nodes == 64 and plan.hardware.node is None
    assert plan.constraints.asserts[0].metric == "performance.latency"
    assert plan.parallelism is None and plan.workload.mode is None


def test_seed_plan_evaluates(seed_eval):
    ev = seed_eval
    assert ev.inputs["mode"] == "training" and ev.inputs["grid"] == "Quebec"
    assert ev.inputs["nodes"] == 64 and ev.inputs["accelerators"] == 64 * 8
    assert ev.macro.metrics["tco_usd"] > 0
    assert ev.performance.details["parallelism"]["auto"] is True
    assert len(ev.asserts) == 1 and ev.asserts[0].metric == "performance.latency"
    assert ev.asserts[0].unit == "ms" and ev.asserts[0].limit == 50.0
    # a 4096-sequence step of a 70B model cannot take 50 ms
    assert ev.passed is False


def test_json_schema_is_published_and_current():
    schema = plan_json_schema()
    json.dumps(schema)
    published = json.loads((ROOT / "mlsysim" / "schemas" / "plan.schema.json").read_text())
    assert published == schema, "regenerate mlsysim/schemas/plan.schema.json from plan_json_schema()"
    assert set(schema["required"]) == {"version", "workload", "hardware", "ops"}
    assert "name" not in schema["properties"]
    assert "assert" in json.dumps(schema["$defs"]["ConstraintsSpec"])


def test_seed_plan_validates_against_json_schema():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml
    jsonschema.validate(yaml.safe_load(SEED_TEXT), plan_json_schema())


def test_malformed_yaml_has_line_and_column(tmp_path):
    p = write(tmp_path, """\
        version: "1.0"
        workload:
          name: Llama3_70B
          batch_size: [4096
        hardware: {name: H100}
        """)
    with pytest.raises(SchemaError) as info:
        load_plan(p)
    msg = str(info.value)
    assert "line 5" in msg and "column" in msg and str(p) in msg
    assert info.value.exit_code == 2


def test_schema_violation_names_field_and_line(tmp_path):
    p = write(tmp_path, """\
        version: "1.0"
        workload:
          name: Llama3_70B
          batch_size: -4
        hardware:
          name: H100
          nodez: 2
        ops: {region: Quebec, duration_days: 1}
        """)
    with pytest.raises(SchemaError) as info:
        load_plan(p)
    msg = str(info.value)
    assert f"{p}:4:3: workload.batch_size" in msg and "greater than 0" in msg
    assert "hardware.nodez" in msg and "did you mean" in msg and "'nodes'" in msg


def test_top_level_name_is_not_a_field(tmp_path):
    p = write(tmp_path, "name: x\n" + SEED_TEXT)
    with pytest.raises(SchemaError, match=r":1:1: name: unknown field"):
        load_plan(p)


def test_missing_section(tmp_path):
    p = write(tmp_path, 'version: "1.0"\nworkload: {name: Llama3_8B, batch_size: 1}\nhardware: {name: H100}\n')
    with pytest.raises(SchemaError, match="ops: required field is missing"):
        load_plan(p)


def test_unknown_catalog_name_names_the_line(tmp_path):
    p = write(tmp_path, SEED_TEXT.replace('name: "H100"', 'name: "H10"'))
    with pytest.raises(UnknownNameError) as info:
        load_plan(p).evaluate()
    assert "H100" in info.value.suggestions
    assert f"{p}:6:3: hardware.name" in str(info.value)


def test_unknown_metric_path_lists_valid_paths(tmp_path):
    p = write(tmp_path, SEED_TEXT.replace("performance.latency", "performance.latncy"))
    with pytest.raises(UnknownNameError) as info:
        load_plan(p)
    msg = str(info.value)
    assert "performance.latency" in info.value.suggestions
    assert "valid metric paths:" in msg and "macro.tco_usd" in msg
    assert ":13:7" in msg


def test_assert_units(tmp_path):
    bad = write(tmp_path, SEED_TEXT.replace("max: 50.0", "max: 50 GB"))
    with pytest.raises(UnitError, match="time"):
        load_plan(bad)
    ok = write(tmp_path, SEED_TEXT.replace("max: 50.0", "max: 1 hour"), "ok.yaml")
    ev = load_plan(ok).evaluate()
    assert ev.asserts[0].limit == pytest.approx(3.6e6)  # converted to ms
    assert ev.passed


def test_assert_needs_a_bound(tmp_path):
    p = write(tmp_path, SEED_TEXT.replace("      max: 50.0\n", ""))
    with pytest.raises(SchemaError, match="max' or 'min"):
        load_plan(p)


def test_fixed_parallelism_and_inference_mode(tmp_path):
    p = write(tmp_path, """\
        version: 1.0
        workload: {name: Llama3_70B, batch_size: 8, mode: inference, output_len: 128}
        hardware: {name: H100, nodes: 1}
        ops: {region: Quebec, duration_days: 30, kwh_price: 0.05, utilization: 0.5}
        parallelism: {tp: 4}
        constraints:
          assert:
            - {metric: performance.itl, max: 1 s}
            - {metric: macro.metrics.tco_usd, min: 1}
        """)
    ev = load_plan(p).evaluate()
    assert ev.inputs["mode"] == "inference" and ev.inputs["precision"] == "fp16"
    assert ev.performance.details["parallelism"] == {"tp": 4, "replicas": 2}
    assert ev.passed and len(ev.asserts) == 2


def test_overrides(tmp_path):
    p = write(tmp_path, SEED_TEXT)
    plan = load_plan(p, overrides={"workload.batch_size": 512, "hardware.nodes": 8, "ops.region": "Poland",
                                   "workload.seq_len": None})
    assert plan.workload.batch_size == 512 and plan.hardware.nodes == 8 and plan.ops.region == "Poland"


def test_node_must_hold_the_hardware(tmp_path):
    p = write(tmp_path, SEED_TEXT.replace("  nodes: 64\n", "  nodes: 4\n  node: DGX_A100\n"))
    with pytest.raises(UserInputError, match="hardware.node"):
        load_plan(p).evaluate()


def test_empty_and_non_mapping(tmp_path):
    with pytest.raises(SchemaError, match="empty"):
        load_plan(write(tmp_path, "", "e.yaml"))
    with pytest.raises(SchemaError, match="mapping"):
        load_plan(write(tmp_path, "- 1\n- 2\n", "l.yaml"))
    with pytest.raises(SchemaError, match="not found"):
        load_plan(tmp_path / "missing.yaml")


def test_plan_model_is_importable():
    assert Plan.model_fields["constraints"].default_factory is not None
