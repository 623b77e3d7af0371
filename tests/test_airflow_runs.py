"""Generated DAGs run in a real Airflow, 3.x or 2.10+: `dag.test()` against a local ECS (the example, a DAG
written by hand with the factories, groups and Jinja defaults, a failing task, hostile values). Needs Airflow as
test_airflow_dagbag.py does (tests/real_airflow.py).

The runs use `ecs_server.EcsEndpoint(run_tasks=True, ...)`: moto's ECS, EC2 and CloudWatch Logs behind one URL,
with ecsflow's local task runner (`ecsflow.sandbox.runner`, the sandbox's), which runs each started task's
command on this machine, writes its output to the task's awslogs stream and stops the task with the command's
exit code (its docstring lists where moto alone falls short).
"""

from __future__ import annotations

import json

import pytest
from airflow_support import ROLE, compose_project, generate
from dag_run_support import run_dag, states
from real_airflow import EXAMPLE, HAND_WRITTEN, HOSTILE, run_airflow

from ecsflow.compose.loader import load_project

pytestmark = pytest.mark.slow


# --- end to end: dag.test() against a local ECS endpoint ---

def ds_of(run) -> str:
    """The run's `ds`: its logical date (Airflow 3 may run a manual run without one: then its run_after)."""
    when = getattr(run, "logical_date", None) or run.run_after
    return when.strftime("%Y-%m-%d")


def test_the_example_runs_to_success(local_ecs, capfd):
    subnet, group = local_ecs.network()
    project = load_project([EXAMPLE], warn=lambda message: None)
    generated, builds = generate(project, flags={"subnets": [subnet], "security_groups": [group]})
    # Two folders below the DAGs folder, as teams keep them (gen-dag --out dags/team_a/ecsflow).
    run = run_dag(generated, builds, local_ecs, "data-jobs", conf={"FULL_REFRESH": "true"}, below="team_a/ecsflow")

    assert str(run.state) == "success"
    assert states(run) == {"extract": "success", "transform": "success", "load": "success"}
    assert [r.family for r in local_ecs.runner.runs] == ["etl-extract", "etl-transform", "etl-load"]
    extract, transform, load = local_ecs.runner.runs
    assert extract.argv[1:] == ["-m", "etl.extract", "--source", "orders", "--to", "s3://acme-raw/orders/"]
    # RUN_DATE was not given: its default, "{{ ds }}", rendered by Airflow for this run; FULL_REFRESH was.
    assert transform.environment["RUN_DATE"] == ds_of(run)
    assert transform.environment["FULL_REFRESH"] == "true"
    assert transform.environment["SPARK_DRIVER_MEMORY"] == "6g"
    assert "RUN_DATE" not in extract.environment
    assert all(r.exit_code == 0 for r in local_ecs.runner.runs)
    # The operator read each container's log stream, named as the task definition's awslogs options say.
    assert load.log_group == "/ecs/etl/load" and load.log_stream.startswith("ecs/load/")
    out = capfd.readouterr().out
    assert 'job ["--from", "s3://acme-raw/orders/", "--to", "s3://acme-clean/orders/"]' in out
    assert f'"RUN_DATE": "{ds_of(run)}"' in out
    # The pools file was imported by `airflow pools import` as it is.
    pools = {p["pool"]: p for p in json.loads(run_airflow("pools", "list", "--output", "json"))}
    assert pools["warehouse"]["slots"] == "2" or pools["warehouse"]["slots"] == 2


def test_a_dag_written_by_hand_with_the_factories_runs(local_ecs, capfd):
    """The README's pattern: the team's own DAG (examples/etl/dags/orders_rebuild.py) imports the generated
    factories, mixes them with Python tasks, and changes task_id, environment, command, pool_slots and retries."""
    subnet, group = local_ecs.network()
    project = load_project([EXAMPLE], warn=lambda message: None)
    generated, builds = generate(project, flags={"subnets": [subnet], "security_groups": [group]})
    run = run_dag(generated, builds, local_ecs, "data-jobs", dag_id="orders_rebuild", extra=HAND_WRITTEN,
                  conf={"RUN_DATE": "2024-02-29"})

    assert str(run.state) == "success", states(run)
    assert states(run) == dict.fromkeys(
        ["pick_day", "extract_returns", "extract", "transform", "load", "report"], "success")
    by_source = {r.argv[4]: r for r in local_ecs.runner.runs if r.family == "etl-extract"}
    assert by_source["returns"].argv[1:] == ["-m", "etl.extract", "--source", "returns", "--to",
                                             "s3://acme-raw/returns/"]
    assert by_source["orders"].argv[1:] == ["-m", "etl.extract", "--source", "orders", "--to", "s3://acme-raw/orders/"]
    [transform] = [r for r in local_ecs.runner.runs if r.family == "etl-transform"]
    assert transform.environment["RUN_DATE"] == "2024-02-29"  # from the Python task, through XCom
    assert transform.environment["FULL_REFRESH"] == "true"
    assert [r.family for r in local_ecs.runner.runs][-2:] == ["etl-transform", "etl-load"]
    assert "orders_rebuild of 2024-02-29 finished" in capfd.readouterr().out


