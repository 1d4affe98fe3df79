"""ReliabilityModel (reliability.py)."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest_physics import LLAMA3_70B, assert_dims, close, h100_256, research_256
from mlsysim.core.errors import UnitError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.reliability import ACCELERATOR_MTBF, ReliabilityModel, optimal_interval_si, reliability_si

LLAMA3_GPU_MTBF_H = 16384 * 54 * 24 / 419   # 50,676.7 GPU-hours per interruption


def test_llama3_derived_mtbf_hand_arithmetic():
    # the DGX H100 test node leaves mtbf at its default -> 50,676.7 h / 8 per node; / 32 nodes = 197.96 h
    assert close(ACCELERATOR_MTBF.m_as("hour"), LLAMA3_GPU_MTBF_H)
    r = ReliabilityModel().solve(h100_256(), job_duration_days=30)
    assert close(r.node_mtbf.m_as("hour"), LLAMA3_GPU_MTBF_H / 8)
    assert close(r.fleet_mtbf.m_as("hour"), LLAMA3_GPU_MTBF_H / 256)
    # 30 days = 720 h; 720 / 197.96 = 3.637 expected failures; P(>= 1) = 1 - exp(-3.637)
    assert close(r.expected_failures, 720 / (LLAMA3_GPU_MTBF_H / 256))
    assert close(r.failure_probability, 1 - math.exp(-720 / (LLAMA3_GPU_MTBF_H / 256)))
    assert "Llama 3" in r.mtbf_source


def test_explicit_node_mtbf_and_intervals_hand_arithmetic():
    # DGX A100 test node sets mtbf = 50,000 h: fleet of 32 -> 1,562.5 h = 5,625,000 s
    r = ReliabilityModel().solve(research_256(), 30, checkpoint_time=Q_(60, "s"))
    m = 1562.5 * 3600
    assert close(r.fleet_mtbf.m_as("hour"), 1562.5)
    # Young: sqrt(2 x 60 x 5.625e6) = 25,980.8 s
    assert close(r.young_interval.m_as("s"), math.sqrt(2 * 60 * m))
    # Daly: sqrt(2 delta M) (1 + sqrt(delta/2M)/3 + (delta/2M)/9) - delta
    x = 60 / (2 * m)
    daly = math.sqrt(2 * 60 * m) * (1 + math.sqrt(x) / 3 + x / 9) - 60
    assert close(r.optimal_interval.m_as("s"), daly)
    # goodput = tau / (M e^(R/M) (e^((tau + delta)/M) - 1)), R = 600 s
    g = daly / (m * math.exp(600 / m) * math.expm1((daly + 60) / m))
    assert close(r.goodput, g) and 0.98 < g < 1
    assert close(r.expected_wall_time.m_as("day"), 30 / g)


def test_daly_falls_back_to_mtbf_when_checkpoint_is_long():
    assert optimal_interval_si(3000.0, 1000.0) == 1000.0


def test_model_based_checkpoint_time():
    # 14 B x 70.554e9 params / (2 GB/s x 32 nodes) = 15.43 s
    r = ReliabilityModel().solve(h100_256(), 30, model=LLAMA3_70B)
    assert close(r.checkpoint_time.m_as("s"), 14 * LLAMA3_70B.parameters / 64e9)


def test_overrides_and_plain_numbers():
    r = ReliabilityModel().solve(research_256(), Q_(720, "hour"), node_mtbf=10000, restart_time=0,
                                 checkpoint_interval=Q_(2, "hour"))
    assert close(r.fleet_mtbf.m_as("hour"), 10000 / 32) and close(r.expected_failures, 720 / (10000 / 32))
    assert close(r.checkpoint_interval.m_as("hour"), 2)


def test_dimensions():
    r = ReliabilityModel().solve(h100_256(), 30)
    assert_dims(r, {"fleet_mtbf": "s", "node_mtbf": "s", "young_interval": "s", "optimal_interval": "s",
                    "checkpoint_time": "s", "restart_time": "s", "expected_wall_time": "s", "lost_time": "s",
                    "expected_failures": None, "failure_probability": None, "goodput": None})


def test_scalar_equals_core_elementwise():
    days = np.array([1.0, 7.0, 30.0, 90.0])
    delta = np.array([10.0, 60.0, 300.0, 600.0])
    core = reliability_si(50000 * 3600.0, 32, days * 86400, delta, 600.0)
    vec = ReliabilityModel().solve(research_256(), days, checkpoint_time=delta)
    for i in range(len(days)):
        s = ReliabilityModel().solve(research_256(), float(days[i]), checkpoint_time=float(delta[i]))
        assert close(s.optimal_interval.m_as("s"), core["optimal_interval"][i])
        assert close(s.goodput, core["goodput"][i]) and close(vec.goodput[i], core["goodput"][i])
        assert close(s.expected_failures, core["expected_failures"][i])


@pytest.mark.parametrize("kw, err", [
    ({"job_duration_days": -1}, UserInputError), ({"job_duration_days": Q_(3, "GB")}, UserInputError),
    ({"job_duration_days": Q_(3, "m")}, UnitError), ({"job_duration_days": 3, "checkpoint_time": 0}, UserInputError),
    ({"job_duration_days": 3, "node_mtbf": -5}, UserInputError),
    ({"job_duration_days": float("inf")}, UserInputError),
])
def test_bad_inputs(kw, err):
    with pytest.raises(err):
        ReliabilityModel().solve(research_256(), **kw)


@settings(max_examples=40, deadline=None)
@given(n1=st.integers(1, 10000), n2=st.integers(1, 10000))
def test_more_nodes_lower_fleet_mtbf(n1, n2):
    lo, hi = sorted((n1, n2))
    a = ReliabilityModel().solve(h100_256().with_nodes(lo), 30)
    b = ReliabilityModel().solve(h100_256().with_nodes(hi), 30)
    assert b.fleet_mtbf <= a.fleet_mtbf and b.expected_failures >= a.expected_failures
    assert b.optimal_interval <= a.optimal_interval and b.goodput <= a.goodput + 1e-12


def test_result_is_json_ready():
    json.dumps(ReliabilityModel().solve(h100_256(), 30).to_dict())
