"""``mlsysim optimize parallelism|placement|hardware|batching PLAN.yaml``: design-space search on
the DSE engine, with the presets of ``mlsysim.dse.presets`` (every default can be overridden)."""
from __future__ import annotations

from typing import List, Optional

import typer

from ._output import Format, emit_json, emit_text, output_format, output_option

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
                  help="Design-space search over a plan: the winner, the Pareto set and search statistics.")


def _run(ctx, kind: str, plan_path: str, *, space, objective, constraint, winner, backend, sampler, budget, seed,
         jobs, storage, top, output, **preset_kwargs) -> None:
    from ..dse.presets import setup
    from ..plan import load_plan
    from .progress import SearchProgress

    fmt = output_format(ctx, output)
    plan = load_plan(plan_path)
    s = setup(kind, plan, space=space, objectives=objective or None, constraints=constraint or (), winner=winner,
              **preset_kwargs)
    dse = s.dse(backend=backend, sampler=sampler)
    with SearchProgress(enabled=fmt != "json", label=f"optimize {kind}") as progress:
        result = dse.run(budget=budget, seed=seed, n_jobs=jobs, storage=storage, progress=progress)
    res = result.to_json()
    res.update(command=f"optimize {kind}", question=s.question, plan=plan_path, context=s.context)
    _print(fmt, kind, s, res, top)
    if res.get("winner") is None:  # the documented exit code 2, after the full report (nothing is lost)
        from ..core.errors import InfeasibleError

        reasons = "; ".join(f"{k} ({v:,})" for k, v in list(res.get("infeasible_reasons", {}).items())[:3])
        err = InfeasibleError(f"optimize {kind}: none of the {res.get('trials', 0):,} evaluated configurations is "
                              f"feasible" + (f": {reasons}" if reasons else ""),
                              hint="relax the constraints (--constraint), widen the search space (--space) or "
                                   "change the plan; the report above lists why configurations failed")
        err.after_report = True
        raise err


def _print(fmt, kind, s, res, top) -> None:
    """The search report in ``fmt`` (JSON: the one document on stdout)."""
    from ..dse.summary import (markdown, objective_line, pareto_table, statistics_lines, varying_config_keys,
                               winner_lines)

    if fmt == "json":
        emit_json(res)
        return
    ctx_lines = [f"{k}: {v}" for k, v in s.context.items() if v is not None]
    title = f"optimize {kind}: {s.question}"
    if fmt == "markdown":
        emit_text(markdown(res, title=title, context_lines=ctx_lines, top=top))
        return
    from ._output import console, print_table, table

    from rich.markup import escape

    c = console()
    say = lambda line: c.print(line, soft_wrap=True, markup=False)  # noqa: E731  (units contain brackets)
    c.print(f"[bold]{escape(title)}[/bold]")
    say("plan: " + ", ".join(ctx_lines))
    say(objective_line(res))
    say("")
    for line in winner_lines(res):
        say(line)
    say("")
    headers, rows = pareto_table(res, top, sep="\n")
    headers = [escape(h) for h in headers]
    n = len(res["pareto"])
    shown = f"top {len(rows)} of {n}" if len(rows) < n else f"{n}"
    n_left = 1 + len(varying_config_keys(res))
    cols = [(h, "left" if i < n_left else "right") for i, h in enumerate(headers)]
    if rows:
        print_table(table(cols, rows, title=f"Pareto set ({shown} configurations, winner marked *)"), c)
    for line in statistics_lines(res):
        say(line)


# Shared option definitions (typer needs them as defaults in each signature).
def _space():
    return typer.Option(None, "--space", help="A shipped search space by name (parallelism, placement, hardware, "
                                              "serving) or a YAML file (default: the question's shipped space).")


def _objective():
    return typer.Option(None, "--objective", help="Objective, e.g. 'minimize: step_time' (repeatable; replaces "
                                                  "the defaults).")


def _constraint():
    return typer.Option(None, "--constraint", help="Constraint with units, e.g. 'memory_per_device <= 0.9 * "
                                                   "capacity' or 'p99_latency <= 200 ms' (repeatable).")


def _winner():
    return typer.Option(None, "--winner", help="Winner rule: knee (default for several objectives), "
                                               "lexicographic, weighted, or 'max X with Y within Z% of best'.")


def _backend():
    return typer.Option("auto", "--backend", help="exhaustive | optuna | pymoo | auto (optionally "
                                                  "'optuna:tpe', 'pymoo:nsga3', ...).")


def _budget():
    return typer.Option(None, "--budget", min=1, help="Maximum configurations an optimizer proposes "
                                                      "(exhaustive evaluates the whole space).")


def _seed():
    return typer.Option(0, "--seed", help="Random seed (same seed, same result).")


def _jobs():
    return typer.Option(1, "--jobs", "-j", help="Parallel workers (joblib processes; -1 = all cores).")


def _storage():
    return typer.Option(None, "--storage", help="Study storage for resumable/distributed optuna searches: a "
                                                ".db / .log file or an SQLAlchemy URL (postgresql://...).")


def _top():
    return typer.Option(15, "--top", min=1, help="Pareto rows shown in text and markdown output.")


def _plan():
    return typer.Argument(..., help="Plan file (mlsys.yaml); example_cluster.yaml (the seed's plan) ships with "
                                    "mlsysim.")


