"""The figures of a study's HTML report (plotly JSON, drawn by the page of :mod:`.report_html`):
the Pareto scatter (or a ranked bar chart for one objective) with the winner starred, parallel
coordinates of the Pareto set, objectives against the parameters that vary most, the sweep
chart with its switching points, and why configurations failed."""
from __future__ import annotations

import html
import json
import re
from typing import Any, Sequence

from ..dse.summary import KEY_METRICS, fmt, varying_config_keys
from . import report_md as content

BLUE, RED, GREY, INK = "#3b6fb6", "#d1495b", "#c5ccd6", "#1f2933"
PALETTE = ["#3b6fb6", "#e09f3e", "#2a9d8f", "#9c6ade", "#d1495b", "#6c757d", "#8ab17d", "#e76f51"]
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}
#: Configuration parameters plotted against each objective.
MAX_PARAMETERS = 3
#: Configurations in the ranked bar chart of a one-objective result.
MAX_BARS = 20
#: A positive axis spanning more than this ratio is drawn logarithmic.
LOG_RATIO = 30.0


# -- small helpers -------------------------------------------------------------------------------
def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


_URL = re.compile(r"https?://[^\s<>\"']+")


def _linked(text: str) -> str:
    """Escaped text with its URLs as links (sources cite web pages)."""
    out, last = [], 0
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:)")
        out += [_e(text[last:m.start()]), f'<a href="{_e(url)}">{_e(url)}</a>']
        last = m.start() + len(url)
    return "".join(out) + _e(text[last:])


def _numeric(values: Sequence) -> bool:
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _axis_type(values: Sequence) -> str:
    """'log' for positive numbers spanning more than ``LOG_RATIO``, else plotly's default."""
    if _numeric(values) and min(values) > 0 and max(values) / min(values) > LOG_RATIO:
        return "log"
    return "-"


def _objective_label(objective: dict, units: dict) -> str:
    unit = units.get(objective["metric"]) or objective.get("unit") or ""
    arrow = "↑" if objective["direction"] == "maximize" else "↓"
    return f"{objective['metric']}{f' [{unit}]' if unit else ''} {arrow} better"


def _hover(point: dict, result: dict) -> str:
    """The hover text of one configuration: its parameters, then its objectives and key metrics."""
    units = result.get("units", {})
    objs = [o["metric"] for o in result["objectives"]]
    shown = objs + [m for m in KEY_METRICS if m in point["metrics"] and m not in objs][:3]
    lines = [f"{_e(k)} = {_e(fmt(v))}" for k, v in point["config"].items()]
    lines += [f"<b>{_e(m)}</b> {_e(fmt(point['metrics'].get(m)))} {_e(units.get(m, ''))}" for m in shown]
    return "<br>".join(lines)


def _metric(point: dict, metric: str) -> float | None:
    """A metric of a configuration as a number to plot: the document writes NaN as null and
    infinities as "inf"/"-inf"; anything else that is not a number is left out (None)."""
    value = point["metrics"].get(metric)
    if isinstance(value, str) and value in ("inf", "-inf"):
        return float(value)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _sort_key(value: float | None, sign: int = 1) -> float:
    return float("inf") if value is None else sign * value


def _is_winner(point: dict, result: dict) -> bool:
    return bool(result.get("winner")) and point["config"] == result["winner"]["config"]


def _samples(scenario: dict) -> list[dict]:
    """The runner's optional sample of all trials (feasible ones), wherever it put it."""
    sample = scenario.get("trials_sample") or scenario["result"].get("trials_sample") or []
    return [t for t in sample if t.get("feasible", True) and t.get("metrics")]


# -- figures ---------------------------------------------------------------------------------------
def _plotly():
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    return go, make_subplots


def _template():
    go, _ = _plotly()
    axis = dict(gridcolor="#e4e8ee", zerolinecolor="#cbd2d9", linecolor="#9aa5b1", showline=True, ticks="outside",
                tickcolor="#9aa5b1", automargin=True, title=dict(standoff=8))
    return go.layout.Template(layout=dict(
        font=dict(family=FONT, size=12, color=INK), colorway=PALETTE, paper_bgcolor="white", plot_bgcolor="white",
        margin=dict(l=70, r=30, t=40, b=60), hoverlabel=dict(bgcolor="white", font=dict(family=FONT, size=12)),
        xaxis=axis, yaxis=axis, legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0)))


