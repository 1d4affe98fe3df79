"""The report folder of a study.

* ``result.json`` -- the study document (schema ``mlsysim.study/1``,
  ``mlsysim/schemas/study.schema.json``): per scenario its sweep point, context, catalog
  assumptions with their sources, and the search result in the shape of ``mlsysim optimize -o
  json`` (``SearchResult.to_json()``); for a sweep, the winner per sweep value and where it changes;
* ``trials.csv`` -- every trial of every scenario (a ``scenario`` column first; metrics in display
  units named in the header), so its rows equal the sum of the scenarios' ``trials``;
* ``pareto.csv`` -- the Pareto rows of every scenario, with a ``winner`` column;
* ``report.md`` and ``report.html`` -- rendered from the document by
  ``mlsysim.study.report_md.render_markdown`` and ``mlsysim.study.report_html.render_html``
  (a plain fallback is written when those are not available).
"""
from __future__ import annotations

import csv
import json
import math
import pathlib
from typing import Callable, Optional

from ..dse.storage_url import redact
from .spec import PARAM_UNITS, Study

SCHEMA = "mlsysim.study/1"
FILES = ("result.json", "trials.csv", "pareto.csv", "report.md", "report.html")


# ------------------------------------------------------------------------------------------------
# The document
# ------------------------------------------------------------------------------------------------
def study_document(study: Study, bound: list, results: list, storage_url: str) -> dict:
    """The dict written to result.json (and given to the markdown and HTML renderers)."""
    scenarios = []
    for b, r in zip(bound, results):
        scenarios.append({
            "name": b.task.name, "scenario": b.task.scenario, "sweep": dict(b.task.sweep),
            "question": b.task.question, "question_text": b.setup.question,
            "context": _plain(b.setup.context), "assumptions": assumptions(b), "result": r.to_json(),
        })
    totals = {"scenarios": len(scenarios),
              "trials": sum(s["result"]["trials"] for s in scenarios),
              "feasible": sum(s["result"]["feasible"] for s in scenarios),
              "evaluations": sum(s["result"]["evaluations"] for s in scenarios),
              "pareto": sum(len(s["result"]["pareto"]) for s in scenarios),
              "wall_time_s": round(sum(s["result"]["wall_time_s"] for s in scenarios), 6)}
    return {
        "schema": SCHEMA, "kind": "study_report", "study": study.name, "study_id": study.id,
        "description": study.description, "question": study.question, "source": study.source,
        "storage": redact(storage_url), "sweep": dict(study.sweep), "report": dict(study.report),
        "totals": totals, "scenarios": scenarios, "sweep_summary": sweep_summary(study, scenarios),
    }


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


_SECTION_KIND = {"models": "model", "hardware": "hardware", "grids": "grid region", "nodes": "node",
                 "fabrics": "fabric"}


def assumptions(b) -> list[dict]:
    """The catalog entries a search relies on (with their sources) and its modelling parameters."""
    from ..core.catalog import registry

    plan = b.task.plan_obj()
    wanted: list[tuple[str, str]] = [("models", plan.workload.name), ("hardware", plan.hardware.name)]
    fleet = getattr(b.setup.problem, "cluster", None)
    if fleet is not None:
        wanted += [("nodes", fleet.node.key), ("fabrics", fleet.fabric.key)]
    space = b.ctx.space
    for dim, section in (("hardware", "hardware"), ("region", "grids")):
        vals = space._domain(dim) if dim in space.variables else None
        if vals is not None:
            wanted += [(section, str(v)) for v in vals.tolist()]
    if not (space.variables and "region" in space.variables):
        wanted.append(("grids", plan.ops.region))
    out, seen = [], set()
    for section, name in wanted:
        try:
            entry = registry(section).get(name)
        except Exception:  # noqa: BLE001 - an assumption list must not fail the report
            continue
        ident = (section, entry.key)
        if ident in seen:
            continue
        seen.add(ident)
        out.append({"kind": _SECTION_KIND.get(section, section), "key": entry.key,
                    "name": getattr(entry, "name", entry.key),
                    "source": getattr(entry, "source", None) or "not given"})
    p = b.setup.problem
    params = []
    tokens = getattr(p, "train_tokens", None)
    if tokens is not None:
        given = b.task.params.get("train_tokens") is not None
        params.append({"kind": "parameter", "key": "train_tokens", "name": f"training tokens: {tokens:.4g}",
                       "source": "given in the study" if given else
                       "compute-optimal budget, 20 tokens per parameter (Hoffmann et al. 2022)"})
    if getattr(p, "tax", None) is not None:
        params.append({"kind": "parameter", "key": "carbon_tax", "name": f"carbon tax: {p.tax:g} USD/tCO2e",
                       "source": "given in the study" if "carbon_tax" in b.task.params else "default 0"})
    if getattr(p, "utilization", None) is not None:
        params.append({"kind": "parameter", "key": "utilization", "name": f"accelerator power utilization: "
                       f"{p.utilization:g}", "source": "mlsysim default (physics.power)"})
    return out + params


