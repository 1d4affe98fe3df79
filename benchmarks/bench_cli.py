"""Whole-process wall times of the ``mlsysim`` command line (start-up included).

Runs each command a few times through the installed console script (and through the Python
interpreter directly, which skips any shell shim such as pyenv's) and prints min and median
seconds. No assertions: this is a measurement. Usage: ``python benchmarks/bench_cli.py [-n 5]``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PLAN = str(Path(__file__).resolve().parents[1] / "examples" / "example_cluster.yaml")

COMMANDS = (
    ["--help"],
    ["--version"],
    ["eval", "Llama3_8B", "H100"],
    ["zoo", "hardware"],
    ["--output", "json", "eval", "Llama3_8B", "H100", "--batch-size", "32"],
    ["serve", "Llama3_70B", "H100", "--tp", "4"],
    # the full shipped parallelism space (nodes <= 64 x tp x pp x cp x microbatch x ZeRO x recompute x SP x vpp)
    ["optimize", "parallelism", PLAN],
    ["optimize", "placement", PLAN, "--carbon-tax", "150"],
)


def wall(cmd: list[str], repeat: int) -> list[float]:
    times = []
    env = dict(os.environ, COLUMNS="80")
    for _ in range(repeat):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        times.append(time.perf_counter() - t0)
        if p.returncode not in (0, 3):
            print(f"  ! {' '.join(cmd)} exited {p.returncode}: {p.stderr.decode()[-300:]}", file=sys.stderr)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--repeat", type=int, default=5)
    args = ap.parse_args()
    script = shutil.which("mlsysim")
    direct = [sys.executable, "-c", "import sys; from mlsysim.cli.app import main; sys.exit(main())"]
    base = wall([sys.executable, "-c", "pass"], args.repeat)
    print(f"python -c pass (interpreter start-up)            min {min(base):.3f} s  median {statistics.median(base):.3f} s")
    for label, prefix in (("console script " + (script or "(not found)"), [script] if script else None),
                          ("python -c main()", direct)):
        if prefix is None:
            continue
        print(f"\n{label}")
        for c in COMMANDS:
            t = wall(prefix + c, args.repeat)
            print(f"  mlsysim {' '.join(c):<52} min {min(t):.3f} s  median {statistics.median(t):.3f} s")


if __name__ == "__main__":
    main()
