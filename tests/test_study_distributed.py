"""Distributed studies on a real PostgreSQL server (`.ci/run` starts one and exports
MLSYSIM_TEST_PG_URL): two `mlsysim study worker` processes and a `study run` coordinator share one
study; every chunk is done exactly once and the Pareto set equals a single-process run's."""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from test_study_common import mlsysim_cmd, pareto_set, small_study, without_times

PG_URL = os.environ.get("MLSYSIM_TEST_PG_URL")
pytestmark = [pytest.mark.postgres,
              pytest.mark.skipif(not PG_URL, reason="MLSYSIM_TEST_PG_URL is not set: no PostgreSQL server to test "
                                                    "against (.ci/run starts one)")]


def test_two_workers_and_a_coordinator_share_one_study(tmp_path):
    # a fresh search even on a reused database: the seed is part of the chunks' key (and changes
    # nothing else in an exhaustive search)
    name, seed = f"dist-{uuid.uuid4().hex[:8]}", int(uuid.uuid4().int % 10**6) + 1
    study = small_study(tmp_path / "dist.yaml", name=name, chunk_size=1024, extra=f"seed: {seed}\n")
    cmd = mlsysim_cmd()
    workers = [subprocess.Popen(cmd + ["study", "worker", str(study), "--storage", PG_URL, "-o", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    coord = subprocess.run(cmd + ["study", "run", str(study), "--storage", PG_URL, "--out", str(tmp_path / "out"),
                                  "-o", "json"], capture_output=True, text=True, timeout=300)
    outs = [w.communicate(timeout=300) for w in workers]
    assert coord.returncode == 0, coord.stderr[-3000:]
    for w, (out, err) in zip(workers, outs):
        assert w.returncode == 0, err[-3000:]
    doc = json.loads(coord.stdout)
    assert "postgresql" in doc["storage"] and not (tmp_path / "out" / "study.db").exists()

    # every chunk done exactly once: claimed once, stored once; the workers' counts add up
    from mlsysim.dse.chunk_store import ChunkStore
    from mlsysim.study.runner import bind_task
    from mlsysim.study.spec import load_study

    loaded = load_study(study)
    key = bind_task(loaded.tasks[0]).key
    store = ChunkStore(PG_URL)
    rows = store.chunk_rows(key)
    store.dispose()
    assert len(rows) == 81
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in rows)
    by_worker: dict[str, int] = {}
    for r in rows:
        by_worker[r["worker"]] = by_worker.get(r["worker"], 0) + 1
    reported = [json.loads(out)["work"][0]["done"] for out, _ in outs]
    worker_pids = {str(w.pid) for w in workers}
    from_workers = sum(n for wid, n in by_worker.items() if wid.split(":")[1] in worker_pids)
    assert sum(reported) == from_workers                          # what they said is what is stored
    assert sum(by_worker.values()) == 81 and len(by_worker) >= 2  # the work was shared

    # the same Pareto set (and trials, winner, counts) as one process on a local SQLite file
    from mlsysim.study.runner import run_study

    single = run_study(loaded, tmp_path / "single").document
    assert pareto_set(doc) == pareto_set(single)
    a, b = without_times(doc), without_times(single)
    assert a["scenarios"][0]["result"]["winner"] == b["scenarios"][0]["result"]["winner"]
    assert a["totals"] == b["totals"]
    assert a == b

    # study list on the shared storage shows it finished
    from mlsysim.study.runner import list_studies

    (row,) = [s for s in list_studies(PG_URL) if s["study"] == name]
    assert row["state"] == "done" and row["progress"] == 1.0 and row["searches_done"] == 1
