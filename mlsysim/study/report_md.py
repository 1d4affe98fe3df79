"""The Markdown report of a study, and the report content both renderers share.

A study (``result.json``, schema ``mlsysim.study/1``) holds scenarios, each a search result
(:meth:`mlsysim.dse.result.SearchResult.to_json`) with the plan facts it was asked about, and for a
sweep a ``sweep_summary`` (the winner per swept value and the switching points). The per-result
pieces -- winner and why, Pareto table, search statistics -- come from :mod:`mlsysim.dse.summary`;
this module adds what a study has on top: plan facts, the sweep, and the assumptions with their
sources (the documented constants of the physics modules and the catalog entries' ``source``
fields). :mod:`mlsysim.study.report_html` renders the same content as a page.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import re
from typing import Any, Sequence

from ..dse.presets import KINDS, QUESTIONS
from ..dse.summary import fmt, markdown

#: Pareto rows shown per scenario in the Markdown (the JSON has them all).
MARKDOWN_PARETO_ROWS = 25

# -- plan facts ------------------------------------------------------------------------------
#: Labels and units of the context keys the presets write (others are shown as they are).
CONTEXT_LABELS = {
    "model": ("model", ""), "hardware": ("accelerator", ""), "nodes": ("nodes available", ""), "region": ("region", ""),
    "global_batch": ("global batch", "sequences"), "seq_len": ("sequence length", "tokens"),
    "precision": ("precision", ""), "carbon_tax_usd_per_t": ("carbon tax", "USD/tCO2e"),
    "deadline_days": ("deadline", "days"), "qps": ("request rate", "req/s"), "sla_ms": ("P99 latency SLA", "ms"),
}
#: Units of the parameters a study may sweep.
SWEEP_UNITS = {"carbon_tax": "USD/tCO2e", "qps": "req/s", "sla_ms": "ms", "nodes": "", "deadline_days": "days"}


def question_of(study: dict, scenario: dict) -> tuple[str, str]:
    """(kind, question text) of a scenario (its ``question`` may also be the text itself)."""
    q = scenario.get("question") or ""
    kind = q if q in KINDS else study.get("question", "")
    text = scenario.get("question_text") or (q if q not in KINDS else "") or QUESTIONS.get(kind, "")
    return kind, text


#: Plan facts a question does not take as given: the search chooses them, or (serving) they do not apply.
CONTEXT_NOT_USED = {"placement": ("hardware", "region", "nodes"), "hardware": ("hardware", "nodes"),
                    "batching": ("nodes", "global_batch", "precision")}


def fact(value: Any) -> str:
    """A plan fact or swept value: integral floats without decimals (100.0 -> '100')."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return fmt(value)


def context_items(scenario: dict, kind: str = "") -> list[tuple[str, str]]:
    """(label, value with unit) of the plan facts a scenario's question uses; swept values first."""
    sweep = scenario.get("sweep") or {}
    items = [(f"{key} (swept)", f"{fact(value)} {SWEEP_UNITS.get(key, '')}".strip()) for key, value in sweep.items()]
    for key, value in (scenario.get("context") or {}).items():
        if value is None or key in CONTEXT_NOT_USED.get(kind, ()) or any(key.startswith(k) for k in sweep):
            continue
        label, unit = CONTEXT_LABELS.get(key, (key, ""))
        items.append((label, f"{fact(value)} {unit}".strip()))
    return items


def config_text(config: dict | None, keys: Sequence[str] | None = None) -> str:
    if not config:
        return "no feasible configuration"
    keys = list(config) if keys is None else keys
    return ", ".join(f"{k}={fmt(config.get(k))}" for k in keys)


def objective_text(result: dict, metrics: dict | None) -> str:
    """'metric value unit; ...' for the objectives of ``result`` (metrics of one configuration)."""
    if not metrics:
        return "n/a"
    units = result.get("units", {})
    return "; ".join(f"{o['metric']} {fmt(metrics.get(o['metric']))} {units.get(o['metric'], '')}".rstrip()
                     for o in result["objectives"])


