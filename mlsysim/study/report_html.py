"""The HTML report of a study: one self-contained page that works offline.

plotly.js is inlined once; every figure's plotly JSON sits in its own
``<script type="application/json" class="figure-data" id="<figure>-data">`` block, which a small
script at the end of the page draws with ``Plotly.newPlot`` (so the data can be checked without a
browser, and a figure that fails to draw says so on the page). Per scenario: the Pareto scatter of
the first two objectives (a third as colour, one objective as a ranked bar chart) with the winner
starred, parallel coordinates of the Pareto set, each objective against the configuration
parameters that vary most, and the winner, why, Pareto table, search statistics; for a sweep the
winner's objectives against the swept value with the switching points marked; at the end the
assumptions and their sources. The text is the Markdown report's (:mod:`.report_md`).
"""
from __future__ import annotations

import json
from typing import Sequence

from ..dse.presets import QUESTIONS
from ..dse.summary import KEY_METRICS, fmt, objective_line, pareto_table, statistics_lines, varying_config_keys
from . import report_md as content
from .report_figures import (FONT, PLOT_CONFIG, Figures, _e, _linked, parameters_figure, parcoords_figure,  # noqa: F401
                             pareto_figure, reasons_figure, sweep_figure, varying_parameters)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, numeric_from: int | None = None,
               highlight: Sequence[bool] = (), cls: str = "") -> str:
    def cell(tag, i, text):
        num = ' class="num"' if numeric_from is not None and i >= numeric_from else ""
        return f"<{tag}{num}>{_linked(str(text))}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(headers))
    body = "".join(
        f'<tr{" class=winner-row" if i < len(highlight) and highlight[i] else ""}>'
        + "".join(cell("td", j, c) for j, c in enumerate(r)) + "</tr>" for i, r in enumerate(rows))
    return f'<div class="table-wrap {cls}"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _chips(config: dict, emphasize: Sequence[str] = ()) -> str:
    return "".join(f'<span class="chip{" strong" if k in emphasize else ""}"><b>{_e(k)}</b> {_e(fmt(v))}</span>'
                   for k, v in config.items())


def _tiles(result: dict) -> str:
    w, units = result["winner"], result.get("units", {})
    objs = [o["metric"] for o in result["objectives"]]
    shown = objs + [m for m in KEY_METRICS if m in w["metrics"] and m not in objs]
    return "".join(f'<div class="tile{" objective" if m in objs else ""}"><div class="tile-value">'
                   f'{_e(fmt(w["metrics"].get(m)))} <small>{_e(units.get(m, ""))}</small></div>'
                   f'<div class="tile-label">{_e(m)}</div></div>' for m in shown)


def winner_card(result: dict) -> str:
    if not result.get("winner"):
        reasons = "".join(f"<li>{_e(k)}: {_e(fmt(v))}</li>"
                          for k, v in (result.get("infeasible_reasons") or {}).items())
        constraints = ", ".join(result.get("constraints") or []) or "none declared"
        return ('<div class="card warning"><h3>No winner</h3><p>No configuration is feasible: nothing meets the '
                f'constraints ({_e(constraints)}).</p><ul>{reasons}</ul></div>')
    emphasize = varying_config_keys(result) if len(result["pareto"]) > 1 else []
    return (f'<div class="card winner"><h3>Winner <span class="badge">{_e(result.get("winner_rule", ""))}</span></h3>'
            f'<div class="chips">{_chips(result["winner"]["config"], emphasize)}</div>'
            f'<div class="tiles">{_tiles(result)}</div>'
            f'<p class="why"><b>Why:</b> {_e(result.get("why", ""))}</p></div>')


def _facts(items: Sequence[tuple[str, str]]) -> str:
    return '<dl class="facts">' + "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in items) + "</dl>"


def _pareto_html(result: dict) -> str:
    headers, rows = pareto_table(result)
    first_number = 1 + len(varying_config_keys(result))
    return html_table(headers, rows, numeric_from=first_number, highlight=[r[0] == "*" for r in rows], cls="scroll")


def _pareto_section(result: dict) -> str:
    n = len(result["pareto"])
    if not n:
        return "<h3>Pareto set</h3><p>Empty: no configuration is feasible.</p>"
    return (f'<h3>Pareto set <small>({n} configuration{"s" * (n != 1)}, winner highlighted)</small></h3>'
            f'{_pareto_html(result)}')


