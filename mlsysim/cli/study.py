"""``mlsysim study run|worker|report|list``: batch studies from YAML (``studies/*.yaml``) that leave
a report folder, resumable (``--resume``) and distributed (``--storage postgresql://...`` shared by
``study worker`` processes on many machines; ``--dask-scheduler`` for a Dask cluster)."""
from __future__ import annotations

import contextlib
import pathlib
from typing import Optional

import typer

from ._output import Format, emit_json, emit_text, info, output_format, output_option

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
                  help="Batch studies from YAML (studies/*.yaml): run, resume, join as a worker, rebuild the report, "
                       "list the studies of a storage.")

DASK_ENV = "MLSYSIM_DASK_SCHEDULER"
JOBLIB_ENV = "MLSYSIM_JOBLIB_BACKEND"


# -- shared options ------------------------------------------------------------------------------
def _file():
    return typer.Argument(..., help="Study file, or a shipped study by name (quickstart, serving_sla, ...).")


def _storage(required: bool = False):
    help_ = ("Results storage: a SQLAlchemy URL (postgresql://user@host/db for workers on many machines), a .db "
             "file or a report folder" + ("" if required else "; default: sqlite:///OUT/study.db") + ".")
    return typer.Option(... if required else None, "--storage", help=help_)


def _jobs():
    return typer.Option(1, "--jobs", "-j", help="Searches run at once (joblib processes; -1 = all cores, or all "
                                                "workers of a Dask cluster). More jobs than searches: several "
                                                "workers per search.")


def _seed():
    return typer.Option(None, "--seed", help="Override the study's seed.")


def _budget():
    return typer.Option(None, "--budget", min=1, help="Override the study's budget (optimizers).")


def _backend():
    return typer.Option(None, "--backend", help="Override the study's backend: exhaustive | optuna | pymoo | auto "
                                                "(or 'optuna:tpe', ...).")


def _dask():
    return typer.Option(None, "--dask-scheduler", envvar=DASK_ENV, metavar="ADDRESS",
                        help=f"Run the searches on a Dask cluster: tcp://scheduler:8786, or 'local' for a "
                             f"LocalCluster (also ${DASK_ENV}). Needs mlsysim\\[distributed]; every worker must "
                             "reach --storage (use PostgreSQL across machines).")


def _joblib_backend():
    return typer.Option(None, "--joblib-backend", envvar=JOBLIB_ENV, metavar="NAME",
                        help=f"joblib backend for the searches: loky (default), threading, ray, dask (a local "
                             f"cluster unless --dask-scheduler is given) (also ${JOBLIB_ENV}).")


@contextlib.contextmanager
def cluster(dask_scheduler: str | None, joblib_backend: str | None, jobs: int):
    """Yields the ``jobs`` to use, inside the requested joblib backend (a Dask client when
    ``dask_scheduler`` is given: all its workers unless ``--jobs`` says otherwise)."""
    from ..core.errors import UserInputError

    if not dask_scheduler and not joblib_backend:
        yield jobs
        return
    import joblib

    if joblib_backend and joblib_backend.strip().lower() == "dask":  # dask needs a client: a local cluster
        dask_scheduler = dask_scheduler or "local"

    if dask_scheduler:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UserInputError("--dask-scheduler needs dask.distributed",
                                 hint="pip install 'mlsysim[distributed]'") from None
        local = None
        try:
            if dask_scheduler == "local":
                local = LocalCluster(processes=True, threads_per_worker=1, dashboard_address=None)
                client = Client(local)
            else:
                client = Client(dask_scheduler, timeout=30)
        except (OSError, TimeoutError) as exc:
            if local is not None:
                local.close()
            raise UserInputError(f"cannot reach the Dask scheduler {dask_scheduler!r}: {exc}",
                                 hint="check the address (tcp://host:8786) and that `dask scheduler` runs") from None
        try:
            with joblib.parallel_config(backend="dask"):
                yield -1 if jobs == 1 else jobs
        finally:
            client.close()
            if local is not None:
                local.close()
        return
    name = joblib_backend.strip().lower()
    if name == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError:
            raise UserInputError("--joblib-backend ray needs ray", hint="pip install 'ray[default]'") from None
        register_ray()
    elif name not in ("loky", "threading", "multiprocessing", "sequential"):
        from ..core.errors import UnknownNameError

        raise UnknownNameError("joblib backend", name, ["loky", "threading", "multiprocessing", "dask", "ray"])
    with joblib.parallel_config(backend=name):
        yield jobs


