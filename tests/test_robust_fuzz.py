"""Issue #8, fuzzing the YAML loaders (hypothesis, bounded and derandomized for CI): hypothesis-made
text and structures fed to the plan loader (and the evaluation it compiles to), the catalog
loader (``mlsysim.load_catalog`` on a temporary file) and ``SearchSpace.from_yaml`` (and a first
enumerated chunk). Each must either succeed or raise an ``MLSysimError`` -- never another
exception type (which the CLI would report as an internal error, exit 1).

``MLSYSIM_ROBUST_EXAMPLES=5000 python -m pytest tests/test_robust_fuzz.py`` runs a deeper search.
"""
from __future__ import annotations

import contextlib
import copy
import os
import pathlib
import tempfile
import warnings

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlsysim
from mlsysim.core import catalog
from mlsysim.core.errors import MLSysimError
from mlsysim.dse.space import SearchSpace
from mlsysim.plan import load_plan

_DEEP = int(os.environ.get("MLSYSIM_ROBUST_EXAMPLES", "0"))
FUZZ = settings(max_examples=_DEEP or 120, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
SLOW_FUZZ = settings(FUZZ, max_examples=_DEEP or 60)

TMP = pathlib.Path(tempfile.mkdtemp(prefix="mlsysim-fuzz-"))


def write(text, name="doc.yaml") -> pathlib.Path:
    p = TMP / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8", errors="surrogatepass")
    return p


def must_not_crash(fn):
    """``fn()`` returns, or raises an MLSysimError; anything else fails the test (with the input)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a numpy warning on bad input is a leak too
        try:
            return fn()
        except MLSysimError:
            return None


@contextlib.contextmanager
def registries_restored():
    catalog._ensure_loaded()
    snap = {s: (dict(r._entries), dict(r._index)) for s, r in catalog._REGISTRIES.items()}
    try:
        yield
    finally:
        for s, (entries, index) in snap.items():
            catalog._REGISTRIES[s]._entries, catalog._REGISTRIES[s]._index = entries, index


# ------------------------------------------------------------------------------------------------
# Strategies
# ------------------------------------------------------------------------------------------------
NASTY_NUMBERS = st.sampled_from([0, -1, 1, 2, 3, 7, 8, 1024, 10 ** 6, 10 ** 9, 10 ** 30, 2 ** 63, 10 ** 400,
                                 0.5, -0.0, 1e-300, 1e308, 1e-9, float("nan"), float("inf"), float("-inf")])
NASTY_STRINGS = st.sampled_from([
    "", " ", "80 GB", "80 ms", "-80 GB", "0 GB", "nan GB", "inf GB", "1e400 GB", "2**2000 GB", "1/0 GB", "(80 GB",
    "GB", "80", "80 GB/s", "989 TFLOP/s", "700 W", "0.05 USD/kWh", "2 gCO2e/kWh", "1 kW", "3 us", "12 USD/hour",
    "H100", "H10", "Llama3_8B", "ResNet50", "DGX_H100", "IB_NDR", "Quebec", "bf16", "fp7", "training", "inference",
    "selective", "performance.latency", "macro.tco_usd", "performance.latncy", "tp > 1", "tp % 0 == 0",
    "2 ** 10000 > tp", "precision + 1", "log2(p)", "abs(tp, 1)", "-" * 300 + "tp", "__import__('os')", "tp.real",
    "\x00", "é", "🙂", "a" * 300, "1.0", "true", "null", "~", "{", "[", "*a", "&a x", "!!python/name:os.system",
])
scalars = st.one_of(st.none(), st.booleans(), NASTY_NUMBERS, st.integers(-10 ** 20, 10 ** 20),
                    st.floats(allow_nan=True, allow_infinity=True), NASTY_STRINGS,
                    st.text(alphabet="abcxyz_0123456789 .-+*/%()<>=GBmsTFLOPW", max_size=12))
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.one_of(NASTY_STRINGS, st.text("abkxyz_", max_size=6)),
                                                    children, max_size=4)), max_leaves=12)


def _paths(doc, prefix=()):
    """Every (parent, key) inside a nested dict/list document."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield doc, k
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield doc, i
            yield from _paths(v, prefix + (i,))


@st.composite
def mutated(draw, base, max_changes=3):
    """``base`` with 1..max_changes random edits: replace a value, delete a key or item, add a key,
    or swap in a value taken from elsewhere in the document."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_changes))):
        paths = list(_paths(doc))
        if not paths:
            break
        parent, key = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add", "swap"]))
        if op == "replace":
            parent[key] = draw(values)
        elif op == "delete":
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[draw(st.one_of(NASTY_STRINGS, st.text("abkxyz_", min_size=1, max_size=8)))] = draw(values)
        elif op == "swap":
            other_parent, other_key = draw(st.sampled_from(paths))
            parent[key] = copy.deepcopy(other_parent[other_key])
    return doc


def dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@st.composite
def corrupted_text(draw, text):
    """``text`` truncated, with bytes flipped, lines duplicated or removed, or YAML tokens inserted."""
    op = draw(st.sampled_from(["truncate", "flip", "insert", "dup_line", "drop_line", "indent"]))
    if op == "truncate":
        return text[:draw(st.integers(0, len(text)))]
    if op == "flip":
        i = draw(st.integers(0, max(len(text) - 1, 0)))
        return text[:i] + draw(st.sampled_from(list(":-[]{}#&*!|>'\"\t\n %@`,?") + ["\x00", "é"])) + text[i + 1:]
    if op == "insert":
        i = draw(st.integers(0, len(text)))
        return text[:i] + draw(st.sampled_from([": ", "- ", "\n  ", "\n- ", "{", "}", "[", "]", "&a ", "*a", "<<: ",
                                                "!!float ", "!!binary ", "? ", "---\n", "...\n", "\t"])) + text[i:]
    lines = text.splitlines(keepends=True)
    if not lines:
        return text
    i = draw(st.integers(0, len(lines) - 1))
    if op == "dup_line":
        return "".join(lines[:i + 1] + lines[i:])
    if op == "drop_line":
        return "".join(lines[:i] + lines[i + 1:])
    return "".join(lines[:i] + [" " + lines[i]] + lines[i + 1:])


yaml_soup = st.lists(st.sampled_from(
    ["a", "version", "workload", "hardware", "dimensions", "name", ":", ": ", "\n", "\n  ", "- ", "[", "]", "{", "}",
     ",", "'", '"', "&x ", "*x", "<<: ", "!!str ", "!!int ", "!!python/none ", "#", "1", "-1", ".nan", ".inf", "1e999",
     "true", "null", "~", "|", ">", "? ", "---", "\t", "\x00", "\ufeff", "é"]), max_size=40).map("".join)


# ------------------------------------------------------------------------------------------------
# Plans (mlsys.yaml)
# ------------------------------------------------------------------------------------------------
PLAN = {
    "version": "1.0",
    "workload": {"name": "Llama3_8B", "batch_size": 64, "seq_len": 1024, "precision": "bf16", "mode": "training",
                 "output_len": 0},
    "hardware": {"name": "H100", "nodes": 2, "node": "DGX_H100", "fabric": "IB_NDR"},
    "ops": {"region": "Quebec", "duration_days": 14.0, "kwh_price": 0.05, "utilization": 0.75},
    "parallelism": {"tp": 2, "pp": 2, "cp": 1, "ep": 1, "microbatch": 1, "zero_stage": 1, "recompute": "selective",
                    "sequence_parallel": True},
    "constraints": {"assert": [{"metric": "performance.latency", "max": "1 hour"},
                               {"metric": "macro.tco_usd", "max": 1e9, "min": 0}]},
}
PLAN_INFERENCE = copy.deepcopy(PLAN)
PLAN_INFERENCE["workload"].update(mode="inference", output_len=64, name="Llama3_70B")
del PLAN_INFERENCE["parallelism"]


def _plan(text):
    plan = load_plan(write(text, "plan.yaml"))
    ev = plan.evaluate()
    ev.to_dict(), ev.scorecard(), ev.to_markdown()
    return ev


def test_the_seed_documents_are_valid():
    """The fuzzers start from valid documents (so the mutations explore near valid input)."""
    assert _plan(dump(PLAN)).passed and _plan(dump(PLAN_INFERENCE)).passed
    with registries_restored():
        assert mlsysim.load_catalog(write(dump(CATALOG)))["clusters"]
    assert SearchSpace.from_yaml(write(dump(SPACE))).count_valid() > 0


@FUZZ
@given(doc=st.one_of(mutated(PLAN), mutated(PLAN_INFERENCE)))
def test_fuzz_plan_structures(doc):
    must_not_crash(lambda: _plan(dump(doc)))


@FUZZ
@given(text=st.one_of(corrupted_text(dump(PLAN)), corrupted_text(dump(PLAN_INFERENCE)), yaml_soup))
def test_fuzz_plan_text(text):
    must_not_crash(lambda: _plan(text))


@SLOW_FUZZ
@given(data=st.binary(max_size=64))
def test_fuzz_plan_bytes(data):
    must_not_crash(lambda: load_plan(write(data, "plan.yaml")))


# ------------------------------------------------------------------------------------------------
# User catalogs
# ------------------------------------------------------------------------------------------------
SRC = "fuzz seed entry (not a datasheet)"
CATALOG = {
    "hardware": [{"key": "FuzzChip", "name": "Fuzz Chip", "aliases": ["fuzz-chip"], "category": "Cloud",
                  "vendor": "Fuzz", "release_year": 2024, "source": SRC,
                  "compute": {"peak_flops": "500 TFLOP/s", "default_precision": "bf16",
                              "precision_flops": {"bf16": "500 TFLOP/s", "fp8": "1000 TFLOP/s"}},
                  "memory": {"capacity": "96 GB", "bandwidth": "3 TB/s", "type": "HBM3"}, "tdp": "600 W",
                  "interconnect": {"name": "FuzzLink", "bandwidth": "400 GB/s", "bidirectional": True},
                  "price_usd": "20000 USD", "cloud_price_per_hour": "5 USD/hour", "embodied_carbon": "150 kgCO2e"}],
    "fabrics": [{"key": "FuzzNet", "name": "Fuzz Net", "kind": "infiniband", "bandwidth": "400 Gbit/s",
                 "latency": "3 us", "source": SRC}],
    "models": [{"key": "FuzzLM", "name": "Fuzz LM", "family": "Language", "source": SRC, "layers": 8, "hidden": 1024,
                "heads": 16, "kv_heads": 4, "ffn": 4096, "vocab": 32000, "max_seq_len": 4096},
               {"key": "FuzzCNN", "kind": "cnn", "name": "Fuzz CNN", "family": "Vision", "source": SRC,
                "params": 1.0e7, "flops_per_sample": "2 GFLOP", "activation_bytes_per_sample": "20 MB"}],
    "grids": [{"key": "FuzzGrid", "name": "Fuzz Grid", "country": "Nowhere", "carbon_intensity": "100 gCO2e/kWh",
               "electricity_price": "0.1 USD/kWh", "pue": 1.2, "wue": "0.3 L/kWh", "source": SRC}],
    "nodes": [{"key": "FuzzNode", "name": "Fuzz Node", "accelerator": "FuzzChip", "accelerators_per_node": 8,
               "intra_fabric": "NVLink4", "host_power": "2 kW", "host_price": "30000 USD", "source": SRC}],
    "clusters": [{"key": "FuzzCluster", "name": "Fuzz Cluster", "node": "FuzzNode", "node_count": 4,
                  "fabric": "FuzzNet", "topology": "fat-tree", "oversubscription": 1.0, "source": SRC}],
}


def _catalog(text):
    with registries_restored():
        before = {s: dict(catalog.registry(s)._entries) for s in catalog.LOAD_ORDER}
        try:
            added = mlsysim.load_catalog(write(text, "catalog.yaml"), replace=True)
        except MLSysimError:
            assert {s: dict(catalog.registry(s)._entries) for s in catalog.LOAD_ORDER} == before  # all or nothing
            raise
        for entries in added.values():  # what loads must also work: derived values, JSON, lookups
            for e in entries:
                e.model_dump(mode="json")
                getattr(e, "si", None)
                getattr(e, "parameters", None)
                assert catalog.registry(_section(e)).get(e.key) is e
        for m in added["models"]:
            mlsysim.Engine.solve(m, "H100", batch_size=2)
        for c in added["clusters"]:
            mlsysim.SystemEvaluator.evaluate(model_obj="Llama3_8B", fleet=c, batch_size=64, duration_days=1)


def _section(entry):
    return next(s for s in catalog.LOAD_ORDER if isinstance(entry, catalog._entry_type(s)))


@FUZZ
@given(doc=mutated(CATALOG))
def test_fuzz_catalog_structures(doc):
    must_not_crash(lambda: _catalog(dump(doc)))


@FUZZ
@given(text=st.one_of(corrupted_text(dump(CATALOG)), yaml_soup))
def test_fuzz_catalog_text(text):
    must_not_crash(lambda: _catalog(text))


# ------------------------------------------------------------------------------------------------
# Search spaces
# ------------------------------------------------------------------------------------------------
SPACE = {
    "name": "fuzz", "description": "seed space for the fuzzer",
    "dimensions": {
        "nodes": {"type": "pow2", "low": 1, "high": 16},
        "tp": {"type": "pow2", "low": 1, "high": 8},
        "pp": {"type": "choice", "values": [1, 2, 4]},
        "zero": {"type": "int", "low": 0, "high": 3, "step": 1},
        "recompute": {"type": "categorical", "values": ["none", "selective", "full"]},
        "lr": {"type": "float", "low": 1.0e-5, "high": 1.0e-2, "log": True, "grid": 4},
        "vpp": {"type": "choice", "values": [1, 2], "when": "pp > 1", "default": 1},
        "precision": ["bf16", "fp8"],
    },
    "derived": {"N": "nodes * gpus_per_node", "dp": "N / (tp * pp)"},
    "rules": ["N % (tp * pp) == 0", "tp <= gpus_per_node", "heads % tp == 0", "max(tp, pp) >= 1 and not zero > 3",
              "recompute != \"none\" or zero < 3"],
    "fixed": {"zero": 1},
    "constants": {"gpus_per_node": 8, "heads": 32},
}
# pieces an expression fuzzer combines: names (defined or not), numbers, operators, functions
_ATOMS = st.sampled_from(["tp", "pp", "nodes", "N", "dp", "lr", "heads", "gpus_per_node", "recompute", "precision",
                          "zero", "vpp", "undefined_x", "0", "1", "2", "8", "0.5", "1e308", "1e-308", "'fp8'",
                          "\"none\"", "True"])
_BINOPS = st.sampled_from([" + ", " - ", " * ", " / ", " // ", " % ", " ** ", " == ", " != ", " < ", " <= ", " > ",
                           " >= ", " and ", " or ", " in ", " is ", " if ", ", ", "."])
expressions = st.recursive(_ATOMS, lambda e: st.one_of(
    st.tuples(e, _BINOPS, e).map("".join), e.map(lambda x: f"({x})"), e.map(lambda x: f"not {x}"),
    e.map(lambda x: f"-{x}"), st.tuples(st.sampled_from(["min", "max", "abs", "log2", "sqrt", "ceil", "floor", "eval",
                                                          "len"]), st.lists(e, max_size=3)).map(
        lambda t: f"{t[0]}({', '.join(t[1])})")), max_leaves=8)


@st.composite
def spaces_with_expressions(draw):
    doc = copy.deepcopy(SPACE)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["rule", "derived", "when"]))
        expr = draw(expressions)
        if where == "rule":
            doc["rules"].append(expr)
        elif where == "derived":
            doc["derived"][draw(st.sampled_from(["a", "b", "N", "dp"]))] = expr
        else:
            doc["dimensions"]["vpp"]["when"] = expr
    return doc


def _space(text):
    space = SearchSpace.from_yaml(write(text, "space.yaml"))
    space.size, space.fingerprint()
    space = space.check()
    chunk = next(space.enumerate(chunk_size=64), None) if space.size is not None else None
    if chunk is not None and len(chunk.index):
        rc = space.check_rules(chunk.configs)
        assert rc.valid.all() and np.all(rc.violation >= 0)
    sample = space.sample(8, 0)
    if len(next(iter(sample.values()))):
        space.encode({k: sample[k] for k in space.free})
    return space


@FUZZ
@given(doc=mutated(SPACE))
def test_fuzz_search_space_structures(doc):
    must_not_crash(lambda: _space(dump(doc)))


@FUZZ
@given(doc=spaces_with_expressions())
def test_fuzz_search_space_expressions(doc):
    must_not_crash(lambda: _space(dump(doc)))


@FUZZ
@given(text=st.one_of(corrupted_text(dump(SPACE)), yaml_soup))
def test_fuzz_search_space_text(text):
    must_not_crash(lambda: _space(text))
