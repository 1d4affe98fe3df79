"""`mlsysim optimize ...` through the real installed entry point: every subcommand on the seed's
own plan, JSON validated against the published schema, and the documented exit codes."""
import json
import pathlib
import subprocess

import jsonschema
import pytest

from mlsysim.cli.schema import load_result_schema

PLAN = pathlib.Path(__file__).resolve().parents[1] / "examples" / "example_cluster.yaml"


def run(*args, timeout=120):
    return subprocess.run(["mlsysim", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def parallelism_json():
    r = run("-o", "json", "optimize", "parallelism", str(PLAN))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_parallelism_json_validates_and_answers_the_question(parallelism_json):
    d = parallelism_json
    jsonschema.validate(d, load_result_schema("optimize"))
    assert [o["metric"] for o in d["objectives"]] == ["tokens_per_s", "gpu_hours_per_Mtoken"]
    assert d["winner_rule"] == "knee" and d["winner"] is not None
    cfg = d["winner"]["config"]
    # the split multiplies out to the accelerator count it uses: tp x pp x cp x dp = nodes x 8
    assert cfg["tp"] * cfg["pp"] * cfg["cp"] * cfg["dp"] == cfg["nodes"] * 8
    assert cfg["nodes"] <= 64 and d["winner"]["metrics"]["memory_per_device"] <= 80.0
    # the winner is one of the Pareto points, and no Pareto point dominates another
    assert cfg in [p["config"] for p in d["pareto"]]
    pts = [(-p["metrics"]["tokens_per_s"], p["metrics"]["gpu_hours_per_Mtoken"]) for p in d["pareto"]]
    for a in pts:
        assert not any(b[0] <= a[0] and b[1] <= a[1] and b != a for b in pts)
    assert d["backend"] == "exhaustive" and d["evaluations"] == d["valid_size"] > 10_000


def test_parallelism_text_shows_winner_why_pareto_and_statistics():
    r = run("optimize", "parallelism", str(PLAN), "--top", "3")
    assert r.returncode == 0, r.stderr
    for needle in ("winner (knee)", "why:", "Pareto set", "raw points", "feasible"):
        assert needle in r.stdout


@pytest.mark.parametrize("args, objective", [
    (("placement", "--carbon-tax", "150"), "cost_usd"),
    (("hardware",), "time_to_train"),
    (("batching", "--qps", "20", "--sla-ms", "3000"), "usd_per_Mtoken"),
])
def test_other_questions(args, objective):
    r = run("-o", "json", "optimize", args[0], str(PLAN), *args[1:])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    jsonschema.validate(d, load_result_schema("optimize"))
    assert d["objectives"][0]["metric"] == objective and d["winner"] is not None


def test_markdown_output():
    r = run("-o", "markdown", "optimize", "parallelism", str(PLAN))
    assert r.returncode == 0 and r.stdout.startswith("## optimize parallelism") and "| --- |" in r.stdout.replace(":", "")


def test_objective_and_constraint_overrides():
    r = run("-o", "json", "optimize", "parallelism", str(PLAN), "--objective", "minimize: step_time",
            "--constraint", "memory_per_device <= 60 GB")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["winner_rule"] != "knee" and d["winner"]["metrics"]["memory_per_device"] <= 60.0
    assert d["constraints"] == ["memory_per_device <= 60 GB"]


@pytest.mark.parametrize("args, needle", [
    (("--objective", "minimize: stepp_time"), "step_time"),          # unknown metric -> suggestion
    (("--constraint", "step_time <= 5 GB"), "[information]"),        # wrong dimension
    (("--constraint", "step_time <= 1 ns"), "no feasible"),           # nothing satisfies it: report, then exit 2
    (("--backend", "simulated-annealing"), "backend"),               # unknown backend
])
def test_bad_search_input(args, needle):
    r = run("optimize", "parallelism", str(PLAN), *args)
    assert "Traceback" not in r.stderr
    if needle == "no feasible":  # issue #8: the full report, then InfeasibleError (exit 2) on stderr
        assert r.returncode == 2 and needle in r.stdout and "none of the" in r.stderr
    else:
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert needle in r.stderr.lower() or needle in r.stderr


def test_bad_plan_and_missing_qps(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(PLAN.read_text().replace('name: "H100"', 'name: "H10"'))
    r = run("optimize", "parallelism", str(bad))
    assert r.returncode == 2 and "H100" in r.stderr and "Traceback" not in r.stderr
    r = run("optimize", "batching", str(PLAN))
    assert r.returncode == 2 and "--qps" in r.stderr


def test_json_error_document_on_stdout(tmp_path):
    r = run("-o", "json", "optimize", "parallelism", str(tmp_path / "missing.yaml"))
    assert r.returncode == 2
    doc = json.loads(r.stdout)
    assert doc["error"]["exit_code"] == 2
