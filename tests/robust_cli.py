"""Run many ``mlsysim`` command lines fast, each in its own process, for the bad-input suites.

A fresh driver process imports mlsysim once (the CLI app, numpy, pint, the catalog), then
``fork()``s one child per command line: the child runs ``mlsysim.cli.app.main(argv)`` exactly as
the console script does, with its stdout and stderr on files and its exit code as the process
status. Every child starts from the same freshly imported state (a ``--catalog`` of one command
cannot leak into the next), and an exception that escapes ``main`` prints a real traceback, which
the tests look for. About 20x faster than one interpreter per command line on this machine.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

_DRIVER = r"""
import json, os, sys, traceback
cases = json.load(open(sys.argv[1]))
from mlsysim.cli import app
app.build_app()                     # typer, click and every command module
import mlsysim, numpy, pint         # noqa: F401
from mlsysim.core.catalog import registry
registry("hardware").all()          # the built-in catalog, shared by every child
results, running = [None] * len(cases), {}

def start(i, case):
    out, err = case["stdout"], case["stderr"]
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid:
        running[pid] = i
        return
    code = 70
    try:
        os.chdir(case["cwd"])
        os.environ.update(case.get("env") or {})
        fo, fe = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fo, 1); os.dup2(fe, 2)
        sys.argv = ["mlsysim", *case["argv"]]
        try:
            code = app.main(case["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()       # what the console script would show: the tests look for it
            code = 71
        sys.stdout.flush(); sys.stderr.flush()
    finally:
        os._exit(code if isinstance(code, int) else 1)

jobs = max(1, int(os.environ.get("ROBUST_CLI_JOBS", "2")))
pending = list(enumerate(cases))
while pending or running:
    while pending and len(running) < jobs:
        start(*pending.pop(0))
    pid, status = os.wait()
    i = running.pop(pid)
    results[i] = os.waitstatus_to_exitcode(status)
json.dump(results, open(sys.argv[2], "w"))
"""


@dataclass
class CLIResult:
    argv: list
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (f"mlsysim {' '.join(map(str, self.argv))} -> exit {self.returncode}\n--- stdout ---\n"
                f"{self.stdout[-2000:]}\n--- stderr ---\n{self.stderr[-2000:]}")


def run_many(argvs, *, cwd=None, env=None, timeout=600) -> list[CLIResult]:
    """Run each argv (a list of strings) as ``mlsysim ARGV...``; returns their results in order."""
    with tempfile.TemporaryDirectory(prefix="mlsysim-cli-") as tmp:
        cases = []
        for i, argv in enumerate(argvs):
            cases.append({"argv": [str(a) for a in argv], "cwd": str(cwd or tmp), "env": env or {},
                          "stdout": os.path.join(tmp, f"{i}.out"), "stderr": os.path.join(tmp, f"{i}.err")})
        spec, codes = os.path.join(tmp, "cases.json"), os.path.join(tmp, "codes.json")
        with open(spec, "w") as f:
            json.dump(cases, f)
        proc = subprocess.run([sys.executable, "-c", _DRIVER, spec, codes], capture_output=True, text=True,
                              timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"CLI driver failed:\n{proc.stderr[-3000:]}")
        with open(codes) as f:
            rcs = json.load(f)
        out = []
        for case, rc in zip(cases, rcs):
            with open(case["stdout"], encoding="utf-8", errors="replace") as fo, \
                    open(case["stderr"], encoding="utf-8", errors="replace") as fe:
                out.append(CLIResult(case["argv"], rc, fo.read(), fe.read()))
        return out
