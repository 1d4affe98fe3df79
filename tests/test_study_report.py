"""Study reports: the Markdown summary and the self-contained HTML page (plots checked through their
JSON data blocks; in headless Chromium when it is installed)."""
import html.parser
import importlib.util
import json
import pathlib
import shutil

import pytest

pytest.importorskip("plotly")

from mlsysim.dse.presets import setup
from mlsysim.plan import load_plan
from mlsysim.study.report_html import PLOT_CONFIG, plotly_js, render_html, varying_parameters
from mlsysim.study.report_md import (CONSTANT_SPECS, documented_constant, render_markdown, switch_sentences,
                                     sweep_table, sweeps)

REPO = pathlib.Path(__file__).resolve().parents[1]
PLAN_TEXT = """
version: "1.0"
workload: {name: "Llama3_70B", batch_size: 4096}
hardware: {name: "H100", nodes: 64}
ops: {region: "Quebec", duration_days: 14.0}
"""
REGIONS = ["Texas", "France", "Iowa"]


def _scenario(plan, name, kind, sweep=None, regions=None, **kw):
    s = setup(kind, plan, **kw)
    if regions:
        s.space = s.space.restrict("region", regions)
    return {"name": name, "scenario": name.split("[")[0], "sweep": sweep or {}, "question": kind,
            "question_text": s.question, "context": s.context, "assumptions": [],
            "result": s.dse().run(seed=0).to_json()}


def _sweep_summary(param, scenarios):
    """The winner per swept value in the study document's form (mlsysim/schemas/study.schema.json);
    the switches are left for the renderer to find."""
    points = [{"name": s["name"], "sweep": s["sweep"], "winner": (s["result"]["winner"] or {}).get("config"),
               "metrics": (s["result"]["winner"] or {}).get("metrics"), "units": s["result"]["units"]}
              for s in scenarios]
    return [{"scenario": scenarios[0]["scenario"], "parameters": [param], "units": {param: "USD/tCO2e"},
             "points": points, "changes": [], "text": []}]


def _study(name, scenarios, question, **extra):
    return {"schema": "mlsysim.study/1", "study": name, "description": f"Test study {name}.", "question": question,
            "scenarios": scenarios, **extra}


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    path = tmp_path_factory.mktemp("plan") / "plan.yaml"
    path.write_text(PLAN_TEXT)
    return load_plan(path)


@pytest.fixture(scope="module")
def studies(plan):
    taxes = [_scenario(plan, f"tax[carbon_tax={t}]", "placement", {"carbon_tax": t}, REGIONS, carbon_tax=t)
             for t in (0, 800)]
    return {
        "mixed": _study("mixed", [
            _scenario(plan, "parallelism", "parallelism"),
            _scenario(plan, "batching", "batching", qps=20, sla_ms=3000),
            _scenario(plan, "three-objectives", "hardware",
                      objectives=["minimize: time_to_train", "minimize: cost_usd", "minimize: carbon_kg"]),
            _scenario(plan, "one-objective", "hardware", objectives=["minimize: cost_usd"]),
        ], "parallelism"),
        "sweep": _study("sweep", taxes, "placement", sweep_summary=_sweep_summary("carbon_tax", taxes)),
        "edge": _study("edge", [
            _scenario(plan, "nothing-feasible", "hardware", constraints=["time_to_train <= 0.01 day"]),
            _scenario(plan, "one-point", "placement", regions=["France"], carbon_tax=0),
        ], "hardware"),
    }


@pytest.fixture(scope="module")
def pages(studies):
    return {k: render_html(s) for k, s in studies.items()}


