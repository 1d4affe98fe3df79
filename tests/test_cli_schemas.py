"""The published output schemas (mlsysim/schemas/*.json) and ``validate``, which the other CLI
tests import: jsonschema when installed, else a small structural checker covering the keywords the
published schemas use (tested here too)."""
from __future__ import annotations

import json
import pathlib

import pytest

from mlsysim.cli.schema import RESULT_SCHEMAS, load_result_schema

try:  # pragma: no cover - depends on the environment
    import jsonschema
except ImportError:  # pragma: no cover
    jsonschema = None

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(value, t) -> bool:
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, _TYPES[t])


def _check(value, schema, root, path="$"):
    if "$ref" in schema:
        ref = schema["$ref"].removeprefix("#/")
        target = root
        for part in ref.split("/"):
            target = target[part]
        return _check(value, target, root, path)
    if "const" in schema:
        assert value == schema["const"], f"{path}: {value!r} != {schema['const']!r}"
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert any(_is_type(value, t) for t in types), f"{path}: {value!r} is not {types}"
    if "anyOf" in schema:
        errors = []
        for sub in schema["anyOf"]:
            try:
                _check(value, sub, root, path)
                break
            except AssertionError as e:
                errors.append(str(e))
        else:
            raise AssertionError(f"{path}: matches no anyOf branch: {errors}")
    if isinstance(value, dict):
        for k in schema.get("required", []):
            assert k in value, f"{path}: missing {k!r}"
        props = schema.get("properties", {})
        for k, v in value.items():
            if k in props:
                _check(v, props[k], root, f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                raise AssertionError(f"{path}: unexpected key {k!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                _check(v, schema["additionalProperties"], root, f"{path}.{k}")
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            _check(v, schema["items"], root, f"{path}[{i}]")
    if "minimum" in schema and _is_type(value, "number"):
        assert value >= schema["minimum"], f"{path}: {value} < {schema['minimum']}"


def validate(doc, name: str) -> None:
    """Validate ``doc`` against the published output schema ``name`` (raises on mismatch)."""
    schema = load_result_schema(name)
    if jsonschema is not None:
        jsonschema.validate(doc, schema)
    else:  # pragma: no cover
        _check(doc, schema, schema)


def structural_check(doc, name: str) -> None:
    """The fallback checker, always (so it is tested too)."""
    schema = load_result_schema(name)
    _check(doc, schema, schema)


# ------------------------------------------------------------------------------------------------
SCHEMA_DIR = pathlib.Path(__file__).resolve().parent.parent / "mlsysim" / "schemas"


@pytest.mark.parametrize("name", sorted(RESULT_SCHEMAS))
def test_published_schemas_are_valid_json_schema(name):
    schema = load_result_schema(name)
    assert schema["$schema"].startswith("https://json-schema.org/")
    if jsonschema is not None:
        jsonschema.Draft202012Validator.check_schema(schema)


def test_every_schema_file_is_published():
    files = {p.name for p in SCHEMA_DIR.glob("*.schema.json")}
    assert files == set(RESULT_SCHEMAS.values()) | {"plan.schema.json"}


def test_evaluation_schema_lists_every_metric():
    from mlsysim.evaluator import METRICS

    schema = load_result_schema("evaluation")
    for lens in ("feasibility", "performance", "macro"):
        props = schema["properties"][lens]["properties"]
        names = {m.name for m in METRICS if m.lens == lens}
        assert set(props["metrics"]["properties"]) == names
        assert {k: v["const"] for k, v in props["units"]["properties"].items()} == \
            {m.name: m.unit for m in METRICS if m.lens == lens}


def test_structural_checker_agrees():
    from mlsysim.evaluator import SystemEvaluator

    doc = SystemEvaluator.evaluate("", "ResNet50", "A100", batch_size=8).to_dict()
    structural_check(doc, "evaluation")
    validate(doc, "evaluation")
    bad = json.loads(json.dumps(doc))
    bad["macro"]["metrics"]["tco_usd"] = "a lot"
    with pytest.raises(Exception):
        structural_check(bad, "evaluation")
    del bad["macro"]
    with pytest.raises(Exception):
        validate(bad, "evaluation")
