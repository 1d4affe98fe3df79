"""The installed ``mlsysim`` console script, as a user or a CI pipeline runs it: the seed's commands
exactly as written, JSON on stdout alone, exit codes, no tracebacks."""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import textwrap

import pytest

from test_cli_schemas import validate

MLSYSIM = shutil.which("mlsysim")
pytestmark = pytest.mark.skipif(MLSYSIM is None, reason="the mlsysim console script is not installed")
SEED_DIR = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "seed_examples"
SEED_TEXT = textwrap.dedent("""\
    version: "1.0"
    workload:
      name: "Llama3_70B"
      batch_size: 4096
    hardware:
      name: "H100"
      nodes: 64
    ops:
      region: "Quebec"
      duration_days: 14.0
    constraints:
      assert:
        - metric: "performance.latency"
          max: 50.0
    """)


def sh(*args, cwd=None, shell=False):
    cmd = " ".join(args) if shell else [MLSYSIM, *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, shell=shell, timeout=120)


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("plans")
    src = SEED_DIR / "example_cluster.yaml"
    (d / "example_cluster.yaml").write_text(src.read_text() if src.exists() else SEED_TEXT)
    return d


def test_seed_quick_commands():
    r = sh("zoo", "hardware")
    assert r.returncode == 0 and "H100" in r.stdout
    r = sh("zoo", "models")
    assert r.returncode == 0 and "Llama" in r.stdout
    r = sh("eval", "Llama3_8B", "H100", "--batch-size", "32")
    assert r.returncode == 0 and "Feasibility" in r.stdout and r.stderr.count("Traceback") == 0


def test_seed_schema_and_ci_pipeline(plan_dir):
    r = sh("mlsysim schema > schema.json", cwd=plan_dir, shell=True)
    assert r.returncode == 0
    json.loads((plan_dir / "schema.json").read_text())
    # tco=$(mlsysim --output json eval example_cluster.yaml | jq .macro.metrics.tco_usd)
    r = sh("mlsysim --output json eval example_cluster.yaml", cwd=plan_dir, shell=True)
    assert r.returncode in (0, 3)
    doc = json.loads(r.stdout)  # stdout is the JSON document alone
    validate(doc, "evaluation")
    assert doc["macro"]["metrics"]["tco_usd"] > 0
    if shutil.which("jq"):
        r = sh("mlsysim --output json eval example_cluster.yaml | jq .macro.metrics.tco_usd", cwd=plan_dir,
               shell=True)
        assert float(r.stdout) > 0


def test_violated_assert_exit_3_after_full_report(plan_dir):
    r = sh("eval", str(plan_dir / "example_cluster.yaml"))
    assert r.returncode == 3
    assert "Feasibility" in r.stdout and "Macro" in r.stdout and "performance.latency" in r.stdout
    assert "assert violated" in r.stderr and "Traceback" not in r.stderr


def test_user_errors_exit_2(plan_dir):
    r = sh("eval", "Llama3_8B", "H10")
    assert r.returncode == 2 and "H100" in r.stderr and "Traceback" not in r.stderr and r.stdout == ""
    r = sh("eval", "Llama3_8B", "H100", "--batch-size", "-1")
    assert r.returncode == 2 and "batch_size" in r.stderr and "Traceback" not in r.stderr
    bad = plan_dir / "bad.yaml"
    bad.write_text('version: "1.0"\nworkload:\n  name: Llama3_70B\n  batch_size: [4096\nhardware: {name: H100}\n')
    r = sh("eval", str(bad))
    assert r.returncode == 2 and "line 5" in r.stderr and "column" in r.stderr and "Traceback" not in r.stderr
    metric = plan_dir / "metric.yaml"
    metric.write_text(SEED_TEXT.replace("performance.latency", "performance.lat"))
    r = sh("eval", str(metric))
    assert r.returncode == 2 and "valid metric paths" in r.stderr and "macro.tco_usd" in r.stderr
    r = sh("eval", "Llama3_8B", "H100", "--no-such-option")
    assert r.returncode == 2 and "Traceback" not in r.stderr


@pytest.mark.parametrize("args, name", [
    (["zoo", "grids"], "zoo-list"),
    (["serve", "Llama3_70B", "H100", "--seq-len", "4096", "--tp", "4"], "serve"),
    (["eval", "Llama3_8B", "H10"], "error"),
])
def test_json_stdout_alone(args, name):
    r = sh("--output", "json", *args)
    validate(json.loads(r.stdout), name)


def test_help_and_pipe():
    r = sh("--help")
    assert r.returncode == 0 and "Exit codes:" in r.stdout
    r = sh("mlsysim zoo hardware | head -n 2", shell=True)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr
