"""The three-lens scorecard as plain text or Markdown, and metric values in their display units."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from ..core.textfmt import fmt_number
from .metrics import LENSES, METRIC_BY_PATH

if TYPE_CHECKING:
    from .results import Evaluation, Lens


def format_value(x: Optional[float], unit: str) -> str:
    if x is None:
        return "n/a"
    if unit == "fraction":
        return f"{fmt_number(x * 100.0)} %"
    if unit == "count":
        return f"{x:,.0f}" if float(x).is_integer() else fmt_number(x)
    if unit == "USD":
        return f"${fmt_number(x)}"
    if unit == "kg":
        return f"{fmt_number(x)} kg CO2e"
    return f"{fmt_number(x)} {unit}"


_LABELS = {
    "memory_per_device": "memory per device", "memory_capacity": "memory capacity",
    "memory_utilization": "memory utilization", "weights_per_device": "weights per device", "kv_cache": "KV cache",
    "accelerators": "accelerators", "latency": "latency", "throughput": "throughput", "tokens_per_s": "tokens/s",
    "mfu": "MFU", "compute_time": "compute time", "memory_time": "memory time",
    "arithmetic_intensity": "arithmetic intensity", "ttft": "TTFT", "itl": "ITL", "e2e_latency": "end-to-end latency",
    "scaling_efficiency": "scaling efficiency", "bubble_fraction": "pipeline bubble",
    "communication_time": "exposed communication", "tco_usd": "TCO", "capex_usd": "CapEx", "opex_usd": "OpEx",
    "energy_kwh": "energy", "hardware_usd": "hardware price", "avg_power_kw": "average power", "carbon_kg": "carbon", "water_l": "water",
    "usd_per_million_tokens": "cost per 1M tokens",
}


_ALWAYS_SHOWN = {("macro", "tco_usd"), ("macro", "energy_kwh"), ("macro", "carbon_kg")}


def _lens_title(ev: Evaluation, lens: Lens) -> str:
    if lens.name == "feasibility":
        return "Feasibility"
    if lens.name == "performance":
        extra = f"bottleneck: {lens.details['bottleneck']}" if lens.details.get("bottleneck") else ""
        return "Performance" + (f"  ({extra})" if extra else "")
    grid = lens.details.get("grid")
    return f"Macro  ({fmt_number(lens.details.get('duration_days'))} days" + (f", grid {grid})" if grid else ")")


def _subject_line(ev: Evaluation) -> str:
    i = ev.inputs
    parts = [f"model {i['model']}", f"hardware {i['hardware']}"]
    if i.get("fleet"):
        parts.append(f"{i['nodes']} x {i['node']} ({i['accelerators']} accelerators, {i['fabric']})")
    parts += [f"{i['mode']}", f"batch {i['batch_size']}", i["precision"]]
    if i.get("seq_len"):
        parts.append(f"seq {i['seq_len']}")
    if i.get("output_len"):
        parts.append(f"output {i['output_len']}")
    return ", ".join(parts)


def _detail_lines(lens: Lens) -> list[str]:
    out = []
    d = lens.details
    if d.get("reason"):
        out.append(f"reason: {d['reason']}")
    if lens.name == "performance":
        par = d.get("parallelism")
        if par:
            keys = ("tp", "pp", "dp", "cp", "ep", "microbatch", "zero_stage", "recompute", "replicas")
            shown = ", ".join(f"{k}={par[k]}" for k in keys if k in par)
            out.append(f"split: {shown}" + (" (automatic)" if par.get("auto") else ""))
        if d.get("decode_bottleneck"):
            out.append(f"decode bottleneck: {d['decode_bottleneck']}")
        if d.get("tp_choice"):
            out.append(f"tp: {d['tp_choice']}")
    if lens.name == "macro" and d.get("source"):
        out.append(f"source: {d['source']}")
    return out


def _scorecard_text(ev: Evaluation) -> str:
    width = 72
    lines = [f"mlsysim scorecard: {ev.scenario}", _wrap(_subject_line(ev), width, "  "), "=" * width]
    for name in LENSES:
        lens = ev.lens(name)
        lines.append(f"[{lens.status}] {_lens_title(ev, lens)}")
        for k, v in lens.metrics.items():
            if v is None and (name, k) not in _ALWAYS_SHOWN:
                continue
            lines.append(f"  {_LABELS.get(k, k):<22}{format_value(v, METRIC_BY_PATH[f'{name}.{k}'].unit):>20}   {name}.{k}")
        for d in _detail_lines(lens):
            lines.append(_wrap(d, width, "  "))
        lines.append("-" * width)
    bands = ev.metrics_interval
    if bands:
        lines.append("80% interval (from the validation residuals):")
        for path, (lo, hi) in bands.items():
            unit = METRIC_BY_PATH[path].unit
            lines.append(f"  {path:<30}{format_value(lo, unit):>18} .. {format_value(hi, unit)}")
        lines.append("-" * width)
    if ev.asserts:
        lines.append("Asserts: " + ("all passed" if ev.passed else
                                    f"{sum(not a.passed for a in ev.asserts)} of {len(ev.asserts)} violated"))
        lines += [f"  {a}" for a in ev.asserts]
        lines.append("-" * width)
    for n in ev.notes:
        lines.append(_wrap(f"note: {n}", width, ""))
    return "\n".join(lines)


def _wrap(text: str, width: int, indent: str) -> str:
    import textwrap

    return textwrap.fill(text, width=width, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False)


def _scorecard_markdown(ev: Evaluation) -> str:
    lines = [f"# {ev.scenario}", "", _subject_line(ev), ""]
    for name in LENSES:
        lens = ev.lens(name)
        lines += [f"## {_lens_title(ev, lens)}: **{lens.status}**", "", "| metric | value | path |", "|---|---:|---|"]
        for k, v in lens.metrics.items():
            if v is None and (name, k) not in _ALWAYS_SHOWN:
                continue
            lines.append(f"| {_LABELS.get(k, k)} | {format_value(v, METRIC_BY_PATH[f'{name}.{k}'].unit)} | `{name}.{k}` |")
        lines.append("")
        lines += [f"- {d}" for d in _detail_lines(lens)]
        if _detail_lines(lens):
            lines.append("")
    if ev.asserts:
        lines += ["## Asserts", "", "| metric | value | bound | passed |", "|---|---:|---:|---|"]
        for a in ev.asserts:
            lines.append(f"| `{a.metric}` | {format_value(a.value, a.unit)} | {a.op} {format_value(a.limit, a.unit)} | "
                         f"{'yes' if a.passed else '**no**'} |")
        lines.append("")
    if ev.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in ev.notes] + [""]
    return "\n".join(lines)
