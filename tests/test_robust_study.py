"""Issue #8, studies (``mlsysim study ...``): bad study files, unreachable storage, report folders
that cannot be written, truncated or corrupted study files and databases -- each a clear error
with exit code 2 and no traceback, nothing already computed lost -- and determinism: the same
study with the same seed twice gives a byte-identical result.json (and trials.csv) apart from the
wall times.
"""
from __future__ import annotations

import json
import re

import pytest

from robust_cli import run_many

STUDY = """\
name: robust
description: small study for the robustness tests
question: parallelism
scenarios:
  - name: l8
    workload: {name: Llama3_8B, batch_size: 64, seq_len: 2048}
    hardware: {name: H100, nodes: 2}
    ops: {region: US_Avg, duration_days: 30}
objectives: ["maximize: tokens_per_s", "minimize: usd_per_Mtoken"]
backend: exhaustive
seed: 0
"""
E = "error:"


def _edit(old, new):
    assert old in STUDY, old
    return STUDY.replace(old, new, 1)


# (id, study text, extra argv, stderr fragments); every case exits 2 without a traceback
BAD_STUDIES = [
    ("missing scenarios", STUDY.split("scenarios:")[0] + "objectives: [\"minimize: step_time\"]\n", [],
     ["scenarios: required field is missing"]),
    ("extra key", STUDY + "foo: 1\n", [], ["foo: unknown field"]),
    ("typo key", _edit("objectives:", "objective:"), [], ["did you mean 'objectives'"]),
    ("unknown model", _edit("Llama3_8B", "Llama3_8"), [], ["unknown model", "scenarios.0.workload.name"]),
    ("batch nan", _edit("batch_size: 64", "batch_size: .nan"), [], ["workload.batch_size", "finite"]),
    ("batch true", _edit("batch_size: 64", "batch_size: true"), [], ["workload.batch_size", "boolean"]),
    ("nodes 1e8", _edit("nodes: 2", "nodes: 100000000"), [], ["hardware.nodes", "node_count"]),
    ("days in ms", _edit("duration_days: 30", "duration_days: '30 ms'"), [], ["ops.duration_days"]),
    ("seed -1", _edit("seed: 0", "seed: -1"), [], ["seed"]),
    # bug 18 (study path): a seed optuna cannot take was an internal error (exit 1)
    ("seed 2**40 optuna", _edit("backend: exhaustive", "backend: optuna\nbudget: 4").replace("seed: 0", "seed: 1099511627776"),
     [], ["seed", "2**32"]),
    ("budget 0", STUDY + "budget: 0\n", [], ["budget"]),
    ("backend unknown", _edit("backend: exhaustive", "backend: optimus"), [], ["unknown backend", "optuna"]),
    ("question unknown", _edit("question: parallelism", "question: parallelizm"), [], ["question"]),
    ("empty scenarios", _edit("scenarios:", "scenarios: []\nx:"), [], ["scenarios"]),
    ("constraint in bytes", STUDY + "constraints: [\"step_time <= 5 GB\"]\n", [], ["[information]"]),
    ("constraint nan", STUDY + "constraints: [\"step_time <= nan\"]\n", [], ["finite"]),
    ("every point invalid", STUDY + "space: {dimensions: {nodes: [1, 2], tp: [1, 2]}, rules: [\"tp > 4\"]}\n", [],
     ["violate its rules", "'tp > 4'"]),
    ("space file missing", STUDY + "space: nonexistent.yaml\n", [], ["not found"]),
    ("restrict unknown dimension", STUDY + "space: {restrict: {tq: [1]}}\n", [], ["did you mean 'tp'"]),
    ("sweep empty", STUDY + "sweep: {carbon_tax: []}\n", [], ["sweep.carbon_tax"]),
    ("sweep unknown", STUDY + "sweep: {colour: [1, 2]}\n", [], ["sweep parameter"]),
    ("sweep bad value", STUDY + "sweep: {hardware.nodes: [0, 2]}\n", [], ["hardware.nodes"]),
    ("train_tokens -1", _edit("    ops: {region: US_Avg, duration_days: 30}\n",
                              "    ops: {region: US_Avg, duration_days: 30}\n    train_tokens: -1\n"), [],
     ["train_tokens"]),
    ("duplicate key", STUDY + "seed: 1\n", [], ["duplicate key 'seed'"]),
    ("truncated mid-flow", STUDY[:STUDY.index("batch_size") + 12], [], ["malformed YAML"]),
    ("empty file", "", [], ["empty"]),
    ("explicit tag without value", "name: !!int \n", [], ["malformed YAML"]),
    ("bad name", _edit("name: robust", "name: \"a/b c\""), [], ["name"]),
    ("unreachable PostgreSQL", STUDY, ["--storage", "postgresql://u:secret@127.0.0.1:1/db"],
     ["cannot open study storage", "u:***@"]),
    ("storage folder missing", STUDY, ["--storage", "/nonexistent/dir/x.db"], ["does not exist"]),
    ("storage not a URL", STUDY, ["--storage", "notaurl://x"], ["not an SQLAlchemy database URL"]),
    ("report folder under a file", STUDY, ["--out", "a_file/sub"], ["cannot create the report folder"]),
    ("report folder is a file", STUDY, ["--out", "a_file"], ["not a folder"]),
    ("--seed -5", STUDY, ["--seed", "-5"], ["seed"]),
    ("--budget 0", STUDY, ["--budget", "0"], ["--budget"]),
]


