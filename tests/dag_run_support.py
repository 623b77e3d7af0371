"""Generated DAGs run by `dag.test()` against a local ECS whose tasks run (for test_airflow_runs and
test_airflow_runs_once, both slow): stand-ins for the example's images, the `local_ecs` fixture, and a run of a
DAG written into Airflow's DAGs folder. conftest imports `local_ecs`, for both modules."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from airflow_support import REGION, aws_environment, register
from real_airflow import dag_bag, run_airflow

from ecsflow.airflow import write_dag

if TYPE_CHECKING:
    from ecs_server import EcsEndpoint

JOB = """\
import json, os, sys
print("job", json.dumps(sys.argv[1:]))
print("env", json.dumps({k: v for k, v in sorted(os.environ.items()) if k.isupper() and k != "PATH"}))
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""


def fake_jobs(tmp_path: Path) -> Path:
    """Python modules that stand in for the example's images: `python -m etl.extract ...` prints and exits."""
    root = tmp_path / "jobs"
    (root / "etl").mkdir(parents=True)
    (root / "etl" / "__init__.py").write_text("")
    for module in ("extract", "transform", "load"):
        (root / "etl" / f"{module}.py").write_text(JOB)
    (root / "job.py").write_text(JOB)
    return root


def run_dag(generated, builds, ecs: EcsEndpoint, cluster: str, conf: dict | None = None, dag_id: str | None = None,
            extra: Path | None = None, below: str = ""):
    """Write the DAG (and `extra`, a DAG file of one's own) into the DAGs folder (or the folder `below` it),
    register its task definitions, import its pools, run dag.test() of `dag_id` (default: the generated DAG)."""
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    for earlier in dags.iterdir():  # an earlier test's DAGs (one of them may have this DAG's id elsewhere)
        shutil.rmtree(earlier) if earlier.is_dir() else earlier.unlink()
    out = dags / below
    assert write_dag(generated, out).ok
    if extra is not None:
        shutil.copy(extra, out / extra.name)
    register(ecs, cluster, builds)
    run_airflow("pools", "import", str(out / generated.pools_file_name))
    dag = dag_bag(dags).dags[dag_id or generated.dag_id]
    run = dag.test(run_conf=conf)
    assert ecs.runner.wait_idle()
    assert ecs.runner.errors == []
    return run


@pytest.fixture
def local_ecs(airflow_db, tmp_path, monkeypatch):
    """A local ECS whose tasks run: the fake jobs on PYTHONPATH; subnets must exist, as ECS requires."""
    from ecs_server import EcsEndpoint  # here: conftest imports this module, and moto is slow to import

    jobs = fake_jobs(tmp_path)
    with EcsEndpoint(run_tasks=True, workdir=tmp_path, environment={"PYTHONPATH": str(jobs)},
                     check_network=True, region=REGION) as ecs:
        ecs.reset()  # moto's state is per process: start from nothing, as a new endpoint would
        for key, value in aws_environment(ecs).items():
            monkeypatch.setenv(key, value)
        yield ecs


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
