"""ResponsibleEngineeringModel (responsible.py): DP-SGD cost and noise."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest_physics import assert_dims, close
from mlsysim.core.errors import UnitError, UnknownNameError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.responsible import (DP_OVERHEAD, ResponsibleEngineeringModel, dp_cost_si, noise_multiplier_si,
                                         sampled_gaussian_epsilon)


def test_accountant_matches_tf_privacy_reference():
    # TF-Privacy's compute_dp_sgd_privacy example: N = 60,000, batch 256, sigma = 1.1, 60 epochs
    # (14,064 steps), delta = 1e-5 -> epsilon = 3.01 with its RDP accountant.
    assert sampled_gaussian_epsilon(1.1, 256 / 60000, 14064, 1e-5) == pytest.approx(3.01, abs=0.01)


def test_full_batch_is_the_gaussian_mechanism():
    # q = 1: RDP(alpha) = T alpha / (2 sigma^2); epsilon = min_alpha T alpha/(2 s^2) + ln(1/delta)/(alpha - 1)
    sigma, steps, delta = 5.0, 10, 1e-5
    alphas = np.concatenate([np.arange(2, 65), [80, 96, 128, 192, 256]])
    expected = min(steps * a / (2 * sigma ** 2) + math.log(1 / delta) / (a - 1) for a in alphas)
    assert sampled_gaussian_epsilon(sigma, 1.0, steps, delta) == pytest.approx(expected, rel=1e-9)


def test_noise_multiplier_inverts_the_accountant():
    eps = np.array([0.5, 1.0, 3.0, 8.0])
    sigma = noise_multiplier_si(eps, 1e-5, 0.01, 1000)
    assert np.all(np.diff(sigma) < 0)   # more privacy budget -> less noise
    assert np.allclose(sampled_gaussian_epsilon(sigma, 0.01, 1000, 1e-5), eps, rtol=1e-6)


def test_slowdown_hand_arithmetic():
    # vectorized per-sample gradients: 2x -> 100 h becomes 200 h, range 1.2-4x -> 120-400 h
    r = ResponsibleEngineeringModel().solve(Q_(100, "hour"), epsilon=1.0)
    assert r.dp_slowdown == 2.0 and close(r.private_training_time.m_as("hour"), 200)
    assert r.dp_slowdown_range == (1.2, 4.0)
    assert close(r.private_training_time_range[0].m_as("hour"), 120)
    assert close(r.private_training_time_range[1].m_as("hour"), 400)
    # ghost clipping 1.3x, and 2x more steps: 100 h x 1.3 x 2 = 260 h; keeps the caller's unit
    g = ResponsibleEngineeringModel().solve(Q_(6000, "minute"), epsilon=1.0, method="ghost_clipping",
                                            steps_multiplier=2)
    assert close(g.private_training_time.m_as("hour"), 260) and g.private_training_time.units == Q_(1, "minute").units
    # defaults: q = 0.01, 10 epochs -> 1,000 steps
    assert r.steps == 1000 and r.sampling_rate == 0.01


def test_dimensions():
    r = ResponsibleEngineeringModel().solve(24, epsilon=2.0)
    assert_dims(r, {"private_training_time": "s", "dp_slowdown": None, "noise_multiplier": None, "epsilon": None})
    assert r.private_training_time.m_as("hour") == pytest.approx(48)


def test_scalar_equals_core_elementwise():
    eps = np.array([0.5, 2.0, 8.0])
    vec = ResponsibleEngineeringModel().solve(10, epsilon=eps)
    sig = noise_multiplier_si(eps, 1e-5, 0.01, 1000)
    core = dp_cost_si(np.array([10.0, 20.0]) * 3600, DP_OVERHEAD["naive"][0])
    for i, e in enumerate(eps):
        s = ResponsibleEngineeringModel().solve(10, epsilon=float(e))
        assert close(s.noise_multiplier, sig[i]) and close(vec.noise_multiplier[i], sig[i])
    for i, h in enumerate((10.0, 20.0)):
        s = ResponsibleEngineeringModel().solve(h, method="naive")
        assert close(s.private_training_time.m_as("s"), core["private_time"][i])


@pytest.mark.parametrize("kw, err", [
    ({"epsilon": 0}, UserInputError), ({"epsilon": -1}, UserInputError), ({"delta": 1.0}, UserInputError),
    ({"delta": 0}, UserInputError), ({"method": "magic"}, UnknownNameError), ({"sampling_rate": 1.5}, UserInputError),
    ({"steps_multiplier": 0.5}, UserInputError), ({"base_training_time": Q_(1, "GB")}, UserInputError),
    ({"base_training_time": Q_(1, "m")}, UnitError), ({"base_training_time": -3}, UserInputError),
])
def test_bad_inputs(kw, err):
    args = {"base_training_time": 10, **kw}
    with pytest.raises(err):
        ResponsibleEngineeringModel().solve(**args)


@settings(max_examples=15, deadline=None)
@given(e1=st.floats(0.1, 20), e2=st.floats(0.1, 20))
def test_smaller_epsilon_needs_more_noise(e1, e2):
    lo, hi = sorted((e1, e2))
    s = noise_multiplier_si(np.array([lo, hi]), 1e-5, 0.01, 500)
    assert s[0] >= s[1] * (1 - 1e-9)


def test_result_is_json_ready():
    json.dumps(ResponsibleEngineeringModel().solve(100, epsilon=1.0).to_dict())