def _figure(height: int, **layout):
    go, _ = _plotly()
    return go.Figure(layout=dict(template=_template(), height=height, **layout))


def _winner_trace(go, x, y, hover, name="winner", showlegend=True):
    return go.Scatter(x=x, y=y, mode="markers", name=name, showlegend=showlegend, hovertext=hover,
                      hovertemplate="<b>winner</b><br>%{hovertext}<extra></extra>",
                      marker=dict(symbol="star", size=20, color=RED, line=dict(color="white", width=1.5)))


def pareto_figure(scenario: dict):
    """Scatter of the first two objectives over the Pareto set (third as colour), winner starred;
    the runner's trial sample, when present, in grey behind. One objective: a ranked bar chart."""
    result = scenario["result"]
    objs, pts, units = result["objectives"], result["pareto"], result.get("units", {})
    if len(objs) == 1:
        return ranked_figure(scenario)
    go, _ = _plotly()
    mx, my = objs[0]["metric"], objs[1]["metric"]
    pts = sorted(pts, key=lambda p: _sort_key(_metric(p, mx)))
    xs, ys = [_metric(p, mx) for p in pts], [_metric(p, my) for p in pts]
    fig = _figure(460)
    sample = _samples(scenario)
    if sample:
        fig.add_trace(go.Scatter(x=[_metric(t, mx) for t in sample], y=[_metric(t, my) for t in sample],
                                 mode="markers", name="sampled trials", hoverinfo="skip",
                                 marker=dict(color=GREY, size=5, opacity=0.6)))
    marker = dict(size=10, color=BLUE, line=dict(color="white", width=1))
    if len(objs) > 2:
        third = objs[2]
        marker.update(color=[_metric(p, third["metric"]) for p in pts], colorscale="Viridis", showscale=True,
                      colorbar=dict(title=dict(text=_objective_label(third, units), side="right"), thickness=14))
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers" if len(objs) > 2 else "lines+markers", name="Pareto set",
                             line=dict(color=BLUE, width=1, dash="dot"), marker=marker,
                             hovertext=[_hover(p, result) for p in pts], hovertemplate="%{hovertext}<extra></extra>"))
    win = [p for p in pts if _is_winner(p, result)]
    if win:
        fig.add_trace(_winner_trace(go, [_metric(win[0], mx)], [_metric(win[0], my)], [_hover(win[0], result)]))
    fig.update_xaxes(title_text=_objective_label(objs[0], units), type=_axis_type(xs))
    fig.update_yaxes(title_text=_objective_label(objs[1], units), type=_axis_type(ys))
    return fig


