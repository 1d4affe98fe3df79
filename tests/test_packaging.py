"""What runs ships in the wheel: search spaces, studies and the seed plan are package data, used by
name from any directory (``--space parallelism``, ``study run quickstart``, ``example_cluster.yaml``)
and still by path; the repository's top-level folders link to the packaged files; the built wheel
contains them all."""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

from mlsysim.cli import app as cli
from mlsysim.core.errors import SchemaError, UnknownNameError
from mlsysim.core.resources import FOLDERS, resolve_file, shipped_dir, shipped_names
from mlsysim.dse.space import SearchSpace
from mlsysim.plan import load_plan
from mlsysim.study.spec import load_study

REPO = pathlib.Path(__file__).resolve().parents[1]
PKG = REPO / "mlsysim"
SPACES = ["hardware", "parallelism", "placement", "serving"]
STUDIES = ["carbon_tax_placement", "llama3_405b_hardware_and_scale", "llama3_70b_parallelism", "quickstart",
           "serving_sla"]
#: top-level repository folder -> the package folder its symlinks point into
LINKED = {"search_spaces": "search_spaces", "studies": "studies", "examples": "plans"}


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """A working directory with no repository files in reach."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_shipped_files_live_in_the_package():
    assert shipped_names("search space") == SPACES
    assert shipped_names("study") == STUDIES
    assert "example_cluster" in shipped_names("plan")
    for kind, folder in FOLDERS.items():
        assert shipped_dir(kind) == PKG / folder


@pytest.mark.parametrize("top, inside", LINKED.items())
def test_top_level_folders_are_relative_links_to_the_packaged_files(top, inside):
    links = sorted((REPO / top).glob("*.yaml"))
    assert [p.name for p in links] == sorted(p.name for p in (PKG / inside).glob("*.yaml"))
    for link in links:
        assert link.is_symlink() and not pathlib.Path(link.readlink()).is_absolute(), link
        assert link.resolve() == (PKG / inside / link.name).resolve()


@pytest.mark.parametrize("ref", ["parallelism", "parallelism.yaml"])
def test_space_by_name_from_any_directory(elsewhere, ref):
    path = resolve_file(ref, "search space")
    assert path == PKG / "search_spaces" / "parallelism.yaml"
    assert SearchSpace.from_yaml(ref).names == SearchSpace.from_yaml(path).names
    assert "tp" in SearchSpace.coerce(ref).names                      # DSE(space="parallelism") path


def test_space_by_path_still_works(monkeypatch, tmp_path):
    monkeypatch.chdir(REPO)
    assert "tp" in SearchSpace.from_yaml("search_spaces/parallelism.yaml").names
    own = tmp_path / "my.yaml"
    own.write_text("dimensions:\n  tp: [1, 2]\n")
    monkeypatch.chdir(tmp_path)
    assert SearchSpace.from_yaml("./my.yaml").names == ["tp"]
    assert SearchSpace.from_yaml("my").names == ["tp"]                # a local file wins, .yaml optional


def test_a_local_file_wins_over_a_shipped_one(elsewhere):
    (elsewhere / "parallelism.yaml").write_text("dimensions:\n  batch: [1, 8]\n")
    assert SearchSpace.from_yaml("parallelism").names == ["batch"]


def test_unknown_space_name_is_one_error_with_did_you_mean(elsewhere):
    with pytest.raises(UnknownNameError, match="unknown search space 'paralelism'") as exc:
        SearchSpace.from_yaml("paralelism")
    assert exc.value.suggestions == ["parallelism"] and exc.value.exit_code == 2
    with pytest.raises(SchemaError, match="file not found") as exc:     # a file name: not found, closest names
        SearchSpace.from_yaml("paralelism.yaml")
    assert "did you mean 'parallelism'" in exc.value.hint
    with pytest.raises(SchemaError, match="file not found"):
        SearchSpace.from_yaml("some/dir/parallelism.yaml")            # a path is never a shipped name


def test_cli_space_typo_exits_2_with_did_you_mean(elsewhere, capsys):
    code = cli.main(["optimize", "parallelism", "example_cluster.yaml", "--space", "paralelism"])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'parallelism'" in err and "Traceback" not in err
    assert err.count("error:") == 1


def test_study_by_name_from_any_directory(elsewhere):
    study = load_study("quickstart")
    assert study.name == "quickstart" and study.source.endswith("quickstart.yaml")
    assert load_study("quickstart.yaml").id == study.id == load_study(REPO / "studies" / "quickstart.yaml").id
    with pytest.raises(UnknownNameError, match="unknown study 'quikstart'") as exc:
        load_study("quikstart")
    assert exc.value.suggestions == ["quickstart"]


def test_cli_study_typo_exits_2_with_did_you_mean(elsewhere, capsys):
    code = cli.main(["study", "run", "serving-sla", "--out", str(elsewhere / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "did you mean 'serving_sla'" in err and "Traceback" not in err
    assert not (elsewhere / "o").exists()


STUDY = """\
name: spaced
question: parallelism
scenarios:
  - name: s
    workload: {name: Llama3_8B, batch_size: 256, seq_len: 4096}
    hardware: {name: H100, nodes: 8}
    ops: {region: US_Avg, duration_days: 30}
backend: exhaustive
space: SPACE
"""


def test_study_space_resolves_next_to_the_study_then_by_shipped_name(tmp_path, monkeypatch):
    d = tmp_path / "studies"
    d.mkdir()
    (d / "parallelism.yaml").write_text("dimensions:\n  tp: [1, 2]\n  pp: [1]\n")
    study = d / "s.yaml"
    study.write_text(STUDY.replace("SPACE", "parallelism.yaml"))
    monkeypatch.chdir(tmp_path)                                       # not the study's folder
    (task,) = load_study(study).tasks
    assert set(task.space["dimensions"]) == {"tp", "pp"}              # the file next to the study
    (d / "parallelism.yaml").unlink()
    (task,) = load_study(study).tasks
    assert {"nodes", "tp", "pp", "zero_stage"} <= set(task.space["dimensions"])   # the shipped space
    study.write_text(STUDY.replace("SPACE", "paralelism"))
    with pytest.raises(UnknownNameError, match="did you mean 'parallelism'") as exc:
        load_study(study)
    assert "s.yaml:9" in str(exc.value)                               # where the reference is


def test_seed_plan_by_name_and_a_local_plan_wins(elsewhere):
    plan = load_plan("example_cluster.yaml")
    assert plan.workload.name == "Llama3_70B" and plan.hardware.nodes == 64
    (elsewhere / "example_cluster.yaml").write_text(
        (PKG / "plans" / "example_cluster.yaml").read_text().replace("nodes: 64", "nodes: 16"))
    assert load_plan("example_cluster.yaml").hardware.nodes == 16


def test_the_wheel_contains_every_shipped_file(tmp_path):
    """Build the wheel from a clean copy of the sources (as .ci/wheel_check does) and list it."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copytree(PKG, src / "mlsysim", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(tmp_path / "d")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = (tmp_path / "d").glob("mlsysim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"mlsysim/{folder}/{p.name}" for folder in FOLDERS.values() for p in (PKG / folder).glob("*.yaml")}
    expected |= {f"mlsysim/data/{p.name}" for p in (PKG / "data").glob("*.yaml")}
    expected |= {f"mlsysim/schemas/{p.name}" for p in (PKG / "schemas").glob("*.json")}
    assert len(expected) > 20 and not expected - names, sorted(expected - names)
