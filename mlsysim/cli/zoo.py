"""``mlsysim zoo``: the catalog as tables (units in the headers) and single entries in full."""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

import typer

from ._output import Format, emit_json, emit_text, markdown_table, output_format, output_option

app = typer.Typer(no_args_is_help=False, invoke_without_command=True,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Explore the catalog: list a registry as a table, or show one entry with every "
                       "field, unit and source.")

REGISTRIES = ("hardware", "models", "clusters", "nodes", "fabrics", "grids")


# ------------------------------------------------------------------------------------------------
# Columns: (json key, header (unit on the second line), unit, getter, numeric?)
# ------------------------------------------------------------------------------------------------
def _q(q, unit) -> Optional[float]:
    if q is None:
        return None
    return float(q.m_as(unit))


def _peak(hw) -> float:
    return hw.compute.peak_flops.m_as("TFLOP/s")


COLUMNS: dict[str, list[tuple[str, str, str, Callable[[Any], Any], bool]]] = {
    "hardware": [
        ("key", "Key", "", lambda e: e.key, False),
        ("category", "Class", "", lambda e: e.category, False),
        ("peak_tflops", "Peak\nTFLOP/s", "TFLOP/s", _peak, True),
        ("precision", "at", "", lambda e: e.compute.default_precision, False),
        ("memory_gb", "Memory\nGB", "GB", lambda e: _q(e.memory.capacity, "GB"), True),
        ("bandwidth_gbs", "Mem BW\nGB/s", "GB/s", lambda e: _q(e.memory.bandwidth, "GB/s"), True),
        ("tdp_w", "TDP\nW", "W", lambda e: _q(e.tdp, "W"), True),
        ("price_usd", "Price\nUSD", "USD", lambda e: _q(e.price_usd, "USD"), True),
    ],
    "models": [
        ("key", "Key", "", lambda e: e.key, False),
        ("family", "Family", "", lambda e: e.family, False),
        ("params_b", "Params\nbillion", "billion", lambda e: e.parameters / 1e9, True),
        ("active_params_b", "Active\nbillion", "billion",
         lambda e: getattr(e, "active_parameters", e.parameters) / 1e9, True),
        ("layers", "Layers", "", lambda e: getattr(e, "layers", None), True),
        ("hidden", "Hidden", "", lambda e: getattr(e, "hidden", None), True),
        ("context_tokens", "Context\ntokens", "tokens", lambda e: getattr(e, "max_seq_len", None), True),
    ],
    "clusters": [
        ("key", "Key", "", lambda e: e.key, False),
        ("node", "Node", "", lambda e: e.node.key, False),
        ("nodes", "Nodes", "", lambda e: e.node_count, True),
        ("accelerators", "Accel.\ntotal", "", lambda e: e.total_accelerators, True),
        ("accelerator", "Accelerator", "", lambda e: e.hardware.key, False),
        ("fabric", "Fabric", "", lambda e: e.fabric.key, False),
    ],
    "nodes": [
        ("key", "Key", "", lambda e: e.key, False),
        ("accelerator", "Accelerator", "", lambda e: e.accelerator.key, False),
        ("accelerators_per_node", "Per\nnode", "", lambda e: e.accelerators_per_node, True),
        ("intra_bandwidth_gbs", "Intra-node\nGB/s", "GB/s", lambda e: e.si["intra_bandwidth"] / 1e9, True),
        ("host_power_w", "Host power\nW", "W", lambda e: _q(e.host_power, "W"), True),
        ("price_usd", "Price\nUSD", "USD", lambda e: e.si["price_usd"], True),
    ],
    "fabrics": [
        ("key", "Key", "", lambda e: e.key, False),
        ("name", "Name", "", lambda e: e.name, None),
        ("kind", "Kind", "", lambda e: e.kind, False),
        ("bandwidth_gbs", "Bandwidth\nGB/s", "GB/s", lambda e: _q(e.bandwidth, "GB/s"), True),
        ("bidirectional", "Both\nways", "", lambda e: "yes" if e.bidirectional else "no", False),
        ("latency_us", "Latency\nus", "us", lambda e: _q(e.latency, "us"), True),
    ],
    "grids": [
        ("key", "Key", "", lambda e: e.key, False),
        ("country", "Country", "", lambda e: e.country, False),
        ("carbon_g_per_kwh", "Carbon\ngCO2e/kWh", "gCO2e/kWh", lambda e: _q(e.carbon_intensity, "gCO2e/kWh"), True),
        ("price_usd_per_kwh", "Price\nUSD/kWh", "USD/kWh", lambda e: _q(e.electricity_price, "USD/kWh"), True),
        ("pue", "PUE", "", lambda e: e.pue, True),
        ("wue_l_per_kwh", "WUE\nL/kWh", "L/kWh", lambda e: _q(e.wue, "L/kWh"), True),
    ],
}