def glance_rows(study: dict) -> tuple[list[str], list[list[str]]]:
    """One row per scenario: its winner and the winner's objective values."""
    rows = []
    for s in study.get("scenarios", []):
        r, w = s["result"], s["result"].get("winner") or {}
        rows.append([s["name"], config_text(w.get("config")), objective_text(r, w.get("metrics"))])
    return ["scenario", "winner", "objectives"], rows


# -- sweeps ----------------------------------------------------------------------------------
# A study's ``sweep_summary`` is, per base scenario, the winner at each swept value and where it
# changes (``mlsysim/schemas/study.schema.json``: a list of {scenario, parameters, units, points,
# changes, text}); a single {parameter, values, winners, switches} mapping is read as well.
# ``sweeps()`` turns either into the one form the renderers use:
#   {"scenario", "parameter", "unit", "points": [{"value", "name", "config", "metrics"}],
#    "switches": [{"after", "at", "from", "to", "break_even"}]}
def _point_value(sweep: dict, parameters: Sequence[str]) -> Any:
    if len(parameters) == 1:
        return sweep.get(parameters[0])
    return ", ".join(f"{k}={fact(sweep.get(k))}" for k in parameters)


def _derived_switches(points: list[dict]) -> list[dict]:
    """Switches between consecutive swept values whose winners differ."""
    return [{"after": p0["value"], "at": p1["value"], "from": p0["config"], "to": p1["config"], "break_even": None}
            for p0, p1 in zip(points, points[1:]) if p0["config"] != p1["config"]]


def _from_schema(group: dict) -> dict:
    params = list(group.get("parameters") or [])
    points = [{"value": _point_value(p.get("sweep") or {}, params), "name": p.get("name"), "config": p.get("winner"),
               "metrics": p.get("metrics")} for p in group.get("points", [])]
    switches = _derived_switches(points)
    break_even = {str(c.get("at")): c.get("break_even") for c in group.get("changes") or []}
    for sw in switches:
        sw["break_even"] = break_even.get(str(sw["at"]))
    unit = (group.get("units") or {}).get(params[0], "") if len(params) == 1 else ""
    return {"scenario": group.get("scenario", ""), "parameter": ", ".join(params) or "value",
            "unit": unit or SWEEP_UNITS.get(params[0] if params else "", ""), "points": points, "switches": switches}


def _from_mapping(summary: dict) -> dict:
    points = [{"value": w.get("value"), "name": w.get("scenario"), "config": (w.get("winner") or {}).get("config"),
               "metrics": (w.get("winner") or {}).get("metrics")} for w in summary.get("winners", [])]
    values = [p["value"] for p in points]
    if "switches" in summary:
        switches = [{"after": values[values.index(s["at"]) - 1] if s["at"] in values[1:] else None, "at": s["at"],
                     "from": s.get("from"), "to": s.get("to"), "break_even": s.get("break_even")}
                    for s in summary["switches"]]
    else:
        switches = _derived_switches(points)
    param = summary.get("parameter", "value")
    return {"scenario": "", "parameter": param, "unit": SWEEP_UNITS.get(param, ""), "points": points,
            "switches": switches}


def sweeps(study: dict) -> list[dict]:
    """The study's sweeps in the renderers' form (an empty list without a sweep)."""
    summary = study.get("sweep_summary")
    if not summary:
        return []
    if isinstance(summary, dict):
        return [_from_mapping(summary)]
    return [_from_schema(group) for group in summary]


def sweep_result(study: dict, sweep: dict) -> dict:
    """A search result of the sweep, for its objectives and units."""
    scenarios = study.get("scenarios", [])
    names = {p["name"] for p in sweep["points"]}
    found = next((s for s in scenarios if s["name"] in names or s.get("scenario") == sweep["scenario"]), None)
    return (found or {}).get("result") or {"objectives": [], "units": {}}


