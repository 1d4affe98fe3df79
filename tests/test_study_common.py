"""Helpers shared by the study tests, and the storage layer underneath studies: the chunk work
queue (claim / complete / reset, no pickle) and storage URLs."""
from __future__ import annotations

import csv
import json
import math
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
STUDIES = REPO / "studies"


# ------------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------------
def mlsysim_cmd() -> list[str]:
    """The installed console script (the real entry point), else the same main() via python -c."""
    exe = shutil.which("mlsysim")
    if exe:
        return [exe]
    return [sys.executable, "-c", "import sys; from mlsysim.cli.app import main; sys.exit(main())"]


def run_cli(*args, cwd=None, timeout=180, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(mlsysim_cmd() + [str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, env=env)


def small_study(path: pathlib.Path, *, name: str = "small", chunk_size: int | None = None, nodes: int = 8,
                backend: str = "exhaustive", extra: str = "") -> pathlib.Path:
    """The quickstart's question on a fleet of ``nodes`` H100 nodes, in ``chunk_size`` chunks."""
    be = f"{{name: {backend}, chunk_size: {chunk_size}}}" if chunk_size else backend
    path.write_text(f"""\
name: {name}
question: parallelism
scenarios:
  - name: llama3-8b
    workload: {{name: Llama3_8B, batch_size: 256, seq_len: 4096}}
    hardware: {{name: H100, nodes: {nodes}}}
    ops: {{region: US_Avg, duration_days: 30}}
# the domains these tests' chunk counts were written for (the shipped space has grown since)
space: {{file: parallelism, restrict: {{nodes: [1, 2, 4, 8], ep: [1], pp: [1, 2, 4, 8, 16, 32], cp: [1, 2, 4], microbatch: [1, 2, 4, 8],
        recompute: [none, selective, full], virtual_stages: [1, 2, 4]}}}}
objectives: ["maximize: tokens_per_s", "minimize: gpu_hours_per_Mtoken"]
backend: {be}
{extra or "seed: 0"}
""")
    return path


def read_csv(path: pathlib.Path) -> tuple[list[str], list[dict]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open(path, newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    return header, rows


def objective_columns(result: dict) -> list[tuple[str, float]]:
    """(CSV column, sign to minimize) of each objective of a result.json scenario result."""
    cols = []
    for o in result["objectives"]:
        col = f"{o['metric']} [{o['unit']}]" if o["unit"] else o["metric"]
        cols.append((col, -1.0 if o["direction"] == "maximize" else 1.0))
    return cols


def assert_non_dominated(pareto_rows: list[dict], trial_rows: list[dict], result: dict) -> None:
    """No feasible trial dominates a Pareto row (objectives in minimization form)."""
    cols = objective_columns(result)
    F = np.array([[s * float(r[c]) for c, s in cols] for r in trial_rows if r["feasible"] == "True"])
    assert len(F), "no feasible trial"
    for r in pareto_rows:
        assert r["feasible"] == "True"
        p = np.array([s * float(r[c]) for c, s in cols])
        dominated = np.all(F <= p + 1e-12 * np.abs(p), axis=1) & np.any(F < p - 1e-12 * np.abs(p), axis=1)
        assert not dominated.any(), f"Pareto row {r} is dominated by {F[dominated][:1]}"


def pareto_set(doc: dict) -> list:
    """The Pareto sets of a study document, per scenario, as sorted JSON strings (order-free)."""
    return [(s["name"], sorted(json.dumps(p, sort_keys=True) for p in s["result"]["pareto"])) for s in doc["scenarios"]]


def without_times(doc: dict) -> dict:
    """A study document without wall times (and the storage URL)."""
    doc = json.loads(json.dumps(doc))
    doc.pop("storage", None)
    doc["totals"].pop("wall_time_s", None)
    for s in doc["scenarios"]:
        s["result"].pop("wall_time_s", None)
        s["result"]["provenance"].pop("storage", None)
    return doc


def numbers_in(obj, out: set | None = None) -> set:
    out = set() if out is None else out
    if isinstance(obj, dict):
        for v in obj.values():
            numbers_in(v, out)
    elif isinstance(obj, list):
        for v in obj:
            numbers_in(v, out)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and math.isfinite(obj):
        out.add(float(obj))
    return out


# ------------------------------------------------------------------------------------------------
# The chunk store
# ------------------------------------------------------------------------------------------------
def test_pack_unpack_round_trip_without_pickle():
    from mlsysim.dse.chunk_store import pack, unpack
    from mlsysim.dse.table import Table

    t = Table({"n": np.array([1, 2, 3], dtype=np.int64), "x": np.array([0.5, np.nan, 1e300]),
               "ok": np.array([True, False, True]), "name": np.array(["a", None, "c"], dtype=object),
               "_index": np.array([7, 8, 9], dtype=np.int64)})
    back, counts = unpack(pack(t, {"raw": np.int64(3), "rule_fail": np.array([1, 2])}))
    assert back.names == t.names and counts == {"raw": 3, "rule_fail": [1, 2]}
    for k in t.names:
        assert back[k].dtype == t[k].dtype
        assert [str(v) for v in back[k].tolist()] == [str(v) for v in t[k].tolist()]
    empty, c = unpack(pack(Table(), {"raw": 0}))
    assert len(empty) == 0 and c == {"raw": 0}
    none, c = unpack(pack(None, {"a": 1}))
    assert none is None
    from mlsysim.core.errors import StorageError

    with pytest.raises(StorageError):
        unpack(b"\x93NUMPY not ours")


def test_chunk_queue_claims_each_chunk_once_and_resets_dead_workers(tmp_path):
    from mlsysim.dse.chunk_store import ChunkStore

    store = ChunkStore(str(tmp_path / "q.db"))
    assert store.open_study("k", [(0, 10), (10, 20), (20, 25)], {"kind": "test"})
    assert not store.open_study("k", [(0, 10), (10, 20), (20, 25)], {"kind": "test"})  # exists: joined
    a, b = store.claim("k", "A"), store.claim("k", "B")
    assert (a[0], b[0]) == (0, 1)
    assert not store.complete("k", 0, "B", b"x")            # B does not hold chunk 0
    assert store.complete("k", 0, "A", b"x", {"valid": 10})
    assert not store.complete("k", 0, "A", b"y")            # stored once
    assert store.progress("k") == {"todo": 1, "running": 1, "done": 1, "raw_done": 10}
    assert store.reset_running("k") == 1                    # B died: --resume
    assert not store.complete("k", 1, "B", b"late")         # its late result is refused
    got = sorted([store.claim("k", "C")[0], store.claim("k", "C")[0]])
    assert got == [1, 2] and store.claim("k", "C") is None
    rows = {r["chunk"]: r for r in store.chunk_rows("k")}
    assert rows[0]["attempts"] == 1 and rows[1]["attempts"] == 2 and rows[2]["attempts"] == 1
    assert store.infos("k") == {0: {"valid": 10}}
    assert [p[0] for p in store.done_parts("k")] == [0]
    from mlsysim.core.errors import StorageError

    with pytest.raises(StorageError, match="chunks"):
        store.open_study("k", [(0, 25)], {})                # another chunking of the same search
    store.dispose()


def test_expired_lease_is_claimed_again(tmp_path):
    from mlsysim.dse.chunk_store import ChunkStore

    store = ChunkStore(str(tmp_path / "q.db"))
    store.open_study("k", [(0, 1)], {})
    assert store.claim("k", "A")[0] == 0
    assert store.claim("k", "B", lease_s=3600) is None
    assert store.claim("k", "B", lease_s=-1)[0] == 0        # A's lease expired
    assert store.complete("k", 0, "B", b"ok") and not store.complete("k", 0, "A", b"late")
    store.dispose()


def test_storage_urls(tmp_path):
    from mlsysim.core.errors import StorageError
    from mlsysim.study.storage import resolve_storage

    assert resolve_storage(None, tmp_path) == f"sqlite:///{tmp_path / 'study.db'}"
    assert resolve_storage(str(tmp_path)) == f"sqlite:///{tmp_path / 'study.db'}"
    assert resolve_storage(str(tmp_path / "x.db")).startswith("sqlite:///")
    assert resolve_storage("postgresql://u@h/db").startswith("postgresql")
    for bad in ("study.journal", "nonsense.txt", "ftp://x/y"):
        with pytest.raises(StorageError):
            resolve_storage(bad)
    with pytest.raises(StorageError, match="does not exist"):
        from mlsysim.dse.chunk_store import ChunkStore

        ChunkStore(str(tmp_path / "missing" / "x.db"))
