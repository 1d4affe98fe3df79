"""Objectives and unit-checked constraints."""
import numpy as np
import pytest

from mlsysim.core.errors import SchemaError, UnitError, UnknownNameError
from mlsysim.dse import Constraint, Objective
from mlsysim.dse.objective import parse_objectives

UNITS = {"itl": "s", "carbon": "kg", "memory_per_device": "byte", "capacity": "byte", "latency": "s",
         "throughput": "token/s", "cost": "USD"}
DISPLAY = {"latency": "ms", "memory_per_device": "GB"}


@pytest.mark.parametrize("spec, metric, direction", [
    ("minimize: step_time", "step_time", "minimize"), ("max: throughput", "throughput", "maximize"),
    ("maximize throughput", "throughput", "maximize"), ("cost", "cost", "minimize"),
    ({"maximize": "tps"}, "tps", "maximize"), ({"metric": "x", "direction": "min"}, "x", "minimize"),
    (("x", "max"), "x", "maximize"),
])
def test_objective_forms(spec, metric, direction):
    o = Objective.parse(spec)
    assert (o.metric, o.direction) == (metric, direction)
    assert o.sign == (1.0 if direction == "minimize" else -1.0)


def test_objective_errors():
    with pytest.raises(SchemaError, match="direction"):
        Objective.parse("sideways: x")
    with pytest.raises(SchemaError, match="repeat"):
        parse_objectives(objectives=["min: x", "max: x"])
    assert [str(o) for o in parse_objectives(("x", "max"))] == ["maximize: x"]


def bind(text):
    return Constraint.parse(text).bind(UNITS, DISPLAY, {"N": 4.0})


def test_quantities_are_converted_to_the_metric_unit():
    assert bind("itl <= 30 ms").value == pytest.approx(0.030)
    assert bind("carbon <= 500 t").value == pytest.approx(500_000)
    assert bind("throughput >= 1e5 token/s").value == pytest.approx(1e5)
    assert bind("cost < 2 kUSD").value == pytest.approx(2000)


def test_bare_number_uses_display_unit_else_si():
    assert bind("latency < 50").value == pytest.approx(0.050)     # display unit ms
    assert bind("itl <= 0.02").value == pytest.approx(0.02)       # no display unit: SI seconds


def test_rhs_may_reference_metrics_and_constants():
    c = bind("memory_per_device <= 0.9 * capacity")
    m = {"memory_per_device": np.array([50e9, 79e9, 73e9]), "capacity": np.array([80e9, 80e9, 80e9])}
    v = c.violation(m, {})
    assert v[0] == 0 and v[1] > 0 and v[2] > 0 and v[1] > v[2]
    assert bind("cost <= 100 * N").rhs_values({}, {"N": 4.0}) == pytest.approx(400)


def test_wrong_dimension_is_a_unit_error():
    with pytest.raises(UnitError, match="metric 'itl' is in s"):
        bind("itl <= 30 kg")
    with pytest.raises(UnitError):
        bind("latency <= 3 * cost")


def test_unknown_metric_lists_valid_ones():
    with pytest.raises(UnknownNameError) as exc:
        bind("ttft <= 30 ms")
    assert "unknown metric 'ttft'" in str(exc.value) and "itl" in str(exc.value)
    with pytest.raises(UnknownNameError, match="did you mean 'capacity'"):
        bind("memory_per_device <= 0.9 * capacty")


def test_syntax_errors():
    for bad in ["itl == 3 ms", "30 ms >= itl", "itl <="]:
        with pytest.raises(SchemaError):
            Constraint.parse(bad)


def test_violation_is_normalized_and_strictness_respected():
    c = bind("itl < 30 ms")
    v = c.violation({"itl": np.array([0.015, 0.030, 0.045, np.nan])}, {})
    assert v[0] == 0 and v[1] > 0 and v[2] == pytest.approx(0.5) and v[3] >= 1e6
    assert bind("itl <= 30 ms").violation({"itl": np.array([0.030])}, {})[0] == 0
    assert bind("throughput >= 100 token/s").violation({"throughput": np.array([50.0, 150.0])}, {}).tolist() == [0.5, 0.0]