def scenario_section(study: dict, index: int, scenario: dict, figures: Figures) -> str:
    result = scenario["result"]
    kind, text = content.question_of(study, scenario)
    sid = f"s{index}"
    n = len(result["pareto"])
    objs = result["objectives"]
    front_title = ("Pareto front" + (f" (colour: {objs[2]['metric']})" if len(objs) > 2 else "") if len(objs) > 1
                   else f"Best configurations by {objs[0]['metric']}" if objs else "")
    front_caption = ("Hover a point for its configuration; the star is the winner." if len(objs) > 1 else
                     "Ranked best first, the winner in red; hover a bar for its configuration.")
    plots = [figures.embed(f"{sid}-pareto", pareto_figure(scenario) if n else None, front_title, front_caption),
             figures.embed(f"{sid}-parcoords", parcoords_figure(scenario), "Parallel coordinates of the Pareto set",
                           "Each line is a Pareto-optimal configuration, the winner in red; "
                           "drag along an axis to filter."),
             figures.embed(f"{sid}-parameters", parameters_figure(scenario),
                           "Objectives against the parameters that vary most across the Pareto set"),
             figures.embed(f"{sid}-reasons", reasons_figure(scenario) if not n else None,
                           "Why configurations were infeasible")]
    single = '<p class="muted">A single Pareto-optimal configuration: nothing to trade off.</p>' if n == 1 else ""
    stats = "".join(f"<li>{_e(line)}</li>" for line in statistics_lines(result))
    return (f'<section id="{sid}" class="scenario"><h2>Scenario: {_e(scenario["name"])}</h2>'
            f'<p class="question"><span class="badge">{_e(kind)}</span> {_e(text)}</p>'
            f'{_facts(content.context_items(scenario, kind))}'
            f'<p class="muted">{_e(objective_line(result))}</p>'
            f'{winner_card(result)}{"".join(plots)}{single}'
            f'{_pareto_section(result)}'
            f'<h3>Search statistics</h3><ul class="stats">{stats}</ul></section>')


def sweep_section(study: dict, index: int, sweep: dict, figures: Figures) -> str:
    sentences = "".join(f"<p>{_e(s)}</p>" for s in content.switch_sentences(sweep))
    title = f"The winner's objectives as {sweep['parameter']} changes"
    figure = figures.embed(f"sweep{index}-switching", sweep_figure(study, sweep), title,
                           "Shaded: the interval in which the winner switches; dashed: the break-even value "
                           "where the two winners cost the same (when computed).")
    return (f'<section id="sweep{index}"><h2>{_e(content.sweep_title(sweep))}</h2>'
            f'<div class="callout">{sentences}</div>{figure}{html_table(*content.sweep_table(study, sweep))}</section>')


def glance_section(study: dict) -> str:
    headers, rows = content.glance_rows(study)
    linked = [[f'<a href="#s{i}">{_e(r[0])}</a>', *map(_e, r[1:])] for i, r in enumerate(rows)]
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in linked)
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return (f'<section id="glance"><h2>At a glance</h2><div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{body}</tbody></table></div></section>')


def assumptions_section(study: dict) -> str:
    constants = html_table(["constant", "value", "drives", "source"],
                           [[c.name, c.value, c.used_for, c.source] for c in content.study_constants(study)])
    entries = []
    for c in content.catalog_sources(study):
        fields = "".join(f"<li><b>{_e(k)}</b>: {_linked(v)}</li>" for k, v in c.field_sources.items())
        entries.append(f'<div class="source-card"><div class="source-head"><span class="badge">{_e(c.kind)}</span> '
                       f'<b>{_e(c.key)}</b> <span class="muted">{_e(c.name)}</span></div>'
                       f'<p>{_linked(c.source)}</p>{f"<ul>{fields}</ul>" if fields else ""}</div>')
    parameters = "".join(f"<li><b>{_e(what)}</b>: {_linked(source)}</li>" for what, source in
                         content.study_parameters(study))
    return ('<section id="assumptions"><h2>Assumptions and sources</h2>'
            '<p>Physics constants that drive these results (<code>mlsysim.physics</code>), with the sources their '
            f'code documents:</p>{constants}'
            f'<h3>Catalog entries</h3><div class="sources">{"".join(entries)}</div>'
            f'{f"<h3>Modelling parameters</h3><ul>{parameters}</ul>" if parameters else ""}</section>')