# -- output --------------------------------------------------------------------------------------
def _show(doc: dict, fmt: str, out: Optional[pathlib.Path], files: dict, notes: list[str], top: int | None) -> None:
    if fmt == "json":
        emit_json(doc)
        return
    top = top or int((doc.get("report") or {}).get("top", 15))
    if fmt == "markdown":
        from ..study.report import render

        emit_text(render("markdown", doc, info))
        return
    from rich.markup import escape

    from ..dse.summary import objective_line, pareto_table, statistics_lines, varying_config_keys, winner_lines
    from ._output import console, print_table, table

    c = console()
    say = lambda line: c.print(line, soft_wrap=True, markup=False)  # noqa: E731  (units contain brackets)
    c.print(f"[bold]study {escape(doc['study'])}[/bold]" + (f": {escape(doc['description'])}" if doc["description"]
                                                             else ""))
    for s in doc["scenarios"]:
        res = s["result"]
        say("")
        c.print(f"[bold]{escape(s['name'])}[/bold] -- {escape(s['question_text'])}")
        say("context: " + ", ".join(f"{k}: {v}" for k, v in s["context"].items() if v is not None))
        say(objective_line(res))
        for line in winner_lines(res):
            say(line)
        headers, rows = pareto_table(res, top, sep="\n")
        n = len(res["pareto"])
        shown = f"top {len(rows)} of {n}" if len(rows) < n else f"{n}"
        n_left = 1 + len(varying_config_keys(res))
        if rows:
            print_table(table([(escape(h), "left" if i < n_left else "right") for i, h in enumerate(headers)], rows,
                              title=f"Pareto set ({shown} configurations, winner marked *)"), c)
        for line in statistics_lines(res):
            say(line)
    for sw in doc.get("sweep_summary") or []:
        say("")
        c.print(f"[bold]sweep of {escape(', '.join(sw['parameters']))}: {escape(sw['scenario'])}[/bold]")
        for p in sw["points"]:
            cfg = p["winner"] or {}
            keys = [k for k in ("region", "hardware", "nodes", "tp", "pp", "batch_size", "replicas") if k in cfg]
            vals = ", ".join(f"{k}={v}" for k, v in p["sweep"].items())
            say(f"  {vals}: " + (", ".join(f"{k}={cfg[k]}" for k in keys) if p["winner"] else "no feasible winner"))
        for line in sw["text"]:
            say(line)
    say("")
    for n in notes:
        say(f"note: {n}")
    if out is not None:
        say(f"report folder: {out} ({', '.join(files)})")


# -- commands ------------------------------------------------------------------------------------
@app.command("run", short_help="Run (or --resume) a study and write its report folder.")
def run(ctx: typer.Context, file: str = _file(),
        out: Optional[str] = typer.Option(None, "--out", help="Report folder (default: reports/STUDY_NAME)."),
        storage: Optional[str] = _storage(), jobs: int = _jobs(),
        resume: bool = typer.Option(False, "--resume", help="Continue a killed or unfinished run in OUT (or on "
                                                             "--storage); without it an OUT with results is refused."),
        seed: Optional[int] = _seed(), budget: Optional[int] = _budget(), backend: Optional[str] = _backend(),
        dask_scheduler: Optional[str] = _dask(), joblib_backend: Optional[str] = _joblib_backend(),
        wait_timeout: Optional[float] = typer.Option(None, "--wait-timeout", min=0.0,
                                                     help="Give up waiting for other workers after this many seconds."),
        top: Optional[int] = typer.Option(None, "--top", min=1, help="Pareto rows shown per scenario."),
        output: Optional[Format] = output_option()):
    """Run every search of a study (scenarios x sweep values) and write the report folder: result.json,
    trials.csv, pareto.csv, report.md, report.html. With --storage on a shared database this process is one
    worker plus the coordinator that waits for every search and writes the report."""
    from ..study.runner import run_study
    from ..study.spec import load_study
    from .progress import StudyProgress

    fmt = output_format(ctx, output)
    study = load_study(file, seed=seed, budget=budget, backend=backend)
    folder = pathlib.Path(out) if out else pathlib.Path("reports") / study.name
    try:
        with cluster(dask_scheduler, joblib_backend, jobs) as n_jobs, \
                StudyProgress(enabled=fmt != "json", label=f"study {study.name}") as progress:
            r = run_study(study, folder, storage=storage, jobs=n_jobs, resume=resume, progress=progress,
                          on_message=info, wait_timeout_s=wait_timeout)
    except KeyboardInterrupt:
        info(f"mlsysim: interrupted; what finished is stored -- continue with: mlsysim study run {file} "
             f"--out {folder}{' --storage URL' if storage else ''} --resume")
        raise
    _show(r.document, fmt, folder, r.files, r.notes, top)


