"""ScalingModel (scaling.py): Chinchilla compute-optimal allocation and loss."""
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from conftest_physics import assert_dims, close
from mlsysim.core.errors import UnitError, UnknownNameError, UserInputError
from mlsysim.core.units import Q_
from mlsysim.physics.scaling import ScalingModel, chinchilla_loss, compute_optimal_si


def test_chinchilla_budget_hand_arithmetic():
    # Chinchilla: C = 5.76e23 FLOPs; N = sqrt(C / 120) = sqrt(4.8e21) = 6.928e10, D = 20 N = 1.386e12
    r = ScalingModel().solve(5.76e23)
    assert close(r.optimal_params, math.sqrt(4.8e21))
    assert close(r.optimal_tokens.m_as("token"), 20 * math.sqrt(4.8e21))
    assert close(r.tokens_per_parameter, 20.0)
    # 6 N D recovers the budget
    assert close(6 * r.optimal_params * r.optimal_tokens.m, 5.76e23)


def test_loss_hand_arithmetic():
    # L(70e9, 1.4e12) = 1.69 + 406.4 / 70e9^0.34 + 410.7 / 1.4e12^0.28
    expected = 1.69 + 406.4 / 70e9 ** 0.34 + 410.7 / 1.4e12 ** 0.28
    assert close(chinchilla_loss(70e9, 1.4e12), expected)
    assert 1.9 < expected < 2.0


def test_approach3_minimizes_fitted_loss_on_the_budget():
    c = 1e24
    r = ScalingModel().solve(Q_(c, "FLOP"), method="approach3")
    n = r.optimal_params
    for f in (0.8, 0.95, 1.05, 1.25):
        assert chinchilla_loss(n * f, c / (6 * n * f)) > r.predicted_loss


def test_units_of_budget():
    # 1 PFLOP/s-day = 1e15 x 86,400 = 8.64e19 FLOP
    r = ScalingModel().solve(Q_(1, "PFLOP/s * day"))
    assert close(r.compute_budget.m_as("FLOP"), 8.64e19)


def test_dimensions():
    r = ScalingModel().solve(1e22)
    assert_dims(r, {"optimal_params": None, "optimal_tokens": "token", "compute_budget": "FLOP",
                    "predicted_loss": None, "tokens_per_parameter": None})


def test_scalar_equals_core_elementwise():
    budgets = np.array([1e20, 1e22, 5.76e23, 1e25])
    for approach3 in (False, True):
        core = compute_optimal_si(budgets, approach3=approach3)
        vec = ScalingModel().solve(budgets, method="approach3" if approach3 else "chinchilla")
        for i, c in enumerate(budgets):
            s = ScalingModel().solve(float(c), method="approach3" if approach3 else "chinchilla")
            assert close(s.optimal_params, core["params"][i]) and close(vec.optimal_params[i], core["params"][i])
            assert close(s.predicted_loss, core["loss"][i])


@pytest.mark.parametrize("kw, err", [
    ({"compute_budget": -1}, UserInputError), ({"compute_budget": Q_(1, "s")}, UnitError),
    ({"compute_budget": 1e22, "method": "kaplan"}, UnknownNameError),
    ({"compute_budget": 1e22, "tokens_per_parameter": 0}, UserInputError),
])
def test_bad_inputs(kw, err):
    with pytest.raises(err):
        ScalingModel().solve(**kw)


@settings(max_examples=40, deadline=None)
@given(c1=st.floats(1e18, 1e27), c2=st.floats(1e18, 1e27))
def test_more_compute_bigger_model_lower_loss(c1, c2):
    lo, hi = sorted((c1, c2))
    r = compute_optimal_si(np.array([lo, hi]))
    assert r["params"][0] <= r["params"][1] and r["loss"][0] >= r["loss"][1] - 1e-12


def test_result_is_json_ready():
    json.dumps(ScalingModel().solve(1e23).to_dict())
