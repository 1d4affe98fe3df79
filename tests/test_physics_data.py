"""DataModel and TransformationModel (data.py)."""
import json
import math

import numpy as np
import pytest

from conftest_physics import A100, assert_dims, close, make_tiny, research_256
from mlsysim.core.errors import UnitError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.data import DataModel, TransformationModel, data_pipeline_si, transformation_si


def test_stalled_hand_arithmetic():
    # demand 3 GB/s, supply 2 GB/s: utilization 1.5, delivered 2 GB/s, 1 - 2/3 = 1/3 of the time waiting
    r = DataModel().solve(Q_(3, "GB/s"), storage_bandwidth=Q_(2, "GB/s"))
    assert r.is_stalled is True and close(r.utilization, 1.5)
    assert close(r.effective_throughput.m_as("GB/s"), 2.0)
    assert close(r.stall_fraction, 1 / 3)


def test_not_stalled_and_defaults():
    # default Cloud 2 GB/s per node x 32 nodes = 64 GB/s; 3/64 = 0.046875
    r = DataModel().solve(Q_(3, "GB/s"), fleet=research_256())
    assert r.is_stalled is False and close(r.supply.m_as("GB/s"), 64.0) and close(r.utilization, 0.046875)
    assert r.stall_fraction == 0.0 and close(r.effective_throughput.m_as("GB/s"), 3.0)
    # one Cloud node without a fleet: 2 GB/s; a Tiny device: 0.05 GB/s
    assert close(DataModel().solve(1e9, hardware=A100).supply.m_as("GB/s"), 2.0)
    tiny = DataModel().solve(Q_(0.1, "GB/s"), hardware=make_tiny())
    assert tiny.is_stalled is True and close(tiny.supply.m_as("GB/s"), 0.05)


def test_transformation_hand_arithmetic():
    # 100 samples/s/core x 8 cores = 800 samples/s; a batch of 256 takes 256/800 = 0.32 s
    # accelerator wants 1000 samples/s -> bottleneck; utilization 0.8; cores needed 1000/100 = 10
    r = TransformationModel().solve(256, 100, 8, accelerator_rate=1000)
    assert close(r.transform_time.m_as("s"), 0.32) and close(r.transform_rate.m_as("sample/s"), 800)
    assert r.is_bottleneck is True and close(r.accelerator_utilization, 0.8) and r.cores_needed == 10
    # the same demand as a step time: 256 samples per 0.256 s
    s = TransformationModel().solve(256, Q_(100, "sample/s"), 8, step_time=Q_(256, "ms"))
    assert s.is_bottleneck is True and close(s.accelerator_utilization, 0.8)
    ok = TransformationModel().solve(256, 100, 16, accelerator_rate=1000)
    assert ok.is_bottleneck is False and ok.accelerator_utilization == 1.0
    unknown = TransformationModel().solve(256, 100)
    assert unknown.is_bottleneck is False and math.isnan(unknown.accelerator_utilization) and unknown.note


def test_dimensions():
    assert_dims(DataModel().solve(Q_(3, "GB/s")), {"utilization": None, "is_stalled": None,
                                                    "effective_throughput": "B/s", "demand": "B/s", "supply": "B/s"})
    assert_dims(TransformationModel().solve(256, 100, 8, accelerator_rate=1000),
                {"transform_time": "s", "transform_rate": "sample/s", "accelerator_time": "s", "is_bottleneck": None})


def test_scalar_equals_core_elementwise():
    demand = np.array([0.5e9, 2e9, 5e9])
    core = data_pipeline_si(demand, 2e9)
    vec = DataModel().solve(demand, storage_bandwidth=2e9)
    for i, d in enumerate(demand):
        s = DataModel().solve(float(d), storage_bandwidth=2e9)
        assert close(s.utilization, core["utilization"][i]) and s.is_stalled == bool(core["is_stalled"][i])
        assert close(vec.effective_throughput.m_as("B/s")[i], core["effective_throughput"][i])
    cores = np.array([2.0, 8.0, 12.0])
    tcore = transformation_si(256, 100, cores, 1000)
    for i, c in enumerate(cores):
        s = TransformationModel().solve(256, 100, float(c), accelerator_rate=1000)
        assert close(s.transform_time.m_as("s"), tcore["transform_time"][i])
        assert s.is_bottleneck == bool(tcore["is_bottleneck"][i])


@pytest.mark.parametrize("call, err", [
    (lambda: DataModel().solve(Q_(3, "GB/s"), storage_bandwidth=0), UserInputError),
    (lambda: DataModel().solve(-1), UserInputError),
    (lambda: DataModel().solve(Q_(3, "GB"), storage_bandwidth=Q_(1, "m/s")), UnitError),
    (lambda: DataModel().solve(Q_(3, "s"), storage_bandwidth=Q_(1, "GB/s")), UnitError),
    (lambda: DataModel().solve(1e9, hardware=42), UserInputError),
    (lambda: TransformationModel().solve(256, 0, 8), UserInputError),
    (lambda: TransformationModel().solve(256, 100, 8, accelerator_rate=10, step_time=1), UserInputError),
    (lambda: TransformationModel().solve(float("nan"), 100, 8), UserInputError),
    (lambda: TransformationModel().solve(256, Q_(100, "m"), 8), UnitError),
])
def test_bad_inputs(call, err):
    with pytest.raises(err):
        call()


def test_result_is_json_ready():
    json.dumps(TransformationModel().solve(256, 100).to_dict())