def sweep_summary(study: Study, scenarios: list[dict]) -> list[dict]:
    """For a sweep: per scenario the winner at each sweep value, and the values at which the
    winner changes (with what changed; for a carbon tax also the break-even tax between the two
    winners: the difference in cost without the tax over the difference in carbon)."""
    if not study.sweep:
        return []
    keys = list(study.sweep)
    groups: dict[str, list[dict]] = {}
    for s in scenarios:
        groups.setdefault(s["scenario"], []).append(s)
    out = []
    for name, entries in groups.items():
        points = []
        for s in entries:
            r = s["result"]
            w = r.get("winner")
            objs = [o["metric"] for o in r["objectives"]]
            shown = objs + [m for m in ("cost_usd", "tco_usd", "carbon_tax_usd", "carbon_kg", "time_to_train",
                                        "usd_per_Mtoken", "p99_latency") if m in r["units"] and m not in objs]
            points.append({"name": s["name"], "sweep": s["sweep"], "winner": w["config"] if w else None,
                           "metrics": {m: w["metrics"].get(m) for m in shown} if w else None,
                           "units": {m: r["units"].get(m, "") for m in shown}})
        changes, lines = [], []
        if len(keys) == 1:
            key = keys[0]
            unit = PARAM_UNITS.get(key, "")
            for prev, cur in zip(points, points[1:]):
                if prev["winner"] == cur["winner"]:
                    continue
                a, c = prev["winner"] or {}, cur["winner"] or {}
                changed = {k: {"from": a.get(k), "to": c.get(k)} for k in list(dict.fromkeys([*a, *c]))
                           if a.get(k) != c.get(k)}
                change = {"parameter": key, "after": prev["sweep"][key], "at": cur["sweep"][key], "unit": unit,
                          "changed": changed, "break_even": None}
                if key == "carbon_tax" and prev["metrics"] and cur["metrics"]:
                    change["break_even"] = _break_even_tax(prev, cur)
                main = [k for k in ("region", "hardware") if k in changed] or list(changed)[:3]
                what = "; ".join(f"{k} {changed[k]['from']} -> {changed[k]['to']}" for k in main) or "the winner"
                be = change["break_even"]
                text = (f"{name}: the winner changes at {key} = {cur['sweep'][key]:g} {unit} (it was still "
                        f"{_config_short(a, main)} at {prev['sweep'][key]:g}): {what}" if _num(cur["sweep"][key])
                        else f"{name}: the winner changes at {key} = {cur['sweep'][key]}: {what}")
                if be is not None:
                    text += f"; break-even between the two winners at {be:.4g} {unit}"
                change["text"] = text
                changes.append(change)
                lines.append(text)
            if not changes and points:
                lines.append(f"{name}: the same winner at every {key} value swept "
                             f"({', '.join(str(p['sweep'][key]) for p in points)})")
        out.append({"scenario": name, "parameters": keys, "units": {k: PARAM_UNITS.get(k, "") for k in keys},
                    "points": points, "changes": changes, "text": lines})
    return out


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _config_short(cfg: dict, keys: list[str]) -> str:
    return ", ".join(f"{k}={cfg.get(k)}" for k in keys) or "the previous winner"


