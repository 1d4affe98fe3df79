"""optuna studies: persistent storages, resuming after SIGKILL, parallel workers, storage errors."""
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from test_dse_toys import ZDT_SPACE, ZDTLike
from mlsysim.core.errors import StorageError
from mlsysim.dse import DSE

TESTS = str(pathlib.Path(__file__).resolve().parent)
OBJ = ["min: f1", "min: f2"]
BUDGET = 60


def dse(**kw):
    return DSE(ZDT_SPACE, objectives=OBJ, backend="optuna:random", batch_size=5, **kw)


def load(path):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (summary,) = optuna.get_all_study_summaries(f"sqlite:///{path}")
    return optuna.load_study(study_name=summary.study_name, storage=f"sqlite:///{path}")


def test_sqlite_study_survives_sigkill_and_resumes(tmp_path):
    db = tmp_path / "study.db"
    script = textwrap.dedent(f"""
        import sys; sys.path.insert(0, {TESTS!r})
        from test_dse_toys import ZDT_SPACE, ZDTLike
        from mlsysim.dse import DSE
        DSE(ZDT_SPACE, objectives={OBJ!r}, backend="optuna:random", batch_size=5).run(
            problem=ZDTLike(), budget={BUDGET}, seed=0, storage=sys.argv[1])
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    complete = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as con:
                    complete = con.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
            except sqlite3.OperationalError:
                continue  # tables not created yet
            if complete >= 12:
                os.kill(proc.pid, signal.SIGKILL)
                break
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]

    before = {t.number: (t.params, t.values) for t in load(db).trials if t.state.name == "COMPLETE"}
    running = [t for t in load(db).trials if t.state.name == "RUNNING"]
    assert 12 <= len(before) < BUDGET

    r = dse().run(problem=ZDTLike(), budget=BUDGET, seed=0, storage=str(db))
    study = load(db)
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(done) == BUDGET == r.proposals == r.provenance["trials_complete"]
    for t in done:                               # nothing lost, nothing repeated
        if t.number in before:
            assert (t.params, t.values) == before[t.number]
    assert len({t.number for t in done}) == BUDGET
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    assert len(failed) == len(running)
    for t in failed:                             # the killed trials were asked again
        if t.params:
            assert any(d.params == t.params and d.number > t.number for d in done)
    assert any("resumed study" in n for n in r.notes)
    assert len(r.trials) == len({tuple(sorted(t.params.items())) for t in done})

    again = dse().run(problem=ZDTLike(), budget=BUDGET, seed=0, storage=str(db))   # complete: nothing to do
    assert again.provenance["evaluations_this_run"] == 0 and len(load(db).trials) == len(study.trials)


def test_journal_storage_resume_keeps_trials(tmp_path):
    log = tmp_path / "study.log"
    a = dse().run(problem=ZDTLike(), budget=30, seed=1, storage=str(log))
    b = dse().run(problem=ZDTLike(), budget=50, seed=1, storage=log)
    assert a.proposals == 30 and b.proposals == 50 and b.provenance["study_name"] == a.provenance["study_name"]
    rows_a = {tuple(a.config(i).values()) for i in range(len(a.trials))}
    rows_b = {tuple(b.config(i).values()) for i in range(len(b.trials))}
    assert rows_a <= rows_b
    assert b.evaluations == int((~__import__("numpy").isnan(b.trials["f1"])).sum())


def test_parallel_workers_share_a_journal(tmp_path):
    r = dse().run(problem=ZDTLike(), budget=BUDGET, seed=0, storage=str(tmp_path / "j.log"), n_jobs=2)
    assert r.provenance["workers"] == 2
    assert BUDGET <= r.provenance["trials_complete"] <= BUDGET + 10
    mem = dse().run(problem=ZDTLike(), budget=20, n_jobs=2)
    assert mem.provenance["workers"] == 1 and any("ran 1 worker" in n for n in mem.notes)


@pytest.mark.parametrize("url", ["postgresql://alice:s3cret@127.0.0.1:9/nodb", "sqlite:////nonexistent_dir_q/x/y.db",
                                 "study.txt", "mysql+nodriver://x@localhost/db"])
def test_unreachable_storage_is_a_storage_error(url):
    with pytest.raises(StorageError) as exc:
        dse().run(problem=ZDTLike(), budget=5, storage=url)
    assert "s3cret" not in str(exc.value) and "Traceback" not in str(exc.value)
    assert exc.value.exit_code == 2
