"""One YAML reader and one pydantic-error formatter (``mlsysim.core.yamlio``) serve the catalog,
plans, search spaces and studies: the same ``file:line:col`` syntax errors, and the same
``field: unknown field (did you mean ...)`` for a misspelt key."""
from __future__ import annotations

import pytest

import mlsysim
from mlsysim.core.errors import SchemaError
from mlsysim.core.yamlio import parse_yaml
from mlsysim.dse.space import SearchSpace
from mlsysim.plan import load_plan
from mlsysim.study.spec import load_study

PLAN = """\
version: "1.0"
workload: {name: Llama3_8B, batch_size: 32}
hardware: {name: H100, nodes: 1}
ops: {region: Quebec, duration_days: 1.0}
"""
STUDY = """\
name: s
question: parallelism
scenarios:
  - name: a
    workload: {name: Llama3_8B, batch_size: 256, seq_len: 4096}
    hardware: {name: H100, nodes: 8}
    ops: {region: US_Avg, duration_days: 30}
"""
SPACE = "dimensions:\n  tp: [1, 2]\n"
CATALOG = """\
grids:
  - key: G1
    name: a grid
    country: X
    carbon_intensity: 2 gCO2e/kWh
    electricity_price: 0.04 USD/kWh
    pue: 1.2
    wue: 0.3 L/kWh
    source: "unit test fixture"
"""
LOADERS = {
    "plan": (PLAN, load_plan),
    "study": (STUDY, load_study),
    "space": (SPACE, SearchSpace.from_yaml),
    "catalog": (CATALOG, mlsysim.load_catalog),
}


def test_key_positions_and_merge_keys():
    data, lines = parse_yaml("a:\n  b: [1, 2]\nc: &x {d: 1}\ne:\n  <<: *x\n  d: 2\n", "t.yaml")
    assert data["e"] == {"d": 2} and lines[("a", "b")] == (2, 3) and lines[("a", "b", 1)] == (2, 10)


@pytest.mark.parametrize("kind", LOADERS)
def test_every_document_kind_rejects_a_duplicate_key_at_its_line(tmp_path, kind):
    text, load = LOADERS[kind]
    n = 3 if kind == "catalog" else 2                       # a line holding one key of a mapping
    line = text.splitlines()[n - 1]
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text.replace(line, line + "\n" + line, 1))   # that key given twice
    with pytest.raises(SchemaError) as exc:
        load(path)
    msg = str(exc.value)
    assert f"{path}:{n + 1}:" in msg and "duplicate key" in msg and f"first given on line {n}" in msg


@pytest.mark.parametrize("kind, typo, meant", [
    ("plan", ("batch_size", "batchsize"), "batch_size"),
    ("study", ("question:", "questoin:"), "question"),
    ("catalog", ("pue:", "peu:"), "pue"),
])
def test_every_document_kind_suggests_the_field_meant(tmp_path, kind, typo, meant):
    text, load = LOADERS[kind]
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text.replace(*typo))
    with pytest.raises(SchemaError) as exc:
        load(path)
    assert f"unknown field (did you mean '{meant}'" in str(exc.value) and str(path) in str(exc.value)