@app.command("worker", short_help="Join a study on a shared --storage as one more worker.")
def worker(ctx: typer.Context, file: str = _file(), storage: str = _storage(required=True), jobs: int = _jobs(),
           seed: Optional[int] = _seed(), budget: Optional[int] = _budget(), backend: Optional[str] = _backend(),
           dask_scheduler: Optional[str] = _dask(), joblib_backend: Optional[str] = _joblib_backend(),
           output: Optional[Format] = output_option()):
    """Join a study on a shared storage from another process or machine: evaluate the chunks / trials that are
    left, then exit (no report; `study run ... --storage URL` or `study report URL` writes it). Give the same
    study file and overrides as the other workers."""
    from ..dse.storage_url import redact
    from ..study.runner import work_study
    from ..study.spec import load_study
    from ..study.storage import resolve_storage
    from .progress import StudyProgress

    fmt = output_format(ctx, output)
    study = load_study(file, seed=seed, budget=budget, backend=backend)
    with cluster(dask_scheduler, joblib_backend, jobs) as n_jobs, \
            StudyProgress(enabled=fmt != "json", label=f"worker {study.name}") as progress:
        work = work_study(study, storage, jobs=n_jobs, progress=progress)
    doc = {"schema": "mlsysim.study-worker/1", "study": study.name, "study_id": study.id,
           "storage": redact(resolve_storage(storage)), "work": work}
    if fmt == "json":
        emit_json(doc)
        return
    lines = [f"worker of study {study.name} ({study.id}) on {doc['storage']}:"]
    lines += [f"  {w['task']}: {w['done']} {w['unit']} done by this worker in {w['wall_s']:.2f} s" for w in work]
    lines.append("nothing left to claim; `mlsysim study run FILE --storage URL` (the coordinator) or "
                 "`mlsysim study report URL` writes the report")
    emit_text("\n".join(lines))


@app.command("report", short_help="Rebuild the report folder from stored results.")
def report(ctx: typer.Context,
           source: str = typer.Argument(..., help="A report folder (its study.db) or a storage URL."),
           out: Optional[str] = typer.Option(None, "--out", help="Report folder to write (default: the folder "
                                                                 "given, or reports/STUDY_NAME for a URL)."),
           study: Optional[str] = typer.Option(None, "--study", help="Study name or id (when the storage holds "
                                                                     "several)."),
           top: Optional[int] = typer.Option(None, "--top", min=1, help="Pareto rows shown per scenario."),
           output: Optional[Format] = output_option()):
    """Rebuild the report folder from stored results, without running any search again (exhaustive: from the
    stored chunks; optuna: from the study's trials)."""
    from ..study.runner import collect_study, load_stored_study

    fmt = output_format(ctx, output)
    src = pathlib.Path(source)
    if out:
        folder = pathlib.Path(out)
    elif "://" not in source and src.is_dir():
        folder = src
    else:
        loaded, _, _ = load_stored_study(source, study)
        folder = pathlib.Path("reports") / loaded.name
    r = collect_study(source, name=study, out=folder, on_message=info)
    _show(r.document, fmt, folder, r.files, [], top)


@app.command("list", short_help="The studies in a storage, with their progress.")
def list_(ctx: typer.Context, storage: str = _storage(required=True), output: Optional[Format] = output_option()):
    """The studies in a storage, with their progress."""
    from ..dse.storage_url import redact
    from ..study.runner import list_studies
    from ..study.storage import resolve_storage

    fmt = output_format(ctx, output)
    rows = list_studies(storage)
    url = redact(resolve_storage(storage))
    if fmt == "json":
        emit_json({"schema": "mlsysim.study-list/1", "storage": url, "studies": rows})
        return
    import datetime

    cells = []
    for r in rows:
        when = datetime.datetime.fromtimestamp(r["created"]).strftime("%Y-%m-%d %H:%M")
        cells.append((r["study"], r["study_id"], r["question"], r["state"], f"{r['searches_done']}/{r['searches']}",
                      f"{100 * r['progress']:.1f}%", when))
    headers = ["study", "id", "question", "state", "searches done", "progress", "created"]
    if fmt == "markdown":
        from ._output import markdown_table

        emit_text(markdown_table(headers, cells))
        return
    from ._output import print_table, table

    if not rows:
        emit_text(f"no study in {url}")
        return
    print_table(table([(h, "right" if h in ("progress", "searches done") else "left") for h in headers], cells,
                      title=f"Studies in {url}"))
    for r in rows:
        for t in r["tasks"]:
            emit_text(f"  {r['study']} / {t['name']}: {t['backend']}, {t['state']}, {t['detail']}, "
                      f"{t['evaluated']:,} evaluated, {t['feasible']:,} feasible")
