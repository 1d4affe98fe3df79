"""Fault tolerance: `mlsysim study run` killed with SIGKILL mid-search, then `--resume`: no finished
chunk is lost or evaluated again, and the result equals an uninterrupted run with the same seed."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time


from test_study_common import mlsysim_cmd, pareto_set, read_csv, run_cli, small_study, without_times


def _chunks(db) -> dict[int, tuple]:
    with sqlite3.connect(db, timeout=10) as con:
        rows = con.execute("SELECT chunk, status, attempts, finished_at, length(payload) FROM mlsysim_chunks").fetchall()
    return {r[0]: r[1:] for r in rows}


def test_sigkill_mid_search_then_resume_loses_and_repeats_nothing(tmp_path):
    study = small_study(tmp_path / "fault.yaml", name="fault", chunk_size=256)    # 324 chunks: a wide window to kill in
    out = tmp_path / "out"
    db = out / "study.db"
    proc = subprocess.Popen(mlsysim_cmd() + ["study", "run", str(study), "--out", str(out), "-o", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline, killed = time.time() + 120, False
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if not db.exists():
            continue
        try:
            done = sum(s == "done" for s, *_ in _chunks(db).values())
        except sqlite3.OperationalError:  # tables not created yet
            continue
        if done >= 5:
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
    _, err = proc.communicate(timeout=60)
    assert killed and proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    assert not (out / "result.json").exists()

    before = _chunks(db)
    n = len(before)
    done_before = {k: v for k, v in before.items() if v[0] == "done"}
    assert 5 <= len(done_before) < n, (len(done_before), n)

    from mlsysim.study.runner import run_study
    from mlsysim.study.spec import load_study

    r = run_cli("study", "run", study, "--out", out, "--resume", "-o", "json")
    assert r.returncode == 0, r.stderr[-3000:]
    resumed = json.loads(r.stdout)
    after = _chunks(db)
    assert all(v[0] == "done" for v in after.values()) and len(after) == n
    for k, v in done_before.items():                          # finished chunks kept, not evaluated again
        assert after[k] == v
    assert all(after[k][1] == 1 for k in done_before)
    redone = [k for k, v in after.items() if v[1] > 1]        # only what the killed process held
    assert len(redone) <= 1 and all(before[k][0] == "running" for k in redone)

    # an uninterrupted run with the same seed (in memory-sized chunks: chunking does not matter)
    ref_file = small_study(tmp_path / "ref.yaml", name="fault")
    ref = run_study(load_study(ref_file), tmp_path / "ref").document
    assert pareto_set(resumed) == pareto_set(ref)
    a, b = without_times(resumed), without_times(ref)
    for d in (a, b):
        d.pop("study_id"), d.pop("source")
        for s in d["scenarios"]:
            s["result"]["provenance"].pop("chunks"), s["result"]["provenance"].pop("study_key")  # the chunking
    assert a == b                                             # same trials, counts, winner, Pareto set

    # no trial lost, none repeated
    header, trials = read_csv(out / "trials.csv")
    res = resumed["scenarios"][0]["result"]
    keys = list(res["pareto"][0]["config"])
    assert len(trials) == res["trials"] == res["evaluations"] == b["scenarios"][0]["result"]["trials"]
    assert len({tuple(t[k] for k in keys) for t in trials}) == len(trials)
