"""Scale-out through an existing engine: the searches of a study run through joblib's dask backend
on a real dask.distributed LocalCluster (a scheduler and two worker processes), with results
identical to the local run."""
from __future__ import annotations

import os

import pytest

from test_study_common import STUDIES, pareto_set, without_times

distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (mlsysim[distributed])")


def test_study_searches_run_on_a_dask_cluster_with_identical_results(tmp_path):
    import joblib
    from dask.distributed import Client, LocalCluster

    from mlsysim.study.runner import run_study
    from mlsysim.study.spec import load_study

    study = load_study(STUDIES / "carbon_tax_placement.yaml")      # 6 searches: one per carbon tax
    local = run_study(study, tmp_path / "local", jobs=1)
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        worker_pids = set(client.run(os.getpid).values())
        with joblib.parallel_config(backend="dask"):
            remote = run_study(study, tmp_path / "dask", jobs=2)
    assert {w["pid"] for w in remote.workers} <= worker_pids and os.getpid() not in worker_pids
    assert len(remote.workers) == len(study.tasks) == 6
    assert pareto_set(remote.document) == pareto_set(local.document)
    assert without_times(remote.document) == without_times(local.document)
    assert (tmp_path / "dask" / "pareto.csv").read_text() == (tmp_path / "local" / "pareto.csv").read_text()
    assert (tmp_path / "dask" / "trials.csv").read_text() == (tmp_path / "local" / "trials.csv").read_text()
