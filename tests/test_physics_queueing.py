"""TailLatencyModel, Erlang B/C (queueing.py)."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest_physics import assert_dims, close
from mlsysim.core.errors import UnitError, UnknownNameError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.queueing import (TailLatencyModel, _erlang_b_gamma, _erlang_b_recursive, erlang_b, erlang_c,
                                      mmc_response_tail, tail_latency_si)


def test_erlang_hand_values():
    # B(2, 1) = (1^2/2!) / (1 + 1 + 1/2) = 0.5 / 2.5 = 0.2
    assert close(erlang_b(2, 1.0), 0.2)
    # C(2, 1) = 2 x 0.2 / (2 - 1 x (1 - 0.2)) = 0.4 / 1.2 = 1/3
    assert close(erlang_c(2, 1.0), 1 / 3)
    # one server: C(1, a) = rho
    assert close(erlang_c(1, 0.7), 0.7)
    assert erlang_c(4, 0.0) == 0.0
    assert erlang_c(4, 4.0) == 1.0 and erlang_c(4, 9.0) == 1.0


def test_erlang_large_c_matches_recursion():
    c = np.array([1, 2, 10, 100, 1000, 5000, 20000], dtype=float)
    for load in (0.3, 0.9, 0.999):
        a = c * load
        g, r = _erlang_b_gamma(c, a), _erlang_b_recursive(c, a)
        assert np.all(np.isfinite(g)) and np.allclose(g, r, rtol=1e-9, atol=1e-300)
    assert np.all((erlang_c(c, c * 0.999) > 0) & (erlang_c(c, c * 0.999) < 1))


def test_mm1_hand_arithmetic():
    # M/M/1, lambda = 0.5/s, S = 1 s: rho = 0.5, C = 0.5, Wq = C/(mu - lambda) = 0.5/0.5 = 1 s
    r = TailLatencyModel().solve(0.5, 1.0, 1)
    assert r.stable and close(r.utilization, 0.5) and close(r.probability_of_waiting, 0.5)
    assert close(r.mean_wait.m_as("s"), 1.0)
    # p99 wait: ln(C/0.01)/(mu - lambda) = ln(50)/0.5 = 7.824 s; p50 wait = 0 since C <= 0.5
    assert close(r.p99_wait.m_as("s"), math.log(50) / 0.5)
    assert r.p50_wait.m_as("s") == 0.0
    # M/M/1 response time is Exp(mu - lambda): p99 = ln(100)/0.5 = 9.21 s, p50 = ln 2/0.5
    assert close(r.p99_latency.m_as("s"), math.log(100) / 0.5, rel=1e-9)
    assert close(r.p50_latency.m_as("s"), math.log(2) / 0.5, rel=1e-9)
    assert close(r.mean_latency.m_as("s"), 2.0)
    assert close(r.queue_length, 0.5)   # Little: lambda x Wq = 0.5


def test_md1_is_pollaczek_khinchine():
    # M/D/1: Wq = rho S / (2 (1 - rho)) = 0.5 x 1 / (2 x 0.5) = 0.5 s
    r = TailLatencyModel().solve(0.5, 1.0, 1, model="M/D/c")
    assert close(r.mean_wait.m_as("s"), 0.5)
    assert r.model == "M/D/c"


def test_mdc_cosmetatos_hand_arithmetic():
    # M/D/2 at rho = 0.5 (lambda = 10/s, S = 0.1 s): Wq(M/M/2) = (1/3) / (2/0.1 - 10) = 1/30 s
    # correction = 1 + (1 - 0.5)(2 - 1)(sqrt(14) - 2)/(16 x 0.5 x 2) = 1 + 0.5 x 1.741657/16 = 1.054427
    # Wq = 0.5 x (1/30) x 1.054427 = 0.0175738 s
    r = TailLatencyModel().solve(10, Q_(100, "ms"), 2, model="mdc")
    assert close(r.mean_wait.m_as("s"), 0.5 / 30 * (1 + 0.5 * (math.sqrt(14) - 2) / 16))
    # response = wait + deterministic service
    assert close(r.p99_latency.m_as("s"), r.p99_wait.m_as("s") + 0.1)


def test_response_percentile_solves_tail_equation():
    lam = np.array([5.0, 19.0, 900.0, 3000.0])
    s = np.array([0.1, 0.1, 1.0, 1.0])
    c = np.array([2.0, 2.0, 1000.0, 3100.0])
    out = tail_latency_si(lam, s, c, 0.999)
    a = lam * s
    cw = erlang_c(c, a)
    for key, p in (("p50_latency", 0.5), ("p99_latency", 0.99), ("latency_at_percentile", 0.999)):
        tail = mmc_response_tail(out[key], 1 / s, (c - a) / s, cw)
        assert np.allclose(tail, 1 - p, rtol=1e-9)


def test_unstable_reports_infinite_never_finite():
    r = TailLatencyModel().solve(25, 0.1, 2)   # rho = 25 x 0.1 / 2 = 1.25
    assert r.stable is False and "utilization" in r.reason
    for k in ("mean_wait", "p50_wait", "p99_wait", "mean_latency", "p99_latency"):
        assert math.isinf(getattr(r, k).m_as("s"))
    assert math.isinf(r.queue_length)
    exactly_one = TailLatencyModel().solve(20, 0.1, 2)   # rho = 1
    assert exactly_one.stable is False and math.isinf(exactly_one.p99_wait.m_as("s"))
    mixed = TailLatencyModel().solve(np.array([10.0, 25.0]), 0.1, 2)
    assert list(mixed.stable) == [True, False] and "1 of 2" in mixed.reason


def test_rate_units():
    a = TailLatencyModel().solve(Q_(30, "1/minute"), Q_(1, "s"), 1)
    b = TailLatencyModel().solve(Q_(0.5, "request/s"), 1.0, 1)
    assert close(a.mean_wait.m_as("s"), b.mean_wait.m_as("s"))


def test_dimensions():
    r = TailLatencyModel().solve(5, 0.1, 2, percentile=99.9)
    assert r.percentile == pytest.approx(0.999)
    assert_dims(r, {k: "s" for k in ("mean_wait", "p50_wait", "p99_wait", "wait_at_percentile", "mean_latency",
                                     "p50_latency", "p99_latency", "latency_at_percentile")})
    assert_dims(r, {"utilization": None, "probability_of_waiting": None, "queue_length": None, "stable": None})


def test_scalar_equals_core_elementwise():
    lam = np.array([1.0, 5.0, 15.0, 19.5])
    core = tail_latency_si(lam, 0.1, 2, 0.95)
    vec = TailLatencyModel().solve(lam, 0.1, 2, percentile=0.95)
    for i, x in enumerate(lam):
        s = TailLatencyModel().solve(float(x), 0.1, 2, percentile=0.95)
        for k in ("mean_wait", "p99_wait", "wait_at_percentile", "p99_latency", "latency_at_percentile"):
            assert close(getattr(s, k).m_as("s"), core[k][i], rel=1e-12)
            assert close(getattr(vec, k).m_as("s")[i], core[k][i], rel=1e-12)


@pytest.mark.parametrize("args, kw, err", [
    ((5, 0.1, 0), {}, UserInputError), ((5, 0.1, 1.5), {}, UserInputError), ((-1, 0.1, 2), {}, UserInputError),
    ((5, Q_(1, "m"), 2), {}, UnitError), ((Q_(5, "m/s"), 0.1, 2), {}, UnitError),
    ((5, 0.1, 2), {"model": "M/G/1"}, UnknownNameError), ((5, 0.1, 2), {"percentile": 100}, UserInputError),
    ((5, 0.1, 2), {"percentile": 0}, UserInputError), ((float("nan"), 0.1, 2), {}, UserInputError),
])
def test_bad_inputs(args, kw, err):
    with pytest.raises(err):
        TailLatencyModel().solve(*args, **kw)


@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 64), r1=st.floats(0.01, 0.98), r2=st.floats(0.01, 0.98),
       det=st.booleans())
def test_wait_grows_with_load(c, r1, r2, det):
    lo, hi = sorted((r1, r2))
    s = 0.05
    out = tail_latency_si(np.array([lo, hi]) * c / s, s, c, 0.99, deterministic=det)
    assert out["mean_wait"][0] <= out["mean_wait"][1] * (1 + 1e-9)
    assert out["p99_latency"][0] <= out["p99_latency"][1] * (1 + 1e-9)


@settings(max_examples=30, deadline=None)
@given(c=st.integers(1, 200), det=st.booleans())
def test_wait_diverges_at_utilization_one(c, det):
    s = 1.0
    rho = np.array([0.9, 0.99, 0.999, 0.9999, 1.0, 1.5])
    out = tail_latency_si(rho * c / s, s, c, deterministic=det)
    w = out["mean_wait"]
    assert np.all(np.diff(w[:4]) > 0)
    assert w[3] > 5 * w[1] / c   # grows like 1/(1 - rho)
    assert np.all(np.isinf(w[4:])) and not np.any(out["stable"][4:])


def test_result_is_json_ready():
    json.dumps(TailLatencyModel().solve(np.array([5.0, 25.0]), 0.1, 2).to_dict())