def changed_keys(configs: Sequence[dict | None]) -> list[str]:
    """Configuration keys that differ among ``configs`` (all keys when none differ)."""
    present = [c for c in configs if c]
    if not present:
        return []
    keys = list(present[0])
    varying = [k for k in keys if len({str(c.get(k)) for c in present}) > 1]
    return varying or keys


def sweep_label(sweep: dict) -> str:
    return f"{sweep['parameter']} [{sweep['unit']}]" if sweep["unit"] else sweep["parameter"]


def sweep_title(sweep: dict) -> str:
    return f"Sweep over {sweep['parameter']}" + (f" ({sweep['scenario']})" if sweep["scenario"] else "")


def sweep_table(study: dict, sweep: dict) -> tuple[list[str], list[list[str]]]:
    """Winner per swept value: the value, the search, the winner (keys that change), objectives."""
    result = sweep_result(study, sweep)
    keys = changed_keys([p["config"] for p in sweep["points"]])
    rows = [[fact(p["value"]), p["name"] or "", config_text(p["config"], keys), objective_text(result, p["metrics"])]
            for p in sweep["points"]]
    return [sweep_label(sweep), "search", "winner", "objectives"], rows


def switch_sentences(sweep: dict) -> list[str]:
    """One sentence per switching point (or one saying the winner never changes)."""
    param, values = sweep["parameter"], [p["value"] for p in sweep["points"]]
    unit = f" {sweep['unit']}" if sweep["unit"] else ""
    if not values:
        return [f"The sweep over {param} has no values."]
    if not sweep["switches"]:
        span = f"from {fact(values[0])} to {fact(values[-1])}" if len(values) > 1 else f"= {fact(values[0])}"
        return [f"The winner is the same at every {param} {span}{unit}: {config_text(sweep['points'][0]['config'])}."]
    out = []
    for s in sweep["switches"]:
        keys = changed_keys([s.get("from"), s.get("to")])
        where = (f"Between {param} = {fact(s['after'])} and {fact(s['at'])}{unit}" if s.get("after") is not None
                 else f"At {param} = {fact(s['at'])}{unit}")
        even = (f" (the two cost the same at {fact(s['break_even'])}{unit})" if s.get("break_even") is not None else "")
        out.append(f"{where} the winner switches from {config_text(s.get('from'), keys)} to "
                   f"{config_text(s.get('to'), keys)}{even}.")
    return out


# -- assumptions and sources -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Constant:
    """A documented constant of a physics module, its value and the source its comment gives."""

    name: str
    value: str
    used_for: str
    source: str


@dataclasses.dataclass(frozen=True)
class CatalogSource:
    """A catalog entry the result depends on: its kind, key and documented sources."""

    kind: str
    key: str
    name: str
    source: str
    field_sources: dict


