"""Typed backend options: unknown names refused with a did-you-mean, bad values named, and
``auto`` forwarding the options of the backend it picks (and saying which do not apply)."""
from __future__ import annotations

import pytest

from mlsysim.core.errors import SchemaError, UnknownNameError
from mlsysim.dse import DSE
from test_dse_toys import ZDT_SPACE, ZDTLike
from test_study_common import run_cli, small_study

ZDT_OBJ = ["min: f1", "min: f2"]


@pytest.mark.parametrize("backend, typo, meant", [("pymoo", "pop_siz", "pop_size"),
                                                  ("optuna", "populaton_size", "population_size"),
                                                  ("exhaustive", "chunksize", "chunk_size"),
                                                  ("auto", "pop_siz", "pop_size"),
                                                  ("auto", "max_exhaustve", "max_exhaustive")])
def test_unknown_option_did_you_mean(backend, typo, meant):
    with pytest.raises(UnknownNameError) as info:
        DSE(ZDT_SPACE, objectives=ZDT_OBJ, backend=backend, **{typo: 8})
    assert f"did you mean {meant!r}" in str(info.value) and info.value.exit_code == 2


@pytest.mark.parametrize("backend, option, value", [("pymoo", "pop_size", 0), ("auto", "pop_size", 0),
                                                    ("exhaustive", "chunk_size", -1),
                                                    ("optuna", "mutation_prob", 1.5),
                                                    ("pymoo", "eliminate_duplicates", "sometimes"),
                                                    ("optuna", "batch_size", True)])
def test_bad_option_value_named(backend, option, value):
    with pytest.raises(SchemaError) as info:
        DSE(ZDT_SPACE, objectives=ZDT_OBJ, backend=backend, **{option: value})
    assert option in str(info.value) and info.value.exit_code == 2


def test_auto_forwards_options_to_the_backend_it_picks():
    dse = DSE(ZDT_SPACE, objectives=ZDT_OBJ, backend="auto", pop_size=12, chunk_size=64)
    r = dse.run(problem=ZDTLike(), budget=120, seed=0)       # budget < space: pymoo NSGA-II
    assert r.provenance["backend"] == "pymoo" and r.provenance["pop_size"] == 12
    assert "chunk_size do not apply to pymoo" in r.provenance["auto"]["why"]
    r = DSE(ZDT_SPACE, objectives=ZDT_OBJ, backend="auto", max_trials=10).run(problem=ZDTLike(), seed=0)
    assert r.provenance["backend"] == "exhaustive" and r.provenance["truncated"]  # max_trials reached it


def test_cli_study_refuses_an_unknown_option(tmp_path):
    path = small_study(tmp_path / "s.yaml", backend="{name: pymoo, pop_siz: 8}")
    r = run_cli("study", "run", path, "--out", tmp_path / "out")
    assert r.returncode == 2 and "did you mean 'pop_size'" in r.stderr and "Traceback" not in r.stderr
