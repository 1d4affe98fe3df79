"""CheckpointModel (checkpoint.py)."""
import json
import numpy as np
import pytest

from conftest_physics import H100, LLAMA3_70B, assert_dims, close, h100_256
from mlsysim.core.errors import UnitError, UnknownNameError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.checkpoint import CheckpointModel, checkpoint_bytes_per_param, checkpoint_si
from mlsysim.physics.reliability import fleet_mtbf_s, optimal_interval_si

N = LLAMA3_70B.parameters   # 70,553,706,496


def test_bytes_per_parameter():
    # bf16 weights 2 + fp32 master 4 + Adam m, v 4 + 4 = 14 (ZeRO's 16 minus the 2 bytes of gradients)
    assert checkpoint_bytes_per_param("adam") == 14.0
    assert checkpoint_bytes_per_param("sgd") == 10.0         # 2 + 4 + 4 (momentum)
    assert checkpoint_bytes_per_param("adafactor") == 6.0    # 2 + 4 + ~0 (factored)
    assert checkpoint_bytes_per_param("adam", "fp32") == 12.0  # no separate master copy


def test_seed_like_hand_arithmetic():
    # 14 B x 70.554e9 = 987.75 GB; at 10 GB/s: 98.775 s; every 60 min: 98.775 / (3600 + 98.775) = 2.67%
    r = CheckpointModel().solve(LLAMA3_70B, H100, "adam", checkpoint_interval=Q_(60, "minute"),
                                storage_bandwidth=Q_(10, "GB/s"))
    assert close(r.checkpoint_size.m_as("B"), 14 * N)
    assert close(r.write_time.m_as("s"), 14 * N / 10e9)
    w = 14 * N / 10e9
    assert close(r.mfu_penalty, w / (3600 + w))
    assert close(r.weights_size.m_as("B"), 2 * N) and close(r.optimizer_size.m_as("B"), 12 * N)
    assert 0 <= r.mfu_penalty < 1


def test_defaults():
    # no fleet: one node at 2 GB/s, 1-hour interval
    r = CheckpointModel().solve(LLAMA3_70B, H100)
    assert close(r.storage_bandwidth.m_as("GB/s"), 2.0) and close(r.checkpoint_interval.m_as("minute"), 60)
    # fleet of 32 nodes: 64 GB/s, interval = Daly optimum for the fleet MTBF and this write time
    f = CheckpointModel().solve(LLAMA3_70B, optimizer="adam", fleet=h100_256())
    assert close(f.storage_bandwidth.m_as("GB/s"), 64.0)
    w = 14 * N / 64e9
    assert close(f.checkpoint_interval.m_as("s"), optimal_interval_si(w, fleet_mtbf_s(h100_256())[0]))
    # plain number interval is minutes
    assert close(CheckpointModel().solve(LLAMA3_70B, checkpoint_interval=30).checkpoint_interval.m_as("s"), 1800)


def test_penalty_stays_below_one():
    r = CheckpointModel().solve(LLAMA3_70B, checkpoint_interval=Q_(1, "s"), storage_bandwidth=Q_(1, "GB/s"))
    assert 0.99 < r.mfu_penalty < 1


def test_dimensions():
    r = CheckpointModel().solve(LLAMA3_70B, H100)
    assert_dims(r, {"checkpoint_size": "B", "weights_size": "B", "optimizer_size": "B", "write_time": "s",
                    "checkpoint_interval": "s", "storage_bandwidth": "B/s", "mfu_penalty": None,
                    "bytes_per_parameter": None})


def test_scalar_equals_core_elementwise():
    bw = np.array([1e9, 10e9, 100e9])
    core = checkpoint_si(N, 14.0, bw, 3600.0)
    vec = CheckpointModel().solve(LLAMA3_70B, storage_bandwidth=bw, checkpoint_interval=60)
    for i, b in enumerate(bw):
        s = CheckpointModel().solve(LLAMA3_70B, storage_bandwidth=float(b), checkpoint_interval=60)
        assert close(s.mfu_penalty, core["mfu_penalty"][i]) and close(vec.mfu_penalty[i], core["mfu_penalty"][i])
        assert close(s.write_time.m_as("s"), core["write_time"][i])


@pytest.mark.parametrize("kw, err", [
    ({"optimizer": "rmsprop"}, UnknownNameError), ({"checkpoint_interval": -5}, UserInputError),
    ({"storage_bandwidth": Q_(1, "s")}, UnitError), ({"storage_bandwidth": 0}, UserInputError),
    ({"precision": "fp13"}, UnknownNameError), ({"hardware": 7}, UserInputError),
])
def test_bad_inputs(kw, err):
    with pytest.raises(err):
        CheckpointModel().solve(LLAMA3_70B, **kw)


def test_result_is_json_ready():
    json.dumps(CheckpointModel().solve(LLAMA3_70B, H100).to_dict())