#: The documented constants a report may cite: name -> (module under mlsysim.physics, unit,
#: what it drives, the docstring bullet to quote when the comment defers to the module docstring).
CONSTANT_SPECS = {
    "MATMUL_EFFICIENCY": ("efficiency", "of peak", "GEMM throughput of large matrices", None),
    "MEMORY_EFFICIENCY": ("efficiency", "of peak", "achievable HBM bandwidth", None),
    "LINK_EFFICIENCY": ("collectives", "of peak", "achievable link bandwidth of collectives", None),
    "ACTIVATION_BYTES_PER_TOKEN_LAYER_FP16": ("node", "x hidden bytes", "activation memory and traffic", None),
    "OPTIMIZER_STATE_BYTES": ("training_memory", "B/param", "optimizer state in device memory", None),
    "OPTIMIZER_TRAFFIC_BYTES": ("distributed", "B/param", "optimizer-step memory traffic", None),
    "RUNTIME_RESERVE_BYTES": ("serving", "bytes", "memory reserved per device", None),
    "IDLE_FRACTION": ("power", "of TDP", "power of an idle accelerator", None),
    "DEFAULT_UTILIZATION": ("power", "", "average accelerator utilization (energy)", None),
    "SERVICE_LIFE_YEARS": ("power", "years", "amortization of price and embodied carbon", None),
    "DEFAULT_MAINTENANCE_RATE": ("economics", "of price per year", "maintenance cost", "maintenance"),
    "DEFAULT_PUE": ("power", "", "PUE without a grid region", None),
    "DEFAULT_KWH_PRICE": ("economics", "", "electricity price without a grid region", None),
}
_TRAINING = ("MATMUL_EFFICIENCY", "MEMORY_EFFICIENCY", "LINK_EFFICIENCY", "ACTIVATION_BYTES_PER_TOKEN_LAYER_FP16",
             "OPTIMIZER_STATE_BYTES", "OPTIMIZER_TRAFFIC_BYTES", "RUNTIME_RESERVE_BYTES")
_FLEET = ("IDLE_FRACTION", "DEFAULT_UTILIZATION", "SERVICE_LIFE_YEARS", "DEFAULT_MAINTENANCE_RATE")
_SERVING = ("MATMUL_EFFICIENCY", "MEMORY_EFFICIENCY", "LINK_EFFICIENCY", "RUNTIME_RESERVE_BYTES") + _FLEET
#: Constants behind each question's metrics (the problems in mlsysim.dse.problems and the cores they call).
QUESTION_CONSTANTS = {"parallelism": _TRAINING, "placement": _TRAINING + _FLEET, "hardware": _TRAINING + _FLEET,
                      "batching": _SERVING}
#: Used by serving only when the plan names no grid region.
_NO_GRID = ("DEFAULT_PUE", "DEFAULT_KWH_PRICE")


@functools.lru_cache(maxsize=None)
def _module(name: str):
    return importlib.import_module(f"mlsysim.physics.{name}")


def _comment_block(source_lines: list[str], name: str) -> str:
    """The comment lines right above ``NAME = ...`` (and an inline comment on it), joined."""
    pattern = re.compile(rf"^{re.escape(name)}\s*[:=]")
    for i, line in enumerate(source_lines):
        if pattern.match(line):
            parts = [line.split("#", 1)[1].strip()] if "#" in line else []
            j = i - 1
            while j >= 0 and source_lines[j].lstrip().startswith("#"):
                text = source_lines[j].strip().lstrip("#").lstrip(":").strip()
                if set(text) <= set("-="):  # a section rule, not a comment on the constant
                    break
                parts.insert(0, text)
                j -= 1
            return " ".join(p for p in parts if p)
    return ""


def _docstring_bullet(doc: str, hint: str) -> str:
    """The ``* ...`` bullet of a module docstring that starts with ``hint`` (continuation lines joined)."""
    lines, out = (doc or "").splitlines(), []
    for line in lines:
        stripped = line.strip()
        if out and (not stripped or stripped.startswith("*")):
            break
        if out or stripped.startswith(f"* {hint}"):
            out.append(stripped.lstrip("* ").strip())
    return " ".join(out).rstrip(";.") + ("." if out else "")


def _value_text(value: Any, unit: str) -> str:
    if hasattr(value, "magnitude"):  # a pint quantity carries its own unit
        return f"{float(value.magnitude):g} {value.units:~}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_value_text(v, '')}" for k, v in value.items()) + (f" {unit}" if unit else "")
    number = f"{value:g}" if abs(value) < 1e6 else fmt(value)
    return f"{number} {unit}".strip()


