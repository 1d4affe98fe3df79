"""OrchestrationModel (orchestration.py)."""
import json
import math

import numpy as np
import pytest

from conftest_physics import assert_dims, close, research_256, small_cluster
from mlsysim.core.errors import UnitError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.orchestration import OrchestrationModel, orchestration_si


def test_hand_arithmetic_two_slots():
    # 2 nodes x 8 = 16 GPUs, 8 per job -> c = 2 slots. lambda = 0.5 job/h, E[S] = 2 h -> a = 1, rho = 0.5
    # Erlang C(2, 1) = 1/3; Wq = C / (c/E[S] - lambda) = (1/3) / (1 - 0.5) = 2/3 h = 40 min
    r = OrchestrationModel().solve(small_cluster(2), arrival_rate=0.5, avg_duration=2, gpus_per_job=8)
    assert r.slots == 2 and r.stable
    assert close(r.utilization, 0.5)
    assert close(r.probability_of_waiting, 1 / 3)
    assert close(r.avg_wait_time.m_as("minute"), 40.0)
    assert close(r.queue_length, 1 / 3)          # Little: 0.5/h x 2/3 h
    assert close(r.jobs_running, 1.0)            # a = 1
    assert close(r.avg_turnaround_time.m_as("hour"), 2 + 2 / 3)
    # p99 wait = ln(C/0.01) / (1 - 0.5) h = ln(33.33) x 2 h
    assert close(r.p99_wait_time.m_as("hour"), math.log((1 / 3) / 0.01) / 0.5)


def test_quantity_inputs_match_plain_hours():
    a = OrchestrationModel().solve(small_cluster(2), Q_(0.5, "1/hour"), Q_(120, "minute"), gpus_per_job=8)
    b = OrchestrationModel().solve(small_cluster(2), 0.5, 2, gpus_per_job=8)
    assert close(a.avg_wait_time.m_as("s"), b.avg_wait_time.m_as("s"))


def test_unstable_fleet():
    # 256 GPUs / 8 = 32 slots; 20 jobs/h x 2 h = 40 Erlangs > 32
    r = OrchestrationModel().solve(research_256(), 20, 2, gpus_per_job=8)
    assert r.stable is False and math.isinf(r.avg_wait_time.m_as("h")) and "utilization" in r.reason
    assert close(r.utilization, 40 / 32)


def test_dimensions():
    r = OrchestrationModel().solve(research_256(), 10, 2, gpus_per_job=8)
    assert_dims(r, {"avg_wait_time": "s", "p99_wait_time": "s", "avg_turnaround_time": "s", "utilization": None,
                    "queue_length": None, "slots": None, "stable": None})


def test_scalar_equals_core_elementwise():
    lam = np.array([2.0, 10.0, 15.0])
    core = orchestration_si(lam / 3600.0, 2 * 3600.0, 256, 8)
    for i, x in enumerate(lam):
        s = OrchestrationModel().solve(research_256(), float(x), 2, gpus_per_job=8)
        assert close(s.avg_wait_time.m_as("s"), core["avg_wait_time"][i], rel=1e-12)
        assert close(s.utilization, core["utilization"][i])
    infeasible = orchestration_si(1e-3, 3600.0, 16, 32)
    assert not infeasible["feasible"] and np.isinf(infeasible["avg_wait_time"])


@pytest.mark.parametrize("kw, err", [
    ({"gpus_per_job": 512}, UserInputError), ({"gpus_per_job": 0}, UserInputError),
    ({"gpus_per_job": 2.5}, UserInputError), ({"arrival_rate": -1}, UserInputError),
    ({"avg_duration": Q_(2, "GB")}, UnitError), ({"arrival_rate": Q_(1, "m/s")}, UnitError),
])
def test_bad_inputs(kw, err):
    args = {"arrival_rate": 1, "avg_duration": 1, "gpus_per_job": 8, **kw}
    with pytest.raises(err):
        OrchestrationModel().solve(research_256(), **args)


def test_result_is_json_ready():
    json.dumps(OrchestrationModel().solve(research_256(), 20, 2, gpus_per_job=8).to_dict())