def fmt_cell(v: Any) -> str:
    """A table cell: numbers with up to 4 significant figures, never ellipsized."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        a = abs(v)
        if a >= 1e15:
            return f"{v:.4g}"
        if a >= 10000:
            return f"{v:,.0f}"
        if v.is_integer():
            return f"{v:.0f}"
        if a >= 100:
            return f"{v:.1f}".removesuffix(".0")
        if a >= 1:
            return f"{v:.4g}"
        return f"{v:.3g}"
    return str(v)


def _json_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _registry(section: str):
    from ..core.catalog import registry

    return registry(section)


def list_registry(ctx: typer.Context, section: str, output: Optional[Format]) -> None:
    fmt = output_format(ctx, output)
    entries = _registry(section).all()
    cols = COLUMNS[section]
    rows = [[getter(e) for _, _, _, getter, _ in cols] for e in entries]
    if fmt == "json":
        emit_json({
            "schema": "mlsysim.zoo.list/1", "registry": section, "count": len(entries),
            "columns": [c[0] for c in cols], "units": {c[0]: c[2] for c in cols if c[2]},
            "entries": [{"name": e.name, **{c[0]: _json_value(v) for c, v in zip(cols, r)}}
                        for e, r in zip(entries, rows)],
        })
        return
    cells = [[fmt_cell(v) for v in r] for r in rows]
    if fmt == "markdown":
        heads = [c[1].replace("\n", " ") for c in cols]
        emit_text(f"## mlsysim zoo {section} ({len(entries)} entries)\n\n"
                  + markdown_table(heads, cells, [c[4] for c in cols]))
        return
    from ._output import print_table, table

    t = table([(c[1], "right" if c[4] else ("flex" if c[4] is None else "left")) for c in cols], cells,
              title=f"mlsysim zoo {section} ({len(entries)} entries; 'mlsysim zoo show KEY' for details)")
    print_table(t)


def _make_list_command(section: str):
    def command(ctx: typer.Context, output: Optional[Format] = output_option()):
        list_registry(ctx, section, output)

    command.__name__ = f"zoo_{section}"
    command.__doc__ = f"List the {section} in the catalog (units in the headers)."
    return command


for _section in REGISTRIES:
    app.command(_section)(_make_list_command(_section))


@app.callback()
def zoo(ctx: typer.Context, output: Optional[Format] = output_option()):
    """Explore the catalog. Without a subcommand: how many entries each registry holds."""
    if ctx.invoked_subcommand is not None:
        return
    fmt = output_format(ctx, output)
    counts = {s: len(_registry(s)) for s in REGISTRIES}
    if fmt == "json":
        emit_json({"schema": "mlsysim.zoo.summary/1", "registries": counts})
        return
    lines = ["mlsysim catalog:"] + [f"  {s:<10}{n:>5}   mlsysim zoo {s}" for s, n in counts.items()]
    lines.append("  mlsysim zoo show KEY   every field of one entry, with units and sources")
    emit_text("\n".join(lines))


# ------------------------------------------------------------------------------------------------
# zoo show
# ------------------------------------------------------------------------------------------------
def find_entry(name: str, kind: Optional[str] = None):
    """(section, entry) for ``name`` in any registry (or in ``kind``); unknown: UnknownNameError
    with the closest names over all registries."""
    from ..core.errors import UnknownNameError

    sections = [kind] if kind else list(REGISTRIES)
    if kind and kind not in REGISTRIES:
        raise UnknownNameError("registry", kind, REGISTRIES)
    hits = []
    for s in sections:
        reg = _registry(s)
        if name in reg:
            hits.append((s, reg.get(name)))
    if not hits:
        valid = [n for s in sections for e in _registry(s).all() for n in (e.key, e.name)]
        raise UnknownNameError("catalog entry" if not kind else _registry(kind).label, name, valid)
    return hits


def _flatten(entry, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted field, value) for every set field; nested catalog entries appear by key."""
    from pydantic import BaseModel

    from ..core.fields import CatalogEntry

    rows: list[tuple[str, Any]] = []
    skip = {"key", "name", "source", "sources", "aliases", "description"} if not prefix else set()
    for field in type(entry).model_fields:
        if field in skip:
            continue
        v = getattr(entry, field)
        path = f"{prefix}{field}"
        if v is None or v == [] or v == {} or v == "":
            continue
        if isinstance(v, CatalogEntry):
            rows.append((path, v.key))
        elif isinstance(v, BaseModel):
            rows += _flatten(v, path + ".")
        elif isinstance(v, dict):
            for k, x in v.items():
                rows.append((f"{path}.{k}", x))
        else:
            rows.append((path, v))
    return rows


