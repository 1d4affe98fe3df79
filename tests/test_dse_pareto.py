"""Pareto filtering (vs brute force, with ties and duplicates), indicators and winner rules."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlsysim.core.errors import SchemaError, UnknownNameError
from mlsysim.dse import Objective, WinnerRule, compare_fronts, coverage, hypervolume, igd_plus, non_dominated
from mlsysim.dse.pareto import non_dominated_numpy, pareto_indices
from mlsysim.dse.winner import knee_point


def brute(F):
    n = len(F)
    keep = np.ones(n, bool)
    for i in range(n):
        for j in range(n):
            if np.all(F[j] <= F[i]) and np.any(F[j] < F[i]):
                keep[i] = False
                break
    return keep


small_ints = st.integers(min_value=0, max_value=6)  # few distinct values -> many ties and duplicates


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4).flatmap(lambda m: arrays(np.int64, st.tuples(st.integers(1, 40), st.just(m)),
                                                   elements=small_ints)))
def test_non_dominated_matches_brute_force(F):
    F = F.astype(float)
    expected = brute(F)
    assert non_dominated(F).tolist() == expected.tolist()
    assert non_dominated_numpy(F).tolist() == expected.tolist()


def test_duplicates_of_front_points_are_all_kept():
    F = np.array([[1, 2], [1, 2], [2, 1], [2, 2], [1, 3], [0.5, 5], [0.5, 5]], float)
    assert non_dominated(F).tolist() == [True, True, True, False, False, True, True]


def test_infeasible_and_nan_rows_never_enter():
    F = np.array([[0, 0], [1, 1], [2, 0.5], [np.nan, -1]], float)
    idx = pareto_indices(F, eligible=np.array([False, True, True, True]))
    assert idx.tolist() == [1, 2]


def test_large_2d_sweep_agrees_with_moocore_path():
    rng = np.random.default_rng(0)
    F = rng.integers(0, 50, size=(5000, 2)).astype(float)
    three = np.column_stack([F, np.zeros(len(F))])   # 3-D path (moocore) on the same points
    assert non_dominated(F).tolist() == non_dominated(three).tolist()


def test_indicators():
    front = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    # union of boxes up to (1.1, 1.1): 1.1*0.1 + 0.6*0.6 + ... computed by hand
    assert hypervolume(front, 1.1) == pytest.approx(0.1 * 1.1 + 0.5 * 0.6 + 0.5 * 0.1)
    assert coverage(front[:2], front) == pytest.approx(2 / 3)
    assert igd_plus(front, front) == 0.0
    c = compare_fronts(front[[0, 2]], front)
    assert c["hypervolume_ratio"] < 1 and c["coverage"] == pytest.approx(2 / 3) and c["igd_plus"] > 0


OBJ2 = [Objective("f1"), Objective("f2")]


def test_knee_of_a_convex_front():
    x = np.linspace(0, 1, 21)
    P = np.column_stack([x, (1 - np.sqrt(x)) ** 2])   # symmetric: knee at x = 0.25
    i, d = knee_point(P)
    assert x[i] == pytest.approx(0.25) and d > 0
    # 3 objectives: the point nearest the ideal corner is the knee of a concave-up front
    P3 = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.2, 0.2, 0.2], [0.5, 0.5, 0.1]], float)
    assert knee_point(P3)[0] == 3


def test_winner_rules():
    F = np.array([[1, 9], [2, 4], [3, 3.5], [6, 1], [1, 9.5]], float)
    feasible = np.ones(5, bool)
    pareto = pareto_indices(F, feasible)
    assert pareto.tolist() == [0, 1, 2, 3]
    lex = WinnerRule.parse("lexicographic").select(OBJ2, F, feasible, pareto)
    assert lex.index == 0 and "ties broken by f2" in lex.why
    w = WinnerRule.parse({"rule": "weighted", "weights": {"f1": 0.0, "f2": 1.0}}).select(OBJ2, F, feasible, pareto)
    assert w.index == 3
    knee = WinnerRule.parse(None).select(OBJ2, F, feasible, pareto)
    assert knee.rule == "knee" and knee.index == 1 and "Das 1999" in knee.why
    values = {"f1": F[:, 0], "f2": F[:, 1], "thr": np.array([10, 20, 30, 40, 50.0])}
    within = WinnerRule.parse("max thr with f1 within 100% of best").select(OBJ2, F, feasible, pareto, values)
    assert within.index == 4 and "within 100% of its best" in within.why   # f1 <= 2: rows 0, 1, 4
    single = WinnerRule.parse(None).select([Objective("f1")], F[:, :1], feasible, np.array([0, 4]))
    assert single.index == 0 and single.rule == "best"
    none = WinnerRule.parse(None).select(OBJ2, F, np.zeros(5, bool), np.array([], int))
    assert none.index is None and "no feasible" in none.why


def test_winner_rule_errors():
    with pytest.raises(UnknownNameError):
        WinnerRule.parse("the shiniest")
    with pytest.raises(UnknownNameError):
        WinnerRule.parse({"weights": {"nope": 1}}).check(OBJ2, ["f1", "f2"])
    with pytest.raises(SchemaError):
        WinnerRule.parse({"rule": "weighted", "weights": [1, 2, 3]}).check(OBJ2, ["f1", "f2"])