@pytest.fixture(scope="module")
def study_results(tmp_path_factory):
    d = tmp_path_factory.mktemp("studies")
    (d / "a_file").write_text("not a folder\n")
    (d / "binary.yaml").write_bytes(b"\xff\xfe\x00\x01")
    argvs = []
    for i, (_, text, extra, _) in enumerate(BAD_STUDIES):
        (d / f"s{i}.yaml").write_text(text)
        out = [] if "--out" in extra else ["--out", f"out{i}"]
        argvs.append(["study", "run", f"s{i}.yaml", *out, *extra])
    argvs += [["study", "run", "binary.yaml", "--out", "outb"], ["study", "run", "missing.yaml", "--out", "outm"]]
    return d, dict(zip(map(tuple, argvs), run_many(argvs, cwd=d)))


@pytest.mark.parametrize("i", range(len(BAD_STUDIES)), ids=[c[0] for c in BAD_STUDIES])
def test_bad_study_input(study_results, i):
    d, results = study_results
    _, _, extra, fragments = BAD_STUDIES[i]
    out = [] if "--out" in extra else ["--out", f"out{i}"]
    r = results[("study", "run", f"s{i}.yaml", *out, *extra)]
    assert "Traceback" not in r.stderr, str(r)
    assert r.returncode == 2, str(r)
    assert E in r.stderr or "Usage:" in r.stderr  # ours, or click's for a bad option value
    for f in fragments:
        assert f in r.stderr, f"{f!r} not in\n{r}"
    assert "secret" not in r.stderr + r.stdout


def test_unreadable_study_files(study_results):
    _, results = study_results
    for argv, needle in ((("study", "run", "binary.yaml", "--out", "outb"), "cannot read file"),
                         (("study", "run", "missing.yaml", "--out", "outm"), "missing.yaml")):
        r = results[argv]
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr, str(r)


def test_truncated_study_files_never_crash(tmp_path):
    """A study file cut at any line: either still a valid (shorter) study, or exit 2 -- never 1."""
    lines = STUDY.splitlines(keepends=True)
    cuts = sorted({len("".join(lines[:k])) for k in range(1, len(lines))} | {37, 101, 250})
    argvs = []
    for j, cut in enumerate(cuts):
        (tmp_path / f"t{j}.yaml").write_text(STUDY[:cut])
        argvs.append(["study", "run", f"t{j}.yaml", "--out", f"o{j}"])
    for r in run_many(argvs, cwd=tmp_path):
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr, str(r)
        if r.returncode == 2:
            assert E in r.stderr