class _Page(html.parser.HTMLParser):
    """Scripts (type, id, src, text), external references, figure containers and the text."""

    def __init__(self, text):
        super().__init__()
        self.scripts, self.refs, self.plots, self.text, self._script = [], [], [], [], None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self._script = {"type": a.get("type"), "id": a.get("id"), "src": a.get("src"), "text": ""}
            self.scripts.append(self._script)
        if tag in ("script", "img", "iframe") and a.get("src") or tag == "link" and a.get("href"):
            self.refs.append(a.get("src") or a.get("href"))
        if tag == "div" and "plot" in (a.get("class") or "").split():
            self.plots.append(a["id"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None

    def handle_data(self, data):
        if self._script is not None:
            self._script["text"] += data
        else:
            self.text.append(data)

    def figure(self, fig_id):
        block = next(s for s in self.scripts if s["id"] == f"{fig_id}-data")
        assert block["type"] == "application/json"
        return json.loads(block["text"])


def _page_text(page: _Page) -> str:
    return " ".join(" ".join(page.text).split())


# -- Markdown ----------------------------------------------------------------------------------------
def test_markdown_has_every_section(studies):
    import mlsysim

    study = studies["mixed"]
    md = render_markdown(study)
    for heading in ("# Study: mixed", "## At a glance", "### Winner", "### Pareto set", "### Search statistics",
                    "## Assumptions and sources"):
        assert heading in md
    assert "Test study mixed." in md
    for s in study["scenarios"]:
        assert f"## Scenario: {s['name']}" in md
    assert "question (parallelism):" in md and "model: Llama3_70B" in md and "P99 latency SLA: 3,000 ms" in md
    w = study["scenarios"][0]["result"]["winner"]["config"]
    assert f"nodes={w['nodes']}, tp={w['tp']}" in md
    assert "why: it is the knee" in md
    # documented constants with their source, and the catalog entries named in the context
    assert "efficiency.MATMUL_EFFICIENCY | 0.75" in md and "Maximum Achievable Matmul FLOPS" in md
    assert "collectives.LINK_EFFICIENCY" in md and "power.IDLE_FRACTION" in md
    assert mlsysim.Hardware.get("H100").source in md
    assert mlsysim.Models.get("Llama3_70B").source in md
    assert mlsysim.Infra.Grids.get("Quebec").source in md


def test_every_cited_constant_has_a_documented_source():
    for name in CONSTANT_SPECS:
        c = documented_constant(name)
        assert c.source != "(undocumented)" and len(c.source) > 30, name
    assert documented_constant("DEFAULT_MAINTENANCE_RATE").source.startswith("maintenance m = 10%")


def test_markdown_sweep_table_and_switch(studies):
    study = studies["sweep"]
    md = render_markdown(study)
    assert "## Sweep over carbon_tax (tax)" in md
    (sweep,) = sweeps(study)
    headers, rows = sweep_table(study, sweep)
    assert headers[0] == "carbon_tax [USD/tCO2e]" and [r[0] for r in rows] == ["0", "800"]
    sentences = switch_sentences(sweep)
    assert sentences[0] in md
    if sweep["points"][0]["config"] != sweep["points"][1]["config"]:
        assert sentences[0].startswith("Between carbon_tax = 0 and 800 USD/tCO2e the winner switches from region=")
    else:
        assert sentences[0].startswith("The winner is the same at every carbon_tax")


A, B = {"region": "Texas", "hardware": "B200"}, {"region": "France", "hardware": "B200"}
SWITCH = ("Between carbon_tax = 100 and 200 USD/tCO2e the winner switches from region=Texas to region=France")


def test_switches_from_the_study_document():
    points = [{"name": f"s[carbon_tax={v}]", "sweep": {"carbon_tax": v}, "winner": c, "metrics": {"cost_usd": 1.0},
               "units": {"cost_usd": "USD"}} for v, c in ((0, A), (100, A), (200, B))]
    changes = [{"parameter": "carbon_tax", "after": 100, "at": 200, "unit": "USD/tCO2e", "break_even": 150.0,
                "changed": {"region": {"from": "Texas", "to": "France"}}, "text": "..."}]
    study = {"scenarios": [], "sweep_summary": [{"scenario": "s", "parameters": ["carbon_tax"],
                                                 "units": {"carbon_tax": "USD/tCO2e"}, "points": points,
                                                 "changes": changes, "text": []}]}
    (sweep,) = sweeps(study)
    assert [p["value"] for p in sweep["points"]] == [0, 100, 200]
    assert switch_sentences(sweep) == [SWITCH + " (the two cost the same at 150 USD/tCO2e)."]
    assert sweeps({"sweep_summary": []}) == []


def test_switches_from_a_plain_mapping():
    winners = [{"value": v, "scenario": f"s{v}", "winner": {"config": c, "metrics": {"cost_usd": 1.0}}}
               for v, c in ((0, A), (100, A), (200, B))]
    summary = {"parameter": "carbon_tax", "winners": winners}
    assert switch_sentences(sweeps({"sweep_summary": summary})[0]) == [SWITCH + "."]
    summary["switches"] = [{"at": 200, "from": A, "to": B}]
    assert switch_sentences(sweeps({"sweep_summary": summary})[0]) == [SWITCH + "."]
    summary["switches"] = []
    assert switch_sentences(sweeps({"sweep_summary": summary})[0])[0].startswith(
        "The winner is the same at every carbon_tax from 0 to 200")


# -- HTML ------------------------------------------------------------------------------------------
def test_html_is_self_contained_with_one_plotly(pages):
    js = plotly_js()
    for text in pages.values():
        page = _Page(text)
        assert text.count(js) == 1
        assert not [r for r in page.refs if r.startswith(("http://", "https://", "//"))]
        assert not [s for s in page.scripts if s["src"]]
        assert text.startswith("<!DOCTYPE html>") and "<meta charset=\"utf-8\">" in text
        assert json.dumps(PLOT_CONFIG) in text


def test_every_figure_has_its_json_data(pages):
    for text in pages.values():
        page = _Page(text)
        assert page.plots
        for fig_id in page.plots:
            fig = page.figure(fig_id)
            assert fig["data"] and "layout" in fig


def test_html_pareto_scatter_parcoords_and_parameters(studies, pages):
    study, page = studies["mixed"], _Page(pages["mixed"])
    result = study["scenarios"][0]["result"]
    mx, my = (o["metric"] for o in result["objectives"])
    scatter = page.figure("s0-pareto")
    front = next(t for t in scatter["data"] if t["name"] == "Pareto set")
    assert sorted(front["x"]) == sorted(p["metrics"][mx] for p in result["pareto"])
    star = next(t for t in scatter["data"] if t["name"] == "winner")
    assert star["x"] == [result["winner"]["metrics"][mx]] and star["y"] == [result["winner"]["metrics"][my]]
    assert "nodes = " in front["hovertext"][0] and "tokens_per_s" in scatter["layout"]["xaxis"]["title"]["text"]
    parcoords = page.figure("s0-parcoords")["data"][0]
    assert parcoords["type"] == "parcoords"
    labels = [d["label"] for d in parcoords["dimensions"]]
    assert any(lbl.startswith("tokens_per_s") for lbl in labels) and "nodes" in labels
    assert sum(parcoords["line"]["color"]) == 1   # the winner, in red
    params = page.figure("s0-parameters")
    assert 1 <= len(varying_parameters(result)) <= 3 and len(params["data"]) >= 2
    # categorical parameters get labelled axes (the batching precision)
    dims = page.figure("s1-parcoords")["data"][0]["dimensions"]
    cat = [d for d in dims if "ticktext" in d]
    assert all(len(d["ticktext"]) == len(d["tickvals"]) for d in cat)
    text = _page_text(page)
    assert "Winner" in text and "Why:" in text and "Assumptions and sources" in text
    assert "MATMUL_EFFICIENCY" in text and "Search statistics" in text


def test_html_three_and_one_objective(pages, studies):
    page = _Page(pages["mixed"])
    three = page.figure("s2-pareto")
    front = next(t for t in three["data"] if t["name"] == "Pareto set")
    assert front["marker"]["showscale"] and len(front["marker"]["color"]) == len(front["x"])
    one = page.figure("s3-pareto")
    assert one["data"][0]["type"] == "bar"
    winner_cost = studies["mixed"]["scenarios"][3]["result"]["winner"]["metrics"]["cost_usd"]
    assert one["data"][0]["x"][0] == winner_cost


def test_html_sweep_switching_curve(studies, pages):
    page = _Page(pages["sweep"])
    fig = page.figure("sweep0-switching")
    (sweep,) = sweeps(studies["sweep"])
    xs = sorted(x for t in fig["data"] if t.get("mode") == "markers" for x in t["x"])
    n_objectives = len(studies["sweep"]["scenarios"][0]["result"]["objectives"])
    assert xs == sorted([p["value"] for p in sweep["points"]] * n_objectives)
    assert bool(fig["layout"].get("shapes")) == bool(sweep["switches"])
    assert switch_sentences(sweep)[0] in _page_text(page)


def test_html_trials_sample_is_drawn_when_present(studies):
    study = json.loads(json.dumps(studies["sweep"]))
    scenario = study["scenarios"][0]
    scenario["trials_sample"] = [{"config": p["config"], "metrics": p["metrics"], "feasible": True}
                                 for p in scenario["result"]["pareto"]]
    fig = _Page(render_html(study)).figure("s0-pareto")
    assert any(t["name"] == "sampled trials" for t in fig["data"])


def test_no_winner_and_single_point_render(studies, pages):
    md = render_markdown(studies["edge"])
    assert "no feasible configuration" in md and "Pareto set (1 configurations" in md
    page = _Page(pages["edge"])
    text = _page_text(page)
    assert "No winner" in text and "A single Pareto-optimal configuration" in text
    assert "s0-reasons" in page.plots and "s0-pareto" not in page.plots
    assert "s1-pareto" in page.plots and "s1-parcoords" not in page.plots


def test_empty_study_renders():
    study = {"schema": "mlsysim.study/1", "study": "empty", "question": "parallelism", "scenarios": [],
             "sweep_summary": []}
    assert "# Study: empty" in render_markdown(study)
    text = render_html(study)
    assert plotly_js() not in text and "Assumptions and sources" in text


# -- a real browser ------------------------------------------------------------------------------
def _checker():
    spec = importlib.util.spec_from_file_location("check_report_html", REPO / "tools" / "check_report_html.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (pathlib.Path("/usr/bin/chromium").exists() or shutil.which("chromium")),
                    reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_draws_in_headless_chromium(studies, tmp_path):
    study = _study("browser", [studies["mixed"]["scenarios"][1], studies["edge"]["scenarios"][0]], "batching")
    page = tmp_path / "report.html"
    page.write_text(render_html(study), encoding="utf-8")
    assert _checker().check(page) == []


def test_assumptions_listed_by_the_study_document(studies):
    import mlsysim

    study = json.loads(json.dumps(studies["edge"]))
    study["scenarios"][0]["assumptions"] = [
        {"kind": "hardware", "key": "H100", "name": "NVIDIA H100 SXM", "source": "catalog"},
        {"kind": "parameter", "key": "train_tokens", "name": "training tokens: 1.4e+12",
         "source": "compute-optimal budget, 20 tokens per parameter (Hoffmann et al. 2022)"}]
    md = render_markdown(study)
    assert "**accelerator H100**" in md and mlsysim.Hardware.get("H100").sources["price_usd"] in md
    assert "- training tokens: 1.4e+12: compute-optimal budget" in md
    assert "Modelling parameters" in _page_text(_Page(render_html(study)))
