"""Study files (schema, errors with file/line/field, sweeps), the shipped studies, the carbon-tax
switch, and the optuna / pymoo / auto paths of the runner (workers, resume, report from storage)."""
from __future__ import annotations

import json
import pathlib
import textwrap

import pytest

from mlsysim.cli import app as cli
from mlsysim.core.errors import SchemaError, UnknownNameError, UserInputError
from mlsysim.study.runner import collect_study, list_studies, run_study, work_study
from mlsysim.study.spec import load_study
from test_study_common import STUDIES, small_study, without_times

SHIPPED = ["quickstart", "llama3_70b_parallelism", "llama3_405b_hardware_and_scale", "serving_sla",
           "carbon_tax_placement"]


def test_shipped_studies_load_and_expand():
    studies = {name: load_study(STUDIES / f"{name}.yaml") for name in SHIPPED}
    assert {s.question for s in studies.values()} == {"parallelism", "hardware", "batching", "placement"}
    qs = studies["quickstart"]
    assert len(qs.tasks) == 1 and qs.tasks[0].backend == "exhaustive"
    ct = studies["carbon_tax_placement"]
    assert [t.sweep["carbon_tax"] for t in ct.tasks] == [0, 25, 50, 100, 200, 400]
    assert ct.tasks[2].name == "llama3-70b[carbon_tax=50]" and ct.tasks[2].params["carbon_tax"] == 50
    regions = ct.tasks[0].space["dimensions"]["region"]["values"]
    assert "Quebec" not in regions and "Norway" not in regions        # the ones that win at any tax
    h = studies["llama3_405b_hardware_and_scale"]
    assert [t.question for t in h.tasks] == ["hardware", "parallelism"]
    s = studies["serving_sla"]
    assert all(t.space["fixed"] == {"hardware": "H100"} for t in s.tasks)  # the preset pins the accelerator
    for st in studies.values():                   # an id is stable and the record round-trips
        from mlsysim.study.spec import study_from_record

        assert study_from_record(json.loads(json.dumps(st.record()))).id == st.id


def _write(tmp_path, text: str) -> pathlib.Path:
    p = tmp_path / "bad.yaml"
    p.write_text(textwrap.dedent(text))
    return p


GOOD = """\
name: t
question: parallelism
scenarios:
  - name: a
    workload: {name: Llama3_8B, batch_size: 256}
    hardware: {name: H100, nodes: 2}
    ops: {region: US_Avg, duration_days: 30}
backend: exhaustive
"""


