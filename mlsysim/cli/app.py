"""The ``mlsysim`` command line (console script ``mlsysim = "mlsysim.cli.app:main"``).

Start-up cost: ``mlsysim``, ``mlsysim --help`` and ``mlsysim --version`` are answered by this
module alone -- no typer, click, rich, numpy, pint or pydantic import. Any other invocation builds
the typer app from ``COMMANDS``; the command modules import typer only, and the heavy libraries
inside the command bodies that need them.

Registering a command or command group is one line in ``COMMANDS``:
``name: ("module:attribute", "one-line help")``. A ``typer.Typer`` attribute is added as a group
(``mlsysim NAME SUBCOMMAND ...``), a function as a single command. The lead's groups go here::

    "optimize": ("mlsysim.cli.optimize:app", "Design-space search: parallelism, placement."),
    "study": ("mlsysim.cli.study:app", "Batch studies from YAML: run, resume, report."),

Errors: every ``MLSysimError`` is caught in ``_RootGroup.invoke`` and printed without a traceback
(exit code 2, or 3 for a violated assert); anything else is an internal error (exit 1, traceback
only with ``MLSYSIM_DEBUG=1``); click usage errors exit 2. In JSON mode an error also writes a JSON
error document (``mlsysim/schemas/error.schema.json``) to stdout.
"""
import os
import sys
import textwrap
from typing import Optional, Sequence

# name -> ("module:attribute", one-line help). Order is the order of `mlsysim --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "zoo": ("mlsysim.cli.zoo:app", "Explore the catalog: hardware, models, clusters, nodes, fabrics, grids."),
    "eval": ("mlsysim.cli.evaluate:eval_command",
             "Evaluate MODEL on HARDWARE, or a plan file (mlsys.yaml): the 3-lens scorecard."),
    "serve": ("mlsysim.cli.serve:serve_command",
              "LLM serving on one accelerator or a TP group: TTFT, ITL, KV cache, fit."),
    "schema": ("mlsysim.cli.schema:app",
               "JSON Schemas: the plan (default), catalog entries, command outputs, metric paths."),
    "optimize": ("mlsysim.cli.optimize:app",
                 "Design-space search over a plan: parallelism, placement, hardware, batching."),
    "study": ("mlsysim.cli.study:app", "Batch studies from YAML: run, resume, workers, report, list."),
}

SUMMARY = ("First-order analytical models of ML systems: will it fit, how fast is it, what does it "
           "cost and emit. Every command prints text, markdown or JSON (--output json: "
           "schema-validated, on stdout alone).")

EXIT_CODES: tuple[tuple[int, str], ...] = (
    (0, "success"),
    (1, "internal error: a bug, please report it (MLSYSIM_DEBUG=1 prints the traceback)"),
    (2, "bad input: unknown name (the closest valid names are suggested), malformed YAML (line and "
        "column), schema violation (the field is named), wrong units, negative batch size, unknown "
        "metric path, empty or infeasible search space, unknown option"),
    (3, "an assert constraint of the plan is violated (the full report is printed first)"),
)

EXAMPLES = (
    "mlsysim zoo hardware",
    "mlsysim eval Llama3_8B H100 --batch-size 32",
    "mlsysim eval example_cluster.yaml",
    "mlsysim --output json eval example_cluster.yaml | jq .macro.metrics.tco_usd",
    "mlsysim serve Llama3_70B H100 --seq-len 4096 --tp 4",
    "mlsysim schema > plan.schema.json",
    "mlsysim optimize parallelism example_cluster.yaml",
    "mlsysim optimize placement example_cluster.yaml --carbon-tax 150",
    "mlsysim study run quickstart --out reports/quickstart",
)

_OPTIONS = (
    ("-o, --output [text|json|markdown]", "Output format (default: text)."),
    ("--catalog PATH", "Also load catalog entries from this YAML file (repeatable; also $MLSYSIM_CATALOG, "
                       "paths separated by ':')."),
    ("--version", "Print the version and exit."),
    ("-h, --help", "Show this message and exit."),
)


def _block(rows: Sequence[tuple[str, str]], width: int = 80, indent: int = 2) -> list[str]:
    col = min(max(len(a) for a, _ in rows) + 2, 36)
    out = []
    for a, b in rows:
        lead = " " * indent + a
        body_width = width - indent - col
        wrapped = textwrap.wrap(b, body_width) or [""]
        if len(a) + 2 > col:
            out.append(lead)
            out += [" " * (indent + col) + w for w in wrapped]
        else:
            out.append(lead.ljust(indent + col) + wrapped[0])
            out += [" " * (indent + col) + w for w in wrapped[1:]]
    return out


def exit_codes_text(width: int = 80) -> str:
    return "\n".join(["Exit codes:"] + _block([(str(c), t) for c, t in EXIT_CODES], width))