def _value_text(v) -> str:
    import pint

    if isinstance(v, pint.Quantity):
        return f"{fmt_cell(float(v.magnitude))} {v.units:~P}"
    if isinstance(v, float):
        return fmt_cell(v)
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    return str(v)


def _value_json(v):
    import pint

    if isinstance(v, pint.Quantity):
        return {"value": _json_value(float(v.magnitude)), "unit": f"{v.units:~P}"}
    if isinstance(v, float):
        return _json_value(v)
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, (int, str, bool)) or v is None:
        return v
    return str(v)


def _derived(section: str, e) -> list[tuple[str, Any, str]]:
    """(name, value, unit) of quantities derived from the entry's fields."""
    out: list[tuple[str, Any, str]] = []
    if section == "hardware":
        out.append(("ridge_point", float(e.ridge_point.m_as("FLOP/byte")), "FLOP/byte"))
        if e.price_usd is not None:
            out.append(("peak_tflops_per_kusd", _peak(e) / e.price_usd.m_as("USD") * 1000, "TFLOP/s per 1000 USD"))
        if e.tdp is not None:
            out.append(("peak_tflops_per_w", _peak(e) / e.tdp.m_as("W"), "TFLOP/s per W"))
    elif section == "models":
        out.append(("parameters", float(e.parameters), "count"))
        if getattr(e, "kind", None) == "transformer":
            out.append(("active_parameters", float(e.active_parameters), "count"))
            out.append(("forward_flops_per_token_at_2048", float(e.forward_flops_per_token(2048)), "FLOP"))
            out.append(("kv_cache_per_token_fp16", float(e.kv_cache_bytes_per_token("fp16")) / 1e6, "MB"))
        out.append(("weights_fp16", e.weight_bytes("fp16") / 1e9, "GB"))
    elif section == "clusters":
        out.append(("total_accelerators", e.total_accelerators, "count"))
        out.append(("peak_pflops", e.total_accelerators * _peak(e.hardware) / 1000, "PFLOP/s"))
        out.append(("total_memory", e.total_accelerators * e.hardware.memory.capacity.m_as("TB"), "TB"))
    elif section == "nodes":
        out.append(("price_usd", e.si["price_usd"], "USD"))
        out.append(("intra_bandwidth_per_direction", e.si["intra_bandwidth"] / 1e9, "GB/s"))
        if e.accelerator.tdp is not None:
            out.append(("power_at_tdp", (e.accelerators_per_node * e.accelerator.tdp + e.host_power).m_as("kW"), "kW"))
    elif section == "fabrics":
        out.append(("per_direction_bandwidth", e.per_direction.m_as("GB/s"), "GB/s"))
    elif section == "grids":
        out.append(("carbon_per_mwh", e.carbon_intensity.m_as("kg/kWh") * 1000, "kg CO2e/MWh"))
    return out