@pytest.mark.parametrize("edit, line, needle", [
    (lambda t: t + "objective: [tokens_per_s]\n", 9, "objective: unknown field (did you mean 'objectives'"),
    (lambda t: t.replace("question: parallelism", "question: speed"), 2, "question: Input should be"),
    (lambda t: t.replace("    workload: {name: Llama3_8B, batch_size: 256}\n", ""), 4, "scenarios.0.workload: required"),
    (lambda t: t.replace("Llama3_8B", "Llama3_8"), 5, "unknown model 'Llama3_8'"),
    (lambda t: t.replace("batch_size: 256", "batch_size: -4"), 5, "scenarios.0.workload.batch_size"),
    (lambda t: t + "sweep: {carbon_taxx: [1, 2]}\n", 9, "unknown sweep parameter 'carbon_taxx'"),
    (lambda t: t + "space: nowhere.yaml\n", 9, "search space file 'nowhere.yaml' not found"),
    (lambda t: t + "space: {file: parallelism, restrict: {tp: [3]}}\n", 9, "restrict('tp')"),
    (lambda t: t + "objectives: ['maximize: speed']\n", 9, "unknown metric"),
    (lambda t: t.replace("backend: exhaustive", "backend: annealing"), 8, "unknown backend 'annealing'"),
    (lambda t: t.replace("backend:", "  - name: a\n    workload: {name: Llama3_8B, batch_size: 256}\n"
                                     "    hardware: {name: H100}\n    ops: {region: US_Avg, duration_days: 1}\nbackend:"),
     3, "scenario names must be unique"),
    (lambda t: t.replace("name: t\n", "name: t\n  bad: [\n"), 2, "malformed YAML"),
])
def test_bad_study_files_exit_2_naming_file_line_and_field(tmp_path, capsys, edit, line, needle):
    path = _write(tmp_path, edit(GOOD))
    code = cli.main(["study", "run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{path}:{line}" in err, err
    assert needle in err, err
    assert "Traceback" not in err and not (tmp_path / "out" / "result.json").exists()


def test_bad_study_json_error_document(tmp_path, capsys):
    path = _write(tmp_path, GOOD.replace("Llama3_8B", "Lama3_8B"))
    code = cli.main(["-o", "json", "study", "run", str(path), "--out", str(tmp_path / "o")])
    doc = json.loads(capsys.readouterr().out)
    assert code == 2 and doc["error"]["type"] == "UnknownNameError" and "Llama3_8B" in doc["error"]["hint"]
    with pytest.raises(SchemaError, match="study file not found"):
        load_study(tmp_path / "missing.yaml")


def test_carbon_tax_sweep_reports_where_the_winning_region_switches(tmp_path):
    r = run_study(load_study(STUDIES / "carbon_tax_placement.yaml"), tmp_path / "ct")
    (sw,) = r.document["sweep_summary"]
    regions = [p["winner"]["region"] for p in sw["points"]]
    assert regions[0] == "Texas"                       # cheapest electricity, not the cleanest
    assert regions[-1] != "Texas"
    changes = [c for c in sw["changes"] if "region" in c["changed"]]
    assert changes, sw
    first = changes[0]
    assert first["changed"]["region"] == {"from": "Texas", "to": regions[regions.index("Texas") + regions.count("Texas")]}
    assert first["after"] < first["at"] and first["after"] <= first["break_even"] <= first["at"]
    for c in changes:                                 # the break-even lies between the swept values
        assert c["break_even"] is None or c["after"] <= c["break_even"] <= c["at"]
        assert c["text"].startswith("llama3-70b: the winner changes at carbon_tax")
    # the winner at each tax is the cheapest feasible trial of its search (lexicographic on cost)
    for s in r.document["scenarios"]:
        res = s["result"]
        assert res["winner_rule"] == "lexicographic"
        assert res["winner"]["metrics"]["cost_usd"] == min(p["metrics"]["cost_usd"] for p in res["pareto"])
    md = (tmp_path / "ct" / "report.md").read_text()
    assert "carbon_tax" in md and "Oregon" in md

    # the plain report written when the markdown/HTML renderers are not available
    import html.parser

    from mlsysim.study.report import fallback_html, fallback_markdown

    plain = fallback_markdown(r.document)
    assert plain.startswith("# Study carbon_tax_placement") and "break-even" in plain and "Assumptions" in plain
    page = fallback_html(r.document)
    html.parser.HTMLParser().feed(page)
    start = page.index("id='study-data'>") + len("id='study-data'>")
    data = json.loads(page[start:page.index("</script>", start)])
    assert [s["name"] for s in data["scenarios"]] == [s["name"] for s in r.document["scenarios"]]
    assert "<svg" in page and "http" not in page.split("<pre>")[0].replace("http://www.w3.org/2000/svg", "")


def test_optuna_study_resumes_shares_workers_and_reports_from_storage(tmp_path):
    study_file = small_study(tmp_path / "o.yaml", name="opt", backend="optuna:random",
                             extra="budget: 40\nseed: 3\n")
    db = tmp_path / "shared.db"
    w = work_study(load_study(study_file), str(db))              # a worker alone: 40 trials, no report
    assert w[0]["backend"] == "optuna" and w[0]["done"] == 40 and not (tmp_path / "out").exists()
    r = run_study(load_study(study_file), tmp_path / "out", storage=str(db))  # the coordinator: nothing left
    res = r.document["scenarios"][0]["result"]
    assert res["backend"] == "optuna" and res["sampler"] == "random" and res["proposals"] == 40
    assert r.workers[0]["done"] == 0
    assert res["evaluations"] <= res["trials"] <= 40          # unique configurations (rule-breaking ones not evaluated)
    again = collect_study(str(db), out=tmp_path / "again")
    assert without_times(again.document) == without_times(r.document)
    # a larger budget continues the same optuna study: earlier trials count, none repeated or lost
    import optuna

    name = res["provenance"]["study_name"]
    url = f"sqlite:///{db}"

    def trials():
        return sorted((t.number, t.params) for t in optuna.load_study(study_name=name, storage=url).trials
                      if t.state.name == "COMPLETE")

    before = trials()
    more = run_study(load_study(study_file, budget=60), tmp_path / "more", storage=str(db))
    res2 = more.document["scenarios"][0]["result"]
    assert res2["proposals"] == 60 and more.workers[0]["done"] == 20
    after = trials()
    assert len(before) == 40 and len(after) == 60 and after[:40] == before
    assert res2["trials"] >= res["trials"]
    rows = sorted(list_studies(str(db)), key=lambda s: s["tasks"][0]["total"])
    assert [r["tasks"][0]["detail"] for r in rows] == ["60/40 trials", "60/60 trials"]
    assert all(r["state"] == "done" for r in rows)


def test_pymoo_and_auto_backends_are_stored_and_rebuilt(tmp_path, capsys):
    study_file = small_study(tmp_path / "p.yaml", name="moo", backend="pymoo", extra="budget: 300\nseed: 1\n")
    r = run_study(load_study(study_file), tmp_path / "p")
    res = r.document["scenarios"][0]["result"]
    assert res["backend"] == "pymoo" and res["proposals"] >= 300 and res["winner"] is not None
    rebuilt = collect_study(str(tmp_path / "p"))
    assert without_times(rebuilt.document) == without_times(r.document)

    code = cli.main(["study", "run", str(study_file), "--out", str(tmp_path / "a"), "--backend", "auto",
                     "--budget", "100000", "-o", "json"])
    doc = json.loads(capsys.readouterr().out)
    res = doc["scenarios"][0]["result"]
    assert code == 0 and res["backend"] == "exhaustive" and res["provenance"]["requested_backend"] == "auto"
    assert res["notes"][0].startswith("auto chose exhaustive")


def test_report_of_an_unfinished_study_is_refused(tmp_path, capsys):
    from mlsysim.study.runner import bind_task
    from mlsysim.study.storage import StudyStore

    study = load_study(small_study(tmp_path / "u.yaml", name="unfinished", chunk_size=4096))
    store = StudyStore(str(tmp_path / "u.db"))
    store.register(study)
    b = bind_task(study.tasks[0], store.chunks)
    from mlsysim.dse.backends.exhaustive import work_chunks

    assert work_chunks(b.ctx, store.chunks, b.job, max_chunks=3) == 3
    store.dispose()
    code = cli.main(["study", "report", str(tmp_path / "u.db"), "--out", str(tmp_path / "rep")])
    err = capsys.readouterr().err
    assert code == 2 and "not finished" in err and "3/21 chunks" in err and "--resume" in err
    code = cli.main(["study", "list", "--storage", str(tmp_path / "u.db"), "-o", "json"])
    (row,) = json.loads(capsys.readouterr().out)["studies"]
    assert row["state"] == "running" and 0 < row["progress"] < 1
    # a worker finishes it; the report can then be built from the storage alone
    code = cli.main(["study", "worker", str(tmp_path / "u.yaml"), "--storage", str(tmp_path / "u.db"), "-o", "json"])
    w = json.loads(capsys.readouterr().out)
    assert code == 0 and w["work"][0]["done"] == 18
    code = cli.main(["study", "report", str(tmp_path / "u.db"), "--out", str(tmp_path / "rep"), "-o", "json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["study"] == "unfinished"
    assert (tmp_path / "rep" / "report.html").exists()


def test_storage_and_folder_errors_are_exit_2(tmp_path, capsys):
    f = STUDIES / "quickstart.yaml"
    out = tmp_path / "out"
    for args, needle in ((["study", "list", "--storage", str(tmp_path / "none")], "no such report folder"),
                         (["study", "report", str(tmp_path / "none")], "no such report folder"),
                         (["study", "list", "--storage", str(tmp_path / "none.db")], "no study database"),
                         (["study", "run", str(f), "--out", str(out), "--storage",
                           "postgresql://u:secret@127.0.0.1:9/x"], "cannot open"),
                         (["study", "run", str(f), "--out", str(out), "--storage", "x.journal"], "SQL database")):
        code = cli.main(args)
        err = capsys.readouterr().err
        assert code == 2 and needle in err and "secret" not in err and "Traceback" not in err, (args, err)
    assert not out.exists()                          # nothing is created before the storage opens
    with pytest.raises(UserInputError):
        run_study(load_study(f), f)                  # --out is a file
    from mlsysim.study.storage import StudyStore

    st = StudyStore(str(tmp_path / "e.db"))
    st.register(load_study(f))
    st.dispose()
    with pytest.raises(UnknownNameError, match="nope"):
        collect_study(str(tmp_path / "e.db"), name="nope")