def documented_constant(name: str) -> Constant:
    """The value of constant ``name`` (a key of ``CONSTANT_SPECS``) and the source its comment documents."""
    module_name, unit, used_for, docstring_hint = CONSTANT_SPECS[name]
    module = _module(module_name)
    source = _comment_block(inspect.getsource(module).splitlines(), name)
    if docstring_hint and ("docstring" in source or not source):
        source = _docstring_bullet(module.__doc__, docstring_hint) or source
    return Constant(name=f"{module_name}.{name}", value=_value_text(getattr(module, name), unit),
                    used_for=used_for, source=source or "(undocumented)")


def constants_for(kinds: Sequence[str], *, with_grid: bool = True) -> list[Constant]:
    """The documented constants that drive the results of questions ``kinds`` (each once)."""
    names = [name for kind in kinds for name in QUESTION_CONSTANTS.get(kind, ())]
    if not with_grid and "batching" in kinds:
        names += _NO_GRID
    return [documented_constant(name) for name in dict.fromkeys(names)]


def _catalog_entry(section: str, key: str) -> Any:
    from ..core.catalog import registry

    try:
        return registry(section).get(key)
    except Exception:  # a name outside the catalog (user catalog not loaded): report it as such
        return None


def _pareto_values(result: dict, key: str) -> list:
    return [p["config"][key] for p in result.get("pareto", []) if key in p["config"]]


def derived_catalog_names(study: dict) -> list[tuple[str, str]]:
    """(section, key) of the catalog entries the scenarios' plan facts and Pareto sets name, with
    the node type and fabric a fleet of each accelerator is built from by default (used when the
    study document does not list its assumptions)."""
    names: list[tuple[str, str]] = []
    for s in study.get("scenarios", []):
        ctx, r = s.get("context") or {}, s["result"]
        chosen = CONTEXT_NOT_USED.get(question_of(study, s)[0], ())
        names.append(("models", ctx.get("model")))
        for section, key in (("hardware", "hardware"), ("grids", "region")):
            names += [(section, v) for v in ([] if key in chosen else [ctx.get(key)]) + _pareto_values(r, key)]
    hardware = [k for section, k in names if section == "hardware" and k is not None]
    return [(sec, str(k)) for sec, k in dict.fromkeys(names + _default_nodes(hardware)) if k is not None]


def _default_nodes(hardware_keys: Sequence[str]) -> list[tuple[str, str]]:
    """The node type (and its cluster's fabric) a fleet of each accelerator is built from by default."""
    from ..systems.fleet import default_fabric, default_node

    out = []
    for hw_key in dict.fromkeys(hardware_keys):
        hw = _catalog_entry("hardware", hw_key)
        node = default_node(hw) if hw is not None else None
        if node is not None:
            out += [("nodes", node.key), ("fabrics", getattr(default_fabric(node), "key", None))]
    return out


#: Catalog section of each assumption kind (the study document's labels and ours).
_KIND_SECTION = {"model": "models", "hardware": "hardware", "accelerator": "hardware", "node": "nodes",
                 "fabric": "fabrics", "grid region": "grids", "grid": "grids"}
_SECTION_KIND = {"models": "model", "hardware": "accelerator", "nodes": "node", "fabrics": "fabric",
                 "grids": "grid region"}


def _listed_assumptions(study: dict) -> list[dict]:
    return [a for s in study.get("scenarios", []) for a in s.get("assumptions") or []]


def catalog_sources(study: dict) -> list[CatalogSource]:
    """The catalog entries behind the results with their sources: those the study document lists
    per scenario (else derived from the plan facts and Pareto sets), each with its field sources."""
    listed = [a for a in _listed_assumptions(study) if a.get("kind") in _KIND_SECTION]
    pairs = ([(_KIND_SECTION[a["kind"]], a["key"]) for a in listed] if listed else derived_catalog_names(study))
    out = []
    for section, key in dict.fromkeys(pairs):
        entry = _catalog_entry(section, key)
        out.append(CatalogSource(
            kind=_SECTION_KIND[section], key=key, name=getattr(entry, "name", key),
            source=getattr(entry, "source", None) or ("not in the catalog" if entry is None else "(no source given)"),
            field_sources=dict(getattr(entry, "sources", None) or {})))
    return out


