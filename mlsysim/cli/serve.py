"""``mlsysim serve``: LLM serving on one accelerator or a tensor-parallel group (``ServingModel``)."""
from __future__ import annotations

from typing import Optional

import typer

from ._output import Format, emit_json, emit_text, markdown_table, output_format, output_option

# (json key, label, unit, result field, unit to convert to)
SERVE_METRICS = (
    ("ttft", "TTFT (time to first token)", "ms", "ttft", "ms"),
    ("itl", "ITL (inter-token latency)", "ms", "itl", "ms"),
    ("e2e_latency", "end-to-end latency", "ms", "e2e_latency", "ms"),
    ("throughput", "decode throughput", "tokens/s", "throughput", "token/s"),
    ("kv_cache", "KV cache (whole batch)", "GB", "kv_cache_size", "GB"),
    ("weights_per_device", "weights per device", "GB", "weights_per_device", "GB"),
    ("memory_per_device", "memory per device", "GB", "memory_per_device", "GB"),
    ("memory_capacity", "memory capacity", "GB", "capacity_per_device", "GB"),
)


def serve_command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="A catalog LLM, e.g. Llama3_70B."),
    hardware: str = typer.Argument(..., help="A catalog accelerator, e.g. H100."),
    seq_len: int = typer.Option(2048, "--seq-len", "-s", help="Prompt length in tokens."),
    batch_size: int = typer.Option(1, "--batch-size", "-b", help="Concurrent sequences."),
    output_len: int = typer.Option(0, "--output-len", help="Generated tokens per request (ITL is taken at "
                                                             "seq_len + output_len)."),
    tp: int = typer.Option(1, "--tp", help="Tensor-parallel degree (accelerators per replica)."),
    precision: str = typer.Option("fp16", "--precision", "-p", help="Weight and math precision."),
    kv_precision: Optional[str] = typer.Option(None, "--kv-precision", help="KV-cache precision (default: "
                                                                            "--precision)."),
    efficiency: Optional[float] = typer.Option(None, "--efficiency", help="Fraction of peak FLOP/s, 0-1 "
                                                                          "(default: derived)."),
    output: Optional[Format] = output_option(),
):
    """LLM serving: TTFT, ITL, KV cache, decode throughput and whether it fits in memory."""
    from ..core.catalog import registry
    from ..core.errors import UserInputError
    from ..evaluator import format_value
    from ..physics.serving import ServingModel

    fmt = output_format(ctx, output)
    if efficiency is not None and not 0 < efficiency <= 1:
        raise UserInputError(f"--efficiency must be in (0, 1], got {efficiency}")
    m = registry("models").get(model)
    hw = registry("hardware").get(hardware)
    import math

    import numpy as np

    with np.errstate(all="ignore"):
        r = ServingModel().solve(m, hw, seq_len=seq_len, batch_size=batch_size, output_len=output_len,
                                 precision=precision.lower(),
                                 kv_precision=kv_precision.lower() if kv_precision else None,
                                 tp_size=tp, efficiency=efficiency)
    metrics = {k: float(getattr(r, field).m_as(conv)) for k, _, _, field, conv in SERVE_METRICS}
    metrics["memory_utilization"] = metrics["memory_per_device"] / metrics["memory_capacity"]
    notes = []
    bad = [k for k, v in metrics.items() if not math.isfinite(v)]
    if bad:
        notes.append(f"{', '.join(bad)} not finite (missing catalog data, e.g. a link bandwidth): reported as null")
        metrics = {k: (None if k in bad else v) for k, v in metrics.items()}
    units = {k: u for k, _, u, _, _ in SERVE_METRICS}
    units["memory_utilization"] = "fraction"
    status = "PASS" if r.feasible else "FAIL"
    inputs = {"model": m.key, "hardware": hw.key, "seq_len": seq_len, "batch_size": batch_size,
              "output_len": output_len, "tp": tp, "precision": precision.lower(),
              "kv_precision": (kv_precision or precision).lower(), "efficiency": efficiency}
    if fmt == "json":
        emit_json({"schema": "mlsysim.serve/1", "inputs": inputs, "status": status, "feasible": bool(r.feasible),
                   "reason": r.reason, "decode_bottleneck": str(r.decode_bottleneck), "metrics": metrics,
                   "units": units, "notes": notes})
        return
    labels = {k: label for k, label, *_ in SERVE_METRICS}
    labels["memory_utilization"] = "memory utilization"
    rows = [(labels[k], format_value(v, units[k])) for k, v in metrics.items()]
    head = (f"{m.name} on {tp} x {hw.name}: prompt {seq_len}, output {output_len}, batch {batch_size}, "
            f"{inputs['precision']} (KV {inputs['kv_precision']})")
    fit = f"fits in memory: {'yes' if r.feasible else 'NO'} [{status}]" + (f" -- {r.reason}" if r.reason else "")
    if fmt == "markdown":
        emit_text(f"## {head}\n\n" + markdown_table(["metric", "value"], rows, [False, True])
                  + f"\n\n- {fit}\n- decode bottleneck: {r.decode_bottleneck}\n"
                  + "".join(f"- note: {n}\n" for n in notes))
        return
    import textwrap

    lines = [textwrap.fill(head, 78, subsequent_indent="  "), "-" * 60]
    lines += [f"  {label:<30}{value:>20}" for label, value in rows]
    lines += ["-" * 60, textwrap.fill(fit, 78, subsequent_indent="  "), f"decode bottleneck: {r.decode_bottleneck}"]
    lines += [textwrap.fill(f"note: {n}", 78, subsequent_indent="  ") for n in notes]
    emit_text("\n".join(lines))