def ranked_figure(scenario: dict):
    """One objective: the best configurations (Pareto set and sampled trials) as ranked bars."""
    go, _ = _plotly()
    result = scenario["result"]
    obj, units = result["objectives"][0], result.get("units", {})
    metric, sign = obj["metric"], (-1 if obj["direction"] == "maximize" else 1)
    rows = {json.dumps(p["config"], sort_keys=True): p for p in result["pareto"] + _samples(scenario)}
    ranked = sorted(rows.values(), key=lambda p: _sort_key(_metric(p, metric), sign))[:MAX_BARS]
    keys = content.changed_keys([p["config"] for p in ranked])
    labels = [f"{i + 1}. {content.config_text(p['config'], keys)}" for i, p in enumerate(ranked)]
    fig = _figure(100 + 28 * len(ranked), margin=dict(t=20))
    fig.add_trace(go.Bar(x=[_metric(p, metric) for p in ranked], y=labels, orientation="h",
                         marker=dict(color=[RED if _is_winner(p, result) else BLUE for p in ranked]),
                         hovertext=[_hover(p, result) for p in ranked], hovertemplate="%{hovertext}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", showline=False, ticks="")
    fig.update_xaxes(title_text=_objective_label(obj, units))
    return fig


def _dimension(label: str, values: list) -> dict:
    """A parallel-coordinates axis: numbers as they are, anything else as labelled categories."""
    if _numeric(values):
        return dict(label=label, values=values)
    categories = list(dict.fromkeys(str(v) for v in values))
    return dict(label=label, values=[categories.index(str(v)) for v in values],
                tickvals=list(range(len(categories))), ticktext=categories)


def parcoords_figure(scenario: dict):
    """Parallel coordinates of the Pareto set: varying parameters, then objectives; winner in red
    (drawn last, on top). None for fewer than two Pareto points."""
    result = scenario["result"]
    pts = result["pareto"]
    if len(pts) < 2:
        return None
    go, _ = _plotly()
    pts = sorted(pts, key=lambda p: _is_winner(p, result))
    units = result.get("units", {})
    dims = [_dimension(k, [p["config"].get(k) for p in pts]) for k in varying_parameters(result, limit=None)]
    dims += [_dimension(_objective_label(o, units).replace(" better", ""), [_metric(p, o["metric"]) for p in pts])
             for o in result["objectives"]]
    fig = _figure(420, margin=dict(l=70, r=110, t=100, b=30))
    fig.add_trace(go.Parcoords(dimensions=dims, labelangle=-25, labelside="top",
                               line=dict(color=[int(_is_winner(p, result)) for p in pts], cmin=0, cmax=1,
                                         colorscale=[[0, BLUE], [1, RED]])))
    return fig


def _partition(values: Sequence) -> tuple:
    first: dict = {}
    return tuple(first.setdefault(str(v), len(first)) for v in values)


def varying_parameters(result: dict, limit: int | None = MAX_PARAMETERS) -> list[str]:
    """The configuration parameters that vary most over the Pareto set (most distinct values
    first; all of them with ``limit=None``, in configuration order), skipping one that groups the
    points exactly like an earlier one (N and dp when they follow nodes)."""
    pts = result["pareto"]
    if len(pts) < 2:
        return []
    seen, candidates = set(), []
    for k in varying_config_keys(result):
        values = [p["config"].get(k) for p in pts]
        part = _partition(values)
        if part not in seen:
            seen.add(part)
            candidates.append((len(set(part)), k))
    if limit is None:
        return [k for _, k in candidates]
    return [k for _, k in sorted(candidates, key=lambda c: -c[0])[:limit]]


def _parameter_axis(values: Sequence) -> dict:
    """A parameter's axis: categories for labels; a few numbers (powers of two...) ticked at their values."""
    if not _numeric(values):
        return dict(type="category")
    distinct = sorted(set(values))
    if len(distinct) > 12:
        return dict(type=_axis_type(values))
    return dict(type=_axis_type(values), tickmode="array", tickvals=distinct, ticktext=[fmt(v) for v in distinct])


def parameters_figure(scenario: dict):
    """Each objective (rows) against each of the most varying parameters (columns), winner starred."""
    result = scenario["result"]
    params = varying_parameters(result)
    if not params:
        return None
    go, make_subplots = _plotly()
    objs, pts, units = result["objectives"], result["pareto"], result.get("units", {})
    fig = make_subplots(rows=len(objs), cols=len(params), shared_xaxes="columns", shared_yaxes="rows",
                        horizontal_spacing=0.06, vertical_spacing=0.08)
    fig.update_layout(template=_template(), height=80 + 240 * len(objs))
    win = [p for p in pts if _is_winner(p, result)]
    for row, obj in enumerate(objs, start=1):
        ys = [_metric(p, obj["metric"]) for p in pts]
        for col, k in enumerate(params, start=1):
            xs = [p["config"].get(k) for p in pts]
            first = row == 1 and col == 1
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name="Pareto set", showlegend=first,
                                     marker=dict(color=BLUE, size=9, opacity=0.8, line=dict(color="white", width=1)),
                                     hovertext=[_hover(p, result) for p in pts],
                                     hovertemplate="%{hovertext}<extra></extra>"), row=row, col=col)
            if win:
                fig.add_trace(_winner_trace(go, [win[0]["config"].get(k)], [_metric(win[0], obj["metric"])],
                                            [_hover(win[0], result)], showlegend=first), row=row, col=col)
            fig.update_xaxes(row=row, col=col, **_parameter_axis(xs), **({"title_text": k} if row == len(objs) else {}))
        fig.update_yaxes(title_text=_objective_label(obj, units).replace(" better", ""), type=_axis_type(ys),
                         row=row, col=1)
    return fig


