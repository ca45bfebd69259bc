"""Scale-out: a sweep and a run on a real dask.distributed cluster equal the default pool's.

The simulator takes any `concurrent.futures.Executor`; a Dask `client.get_executor()` spreads
replications and sweep cells over a cluster's workers, and the work is split by the cluster's
threads, not by this machine's cores.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from sim.config import parse_scenario
from sim.runner import executor_workers, run
from sim.sweep import sweep

distributed = pytest.importorskip("distributed")

EXAMPLE = Path(__file__).resolve().parent.parent / "sim" / "examples" / "baseline_monday.toml"


@pytest.fixture(scope="module")
def dask_executor():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=2, processes=False,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield client.get_executor()
    finally:
        client.close()
        cluster.close()


def example():
    return parse_scenario(tomllib.loads(EXAMPLE.read_text())).scenario


def test_work_is_split_by_the_cluster_s_threads(dask_executor):
    assert executor_workers(dask_executor) == 4

    class SixtyFour:
        class _client:  # the attribute name of dask's ClientExecutor
            @staticmethod
            def nthreads():
                return {f"tcp://w{i}": 1 for i in range(64)}

    assert executor_workers(SixtyFour()) == 64


def test_a_run_on_the_cluster_equals_the_default_pool(dask_executor):
    scenario = example()
    on_cluster = run(scenario, 6, 3, executor=dask_executor)
    here = run(scenario, 6, 3)
    assert on_cluster.day.equals(here.day)
    assert on_cluster.summary().equals(here.summary())


def test_a_sweep_on_the_cluster_equals_the_default_pool(dask_executor):
    scenario = example()
    kwargs = {"replications": 2, "seed": 1}
    on_cluster = sweep(scenario, "digital", [0.9, 1.1], [0.1], executor=dask_executor, **kwargs)
    default = sweep(scenario, "digital", [0.9, 1.1], [0.1], **kwargs)
    assert on_cluster.equals(default)
    assert on_cluster.height == 6