def test_groups_and_jinja_defaults_run(local_ecs, tmp_path):
    subnet, group = local_ecs.network()
    project = compose_project(tmp_path, f"""\
name: grouped
x-ecsflow: {{region: eu-west-1, cluster: jobs, subnets: [{subnet}], security_groups: [{group}], retries: 1,
            execution_role: {ROLE}}}
services:
  first:
    image: x
    command: [python, -m, job, one]
    x-ecsflow:
      group: nightly
      runtime_env: {{DAY: "{{{{ ds }}}}", BEFORE: "{{{{ macros.ds_add(ds, -1) }}}}", MODE: full, EMPTY: null}}
  second:
    image: x
    command: [python, -m, job, two]
    depends_on: {{first: {{condition: service_completed_successfully}}}}
""")
    generated, builds = generate(project)
    run = run_dag(generated, builds, local_ecs, "jobs", conf={"MODE": "partial"})
    assert str(run.state) == "success", states(run)
    assert states(run) == {"nightly.first": "success", "second": "success"}
    first = local_ecs.runner.runs[0]
    import datetime

    day = ds_of(run)
    before = (datetime.date.fromisoformat(day) - datetime.timedelta(days=1)).isoformat()
    assert {k: first.environment.get(k) for k in ("DAY", "BEFORE", "MODE", "EMPTY")} == {
        "DAY": day, "BEFORE": before, "MODE": "partial", "EMPTY": ""}


def test_a_non_zero_exit_fails_the_task(local_ecs, tmp_path, capfd):
    subnet, group = local_ecs.network()
    project = compose_project(tmp_path, f"""\
name: failing
x-ecsflow: {{region: eu-west-1, cluster: jobs, subnets: [{subnet}], security_groups: [{group}],
            execution_role: {ROLE}}}
services:
  first:
    image: x
    command: [python, -m, job, one]
    environment: {{EXIT_CODE: "3"}}
  second:
    image: x
    command: [python, -m, job, two]
    depends_on: {{first: {{condition: service_completed_successfully}}}}
""")
    generated, builds = generate(project)
    run = run_dag(generated, builds, local_ecs, "jobs")
    assert str(run.state) == "failed"
    assert states(run) == {"first": "failed", "second": "upstream_failed"}
    assert [(r.family, r.exit_code) for r in local_ecs.runner.runs] == [("failing-first", 3)]
    out = capfd.readouterr().out
    assert "This task is not in success state" in out
    assert 'job ["one"]' in out  # the container's own log lines, from CloudWatch Logs


def test_hostile_values_arrive_unchanged(local_ecs, tmp_path):
    subnet, group = local_ecs.network()
    name = "VAR_" + HOSTILE
    project = compose_project(tmp_path, f"""\
name: hostile
x-ecsflow:
  {{region: eu-west-1, cluster: jobs, subnets: [{subnet}], security_groups: [{group}], pools: {{hostile.pool: 1}},
   execution_role: {ROLE}}}
services:
  job:
    image: x
    command: {json.dumps(["python", "-m", "job", HOSTILE, "{{ ds }}"])}
    environment:
      FIXED: {json.dumps(HOSTILE)}
    x-ecsflow:
      pool: hostile.pool
      runtime_env: [{json.dumps(name)}, RUN_DATE]
""")
    generated, builds = generate(project)
    conf = {name: "conf " + HOSTILE, "RUN_DATE": "{{ ds }}"}
    run = run_dag(generated, builds, local_ecs, "jobs", conf=conf)
    assert str(run.state) == "success", states(run)
    [job] = local_ecs.runner.runs
    assert job.argv[3:] == [HOSTILE, "{{ ds }}"]
    assert job.environment["FIXED"] == HOSTILE
    assert job.environment[name] == "conf " + HOSTILE
    assert job.environment["RUN_DATE"] == "{{ ds }}"  # a conf value is data, never a template
