"""Search spaces: schema, YAML errors, enumeration, rules, conditionals, encodings, expressions."""
import itertools
import textwrap

import numpy as np
import pytest

from mlsysim.core.errors import InfeasibleError, SchemaError, UnknownNameError
from mlsysim.dse import Expression, SearchSpace

PAR = {
    "dimensions": {
        "tp": {"type": "pow2", "low": 1, "high": 8},
        "pp": {"type": "int", "low": 1, "high": 4},
        "vpp": {"type": "choice", "values": [1, 2], "when": "pp > 1", "default": 1},
        "prec": ["fp8", "bf16"],
    },
    "derived": {"dp": "N / (tp * pp)"},
    "rules": ["N % (tp * pp) == 0", "tp <= gpus_per_node", "heads % tp == 0"],
    "constants": {"N": 16, "gpus_per_node": 4, "heads": 6},
}


def brute_force(spec):
    c = spec["constants"]
    out = []
    for tp, pp, vpp, prec in itertools.product([1, 2, 4, 8], [1, 2, 3, 4], [1, 2], ["fp8", "bf16"]):
        if c["N"] % (tp * pp) == 0 and tp <= c["gpus_per_node"] and c["heads"] % tp == 0 and (pp > 1 or vpp == 1):
            out.append((tp, pp, vpp, prec, c["N"] / (tp * pp)))
    return out


def test_enumeration_matches_brute_force_in_any_chunking():
    space = SearchSpace.from_dict(PAR)
    assert space.size == 4 * 4 * 2 * 2
    expected = brute_force(PAR)
    for chunk in (1, 7, 64, 1000):
        rows = []
        for ch in space.enumerate(chunk):
            c = ch.configs
            rows += list(zip(c["tp"].tolist(), c["pp"].tolist(), c["vpp"].tolist(), c["prec"].tolist(), c["dp"].tolist()))
        assert sorted(rows) == sorted(expected)
    assert space.count_valid() == len(expected)


def test_seed_dict_form_and_shorthands():
    s = SearchSpace.from_dict({"tp": [1, 2, 4, 8], "batch": [1, 8, 32], "prec": ["fp8"], "seq": 2048})
    assert s.size == 12 and s.fixed == {"seq": 2048}
    assert s.dimensions["tp"].type == "choice" and s.dimensions["prec"].type == "categorical"
    chunk = next(s.enumerate())
    assert chunk.configs["seq"].tolist() == [2048] * 12


def test_python_construction_equals_dict():
    from mlsysim.dse import CategoricalDim, ChoiceDim, IntDim, Pow2Dim

    s = SearchSpace(dimensions={"tp": Pow2Dim(low=1, high=8), "pp": IntDim(low=1, high=4),
                                "vpp": ChoiceDim(values=[1, 2], when="pp > 1", default=1),
                                "prec": CategoricalDim(values=["fp8", "bf16"])},
                    derived=PAR["derived"], rules=PAR["rules"], constants=PAR["constants"])
    assert s.fingerprint() == SearchSpace.from_dict(PAR).fingerprint()


def test_overrides_with_fixed_and_restrict():
    s = SearchSpace.from_dict(PAR)
    f = s.with_fixed(tp=2)
    assert f.size == 16 and f.free == ["pp", "vpp", "prec"]
    assert all((c.configs["tp"] == 2).all() for c in f.enumerate())
    r = s.restrict("pp", [1, 2])
    assert r.size == 32
    with pytest.raises(SchemaError, match="outside"):
        s.restrict("pp", [9])
    with pytest.raises(UnknownNameError, match="did you mean 'tp'"):
        s.with_fixed(tq=2)
    with pytest.raises(SchemaError, match="outside"):
        s.with_fixed(tp=3)


@pytest.mark.parametrize("spec, error, text", [
    ({"a": {"type": "int", "low": 5, "high": 1}}, SchemaError, "inverted range: low \\(5\\) > high \\(1\\)"),
    ({"a": {"type": "float", "low": 2.0, "high": 1.0}}, SchemaError, "inverted range"),
    ({"a": []}, SchemaError, "dimensions.a.values': empty"),
    ({"a": {"type": "choice", "values": []}}, SchemaError, "dimensions.a.values"),
    ({"a": {"type": "pow2", "low": 3, "high": 8}}, SchemaError, "not a power of two"),
    ({"a": {"type": "cube", "low": 1, "high": 8}}, SchemaError, "dimensions.a"),
    ({"a": {"type": "int", "low": 1, "high": 8, "stpe": 2}}, SchemaError, "stpe"),
    ({"a": {"type": "int", "low": 1, "high": 4, "when": "x > 1"}}, SchemaError, "needs a 'default'"),
    ({"a": [1, "x"]}, SchemaError, "mix of numbers and strings"),
])
def test_schema_errors_name_the_field(spec, error, text):
    with pytest.raises(error, match=text):
        SearchSpace.from_dict(spec)


