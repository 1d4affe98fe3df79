"""The CLI in-process (fast): ``main(argv)`` with captured output, and typer's CliRunner.

Every command, every output format, every exit code; JSON parsed with json.loads and validated
against the published schemas."""
from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import textwrap

import pytest

from mlsysim.cli import app as cli
from test_cli_schemas import validate

SEED = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "seed_examples" / "example_cluster.yaml"
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


def run(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *args):
    code, out, err = run(capsys, "--output", "json", *args)
    return code, json.loads(out), err


@pytest.fixture
def seed_plan(tmp_path):
    if SEED.exists():
        return str(SEED)
    p = tmp_path / "example_cluster.yaml"
    p.write_text(SEED_TEXT)
    return str(p)


# ---- top level ----------------------------------------------------------------------------
def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in cli.COMMANDS:
        assert name in out
    assert "Exit codes:" in out and "please report" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert run(capsys)[1] == out  # no arguments: the same help
    assert run(capsys, "-h")[1] == out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("mlsysim ")
    code, out, _ = run(capsys, "-o", "json", "--help")  # through typer: the same text
    assert code == 0 and "Exit codes:" in out


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from mlsysim.cli.app import main; main(['--help']); "
            "heavy = [m for m in ('typer', 'click', 'rich', 'numpy', 'pint', 'pydantic', 'yaml', 'optuna', 'pymoo') "
            "if m in sys.modules]; print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_building_the_app_stays_light():
    code = ("import sys; from mlsysim.cli.app import build_app; build_app(); "
            "heavy = [m for m in ('numpy', 'pint', 'pydantic', 'optuna', 'pymoo', 'rich.table') if m in sys.modules]; "
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_every_registered_command_has_help(capsys):
    for name in cli.COMMANDS:
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and "Usage" in out, name


def test_usage_errors_exit_2(capsys):
    code, out, err = run(capsys, "eval", "Llama3_8B", "H100", "--bogus")
    assert code == 2 and "No such option" in err and "Traceback" not in err
    assert run(capsys, "nosuchcommand")[0] == 2
    assert run(capsys, "--output", "yaml", "zoo", "hardware")[0] == 2
    assert run(capsys, "eval", "Llama3_8B", "H100", "--batch-size", "many")[0] == 2


# ---- zoo -------------------------------------------------------------------------------------
@pytest.mark.parametrize("section", ["hardware", "models", "clusters", "nodes", "fabrics", "grids"])
def test_zoo_lists(capsys, section):
    code, out, _ = run(capsys, "zoo", section)
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, "tables must fit 80 columns"
    assert "…" not in out  # nothing ellipsized
    code, doc, _ = run_json(capsys, "zoo", section)
    validate(doc, "zoo-list")
    assert doc["count"] == len(doc["entries"]) > 0
    for e in doc["entries"]:
        assert e["key"] in out  # every key printed in full
    code, md, _ = run(capsys, "zoo", section, "--output", "markdown")
    assert md.startswith("## ") and "| ---" in md


def test_zoo_tables_have_units_in_headers(capsys):
    out = run(capsys, "zoo", "hardware")[1]
    for unit in ("TFLOP/s", "GB", "GB/s", "W", "USD"):
        assert unit in out
    assert "H100" in out
    assert "gCO2e/kWh" in run(capsys, "zoo", "grids")[1]


def test_zoo_summary(capsys):
    code, doc, _ = run_json(capsys, "zoo")
    validate(doc, "zoo-summary")
    assert doc["registries"]["hardware"] > 0


@pytest.mark.parametrize("name", ["H100", "Llama3_70B", "H100_256", "DGX_H100", "IB_NDR", "Quebec"])
def test_zoo_show_any_registry(capsys, name):
    code, out, _ = run(capsys, "zoo", "show", name)
    assert code == 0 and "Sources:" in out and "[1]" in out
    code, doc, _ = run_json(capsys, "zoo", "show", name)
    validate(doc, "zoo-show")
    assert doc["key"] == name and doc["fields"]
    assert all(f["source"] for f in doc["fields"])
    assert run(capsys, "zoo", "show", name, "-o", "markdown")[1].startswith("## ")


def test_zoo_show_units_and_sources(capsys):
    doc = run_json(capsys, "zoo", "show", "h100")[1]
    fields = {f["field"]: f for f in doc["fields"]}
    assert fields["memory.capacity"]["value"] == {"value": 80.0, "unit": "GiB"}   # binary HBM stacks (catalog source)
    assert fields["tdp"]["text"] == "700 W"
    assert any(d["name"] == "ridge_point" and d["unit"] == "FLOP/byte" for d in doc["derived"])


def test_zoo_show_unknown_suggests(capsys):
    code, out, err = run(capsys, "zoo", "show", "H10")
    assert code == 2 and "H100" in err and "Traceback" not in err and out == ""
    code, doc, err = run_json(capsys, "zoo", "show", "H10")
    validate(doc, "error")
    assert doc["error"]["exit_code"] == 2 and "H100" in doc["error"]["suggestions"]


# ---- eval ------------------------------------------------------------------------------------
def test_eval_flags(capsys):
    code, out, err = run(capsys, "eval", "Llama3_8B", "H100", "--batch-size", "32")
    assert code == 0
    for word in ("Feasibility", "Performance", "Macro", "PASS", "performance.latency", "macro.tco_usd"):
        assert word in out
    code, doc, _ = run_json(capsys, "eval", "Llama3_8B", "H100", "--batch-size", "32")
    validate(doc, "evaluation")
    assert doc["inputs"]["batch_size"] == 32 and doc["macro"]["metrics"]["tco_usd"] > 0
    assert doc["asserts"] == [] and doc["passed"] is True


def test_eval_output_option_after_command(capsys):
    code, out, _ = run(capsys, "eval", "ResNet50", "A100", "-b", "8", "-o", "json")
    validate(json.loads(out), "evaluation")
    code, out, _ = run(capsys, "eval", "ResNet50", "A100", "-b", "8", "--output", "markdown")
    assert out.startswith("# ") and "| metric | value | path |" in out


def test_eval_fleet_and_options(capsys):
    code, doc, _ = run_json(capsys, "eval", "Llama3_70B", "H100", "--nodes", "4", "-b", "256",
                            "--region", "Poland", "--days", "30", "--tp", "8", "--pp", "2")
    assert code == 0
    validate(doc, "evaluation")
    assert doc["inputs"]["accelerators"] == 32 and doc["inputs"]["grid"] == "Poland"
    assert doc["performance"]["parallelism"]["tp"] == 8 and doc["performance"]["parallelism"]["pp"] == 2
    code, doc, _ = run_json(capsys, "eval", "Llama3_8B", "H100", "--fleet", "H100_256", "-b", "512",
                            "--mode", "inference", "--output-len", "128")
    validate(doc, "evaluation")
    assert doc["inputs"]["mode"] == "inference" and doc["performance"]["metrics"]["e2e_latency"] > 0


def test_eval_plan_exit_3_with_full_report(capsys, seed_plan):
    code, out, err = run(capsys, "eval", seed_plan)
    assert code == 3
    assert "Feasibility" in out and "Macro" in out and "Asserts:" in out  # full report first
    assert "assert violated" in err and "performance.latency" in err and "Traceback" not in err
    code, doc, err = run_json(capsys, "eval", seed_plan)
    assert code == 3
    validate(doc, "evaluation")
    assert doc["macro"]["metrics"]["tco_usd"] > 0
    assert doc["asserts"] == [{"metric": "performance.latency", "value": doc["performance"]["metrics"]["latency"],
                               "unit": "ms", "op": "<=", "limit": 50.0, "passed": False}]
    assert doc["passed"] is False


def test_eval_plan_passes_and_overrides(capsys, tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text(SEED_TEXT.replace("max: 50.0", "max: 1 hour"))
    code, doc, _ = run_json(capsys, "eval", str(p), "--nodes", "32", "--region", "France")
    assert code == 0 and doc["passed"] is True
    assert doc["inputs"]["nodes"] == 32 and doc["inputs"]["grid"] == "France"


def test_eval_assert_option(capsys):
    code, out, err = run(capsys, "eval", "Llama3_8B", "H100", "--assert", "performance.itl<=0.001")
    assert code == 3 and "Asserts:" in out
    code, out, err = run(capsys, "eval", "Llama3_8B", "H100", "--assert", "performance.itl <= 1 s",
                         "--assert", "macro.metrics.tco_usd>=1")
    assert code == 0
    code, out, err = run(capsys, "eval", "Llama3_8B", "H100", "--assert", "performance.itl=5")
    assert code == 2


@pytest.mark.parametrize("args, needle", [
    (["eval", "Llama3_8B", "H10"], "did you mean 'H100'"),
    (["eval", "Llama3_8B", "H100", "--batch-size", "-1"], "batch_size"),
    (["eval", "Llama3_8B", "H100", "--batch-size", "0"], "batch_size"),
    (["eval", "Llama3_8B", "H100", "--nodes", "-2"], "--nodes"),
    (["eval", "Llama3_8B", "H100", "--precision", "fp17"], "fp16"),
    (["eval", "Llama3_8B", "H100", "--assert", "performance.latncy<=3"], "valid metric paths"),
    (["eval", "Llama3_8B", "H100", "--assert", "performance.latency<=3 GB"], "time"),
    (["eval", "Llama3_8B"], "missing HARDWARE"),
    (["eval", "missing.yaml"], "not found"),
    (["eval", "ResNet50", "A100", "--mode", "training"], "transformer"),
    (["serve", "ResNet50", "A100"], "transformer"),
    (["serve", "Llama3_8B", "H100", "--batch-size", "-3"], "batch_size"),
    (["zoo", "show", "Quebek"], "Quebec"),
    (["schema", "catalog", "hardwar"], "hardware"),
    (["schema", "result", "evaluatoin"], "evaluation"),
])
def test_bad_input_exit_2_without_traceback(capsys, args, needle):
    code, out, err = run(capsys, *args)
    assert code == 2, (args, err)
    assert needle in err and "Traceback" not in err
    code, out, err = run(capsys, "--output", "json", *args)
    doc = json.loads(out)
    validate(doc, "error")
    assert doc["error"]["exit_code"] == 2


def test_bad_plans_exit_2(capsys, tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text('version: "1.0"\nworkload:\n  name: Llama3_70B\n  batch_size: [1\nhardware: {name: H100}\n')
    code, out, err = run(capsys, "eval", str(bad_yaml))
    assert code == 2 and "line 5" in err and "column" in err
    unknown_metric = tmp_path / "m.yaml"
    unknown_metric.write_text(SEED_TEXT.replace("performance.latency", "performance.speed"))
    code, out, err = run(capsys, "eval", str(unknown_metric))
    assert code == 2 and "valid metric paths" in err and "macro.tco_usd" in err
    negative = tmp_path / "n.yaml"
    negative.write_text(SEED_TEXT.replace("4096", "-4096"))
    code, out, err = run(capsys, "eval", str(negative))
    assert code == 2 and "workload.batch_size" in err


# ---- serve -----------------------------------------------------------------------------------
def test_serve(capsys):
    code, out, _ = run(capsys, "serve", "Llama3_70B", "H100", "--seq-len", "4096", "--tp", "4",
                       "--output-len", "256", "--kv-precision", "fp8")
    assert code == 0
    for word in ("TTFT", "ITL", "KV cache", "fits in memory: yes", "tokens/s"):
        assert word in out
    code, doc, _ = run_json(capsys, "serve", "Llama3_70B", "H100", "--tp", "4")
    validate(doc, "serve")
    assert doc["feasible"] is True and doc["metrics"]["ttft"] > doc["metrics"]["itl"] > 0
    code, doc, _ = run_json(capsys, "serve", "Llama3_70B", "H100")  # 70B at fp16 on one H100
    assert code == 0 and doc["status"] == "FAIL" and "GB" in doc["reason"]
    assert run(capsys, "serve", "Llama3_8B", "H100", "-o", "markdown")[1].startswith("## ")


# ---- schema ----------------------------------------------------------------------------------
def test_schema_commands(capsys):
    from mlsysim.plan import plan_json_schema

    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads(out) == plan_json_schema()
    code, out, _ = run(capsys, "schema", "catalog")
    doc = json.loads(out)
    assert set(doc["sections"]) == {"hardware", "models", "clusters", "nodes", "fabrics", "grids"}
    assert "properties" in json.loads(run(capsys, "schema", "catalog", "hardware")[1])
    doc = json.loads(run(capsys, "schema", "result")[1])
    assert "evaluation" in doc and "serve" in doc
    assert json.loads(run(capsys, "schema", "result", "evaluation")[1])["$id"] == "mlsysim.evaluation/1"
    code, doc, _ = run_json(capsys, "schema", "metrics")
    validate(doc, "metrics")
    assert "performance.latency" in run(capsys, "schema", "metrics")[1]


# ---- internal errors -------------------------------------------------------------------------
def test_internal_error_exit_1(capsys, monkeypatch):
    import mlsysim.evaluator

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(mlsysim.evaluator.SystemEvaluator, "evaluate", classmethod(boom))
    monkeypatch.delenv("MLSYSIM_DEBUG", raising=False)
    code, out, err = run(capsys, "eval", "Llama3_8B", "H100")
    assert code == 1 and "internal error" in err and "please report" in err
    assert "Traceback" not in err
    code, out, err = run(capsys, "-o", "json", "eval", "Llama3_8B", "H100")
    assert code == 1 and json.loads(out)["error"]["exit_code"] == 1
    monkeypatch.setenv("MLSYSIM_DEBUG", "1")
    code, out, err = run(capsys, "eval", "Llama3_8B", "H100")
    assert code == 1 and "Traceback" in err and "kaboom" in err


def test_cli_runner(monkeypatch):
    """typer's CliRunner on the app: exit codes survive (errors are mapped inside the app)."""
    from typer.testing import CliRunner

    runner = CliRunner()
    command = cli.build_app()
    r = runner.invoke(command, ["zoo", "hardware", "-o", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["registry"] == "hardware"
    r = runner.invoke(command, ["eval", "Llama3_8B", "H10"])
    assert r.exit_code == 2
    r = runner.invoke(command, ["eval", "Llama3_8B", "H100", "--assert", "performance.latency<=0.0001"])
    assert r.exit_code == 3


def test_catalog_option(capsys, tmp_path):
    extra = tmp_path / "mine.yaml"
    extra.write_text(textwrap.dedent("""\
        grids:
          - key: MyDC
            name: My datacenter
            country: Nowhere
            carbon_intensity: 10 gCO2e/kWh
            electricity_price: 0.05 USD/kWh
            pue: 1.2
            wue: 0.5 L/kWh
            source: "our facility contract (2026)"
        """))
    code, doc, _ = run_json(capsys, "--catalog", str(extra), "eval", "ResNet50", "A100", "--region", "MyDC")
    assert code == 0 and doc["inputs"]["grid"] == "MyDC"