def show_entry(ctx: typer.Context, name: str, kind: Optional[str], output: Optional[Format]) -> None:
    from ..core.catalog import registry

    fmt = output_format(ctx, output)
    hits = find_entry(name, kind)
    section, e = hits[0]
    if len(hits) > 1:
        from ._output import info
        others = ", ".join(f"{s} {x.key}" for s, x in hits[1:])
        info(f"mlsysim: {name!r} also names {others}; use --kind to choose")
    fields = _flatten(e)
    derived = _derived(section, e)
    label = registry(section).label
    if fmt == "json":
        emit_json({
            "schema": "mlsysim.zoo.show/1", "kind": label, "registry": section, "key": e.key, "name": e.name,
            "aliases": list(e.aliases), "description": e.description, "source": e.source,
            "fields": [{"field": f, "value": _value_json(v), "text": _value_text(v), "source": e.source_of(f)}
                       for f, v in fields],
            "derived": [{"name": n, "value": _json_value(float(v)), "unit": u} for n, v, u in derived],
            "entry": e.model_dump(mode="json"),
        })
        return
    # footnotes for sources: [1] is the entry's source, per-field ones follow
    notes: dict[str, int] = {e.source: 1}
    rows = []
    for f, v in fields:
        src = e.source_of(f)
        n = notes.setdefault(src, len(notes) + 1)
        rows.append((f, _value_text(v), f"[{n}]"))
    drows = [(n, f"{fmt_cell(float(v))} {u}", "derived") for n, v, u in derived]
    title = f"{e.name} ({label} {e.key})"
    if fmt == "markdown":
        text = [f"## {title}", ""]
        if e.aliases:
            text += [f"Aliases: {', '.join(e.aliases)}", ""]
        if e.description:
            text += [e.description, ""]
        text.append(markdown_table(["field", "value", "source"], rows + drows))
        text += ["", "Sources:", ""] + [f"{i}. {s}" for s, i in notes.items()]
        emit_text("\n".join(text))
        return
    from ._output import console, print_table, table

    c = console()
    c.print(f"[bold]{title}[/bold]")
    if e.aliases:
        c.print(f"aliases: {', '.join(e.aliases)}", markup=False)
    if e.description:
        c.print(e.description, markup=False)
    print_table(table([("Field", "left"), ("Value", "flex"), ("Source", "left")], rows + drows), c)
    import textwrap

    c.print("Sources:")
    for s, i in notes.items():
        c.print(textwrap.fill(f"[{i}] {s}", width=78, initial_indent="  ", subsequent_indent="      ",
                              break_long_words=False, break_on_hyphens=False), markup=False, soft_wrap=True)


@app.command("show")
def zoo_show(ctx: typer.Context,
             name: str = typer.Argument(..., help="Key, name or alias of any catalog entry, e.g. H100."),
             kind: Optional[str] = typer.Option(None, "--kind", "-k",
                                                help="Registry to look in: " + ", ".join(REGISTRIES) + "."),
             output: Optional[Format] = output_option()):
    """Show one catalog entry: every field with its unit and source, and derived quantities."""
    show_entry(ctx, name, kind, output)
