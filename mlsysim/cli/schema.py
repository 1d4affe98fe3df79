"""``mlsysim schema``: JSON Schemas of the plan (default), the catalog entries and the command
outputs, and the list of metric paths."""
from __future__ import annotations

from typing import Optional

import typer

from ..core.schemas import RESULT_SCHEMAS, load_result_schema
from ._output import Format, emit_json, emit_text, markdown_table, output_format, output_option

app = typer.Typer(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]},
                  help="JSON Schemas: the plan (no subcommand), catalog entries, command outputs, metric paths.")


@app.callback()
def schema(ctx: typer.Context):
    """Print the plan's JSON Schema (mlsys.yaml), for IDEs and agents: `mlsysim schema > schema.json`."""
    if ctx.invoked_subcommand is None:
        from ..plan import plan_json_schema

        emit_json(plan_json_schema())


@app.command("catalog")
def schema_catalog(section: Optional[str] = typer.Argument(
        None, help="hardware, models, clusters, nodes, fabrics or grids (default: all).")):
    """JSON Schemas of the catalog entries (the YAML files a user catalog may add)."""
    from ..core.catalog import LOAD_ORDER, _adapter
    from ..core.errors import UnknownNameError

    if section is not None and section not in LOAD_ORDER:
        raise UnknownNameError("catalog section", section, LOAD_ORDER)
    sections = [section] if section else list(LOAD_ORDER)
    schemas = {s: _adapter(s).json_schema() for s in sections}
    emit_json(schemas[section] if section else {"$schema": "https://json-schema.org/draft/2020-12/schema",
                                                "title": "mlsysim catalog entries", "sections": schemas})


@app.command("result")
def schema_result(name: Optional[str] = typer.Argument(
        None, help="One of: " + ", ".join(RESULT_SCHEMAS) + " (default: all).")):
    """The published JSON Schemas of the commands' --output json documents."""
    if name is not None:
        emit_json(load_result_schema(name))
    else:
        emit_json({k: load_result_schema(k) for k in RESULT_SCHEMAS})


@app.command("metrics")
def schema_metrics(ctx: typer.Context, output: Optional[Format] = output_option()):
    """The metric paths an assert may name, with their display units."""
    from ..evaluator import METRICS

    fmt = output_format(ctx, output)
    rows = [{"path": m.path, "unit": m.unit, "description": m.description} for m in METRICS]
    if fmt == "json":
        emit_json({"schema": "mlsysim.metrics/1", "metrics": rows})
        return
    cells = [(r["path"], r["unit"], r["description"]) for r in rows]
    if fmt == "markdown":
        emit_text(markdown_table(["path", "unit", "meaning"], [(f"`{a}`", b, c) for a, b, c in cells]))
        return
    from ._output import print_table, table

    print_table(table([("Path", "left"), ("Unit", "left"), ("Meaning", "flex")], cells,
                      title="Metric paths (a bare number in an assert is in this unit)"))