def _header(study: dict) -> str:
    kind = study.get("question", "")
    versions = content.versions_text(study)
    meta = [f'<span class="badge">{_e(kind)}</span> {_e(QUESTIONS.get(kind, ""))}',
            f'{len(study.get("scenarios", []))} scenario(s)'] + ([_e(versions)] if versions else [])
    desc = f'<p class="lead">{_e(study["description"].strip())}</p>' if study.get("description") else ""
    return (f'<header><div class="eyebrow">mlsysim study</div><h1>{_e(study.get("study", "unnamed"))}</h1>{desc}'
            f'<p class="meta">{" · ".join(meta)}</p></header>')


def _nav(study: dict) -> str:
    links = [("glance", "At a glance")] + [(f"sweep{i}", "Sweep") for i, _ in enumerate(content.sweeps(study))]
    links += [(f"s{i}", s["name"]) for i, s in enumerate(study.get("scenarios", []))]
    links += [("assumptions", "Assumptions")]
    return "<nav>" + "".join(f'<a href="#{_e(a)}">{_e(t)}</a>' for a, t in links) + "</nav>"


CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f5f7fa; --blue: #3b6fb6; --red: #d1495b; }
* { box-sizing: border-box; }
body { margin: 0; font-family: %(font)s; color: var(--ink); background: var(--bg); line-height: 1.5; font-size: 15px; }
main { max-width: 1180px; margin: 0 auto; padding: 0 24px 48px; }
header { background: linear-gradient(135deg, #24344d, #3b6fb6); color: white; padding: 36px 24px 28px; }
header > * { max-width: 1132px; margin-left: auto; margin-right: auto; }
header h1 { margin: 4px auto 8px; font-size: 30px; font-weight: 650; }
header .lead { font-size: 17px; opacity: 0.95; margin-top: 0; }
header .meta { opacity: 0.85; font-size: 13px; }
header .badge { background: rgba(255,255,255,0.2); color: white; }
.eyebrow { text-transform: uppercase; letter-spacing: 0.12em; font-size: 12px; opacity: 0.75; }
nav { position: sticky; top: 0; z-index: 10; background: rgba(255,255,255,0.96); border-bottom: 1px solid var(--line);
      padding: 10px 24px; display: flex; gap: 6px; flex-wrap: wrap; justify-content: center; }
nav a { color: var(--blue); text-decoration: none; padding: 3px 10px; border-radius: 999px; font-size: 13px; }
nav a:hover { background: #e8effa; }
section { background: white; border: 1px solid var(--line); border-radius: 12px; padding: 22px 26px; margin-top: 24px;
          box-shadow: 0 1px 2px rgba(16,24,40,0.04); }
h2 { margin: 0 0 10px; font-size: 22px; }
h3 { margin: 22px 0 8px; font-size: 16px; }
h3 small { color: var(--muted); font-weight: normal; }
a { color: var(--blue); }
code { background: #f0f2f5; padding: 1px 5px; border-radius: 4px; font-size: 0.92em; }
.muted { color: var(--muted); }
.question { font-size: 16px; margin: 4px 0 12px; }
.badge { display: inline-block; background: #e8effa; color: var(--blue); border-radius: 999px; padding: 1px 10px;
         font-size: 12px; font-weight: 600; vertical-align: middle; }
.facts { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 10px; }
.facts div { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 4px 10px; }
.facts dt { font-size: 11px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.05em; }
.facts dd { margin: 0; font-weight: 600; }
.card { border-radius: 10px; padding: 14px 18px; margin: 14px 0; }
.card h3 { margin-top: 0; }
.card.winner { background: #fdf3f4; border: 1px solid #f3c5cc; }
.card.warning { background: #fff8e6; border: 1px solid #f5d58a; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: 12px; }
.chip { background: white; border: 1px solid var(--line); border-radius: 6px; padding: 2px 8px; font-size: 13px; }
.chip b { color: var(--muted); font-weight: 500; }
.chip.strong { border-color: var(--red); }
.chip.strong b { color: var(--red); }
.tiles { display: flex; flex-wrap: wrap; gap: 10px; }
.tile { background: white; border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 130px; }
.tile.objective { border-color: var(--red); }
.tile-value { font-size: 20px; font-weight: 650; }
.tile-value small { font-size: 12px; color: var(--muted); font-weight: normal; }
.tile-label { font-size: 12px; color: var(--muted); }
.why { margin-bottom: 0; color: #3e4c59; }
.callout { border-left: 4px solid var(--red); background: #fdf3f4; padding: 8px 16px; border-radius: 0 8px 8px 0; }
.callout p { margin: 6px 0; font-weight: 500; }
.plot-box { margin: 18px 0; border: 1px solid var(--line); border-radius: 10px; padding: 8px; }
.plot-box h4 { margin: 4px 8px 0; font-size: 14px; font-weight: 600; }
.plot { width: 100%%; }
figcaption { color: var(--muted); font-size: 12px; padding: 2px 8px; }
.table-wrap { overflow-x: auto; margin: 8px 0; }
.table-wrap.scroll { max-height: 460px; overflow-y: auto; }
table { border-collapse: collapse; width: 100%%; font-size: 13px; }
th { position: sticky; top: 0; background: #f0f3f7; text-align: left; font-weight: 600; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
tr.winner-row, tr.winner-row:nth-child(even) { background: #fde8eb; font-weight: 600; }
.stats li { margin: 2px 0; }
.sources { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
.source-card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; font-size: 13px; }
.source-card p { margin: 6px 0; }
.source-card ul { margin: 0; padding-left: 18px; color: #3e4c59; }
#assumptions table { table-layout: fixed; }
#assumptions th:nth-child(1) { width: 24%%; } #assumptions th:nth-child(2) { width: 13%%; }
#assumptions th:nth-child(3) { width: 13%%; }
#assumptions td:first-child { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px;
                              overflow-wrap: anywhere; }
.source-card, #assumptions td { overflow-wrap: anywhere; }
#js-errors { background: #fff0f0; color: #8a1c1c; border: 1px solid #f3b7b7; padding: 10px 16px; margin: 16px auto;
             max-width: 1132px; border-radius: 8px; }
footer { text-align: center; color: var(--muted); font-size: 12px; padding: 24px; }
""" % {"font": FONT}

BOOT = """
(function () {
  var failures = [];
  function fail(message) {
    failures.push(message);
    var box = document.getElementById('js-errors');
    box.hidden = false;
    box.textContent = 'Some figures could not be drawn: ' + failures.join('; ');
  }
  window.addEventListener('error', function (e) { fail(e.message); });
  if (typeof Plotly === 'undefined') { fail('plotly.js did not load'); return; }
  var config = %(config)s;
  document.querySelectorAll('script.figure-data').forEach(function (block) {
    var target = document.getElementById(block.dataset.target);
    try {
      var fig = JSON.parse(block.textContent);
      Plotly.newPlot(target, fig.data, fig.layout, config).then(
        function () { target.setAttribute('data-rendered', 'yes'); },
        function (err) { fail(block.dataset.target + ': ' + err); });
    } catch (err) { fail(block.dataset.target + ': ' + err.message); }
  });
})();
"""


def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def render_html(study: dict) -> str:
    """The HTML report of ``study`` (the ``mlsysim.study/1`` JSON): one self-contained page."""
    figures = Figures()
    scenarios = study.get("scenarios", [])
    body = [glance_section(study)] if scenarios else []
    body += [sweep_section(study, i, sweep, figures) for i, sweep in enumerate(content.sweeps(study))]
    body += [scenario_section(study, i, s, figures) for i, s in enumerate(scenarios)]
    body.append(assumptions_section(study))
    title = f"mlsysim study: {study.get('study', 'unnamed')}"
    boot = BOOT % {"config": json.dumps(PLOT_CONFIG)}
    scripts = (f'<script type="text/javascript">{plotly_js()}</script>'
               f'<script type="text/javascript">{boot}</script>') if figures.ids else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="mlsysim"><title>{_e(title)}</title><style>{CSS}</style></head>'
            f'<body>{_header(study)}{_nav(study)}<div id="js-errors" hidden></div><main>{"".join(body)}</main>'
            f'<footer>Generated by mlsysim · self-contained: works offline · figures drawn with plotly.js</footer>'
            f'{scripts}</body></html>\n')
