"""Serving validation: mlsysim's serving physics against published LLM serving measurements.

The cases live in ``validation/serving_runs.yaml`` (see its header for the three modes). Each is
predicted with the physics at its default settings -- ``batching.batching_core`` for continuous
(in-flight) batching, ``serving.serving_core`` for static batches and time to first token -- with
the model and accelerator taken from the catalog and nothing fitted per case. The error is
``(predicted - measured) / measured``; the summary gives the mean absolute error, the worst case
and the same per source.
"""
from __future__ import annotations

from dataclasses import dataclass

#: Goal for the serving table (issue 11): mean absolute error and worst case.
GOAL_MAE = 0.15
GOAL_MAX = 0.30

METRICS = {"output_tokens_per_s": "out tok/s", "output_tokens_per_s_per_gpu": "out tok/s/GPU", "ttft_ms": "TTFT ms"}


@dataclass
class ServingRow:
    id: str
    source: str
    model: str
    hardware: str
    tp: int
    mode: str
    precision: str
    prompt_len: int
    output_len: int
    metric: str
    measured: float
    predicted: float
    error: float                 # (predicted - measured) / measured
    batch: float                 # the static batch, or the steady-state concurrency of continuous batching
    itl_ms: float
    bottleneck: str = ""
    notes: str = ""


def predict_serving(run: dict, notes: str = "") -> ServingRow:
    """Predict one ``runs:`` entry of ``serving_runs.yaml``."""
    from ..core.catalog import registry
    from ..physics.batching import batching_core
    from ..physics.serving import serving_core

    model = registry("models").get(run["model"])
    hw = registry("hardware").get(run["hardware"])
    tp = float(run.get("tp", 1))
    prec = run.get("precision", "fp16")
    kvp = run.get("kv_precision", prec)
    p = float(run["prompt_len"])
    o = float(run.get("output_len", 0))
    mode = run["mode"]
    metric = run["measured"]["metric"]
    if metric not in METRICS:
        raise ValueError(f"{run['id']}: unknown metric {metric!r}; expected one of {sorted(METRICS)}")
    bottleneck = ""
    if mode == "continuous":
        r = batching_core(model, hw, max_batch=float(run.get("max_batch", 2048)), prompt_len=p, output_len=o, tp=tp,
                          precision=prec, kv_precision=kvp, admission=run.get("admission", "on_demand"))
        pred, batch, itl = float(r["throughput"]), float(r["effective_batch"]), float(r["itl"])
        bottleneck = ("kv_memory" if bool(r["kv_limited"]) else
                      "token_budget" if bool(r["token_budget_limited"]) else "max_batch")
    elif mode == "static":
        b = float(run["batch"])
        r = serving_core(model, hw, batch_size=b, prompt_len=p, output_len=o / 2.0, tp=tp, precision=prec,
                         kv_precision=kvp)
        itl = float(r["itl"])               # decode step at the mean context prompt + output/2
        pred = b * o / (float(r["ttft"]) + (o - 1.0) * itl)
        batch = b
        bottleneck = "" if bool(r["feasible"]) else "does not fit"
    elif mode == "ttft":
        r = serving_core(model, hw, batch_size=1.0, prompt_len=p, output_len=0.0, tp=tp, precision=prec,
                         kv_precision=kvp)
        pred, batch, itl = float(r["ttft"]) * 1e3, 1.0, float(r["itl"])
    else:
        raise ValueError(f"{run['id']}: mode must be continuous, static or ttft, got {mode!r}")
    if metric == "output_tokens_per_s_per_gpu":
        pred /= tp
    meas = float(run["measured"]["value"])
    return ServingRow(id=run["id"], source=run["source"], model=model.name, hardware=hw.name, tp=int(tp), mode=mode,
                      precision=prec, prompt_len=int(p), output_len=int(o), metric=metric, measured=meas,
                      predicted=pred, error=(pred - meas) / meas, batch=batch, itl_ms=itl * 1e3,
                      bottleneck=bottleneck, notes=run.get("config_notes", notes))


def serving_table(directory=None) -> list[ServingRow]:
    """Predictions for every run of ``serving_runs.yaml``."""
    from . import _read, data_dir

    raw = _read(data_dir(directory) / "serving_runs.yaml")
    notes = raw.get("config_notes", {}) or {}
    return [predict_serving(run, notes.get(run["source"], "")) for run in raw["runs"]]


def meets_serving_goal(summary: dict) -> bool:
    return summary["mae"] <= GOAL_MAE and summary["max"] <= GOAL_MAX


def _fmt(metric: str, x: float) -> str:
    return f"{x:.0f}" if metric == "ttft_ms" else f"{x:,.0f}"


def format_serving(rows: list[ServingRow]) -> str:
    from . import summary_lines

    head = (f"{'case':<26} {'model':<16} {'GPU':<22} {'TP':>2} {'mode':<10} {'ISL/OSL':>10} {'batch':>6}"
            f" {'metric':<13} {'measured':>9} {'predicted':>9} {'error':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.id[:26]:<26} {r.model[:16]:<16} {r.hardware[:22]:<22} {r.tp:>2} {r.mode:<10}"
                     f" {f'{r.prompt_len}/{r.output_len}':>10} {r.batch:>6.0f} {METRICS[r.metric]:<13}"
                     f" {_fmt(r.metric, r.measured):>9} {_fmt(r.metric, r.predicted):>9} {100 * r.error:>+6.1f}%")
    lines.append("-" * len(head))
    lines += summary_lines(rows, "measurements", GOAL_MAE, GOAL_MAX)
    return "\n".join(lines)


def format_serving_markdown(rows: list[ServingRow]) -> str:
    from . import summary_sentence

    out = ["| case | model | GPU | TP | mode | ISL/OSL | batch | metric | measured | predicted | error |",
           "|---|---|---|---:|---|---:|---:|---|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r.id} | {r.model} | {r.hardware} | {r.tp} | {r.mode} | {r.prompt_len}/{r.output_len} |"
                   f" {r.batch:.0f} | {METRICS[r.metric]} | {_fmt(r.metric, r.measured)} | {_fmt(r.metric, r.predicted)} |"
                   f" {100 * r.error:+.1f}% |")
    out.append(f"\n**{summary_sentence(rows, 'serving measurements')}.**")
    return "\n".join(out)
