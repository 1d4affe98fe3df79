"""``mlsysim eval``: the three-lens scorecard from flags (MODEL HARDWARE) or from a plan file."""
from __future__ import annotations

import os
import re
from typing import List, Optional

import typer

from ._output import Format, emit_json, emit_text, output_format, output_option

PLAN_SUFFIXES = (".yaml", ".yml", ".json")
_ASSERT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=)\s*(.+?)\s*$")


def looks_like_plan(target: str) -> bool:
    return target.lower().endswith(PLAN_SUFFIXES) or os.path.isfile(target)


def parse_assert_option(text: str) -> dict:
    """``performance.latency<=50`` / ``macro.tco_usd<=1e6 USD`` -> ``{"metric", "max"|"min"}``."""
    from ..core.errors import SchemaError

    m = _ASSERT.match(text)
    if not m:
        raise SchemaError(f"--assert {text!r}: expected METRIC<=LIMIT or METRIC>=LIMIT, "
                          "e.g. 'performance.latency<=50' (a bare number is in the metric's display unit)")
    metric, op, raw = m.groups()
    try:
        limit: object = float(raw)
    except ValueError:
        limit = raw
    return {"metric": metric, ("max" if op == "<=" else "min"): limit}


def eval_command(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="MODEL|PLAN.yaml",
                                 help="A catalog model (then HARDWARE), or a plan file (mlsys.yaml)."),
    hardware: Optional[str] = typer.Argument(None, metavar="HARDWARE", help="A catalog accelerator, e.g. H100 "
                                                                           "(not with a plan file)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b",
                                             help="Batch per replica (inference) or global batch (training). "
                                                  "Default 1."),
    precision: Optional[str] = typer.Option(None, "--precision", "-p",
                                            help="fp32, tf32, bf16, fp16, fp8, int8, fp4, int4. Default fp16 "
                                                 "(bf16 for a training plan)."),
    seq_len: Optional[int] = typer.Option(None, "--seq-len", help="Tokens per sequence (default 2048, capped at "
                                                                  "the model's context)."),
    output_len: Optional[int] = typer.Option(None, "--output-len", help="LLM inference: generated tokens per request."),
    efficiency: Optional[float] = typer.Option(None, "--efficiency",
                                               help="Fraction of peak FLOP/s reached, 0-1 (default: derived)."),
    mode: Optional[str] = typer.Option(None, "--mode", help="inference or training (default: training on a "
                                                            "fleet for transformers, else inference)."),
    nodes: Optional[int] = typer.Option(None, "--nodes", "-n", help="Evaluate a fleet of this many nodes of "
                                                                    "the hardware's default node type."),
    node: Optional[str] = typer.Option(None, "--node", help="Catalog node type (with --nodes)."),
    fabric: Optional[str] = typer.Option(None, "--fabric", help="Catalog inter-node fabric (with --nodes)."),
    fleet: Optional[str] = typer.Option(None, "--fleet", help="A catalog cluster instead of HARDWARE/--nodes."),
    region: Optional[str] = typer.Option(None, "--region", "--grid", help="Catalog grid region (default US_Avg)."),
    duration_days: Optional[float] = typer.Option(None, "--duration-days", "--days",
                                                  help="Period of the macro lens in days (default 365)."),
    kwh_price: Optional[float] = typer.Option(None, "--kwh-price", help="Electricity price, USD/kWh."),
    utilization: Optional[float] = typer.Option(None, "--utilization", help="Accelerator power utilization 0-1."),
    tp: Optional[int] = typer.Option(None, "--tp", help="Tensor-parallel degree (fixed split)."),
    pp: Optional[int] = typer.Option(None, "--pp", help="Pipeline stages (training, fixed split)."),
    asserts: List[str] = typer.Option([], "--assert", metavar="METRIC<=LIMIT",
                                      help="Check a metric, e.g. 'performance.latency<=50' (repeatable); "
                                           "a violation exits 3."),
    output: Optional[Format] = output_option(),
):
    """Evaluate MODEL on HARDWARE (flags), or a plan file, through three lenses: feasibility
    (does it fit), performance (latency, throughput, bottleneck, MFU; TTFT/ITL for LLMs) and macro
    (TCO, energy, carbon). A plan's violated assert exits 3 after printing the full report."""
    from ..core.errors import ConstraintViolation, SchemaError, UserInputError

    fmt = output_format(ctx, output)
    if nodes is not None and nodes <= 0:
        raise UserInputError(f"--nodes must be a positive whole number, got {nodes}")
    extra_asserts = [parse_assert_option(a) for a in asserts]
    par = {k: v for k, v in (("tp", tp), ("pp", pp)) if v is not None}

    if hardware is not None and target.lower().endswith(PLAN_SUFFIXES):
        raise UserInputError(f"eval: give either a plan file or MODEL HARDWARE, not both ({target!r} {hardware!r})",
                             hint="plan overrides are flags, e.g. `mlsysim eval plan.yaml --nodes 32`")
    if hardware is None and looks_like_plan(target):
        from ..plan import load_plan

        if fleet is not None:
            raise UserInputError("--fleet does not apply to a plan file", hint="set hardware.name/nodes in the plan")
        overrides = {"workload.batch_size": batch_size, "workload.precision": precision, "workload.seq_len": seq_len,
                     "workload.output_len": output_len, "workload.efficiency": efficiency, "workload.mode": mode,
                     "hardware.nodes": nodes, "hardware.node": node, "hardware.fabric": fabric,
                     "ops.region": region, "ops.duration_days": duration_days, "ops.kwh_price": kwh_price,
                     "ops.utilization": utilization, "parallelism.tp": tp, "parallelism.pp": pp}
        plan = load_plan(target, overrides=overrides)
        ev = plan.evaluate()
        if extra_asserts:
            ev.check(list(plan.constraints.asserts) + extra_asserts)
    else:
        if hardware is None and fleet is None:
            raise SchemaError(f"eval: missing HARDWARE after model {target!r}",
                              hint="run `mlsysim eval MODEL HARDWARE` (e.g. Llama3_8B H100) or "
                                   "`mlsysim eval PLAN.yaml`; `mlsysim zoo hardware` lists accelerators")
        from ..evaluator import SystemEvaluator
        from ..systems.fleet import fleet_for

        cluster = None
        if fleet is not None:
            from ..core.catalog import registry

            cluster = registry("clusters").get(fleet)
            if nodes is not None:
                cluster = cluster.with_nodes(nodes)
        elif nodes is not None or node is not None or fabric is not None:
            from ..core.catalog import registry

            hw = registry("hardware").get(hardware)
            cluster = fleet_for(hw, nodes or 1, node=node, fabric=fabric)
        kwargs = dict(model_obj=target, hardware_obj=hardware, fleet=cluster,
                      batch_size=1 if batch_size is None else batch_size, precision=precision or "fp16",
                      efficiency=efficiency, grid=region, seq_len=seq_len, mode=mode,
                      output_len=output_len or 0, kwh_price=kwh_price, utilization=utilization,
                      parallelism=par or None)
        if duration_days is not None:
            kwargs["duration_days"] = duration_days
        ev = SystemEvaluator.evaluate(**kwargs)
        if extra_asserts:
            ev.check(extra_asserts)

    if fmt == "json":
        emit_json(ev.to_dict())
    elif fmt == "markdown":
        emit_text(ev.to_markdown())
    else:
        emit_text(ev.scorecard())
    if not ev.passed:
        failed = [a for a in ev.asserts if not a.passed]
        raise ConstraintViolation(f"{len(failed)} of {len(ev.asserts)} asserts violated: "
                                  + "; ".join(str(a).removeprefix("[FAIL] ") for a in failed),
                                  hint="the full report is above; exit code 3")