def _break_even_tax(prev: dict, cur: dict) -> Optional[float]:
    """USD/tCO2e at which the two winners cost the same: (TCO_new - TCO_old) / (CO2_old - CO2_new)."""
    from ..core.units import Q_

    m0, m1, units = prev["metrics"], cur["metrics"], cur["units"]
    need = ("tco_usd", "carbon_kg")
    if any(m0.get(k) is None or m1.get(k) is None for k in need):
        return None
    try:
        to_t = float(Q_(1.0, units.get("carbon_kg") or "kg").m_as("t"))
        to_usd = float(Q_(1.0, units.get("tco_usd") or "USD").m_as("USD"))
    except Exception:  # noqa: BLE001
        return None
    d_cost = (m1["tco_usd"] - m0["tco_usd"]) * to_usd
    d_carbon = (m0["carbon_kg"] - m1["carbon_kg"]) * to_t
    if d_carbon <= 0 or d_cost < 0:
        return None
    return round(d_cost / d_carbon, 6)


# ------------------------------------------------------------------------------------------------
# Writing the folder
# ------------------------------------------------------------------------------------------------
_VALIDATOR = []


def validate_document(doc: dict) -> None:
    """Check the document against mlsysim/schemas/study.schema.json (when jsonschema is installed)."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - jsonschema comes with the [test] extra
        return
    if not _VALIDATOR:
        from ..core.schemas import load_result_schema

        _VALIDATOR.append(jsonschema.Draft202012Validator(load_result_schema("study")))
    error = jsonschema.exceptions.best_match(_VALIDATOR[0].iter_errors(doc))
    if error is not None:
        raise error


def write_report(doc: dict, results: list, out: pathlib.Path, *,
                 on_message: Callable[[str], None] | None = None) -> dict[str, pathlib.Path]:
    """Write the five files of the report folder; returns {file name: path}."""
    out = pathlib.Path(out)
    validate_document(doc)
    paths = {name: out / name for name in FILES}
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    _atomic_write(paths["result.json"], text)
    write_csvs(doc, results, paths["trials.csv"], paths["pareto.csv"])
    _atomic_write(paths["report.md"], render("markdown", doc, on_message))
    _atomic_write(paths["report.html"], render("html", doc, on_message))
    return paths


def _atomic_write(path: pathlib.Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def render(kind: str, doc: dict, on_message: Callable[[str], None] | None = None) -> str:
    """report.md / report.html text: the renderers of report_md / report_html, else a fallback."""
    import importlib

    module, fn = {"markdown": ("report_md", "render_markdown"), "html": ("report_html", "render_html")}[kind]
    try:
        renderer = getattr(importlib.import_module(f"{__package__}.{module}"), fn)
    except (ImportError, AttributeError):
        renderer = None
    if renderer is not None:
        try:
            return renderer(doc)
        except Exception as exc:  # noqa: BLE001 - the results are safe; say so and write the plain form
            if on_message is not None:
                on_message(f"warning: {module}.{fn} failed ({type(exc).__name__}: {exc}); wrote a plain "
                           f"report.{'md' if kind == 'markdown' else 'html'} instead")
    return fallback_markdown(doc) if kind == "markdown" else fallback_html(doc)


def _cells(col) -> list:
    """A column as CSV cells: floats with repr (NaN empty), None empty, the rest as is."""
    import numpy as np

    col = np.asarray(col)
    vals = col.tolist()
    if col.dtype.kind == "f":
        return ["" if v != v else repr(v) for v in vals]
    if col.dtype.kind == "O":
        return ["" if v is None else (("" if v != v else repr(v)) if isinstance(v, float) else v) for v in vals]
    return vals


def write_csvs(doc: dict, results: list, trials_path: pathlib.Path, pareto_path: pathlib.Path) -> None:
    """trials.csv and pareto.csv over all scenarios (columns: the union, in first-seen order)."""
    exports = []
    header: list[str] = []
    for s, r in zip(doc["scenarios"], results):
        names, head, table = r._export_columns()
        exports.append((s["name"], names, head, table, r))
        for h in head:
            if h not in header:
                header.append(h)
    for path, pareto in ((trials_path, False), (pareto_path, True)):
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["scenario"] + (["winner"] if pareto else []) + header)
            for name, names, head, table, r in exports:
                t = table.take(r.pareto) if pareto else table
                n = len(t)
                by_head = {h: _cells(t[k]) for h, k in zip(head, names)}
                cols = [[name] * n]
                if pareto:
                    cols.append([bool(r.winner is not None and int(i) == r.winner) for i in r.pareto.tolist()])
                cols += [by_head.get(h, [""] * n) for h in header]
                w.writerows(zip(*cols))
        tmp.replace(path)


# ------------------------------------------------------------------------------------------------
# Fallback renderers (used only when report_md / report_html are not available)
# ------------------------------------------------------------------------------------------------
def fallback_markdown(doc: dict) -> str:
    from ..dse.summary import markdown

    top = int((doc.get("report") or {}).get("top", 15))
    t = doc["totals"]
    out = [f"# Study {doc['study']}", ""]
    if doc.get("description"):
        out += [doc["description"], ""]
    out += [f"- question: {doc['question']}",
            f"- {t['scenarios']} search(es), {t['trials']:,} trials, {t['feasible']:,} feasible, "
            f"{t['pareto']:,} Pareto-optimal",
            f"- storage: {doc['storage']}", ""]
    for s in doc.get("sweep_summary") or []:
        out += [f"## Sweep: {s['scenario']}", ""] + [f"- {line}" for line in s["text"]] + [""]
    for s in doc["scenarios"]:
        ctx = [f"{k}: {v}" for k, v in s["context"].items() if v is not None]
        out.append(markdown(s["result"], title=f"{s['name']} -- {s['question_text']}", context_lines=ctx, top=top))
    out += ["## Assumptions and sources", ""]
    seen = set()
    for s in doc["scenarios"]:
        for a in s.get("assumptions") or []:
            if (a["kind"], a["key"], a["name"]) in seen:
                continue
            seen.add((a["kind"], a["key"], a["name"]))
            out.append(f"- {a['kind']} {a['name']}: {a['source']}")
    return "\n".join(out) + "\n"


def fallback_html(doc: dict) -> str:
    """A self-contained page: the data as embedded JSON, a scatter of each Pareto front as
    inline SVG, and the markdown report as preformatted text (no scripts from any network)."""
    import html

    data = {"study": doc["study"], "scenarios": [
        {"name": s["name"], "objectives": s["result"]["objectives"],
         "pareto": [p["metrics"] for p in s["result"]["pareto"]],
         "winner": (s["result"].get("winner") or {}).get("metrics")} for s in doc["scenarios"]]}
    blobs = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Study {html.escape(doc['study'])}</title>"
             "<style>body{font-family:sans-serif;margin:2em;max-width:70em}svg{border:1px solid #ccc}"
             "pre{white-space:pre-wrap}</style></head><body>",
             f"<h1>Study {html.escape(doc['study'])}</h1><p>{html.escape(doc.get('description') or '')}</p>",
             f"<script type='application/json' id='study-data'>{blobs}</script>"]
    for s in data["scenarios"]:
        parts.append(f"<h2>{html.escape(s['name'])}</h2>")
        parts.append(_svg_scatter(s))
    parts.append(f"<pre>{html.escape(fallback_markdown(doc))}</pre></body></html>")
    return "\n".join(parts) + "\n"


def _svg_scatter(s: dict, w: int = 520, h: int = 360) -> str:
    import html

    objs = [o["metric"] for o in s["objectives"]]
    if len(objs) < 2 or not s["pareto"]:
        return "<p>(one objective or no feasible point: no front to plot)</p>"
    x, y = objs[0], objs[1]
    num = (int, float)
    pts = [(p.get(x), p.get(y)) for p in s["pareto"] if isinstance(p.get(x), num) and isinstance(p.get(y), num)]
    if not pts:
        return ""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = lambda v: 40 + (w - 60) * ((v - x0) / (x1 - x0) if x1 > x0 else 0.5)  # noqa: E731
    sy = lambda v: h - 30 - (h - 50) * ((v - y0) / (y1 - y0) if y1 > y0 else 0.5)  # noqa: E731
    dots = "".join(f"<circle cx='{sx(a):.1f}' cy='{sy(b):.1f}' r='4' fill='#1f77b4'>"
                   f"<title>{a!r}, {b!r}</title></circle>" for a, b in pts)
    return (f"<svg width='{w}' height='{h}' xmlns='http://www.w3.org/2000/svg'>{dots}"
            f"<text x='40' y='{h - 5}' font-size='12'>{html.escape(x)}</text>"
            f"<text x='5' y='15' font-size='12'>{html.escape(y)}</text></svg>")
