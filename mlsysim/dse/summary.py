"""Human-readable summaries of a search result (shared by ``mlsysim optimize`` and study reports):
the winner and why, the Pareto set as a table, and the search statistics."""
from __future__ import annotations

from typing import Any, Sequence

from ..core.textfmt import fmt_number

#: Metrics worth a column next to the objectives, when the problem has them.
KEY_METRICS = ("mfu", "memory_per_device", "num_accelerators", "time_to_train", "usd_per_Mtoken", "carbon_kg",
               "p99_latency", "ttft", "itl", "accelerators")


def fmt(x: Any) -> str:
    """A value for a table cell: integers exact, floats via ``fmt_number``, the rest as text."""
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    if x is None or isinstance(x, float):
        return fmt_number(x)
    return str(x)


def _label(metric: str, unit: str, sep: str = " ") -> str:
    return f"{metric}{sep}[{unit}]" if unit else metric


def varying_config_keys(result_json: dict) -> list[str]:
    """Configuration columns that differ across the Pareto set (all of them for one point)."""
    rows = [p["config"] for p in result_json["pareto"]]
    if not rows:
        return []
    keys = list(rows[0])
    if len(rows) == 1:
        return keys
    return [k for k in keys if len({str(r.get(k)) for r in rows}) > 1]


def pareto_table(result_json: dict, top: int | None = None, sep: str = " ") -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the Pareto set: varying configuration, objectives, key metrics; the
    winner marked with '*'; sorted by the first objective (best first), at most ``top`` rows."""
    units = result_json.get("units", {})
    objs = [o["metric"] for o in result_json["objectives"]]
    extra = [m for m in KEY_METRICS if m in units and m not in objs][:2]
    keys = varying_config_keys(result_json)
    pareto = list(result_json["pareto"])
    first = result_json["objectives"][0] if result_json["objectives"] else None
    if first is not None:
        sign = -1 if first["direction"] == "maximize" else 1
        pareto.sort(key=lambda p: sign * (p["metrics"].get(first["metric"]) or 0))
    winner_cfg = (result_json.get("winner") or {}).get("config")
    headers = [""] + keys + [_label(m, units.get(m, ""), sep) for m in objs + extra]
    rows = []
    for p in pareto[: top or len(pareto)]:
        mark = "*" if p["config"] == winner_cfg else ""
        rows.append([mark] + [fmt(p["config"].get(k)) for k in keys] + [fmt(p["metrics"].get(m)) for m in objs + extra])
    return headers, rows


def statistics_lines(result_json: dict) -> list[str]:
    r = result_json
    sampler = f" ({r['sampler']})" if r.get("sampler") else ""
    lines = [f"backend {r['backend']}{sampler}, seed {r['seed']}: {fmt(r['space_size'])} raw points, "
             f"{fmt(r['valid_size'])} valid, {fmt(r['evaluations'])} evaluated, {fmt(r['feasible'])} feasible, "
             f"{len(r['pareto'])} Pareto-optimal, {r['wall_time_s']:.2f} s"]
    if r.get("infeasible_reasons"):
        top = sorted(r["infeasible_reasons"].items(), key=lambda kv: -kv[1])[:3]
        lines.append("infeasible: " + "; ".join(f"{k} ({fmt(v)})" for k, v in top))
    lines += [f"note: {n}" for n in r.get("notes", [])]
    return lines


def winner_lines(result_json: dict) -> list[str]:
    w = result_json.get("winner")
    if not w:
        return ["no feasible configuration: nothing meets the constraints (see the infeasible reasons below)"]
    units = result_json.get("units", {})
    cfg = ", ".join(f"{k}={fmt(v)}" for k, v in w["config"].items())
    objs = [o["metric"] for o in result_json["objectives"]]
    shown = objs + [m for m in KEY_METRICS if m in w["metrics"] and m not in objs]
    mets = ", ".join(f"{m} {fmt(w['metrics'].get(m))}{' ' + units[m] if units.get(m) else ''}" for m in shown)
    lines = [f"winner ({result_json['winner_rule']}): {cfg}", f"  {mets}", f"  why: {result_json['why']}"]
    bands = result_json.get("winner_interval") or {}
    shown_bands = [m for m in shown if m in bands]
    if shown_bands:
        lines.append("  80% interval: " + ", ".join(
            f"{m} {fmt(bands[m][0])}..{fmt(bands[m][1])}" for m in shown_bands))
    rob = result_json.get("robustness")
    if rob:
        verdict = ("the winner is one of them" if rob["winner_robust"] else
                   "the winner is not: the front's differences are within the model's uncertainty")
        lines.append(f"  robustness: {rob['robust_pareto_points']} of {rob['pareto_points']} Pareto points stay "
                     f"Pareto-optimal for any errors within the 80% interval; {verdict}")
    return lines


def objective_line(result_json: dict) -> str:
    parts = [f"{o['direction']} {_label(o['metric'], o['unit'])}" for o in result_json["objectives"]]
    cons = result_json.get("constraints") or []
    return "objectives: " + ", ".join(parts) + (f"; constraints: {', '.join(cons)}" if cons else "")


def markdown(result_json: dict, *, title: str, context_lines: Sequence[str] = (), top: int | None = None) -> str:
    from ..core.textfmt import markdown_table

    headers, rows = pareto_table(result_json, top)
    out = [f"## {title}", ""]
    out += [f"- {c}" for c in context_lines]
    out += [f"- {objective_line(result_json)}", ""]
    out += ["### Winner", ""] + [f"- {line.strip()}" for line in winner_lines(result_json)] + [""]
    out += [f"### Pareto set ({len(result_json['pareto'])} configurations, winner marked *)", ""]
    out += [markdown_table(headers, rows, [False] * (1 + len(varying_config_keys(result_json))) + [True] * 9), ""]
    out += ["### Search statistics", ""] + [f"- {line}" for line in statistics_lines(result_json)]
    return "\n".join(out) + "\n"