@app.command("parallelism")
def parallelism(ctx: typer.Context, plan: str = _plan(), space: Optional[str] = _space(),
                objective: Optional[List[str]] = _objective(), constraint: Optional[List[str]] = _constraint(),
                winner: Optional[str] = _winner(), backend: str = _backend(), sampler: Optional[str] = None,
                budget: Optional[int] = _budget(), seed: int = _seed(), jobs: int = _jobs(),
                storage: Optional[str] = _storage(), top: int = _top(),
                train_tokens: Optional[float] = typer.Option(None, "--train-tokens", help="Token budget for "
                                                             "time_to_train (default: 20 x parameters)."),
                output: Optional[Format] = output_option()):
    """How many nodes (up to the plan's), split how? Training throughput vs GPU-hours per million
    tokens over tp, pp, cp, (ep), dp, microbatch, ZeRO stage, recomputation, sequence parallelism
    and interleaving; the winner is the knee of the Pareto front."""
    _run(ctx, "parallelism", plan, space=space, objective=objective, constraint=constraint, winner=winner,
         backend=backend, sampler=sampler, budget=budget, seed=seed, jobs=jobs, storage=storage, top=top,
         output=output, train_tokens=train_tokens)


@app.command("placement")
def placement(ctx: typer.Context, plan: str = _plan(),
              carbon_tax: float = typer.Option(0.0, "--carbon-tax", min=0.0, help="Carbon tax in USD per tCO2e."),
              space: Optional[str] = _space(), objective: Optional[List[str]] = _objective(),
              constraint: Optional[List[str]] = _constraint(), winner: Optional[str] = _winner(),
              backend: str = _backend(), sampler: Optional[str] = None, budget: Optional[int] = _budget(),
              seed: int = _seed(), jobs: int = _jobs(), storage: Optional[str] = _storage(), top: int = _top(),
              train_tokens: Optional[float] = typer.Option(None, "--train-tokens", help="Token budget (default: "
                                                           "20 x parameters)."),
              output: Optional[Format] = output_option()):
    """Where, on what and how big? Grid region x accelerator x fleet size for the plan's training run,
    within its ops.duration_days: cost including the carbon tax vs carbon."""
    _run(ctx, "placement", plan, space=space, objective=objective, constraint=constraint, winner=winner,
         backend=backend, sampler=sampler, budget=budget, seed=seed, jobs=jobs, storage=storage, top=top,
         output=output, carbon_tax=carbon_tax, train_tokens=train_tokens)


@app.command("hardware")
def hardware(ctx: typer.Context, plan: str = _plan(),
             carbon_tax: float = typer.Option(0.0, "--carbon-tax", min=0.0, help="Carbon tax in USD per tCO2e."),
             space: Optional[str] = _space(), objective: Optional[List[str]] = _objective(),
             constraint: Optional[List[str]] = _constraint(), winner: Optional[str] = _winner(),
             backend: str = _backend(), sampler: Optional[str] = None, budget: Optional[int] = _budget(),
             seed: int = _seed(), jobs: int = _jobs(), storage: Optional[str] = _storage(), top: int = _top(),
             train_tokens: Optional[float] = typer.Option(None, "--train-tokens", help="Token budget (default: "
                                                          "20 x parameters)."),
             output: Optional[Format] = output_option()):
    """Which accelerator and how many, in the plan's region? Time to train vs cost."""
    _run(ctx, "hardware", plan, space=space, objective=objective, constraint=constraint, winner=winner,
         backend=backend, sampler=sampler, budget=budget, seed=seed, jobs=jobs, storage=storage, top=top,
         output=output, carbon_tax=carbon_tax, train_tokens=train_tokens)


@app.command("batching")
def batching(ctx: typer.Context, plan: str = _plan(),
             qps: float = typer.Option(..., "--qps", min=0.0, help="Request rate to serve, requests per second."),
             sla_ms: Optional[float] = typer.Option(None, "--sla-ms", min=0.0, help="P99 latency SLA in ms "
                                                                                    "(a constraint)."),
             prompt_len: Optional[int] = typer.Option(None, "--prompt-len", min=1, help="Prompt tokens per request "
                                                                                        "(default: the plan's seq_len)."),
             output_len: Optional[int] = typer.Option(None, "--output-len", min=1, help="Generated tokens per "
                                                                                        "request (default 256)."),
             space: Optional[str] = _space(), objective: Optional[List[str]] = _objective(),
             constraint: Optional[List[str]] = _constraint(), winner: Optional[str] = _winner(),
             backend: str = _backend(), sampler: Optional[str] = None, budget: Optional[int] = _budget(),
             seed: int = _seed(), jobs: int = _jobs(), storage: Optional[str] = _storage(), top: int = _top(),
             output: Optional[Format] = output_option()):
    """How to batch, split and replicate the plan's LLM to serve QPS requests/s on its accelerator:
    cost per million tokens vs P99 latency, under the SLA."""
    if qps <= 0:
        from ..core.errors import UserInputError

        raise UserInputError(f"--qps must be > 0, got {qps}")
    _run(ctx, "batching", plan, space=space, objective=objective, constraint=constraint, winner=winner,
         backend=backend, sampler=sampler, budget=budget, seed=seed, jobs=jobs, storage=storage, top=top,
         output=output, qps=qps, sla_ms=sla_ms, prompt_len=prompt_len, output_len=output_len)