def help_text(width: int = 80) -> str:
    """The top-level help (``mlsysim --help``), built without importing typer or click."""
    lines = ["Usage: mlsysim [OPTIONS] COMMAND [ARGS]...", ""]
    lines += textwrap.wrap(SUMMARY, width - 2, initial_indent="  ", subsequent_indent="  ")
    lines += ["", "Options:"] + _block(_OPTIONS, width)
    lines += ["", "Commands:"] + _block([(n, h) for n, (_, h) in COMMANDS.items()], width)
    lines += ["", "Examples:"] + ["  " + e for e in EXAMPLES]
    lines += ["", exit_codes_text(width), "",
              "Run 'mlsysim COMMAND --help' for the options of a command; docs/cli.md has the",
              "plan format, the metric paths and the JSON shapes.", ""]
    return "\n".join(lines)


def _version() -> str:
    from .. import __version__

    return __version__


# ------------------------------------------------------------------------------------------------
# The typer app (built on demand)
# ------------------------------------------------------------------------------------------------
_APP = None


def build_app():
    """The full typer app: the root group with its global options, and every entry of COMMANDS."""
    global _APP
    if _APP is not None:
        return _APP
    import importlib
    from typing import List

    import typer
    from typer.core import TyperGroup

    from ._output import Format, load_extra_catalogs, report_internal_error, report_user_error

    # click's exceptions (usage errors, exits) pass through; typer may vendor click, so take the
    # classes from typer itself.
    click_exception = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    passthrough = (typer.Exit, typer.Abort, click_exception)

    class _RootGroup(TyperGroup):
        """Root group: the hand-written help, and the one place errors become exit codes.
        (typer gives sub-groups their parent's class, hence the ``ctx.parent`` checks.)"""

        def format_help(self, ctx, formatter):
            if ctx.parent is None:
                formatter.write(help_text())
            else:
                super().format_help(ctx, formatter)

        def invoke(self, ctx):
            try:
                return super().invoke(ctx)
            except click_exception as exc:  # a usage error (bad option value): click prints it, exit 2
                fmt = (ctx.obj or {}).get("output", "text") if isinstance(ctx.obj, dict) else "text"
                if fmt == "json":  # ... and JSON mode still gets its error document on stdout
                    from ._output import emit_json, error_payload

                    doc = error_payload(exc, getattr(exc, "exit_code", 2))
                    doc["error"]["message"] = exc.format_message()  # names the option
                    emit_json(doc)
                raise
            except passthrough:
                raise
            except BrokenPipeError:  # `mlsysim ... | head`: the reader left; not an error
                _silence_stdout()
                raise typer.Exit(0) from None
            except Exception as exc:
                from ..core.errors import MLSysimError

                fmt = (ctx.obj or {}).get("output", "text") if isinstance(ctx.obj, dict) else "text"
                if isinstance(exc, MLSysimError) and exc.exit_code != 1:
                    code = report_user_error(exc, fmt)
                else:
                    code = report_internal_error(exc, fmt)
                raise typer.Exit(code) from None

    app = typer.Typer(cls=_RootGroup, add_completion=False, no_args_is_help=True,
                      pretty_exceptions_enable=False, rich_markup_mode="rich",
                      context_settings={"help_option_names": ["-h", "--help"]})

    def _show_version(value: bool):
        if value:
            sys.stdout.write(f"mlsysim {_version()}\n")
            raise typer.Exit(0)

    @app.callback()
    def root(ctx: typer.Context,
             output: Format = typer.Option(Format.text, "--output", "-o", case_sensitive=False,
                                           help="Output format."),
             catalog: List[str] = typer.Option([], "--catalog", metavar="PATH",
                                               help="Also load catalog entries from this YAML file."),
             version: bool = typer.Option(False, "--version", is_eager=True, callback=_show_version,
                                          help="Print the version and exit.")):
        ctx.obj = {"output": Format(output).value}
        load_extra_catalogs(catalog)

    for name, (target, short) in COMMANDS.items():
        module, attr = target.split(":")
        obj = getattr(importlib.import_module(module), attr)
        if isinstance(obj, typer.Typer):
            app.add_typer(obj, name=name, help=short)
        else:
            app.command(name, help=obj.__doc__ or short, short_help=short)(obj)
    _APP = app
    return app


def get_command():
    """The click command of the app (for click/typer test runners)."""
    import typer.main

    return typer.main.get_command(build_app())


# ------------------------------------------------------------------------------------------------
# Entry point
# ------------------------------------------------------------------------------------------------
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if not args or args in (["--help"], ["-h"]):
            sys.stdout.write(help_text())
            return 0
        if args == ["--version"]:
            sys.stdout.write(f"mlsysim {_version()}\n")
            return 0
        try:
            get_command().main(args=args, prog_name="mlsysim", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 1)
        except KeyboardInterrupt:
            sys.stderr.write("mlsysim: interrupted\n")
            return 130
        except Exception as exc:  # outside any command (building the app): still no raw traceback
            from ._output import report_internal_error

            return report_internal_error(exc, "text")
        return 0
    finally:
        _flush_stdout()


def _flush_stdout() -> None:
    """Flush stdout; a closed pipe (``mlsysim zoo hardware | head -1``) is not an error."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
