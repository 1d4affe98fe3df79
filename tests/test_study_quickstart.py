"""The README's main job end to end: `mlsysim study run studies/quickstart.yaml --out DIR` through
the installed entry point, then every file of the report folder; then the same folder through
`study run` again (the same study continues, another is refused), `study report` and `study list`."""
from __future__ import annotations

import html.parser
import json

import pytest

from test_study_common import (STUDIES, assert_non_dominated, numbers_in, read_csv, run_cli, without_times)

jsonschema = pytest.importorskip("jsonschema")


class _Page(html.parser.HTMLParser):
    """Collects script blocks and external references of an HTML page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict, str]] = []
        self.external: list[str] = []
        self._script = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            v = a.get(key) or ""
            if tag in ("script", "link", "img", "iframe") and v.startswith(("http:", "https:", "//")):
                self.external.append(v)
        if tag == "script":
            self._script = [a, ""]

    def handle_data(self, data):
        if self._script is not None:
            self._script[1] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append(tuple(self._script))
            self._script = None


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    out = tmp_path_factory.mktemp("qs") / "reports" / "quickstart"
    r = run_cli("study", "run", STUDIES / "quickstart.yaml", "--out", out)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r


def test_quickstart_writes_every_file(quickstart):
    out, r = quickstart
    assert "winner (knee)" in r.stdout and f"report folder: {out}" in r.stdout
    assert "Traceback" not in r.stderr
    names = {p.name for p in out.iterdir()}
    assert {"result.json", "trials.csv", "pareto.csv", "report.md", "report.html", "study.db"} <= names

    # result.json: the published schema, one scenario, the optimize result shape
    from mlsysim.cli.schema import load_result_schema

    doc = json.loads((out / "result.json").read_text())
    jsonschema.validate(doc, load_result_schema("study"))
    assert doc["schema"] == "mlsysim.study/1" and doc["study"] == "quickstart"
    (sc,) = doc["scenarios"]
    res = sc["result"]
    assert res["kind"] == "dse_result" and res["backend"] == "exhaustive" and res["winner"] is not None
    assert res["trials"] == res["evaluations"] > 10_000 and len(res["pareto"]) >= 2
    assert sc["context"]["model"] == "Llama3_8B" and sc["context"]["nodes"] == 8
    assert max(p["config"]["nodes"] for p in res["pareto"]) <= 8
    assert any(a["kind"] == "hardware" and "H100" in a["name"] and a["source"] for a in sc["assumptions"])

    # trials.csv: one row per trial, a scenario column, units in the header
    header, trials = read_csv(out / "trials.csv")
    assert header[0] == "scenario" and "tokens_per_s [token/s]" in header
    assert len(trials) == sum(s["result"]["trials"] for s in doc["scenarios"]) == doc["totals"]["trials"]
    assert {t["scenario"] for t in trials} == {sc["name"]}
    assert sum(t["feasible"] == "True" for t in trials) == res["feasible"]
    assert len({tuple(t[k] for k in sc["result"]["pareto"][0]["config"]) for t in trials}) == len(trials)  # unique

    # pareto.csv: the Pareto rows, non-dominated by any feasible trial, one winner marked
    pheader, pareto = read_csv(out / "pareto.csv")
    assert pheader[:2] == ["scenario", "winner"] and pheader[2:] == header[1:]
    assert len(pareto) == len(res["pareto"])
    assert_non_dominated(pareto, trials, res)
    winners = [p for p in pareto if p["winner"] == "True"]
    assert len(winners) == 1
    assert all(str(v) == winners[0][k] or float(winners[0][k]) == float(v)
               for k, v in res["winner"]["config"].items())

    # report.md: the winner and the Pareto table
    md = (out / "report.md").read_text()
    assert md.startswith("# ") and "quickstart" in md and "Pareto" in md and "winner" in md.lower()

    # report.html: parses, works offline (no external script/style), holds the plot data
    text = (out / "report.html").read_text()
    page = _Page()
    page.feed(text)
    page.close()
    assert not page.external, page.external
    data = [json.loads(body) for attrs, body in page.scripts if attrs.get("type") == "application/json"]
    assert data, "no embedded plot data"
    values = numbers_in(data)
    for p in res["pareto"]:
        for o in res["objectives"]:
            v = p["metrics"][o["metric"]]
            assert any(abs(v - x) <= 1e-9 * max(1.0, abs(v)) for x in values), (o["metric"], v)


def test_quickstart_folder_refused_then_resumed_reported_listed(quickstart, tmp_path, capsys):
    from mlsysim.cli import app as cli

    out, _ = quickstart
    first = json.loads((out / "result.json").read_text())

    # another study into the same folder is refused: its results are not overwritten
    code = cli.main(["study", "run", str(STUDIES / "llama3_70b_parallelism.yaml"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "already holds results of another study" in err and "Traceback" not in err

    # the same study again (the README's command run twice) continues it: nothing is evaluated
    # again and the report is rebuilt the same, with or without --resume
    for extra in ([], ["--resume"]):
        code = cli.main(["study", "run", str(STUDIES / "quickstart.yaml"), "--out", str(out), *extra, "-o", "json"])
        resumed = json.loads(capsys.readouterr().out)
        assert code == 0 and without_times(resumed) == without_times(first)

    # study report DIR: from storage only, identical content; into another folder too
    other = tmp_path / "again"
    code = cli.main(["study", "report", str(out), "--out", str(other), "-o", "json"])
    rebuilt = json.loads(capsys.readouterr().out)
    assert code == 0 and without_times(rebuilt) == without_times(first)
    assert rebuilt == resumed                    # the stored wall times are reused: identical content
    assert (other / "trials.csv").read_text() == (out / "trials.csv").read_text()
    assert (other / "pareto.csv").read_text() == (out / "pareto.csv").read_text()

    # study list --storage DIR
    code = cli.main(["study", "list", "--storage", str(out), "-o", "json"])
    listed = json.loads(capsys.readouterr().out)
    assert code == 0 and listed["schema"] == "mlsysim.study-list/1"
    (row,) = listed["studies"]
    assert row["study"] == "quickstart" and row["state"] == "done" and row["progress"] == 1.0
    assert row["tasks"][0]["evaluated"] == first["scenarios"][0]["result"]["evaluations"]
    code = cli.main(["study", "list", "--storage", str(out)])
    text = capsys.readouterr().out
    assert code == 0 and "quickstart" in text and "done" in text
