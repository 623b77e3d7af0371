"""The order `depends_on` gives a deploy (ecsflow/service/order.py): rollouts waited for, the jobs a server needs
run once before it, independent services together; on the official Airflow compose file, checked against what
Docker Compose itself reads from it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from service_support import load

from ecsflow.compose.loader import load_project
from ecsflow.errors import ComposeError, EcsflowError
from ecsflow.operations.services import project_kinds
from ecsflow.service.order import _waves, deploy_order

AIRFLOW = Path(__file__).parent / "fixtures" / "airflow-official"
FILES = ("docker-compose.yaml", "compose.ecs.yaml")
SERVERS = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker", "airflow-triggerer")


def airflow_project():
    return load_project([AIRFLOW / name for name in FILES], environ={}, warn=lambda message: None)


def order_of(project, deployed=None):
    kinds = project_kinds(project)
    deployed = [name for name, kind in kinds.items() if kind.is_service] if deployed is None else deployed
    return deploy_order(project, deployed, kinds)


def test_the_official_airflow_file_runs_init_once_then_the_servers_the_worker_last():
    project = airflow_project()
    kinds = project_kinds(project)
    assert [name for name, kind in kinds.items() if kind.is_service] == list(SERVERS)
    assert {name: kind.reason for name, kind in kinds.items()} == {
        **dict.fromkeys(SERVERS, "it has restart: always"),
        "airflow-init": "nothing marks it as a server (no restart: always, ports or expose)"}
    order = order_of(project)
    assert order.waves == (("airflow-init",), ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                                               "airflow-triggerer"), ("airflow-worker",))
    assert order.jobs == ("airflow-init",)
    assert order.job_edges == tuple(("airflow-init", name) for name in (
        "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker"))
    worker = next(step for step in order.steps if step.name == "airflow-worker")
    assert (worker.kind, worker.after) == ("service", ("airflow-apiserver", "airflow-init"))
    # postgres and redis are left out (RDS and ElastiCache on AWS): said once each, not once per service.
    assert order.notes == tuple(
        f"{', '.join([*SERVERS, 'airflow-init'])} depend on {name}, which is left out of ECS: deploy does not wait "
        "for it" for name in ("redis", "postgres"))


def test_compose_reads_the_same_dependencies_from_the_airflow_file(compose_bin):
    """The order is made from the dependencies Docker Compose itself reads (with the override and .env): every
    edge is one of Compose's, and every one of Compose's between steps of the deploy is an edge."""
    args = [str(compose_bin)] + [part for name in FILES for part in ("-f", name)] + ["config", "--format", "json"]
    done = subprocess.run(args, cwd=AIRFLOW, capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
                          timeout=60)
    assert done.returncode == 0, done.stderr
    theirs = {name: {dep: spec["condition"] for dep, spec in (service.get("depends_on") or {}).items()}
              for name, service in json.loads(done.stdout)["services"].items()}
    project = airflow_project()
    assert {s.name: {d: spec.condition for d, spec in s.depends_on.items()} for s in project.services} == theirs
    order = order_of(project)
    steps = {step.name for step in order.steps}
    edges = {(before, step.name) for step in order.steps for before in step.after}
    assert edges == {(dep, name) for name in steps for dep in theirs[name] if dep in steps}


def test_a_job_chain_runs_in_order_after_the_services_it_needs(tmp_path):
    project = load(tmp_path, """\
        db:
          image: postgres:16
          expose: [5432]
        seed:
          image: acme/seed:1
        migrate:
          image: acme/migrate:1
          depends_on:
            db: {condition: service_healthy}
            seed: {condition: service_completed_successfully}
        api:
          image: acme/api:1
          ports: ["80"]
          depends_on:
            migrate: {condition: service_completed_successfully}
        web:
          image: acme/web:1
          ports: ["8080"]
        """)
    order = order_of(project)
    assert order.waves == (("db", "seed", "web"), ("migrate",), ("api",))
    assert order.jobs == ("seed", "migrate")
    assert [(s.name, s.kind, s.after) for s in order.steps] == [
        ("db", "service", ()), ("seed", "job", ()), ("web", "service", ()),
        ("migrate", "job", ("db", "seed")), ("api", "service", ("migrate",))]
    assert order.job_edges == (("seed", "migrate"), ("migrate", "api"))


def test_what_deploy_does_not_wait_for_is_said(tmp_path):
    project = load(tmp_path, """\
        db:
          image: postgres:16
          restart: always
        report:
          image: acme/report:1
        api:
          image: acme/api:1
          ports: ["80"]
          depends_on:
            db: {condition: service_started}
            report: {condition: service_started}
        """)
    order = order_of(project, ["api"])  # a deploy of api alone
    assert order.waves == (("api",),)
    assert order.notes == (
        "api depends on db, which this deploy does not deploy (it is taken as running): deploy does not wait for it",
        "api depends on report, a job, with condition service_started (only service_completed_successfully runs a "
        "job first): deploy does not wait for it")


def test_waiting_for_a_server_to_complete_is_an_error_that_names_the_key(tmp_path):
    project = load(tmp_path, """\
        cache:
          image: redis:7
          expose: [6379]
        api:
          image: acme/api:1
          ports: ["80"]
          depends_on:
            cache: {condition: service_completed_successfully}
        """)
    with pytest.raises(ComposeError) as error:
        order_of(project)
    assert (error.value.service, error.value.key) == ("api", "depends_on.cache")
    assert "'cache' is a service (it exposes ports), which never completes" in error.value.message
    assert "x-ecsflow.kind: job" in error.value.hint


def test_a_cycle_is_refused_when_the_file_is_loaded_as_compose_refuses_it(tmp_path, compose_bin):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n"
                                           "    depends_on:\n      a: {condition: service_healthy}\n")
    done = subprocess.run([str(compose_bin), "config"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"]}, timeout=60)
    assert done.returncode == 1 and "dependency cycle detected" in done.stderr
    with pytest.raises(ComposeError, match="dependency cycle detected: a -> b -> a"):
        load_project([tmp_path / "compose.yaml"], environ={})
    with pytest.raises(EcsflowError, match="depends_on has a cycle among a, b"):  # and checked again, cheaply
        _waves(["a", "b"], {"a": ["b"], "b": ["a"]})