def study_parameters(study: dict) -> list[tuple[str, str]]:
    """(what, source) of the modelling parameters the study document lists (training tokens, ...)."""
    return list(dict.fromkeys((a["name"], a.get("source", "")) for a in _listed_assumptions(study)
                              if a.get("kind") == "parameter"))


def study_kinds(study: dict) -> list[str]:
    return list(dict.fromkeys(question_of(study, s)[0] for s in study.get("scenarios", [])))


def study_constants(study: dict) -> list[Constant]:
    with_grid = all((s.get("context") or {}).get("region") for s in study.get("scenarios", []))
    return constants_for(study_kinds(study), with_grid=with_grid)


# -- Markdown ----------------------------------------------------------------------------------
def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    from ..core.textfmt import markdown_table

    return markdown_table(headers, rows)


def _scenario_markdown(study: dict, scenario: dict) -> str:
    kind, text = question_of(study, scenario)
    lines = [f"question ({kind}): {text}" if kind else f"question: {text}"]
    lines += [f"{label}: {value}" for label, value in context_items(scenario, kind)]
    result = scenario["result"]
    top = int((study.get("report") or {}).get("top") or MARKDOWN_PARETO_ROWS)
    md = markdown(result, title=f"Scenario: {scenario['name']}", context_lines=lines, top=top)
    n = len(result["pareto"])
    if n > top:
        md = md.replace("### Search statistics", f"(the {top} best of {n} by the first objective; "
                                                  f"result.json has them all)\n\n### Search statistics")
    return md


def _sweep_markdown(study: dict, sweep: dict) -> list[str]:
    return [f"## {sweep_title(sweep)}", "", _table(*sweep_table(study, sweep)), "", *switch_sentences(sweep), ""]


def _assumptions_markdown(study: dict) -> list[str]:
    out = ["## Assumptions and sources", "",
           "Physics constants that drive these results (mlsysim.physics), with the sources their code documents:", ""]
    out.append(_table(["constant", "value", "drives", "source"],
                      [[c.name, c.value, c.used_for, c.source] for c in study_constants(study)]))
    out += ["", "Catalog entries the scenarios use:", ""]
    for c in catalog_sources(study):
        out.append(f"- **{c.kind} {c.key}** ({c.name}): {c.source}")
        out += [f"  - {field}: {text}" for field, text in c.field_sources.items()]
    parameters = study_parameters(study)
    if parameters:
        out += ["", "Modelling parameters:", ""] + [f"- {what}: {source}" for what, source in parameters]
    return out + [""]


def versions_text(study: dict) -> str:
    for s in study.get("scenarios", []):
        versions = (s["result"].get("provenance") or {}).get("versions")
        if versions:
            return ", ".join(f"{k} {v}" for k, v in versions.items())
    return ""


def render_markdown(study: dict) -> str:
    """The Markdown report of ``study`` (the ``mlsysim.study/1`` JSON)."""
    out = [f"# Study: {study.get('study', 'unnamed')}", ""]
    if study.get("description"):
        out += [study["description"].strip(), ""]
    scenarios = study.get("scenarios", [])
    kind = study.get("question", "")
    out += [f"- question ({kind}): {QUESTIONS[kind]}" if kind in QUESTIONS else f"- question: {kind}",
            f"- scenarios: {len(scenarios)}"]
    if versions_text(study):
        out.append(f"- versions: {versions_text(study)}")
    out.append("")
    if scenarios:
        out += ["## At a glance", "", _table(*glance_rows(study)), ""]
    for sweep in sweeps(study):
        out += _sweep_markdown(study, sweep)
    out += [_scenario_markdown(study, s) for s in scenarios]
    out += _assumptions_markdown(study)
    return "\n".join(out)