def test_unknown_name_in_rule_suggests_closest():
    s = SearchSpace.from_dict({"dimensions": {"tp": [1, 2], "pp": [1, 2]}, "rules": ["tp * ppp <= 4"]})
    with pytest.raises(UnknownNameError) as exc:
        s.count_valid()
    assert "ppp" in str(exc.value) and "did you mean 'pp'" in str(exc.value) and "rules[0]" in str(exc.value)


def test_when_may_use_only_earlier_dimensions():
    s = SearchSpace.from_dict({"dimensions": {"v": {"type": "choice", "values": [1, 2], "when": "pp > 1", "default": 1},
                                              "pp": [1, 2]}})
    with pytest.raises(UnknownNameError, match="earlier dimension"):
        s.check()


def test_infeasible_space_names_the_worst_rule():
    s = SearchSpace.from_dict({"dimensions": {"tp": [1, 2, 4], "pp": [1, 2]},
                               "rules": ["tp * pp > 100", "tp < 4"]})
    with pytest.raises(InfeasibleError) as exc:
        s.count_valid()
    assert "'tp * pp > 100' removes the most (6 of 6)" in str(exc.value)


def test_yaml_errors_give_file_and_line(tmp_path):
    p = tmp_path / "space.yaml"
    p.write_text(textwrap.dedent("""\
        name: demo
        dimensions:
          tp: {type: pow2, low: 1, high: 8}
          pp:
            type: int
            low: 8
            high: 2
        """))
    with pytest.raises(SchemaError) as exc:
        SearchSpace.from_yaml(p)
    assert f"{p}:4:3" in str(exc.value) and "dimensions.pp" in str(exc.value)   # the line of 'pp:' and "inverted range" in str(exc.value)
    p.write_text("dimensions:\n  tp: [1, 2\n")
    with pytest.raises(SchemaError, match="line 3"):
        SearchSpace.from_yaml(p)


def test_shipped_search_spaces_load():
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "search_spaces"
    files = sorted(root.glob("*.yaml"))
    for f in files:
        s = SearchSpace.from_yaml(f)
        assert s.size and s.size > 1


def test_float_dims_grid_and_sampling():
    s = SearchSpace.from_dict({"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True, "grid": 4},
                               "x": {"type": "float", "low": 0, "high": 1}})
    assert s.size is None and not s.is_finite
    with pytest.raises(SchemaError, match="grid"):
        next(s.enumerate())
    smp = s.sample(500, 1)
    assert set(smp["lr"].round(6).tolist()) == {1e-4, 1e-3, 1e-2, 1e-1}   # a grid is discrete everywhere
    assert (smp["x"] >= 0).all() and (smp["x"] <= 1).all() and len(set(smp["x"].tolist())) == 500
    c = SearchSpace.from_dict({"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True}}).sample(2000, 2)["lr"]
    assert (c >= 1e-4).all() and (c <= 1e-1).all() and 0.002 < np.median(c) < 0.005   # log-uniform
    g = SearchSpace.from_dict({"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True, "grid": 4}})
    np.testing.assert_allclose(next(g.enumerate()).configs["lr"], [1e-4, 1e-3, 1e-2, 1e-1])


def test_encode_decode_roundtrip_and_conditionals_canonical():
    s = SearchSpace.from_dict(PAR)
    lo, hi, is_int = s.bounds()
    assert is_int.all() and hi.tolist() == [3, 3, 1, 1]
    cfg = s.sample(200, 3)
    free = {k: cfg[k] for k in s.free}
    X = s.encode(free)
    back = s.decode(X)
    for k in s.free:
        assert back[k].tolist() == free[k].tolist()
    # vpp is forced to its default where pp == 1
    d = s.decode(np.array([[0, 0, 1, 0], [0, 1, 1, 0]]))
    assert d["vpp"].tolist() == [1, 2]


def test_sample_returns_only_valid_points():
    s = SearchSpace.from_dict(PAR)
    cfg = s.sample(300, 0)
    assert len(cfg["tp"]) == 300 and s.check_rules(cfg).valid.all()


@pytest.mark.parametrize("text", ["__import__('os').system('x')", "a.b", "a[0]", "lambda: 1", "open('f')",
                                  "[a for a in b]", "a if b else c", "True"])
def test_expression_rejects_anything_but_arithmetic(text):
    with pytest.raises((SchemaError, UnknownNameError)):
        Expression(text)


def test_expression_semantics_vectorized():
    env = {"a": np.array([1, 2, 3, 4]), "b": np.array([0, 2, 0, 2]), "s": np.array(["x", "y", "x", "y"], dtype=object)}
    assert Expression("a % b == 0")(env).tolist() == [False, True, False, True]   # x % 0 is NaN, not an error
    assert Expression("min(a, 2) + max(a, b) // 2")(env).tolist() == [1.0, 3.0, 3.0, 4.0]
    assert Expression("s == 'x' and not a > 2")(env).tolist() == [True, False, False, False]
    assert Expression("1 < a <= 3")(env).tolist() == [False, True, True, False]
    assert Expression("log2(a) + abs(-a) ** 2")(env).tolist() == [1.0, 5.0, 9 + np.log2(3), 18.0]
    v = Expression("a <= 2 and b == 0").violation(env, 4)
    assert v[0] == 0 and v[1] > 0 and v[3] > v[1]