def test_results_survive_an_unwritable_report_folder_and_corrupt_storage(tmp_path):
    """Nothing computed is lost: a report that cannot be written is an error (exit 2), and the
    results stay in the storage, from which `study report` rebuilds the same result.json.
    A corrupted or truncated study database is an error (exit 2), never a traceback."""
    (tmp_path / "s.yaml").write_text(STUDY)
    (tmp_path / "a_file").write_text("x")
    ok, = run_many([["-o", "json", "study", "run", "s.yaml", "--out", "first"]], cwd=tmp_path)
    assert ok.returncode == 0, str(ok)
    db = (tmp_path / "first" / "study.db").read_bytes()
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / "study.db").write_bytes(b"garbage" * 100)
    (tmp_path / "truncated").mkdir()
    (tmp_path / "truncated" / "study.db").write_bytes(db[:2048])
    bad_out, rebuilt, garbage, truncated, listing, resume_garbage, nowhere = run_many([
        ["study", "report", "first", "--out", "a_file/sub"],
        ["study", "report", "first", "--out", "rebuilt"],
        ["study", "report", "garbage"],
        ["study", "report", "truncated"],
        ["study", "list", "--storage", "garbage"],
        ["study", "run", "s.yaml", "--out", "garbage", "--resume"],
        ["study", "report", "nowhere"],
    ], cwd=tmp_path)
    for r in (bad_out, garbage, truncated, listing, resume_garbage, nowhere):
        assert r.returncode == 2 and "Traceback" not in r.stderr and E in r.stderr, str(r)
    assert "report folder" in bad_out.stderr
    for r in (garbage, truncated, listing, resume_garbage):
        assert "study.db" in r.stderr
    assert rebuilt.returncode == 0, str(rebuilt)
    first = json.loads((tmp_path / "first" / "result.json").read_text())
    again = json.loads((tmp_path / "rebuilt" / "result.json").read_text())
    assert first["scenarios"][0]["result"]["winner"] == again["scenarios"][0]["result"]["winner"]
    assert first["scenarios"][0]["result"]["pareto"] == again["scenarios"][0]["result"]["pareto"]
    assert first["totals"] == again["totals"] or first["totals"].keys() == again["totals"].keys()


WALL = re.compile(rb'"wall_time_s": [0-9.eE+-]+')


BACKENDS = {"exhaustive": "", "pymoo": "budget: 200\n", "optuna:nsga2": "budget: 30\n"}


@pytest.fixture(scope="module")
def twice(tmp_path_factory):
    """Each backend's study run twice into the same folder (emptied in between)."""
    d = tmp_path_factory.mktemp("determinism")
    argvs = {}
    for backend, budget in BACKENDS.items():
        sub = d / backend.replace(":", "_")
        sub.mkdir()
        (sub / "s.yaml").write_text(_edit("backend: exhaustive", f"backend: \"{backend}\"\n{budget}")
                                    .replace("seed: 0", "seed: 7"))
        argvs[backend] = ["-o", "json", "study", "run", str(sub / "s.yaml"), "--out", str(sub / "out")]
    runs = {b: [] for b in BACKENDS}
    for _ in range(2):
        for backend, r in zip(BACKENDS, run_many(list(argvs.values()), cwd=d)):
            assert r.returncode == 0, str(r)
            out = d / backend.replace(":", "_") / "out"
            runs[backend].append({f: (out / f).read_bytes() for f in ("result.json", "trials.csv", "pareto.csv")})
            for f in out.iterdir():
                f.unlink()
            out.rmdir()
    return runs


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_same_study_same_seed_gives_byte_identical_results(twice, backend):
    """The same study with the same seed, run twice into the same folder: result.json is
    byte-identical apart from the wall times, and trials.csv and pareto.csv are identical."""
    a, b = twice[backend]
    assert WALL.sub(b'"wall_time_s": 0', a["result.json"]) == WALL.sub(b'"wall_time_s": 0', b["result.json"])
    assert a["trials.csv"] == b["trials.csv"] and a["pareto.csv"] == b["pareto.csv"]
    doc = json.loads(a["result.json"])
    assert doc["scenarios"][0]["result"]["seed"] == 7 and doc["scenarios"][0]["result"]["trials"] > 0