def sweep_figure(study: dict, sweep: dict):
    """The winner's objectives against the swept value, one colour per winning configuration, the
    interval where the winner switches shaded and labelled."""
    result = content.sweep_result(study, sweep)
    points = [p for p in sweep["points"] if p["config"] and p["metrics"]]
    objs, units = result.get("objectives", []), result.get("units", {})
    if not points or not objs:
        return None
    go, make_subplots = _plotly()
    keys = content.changed_keys([p["config"] for p in points])
    groups = list(dict.fromkeys(json.dumps(p["config"], sort_keys=True) for p in points))
    fig = make_subplots(rows=len(objs), cols=1, shared_xaxes=True, vertical_spacing=0.08)
    fig.update_layout(template=_template(), height=100 + 220 * len(objs))
    for row, obj in enumerate(objs, start=1):
        fig.add_trace(go.Scatter(x=[p["value"] for p in points], y=[_metric(p, obj["metric"]) for p in points],
                                 mode="lines", line=dict(color=GREY, width=2), showlegend=False, hoverinfo="skip"),
                      row=row, col=1)
        for g, key in enumerate(groups):
            mine = [p for p in points if json.dumps(p["config"], sort_keys=True) == key]
            fig.add_trace(go.Scatter(
                x=[p["value"] for p in mine], y=[_metric(p, obj["metric"]) for p in mine],
                mode="markers", name=content.config_text(mine[0]["config"], keys), legendgroup=key,
                showlegend=row == 1, marker=dict(size=11, color=PALETTE[g % len(PALETTE)]),
                hovertext=[_hover(p, result) for p in mine],
                hovertemplate=f"{_e(sweep['parameter'])} = %{{x}}<br>%{{hovertext}}<extra></extra>"),
                row=row, col=1)
        fig.update_yaxes(title_text=_objective_label(obj, units).replace(" better", ""), row=row, col=1)
    fig.update_xaxes(title_text=content.sweep_label(sweep), row=len(objs), col=1)
    _mark_switches(fig, sweep, keys)
    return fig


def _mark_switches(fig, sweep: dict, keys: list[str]) -> None:
    """Shade each interval in which the winner switches; a dashed line at the break-even value
    (where the two winners cost the same) when the study computed one."""
    for s in sweep["switches"]:
        before, at, even = s.get("after"), s["at"], s.get("break_even")
        label = f"switch → {content.config_text(s.get('to'), keys)}"
        if _numeric([before, at]):
            fig.add_vrect(x0=before, x1=at, fillcolor=RED, opacity=0.10, line_width=0, row="all", col=1)
            x = (before + at) / 2
        else:
            x = at
        if _numeric([even]):
            fig.add_vline(x=even, line=dict(color=RED, width=1.5, dash="dash"), row="all", col=1)
            label += f" (break-even {fmt(even)})"
            x = even
        fig.add_annotation(x=x, y=1.0, xref="x", yref="paper", yanchor="top", text=_e(label), showarrow=False,
                           font=dict(color=RED, size=12), bgcolor="rgba(255,255,255,0.85)")


def reasons_figure(scenario: dict):
    """Why nothing (or little) is feasible: the infeasible reasons as bars."""
    reasons = scenario["result"].get("infeasible_reasons") or {}
    if not reasons:
        return None
    go, _ = _plotly()
    fig = _figure(100 + 36 * len(reasons), margin=dict(t=20))
    fig.add_trace(go.Bar(x=list(reasons.values()), y=list(reasons), orientation="h", marker=dict(color=RED),
                         hovertemplate="%{y}: %{x:,} configurations<extra></extra>"))
    fig.update_yaxes(autorange="reversed", showline=False, ticks="")
    fig.update_xaxes(title_text="configurations")
    return fig


# -- page pieces ----------------------------------------------------------------------------------
class Figures:
    """Collects the page's figures: each becomes a plot box and a JSON data block."""

    def __init__(self):
        self.ids: list[str] = []

    def embed(self, fig_id: str, fig, title: str, caption: str = "") -> str:
        if fig is None:
            return ""
        import plotly.io as pio

        self.ids.append(fig_id)
        data = pio.to_json(fig, validate=False).replace("</", "<\\/").replace("<!--", "<\\!--")
        height = fig.layout.height or 450
        cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
        return (f'<figure class="plot-box"><h4>{_e(title)}</h4>'
                f'<div id="{_e(fig_id)}" class="plot" style="height:{height}px"></div>{cap}'
                f'<script type="application/json" class="figure-data" id="{_e(fig_id)}-data" '
                f'data-target="{_e(fig_id)}">{data}</script></figure>')
