"""Output plumbing shared by the commands: the output format, JSON on stdout alone, messages on
stderr, rich tables (imported only when a table is drawn) and the error report."""
from __future__ import annotations

import enum
import json
import os
import sys
from typing import Any, Optional, Sequence

import typer

from ..core.textfmt import markdown_table  # noqa: F401  (re-exported for the commands)

FORMATS = ("text", "json", "markdown")
DEBUG_ENV = "MLSYSIM_DEBUG"
CATALOG_ENV = "MLSYSIM_CATALOG"


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


def output_option():
    """The ``--output/-o`` option a command accepts (overrides the global one)."""
    return typer.Option(None, "--output", "-o", case_sensitive=False,
                        help="Output format: text, json or markdown (default: the global --output, else text).")


def output_format(ctx: typer.Context, local: Optional[Format] = None) -> str:
    """The effective output format: the command's ``--output``, else the global one, else text."""
    if local is not None:
        return Format(local).value
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    return obj.get("output", "text")


# ------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------
def emit_json(obj: Any) -> None:
    """Write one JSON document to stdout (and nothing else goes to stdout in JSON mode)."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def emit_text(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def info(msg: str) -> None:
    """A progress or warning line on stderr."""
    sys.stderr.write(msg.rstrip("\n") + "\n")


def console(stderr: bool = False, width: Optional[int] = None):
    """A rich console on stdout (or stderr); 80 columns when not a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if width is None and not stream.isatty():
        width = 80
    return Console(file=stream, width=width, soft_wrap=False, highlight=False)


def print_table(t, c=None) -> None:
    """Print a table without ever cropping a cell: fixed columns keep their full width (only
    ``flex`` columns fold); if even that exceeds the console, the table is printed wider."""
    c = c or console()
    need = getattr(t, "mlsysim_min_width", 0)
    if need > c.width:
        c = console(width=need)
    c.print(t)


def table(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[str]], title: Optional[str] = None):
    """A compact rich table. ``columns`` = (header, justify) with justify ``right`` (numbers),
    ``left`` (names) -- both never wrapped nor cropped -- or ``flex`` (free text: folds to fit).
    Print it with ``print_table``."""
    from rich import box
    from rich.table import Table

    t = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1),
              title_justify="left", header_style="bold")
    need = 0
    for i, (header, justify) in enumerate(columns):
        cells = [str(r[i]) for r in rows] + str(header).split("\n")
        full = max((len(line) for cell in cells for line in cell.split("\n")), default=0)
        if justify == "flex":
            t.add_column(header, justify="left", overflow="fold", min_width=min(full, 16))
            need += min(full, 16)
        else:
            t.add_column(header, justify=justify, no_wrap=True, min_width=full)
            need += full
    need += 2 * max(len(columns) - 1, 0)
    t.mlsysim_min_width = need
    for r in rows:
        t.add_row(*r)
    return t


# ------------------------------------------------------------------------------------------------
# Catalog files given with --catalog / $MLSYSIM_CATALOG
# ------------------------------------------------------------------------------------------------
def load_extra_catalogs(paths: Sequence[str]) -> None:
    env = os.environ.get(CATALOG_ENV, "")
    all_paths = [p for p in env.split(os.pathsep) if p.strip()] + list(paths or [])
    if not all_paths:
        return
    from ..core.catalog import load_catalog

    for p in all_paths:
        load_catalog(p)


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------
def error_payload(exc: BaseException, exit_code: int) -> dict:
    """The JSON error document (``mlsysim/schemas/error.schema.json``)."""
    payload = {
        "schema": "mlsysim.error/1",
        "error": {
            "type": type(exc).__name__,
            "message": getattr(exc, "message", None) or str(exc),
            "hint": getattr(exc, "hint", None),
            "exit_code": exit_code,
        },
    }
    suggestions = getattr(exc, "suggestions", None)
    if suggestions is not None:
        payload["error"]["suggestions"] = list(suggestions)
    return payload


def report_user_error(exc, fmt: str) -> int:
    """Print an ``MLSysimError`` (no traceback) and return its exit code. A violated assert (or
    an error with ``after_report = True``) only gets a stderr line: its full report is already on
    stdout."""
    from ..core.errors import ConstraintViolation

    code = int(getattr(exc, "exit_code", 2))
    # after a full report (a violated assert; a search with no feasible point) stdout already holds
    # the one JSON document
    if fmt == "json" and not isinstance(exc, ConstraintViolation) and not getattr(exc, "after_report", False):
        emit_json(error_payload(exc, code))
    label = "assert violated" if isinstance(exc, ConstraintViolation) else "error"
    info(f"mlsysim: {label}: {exc}")
    if os.environ.get(DEBUG_ENV):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    return code


def report_internal_error(exc: BaseException, fmt: str) -> int:
    """An unexpected exception: a short message and a request to report it (traceback only with
    MLSYSIM_DEBUG=1). Exit code 1."""
    if fmt == "json":
        emit_json(error_payload(exc, 1))
    info(f"mlsysim: internal error: {type(exc).__name__}: {exc}")
    if os.environ.get(DEBUG_ENV):
        import traceback

        traceback.print_exception(exc, file=sys.stderr)
    else:
        info("This is a bug in mlsysim: please report it (GitHub issue) with the command you ran; "
             f"set {DEBUG_ENV}=1 to print the traceback.")
    return 1
