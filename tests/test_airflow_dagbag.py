"""Generated DAGs in a real Airflow 3: DagBag loads them, and `dag.test()` runs them against a local ECS.

Needs the `airflow` extra (apache-airflow-providers-amazon, which brings apache-airflow 3). Without it these
tests skip, unless ECSFLOW_REQUIRE_AIRFLOW=1, when they fail (CI sets it, so a broken install cannot pass
as skipped). Airflow reads its configuration when first imported, so AIRFLOW_HOME (a temporary folder with
a sqlite database) is set by the session fixture before anything imports `airflow`.

The end-to-end runs use `ecs_server.EcsEndpoint(run_tasks=True, ...)`: moto's ECS, EC2 and CloudWatch Logs
behind one URL, with ecsflow's local task runner (`ecsflow.sandbox.runner`, the sandbox's), which runs each
started task's command on this machine, writes its output to the task's awslogs stream and stops the task
with the command's exit code (its docstring lists where moto alone falls short).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from airflow_support import REGION, SETTINGS_BLOCK, aws_environment, compose_project, generate, register
from ecs_server import EcsEndpoint
from test_airflow import VALID_SCHEDULES

from ecsflow.airflow import write_dag
from ecsflow.compose.loader import load_project

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "etl" / "docker-compose.yml"
EXAMPLE_DAGS = ROOT / "examples" / "etl" / "dags"
AIRFLOW_CLI = Path(sys.executable).parent / "airflow"

NETWORK = SETTINGS_BLOCK

# Quotes, triple quotes, backslashes, line breaks and Jinja syntax, in one value.
HOSTILE = "it's \"q\" '''t''' \"\"\"t\"\"\" back\\slash\\ {{ dag_run.conf }} {% raw %} {# c #}\nline\r\nend\n"


def _airflow_missing() -> str | None:
    if importlib.util.find_spec("airflow") is None:
        return "apache-airflow is not installed"
    try:
        version = importlib.metadata.version("apache-airflow")
        importlib.metadata.version("apache-airflow-providers-amazon")
    except importlib.metadata.PackageNotFoundError as error:
        return f"{error.name} is not installed"
    if int(version.split(".")[0]) < 3:
        return f"apache-airflow {version} is installed; the generated DAGs need Airflow 3"
    return None


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory):
    """A temporary AIRFLOW_HOME (sqlite, no examples), set before the first `import airflow`."""
    missing = _airflow_missing()
    if missing:
        reason = f"{missing}: install the airflow extra (pip install -e '.[dev,airflow]')"
        if os.environ.get("ECSFLOW_REQUIRE_AIRFLOW") == "1":
            pytest.fail(f"ECSFLOW_REQUIRE_AIRFLOW=1 but {reason}")
        pytest.skip(reason)
    if "airflow.configuration" in sys.modules:
        pytest.fail("airflow was imported before the test set AIRFLOW_HOME; run the Airflow tests in their own process")
    home = tmp_path_factory.mktemp("airflow_home")
    dags = home / "dags"
    dags.mkdir()
    saved = dict(os.environ)
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    })
    yield home
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def airflow_db(airflow_home):
    """`airflow db migrate` into the temporary AIRFLOW_HOME: what dag.test() and `airflow pools` need."""
    run_airflow("db", "migrate")
    return airflow_home


def run_airflow(*args: str) -> str:
    done = subprocess.run([str(AIRFLOW_CLI), *args], capture_output=True, text=True, env=os.environ, check=False)
    assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def dag_bag(folder: Path, known_pools=None):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(folder), known_pools=known_pools)


def edges(dag) -> set[tuple[str, str]]:
    return {(up, task.task_id) for task in dag.tasks for up in task.upstream_task_ids}


def render(task, params: dict[str, str]) -> None:
    """Render the task's templated fields as Airflow does before execute(), with these params."""
    task.render_template_fields({"params": params, "dag_run": None})


# --- DagBag ---


def test_the_committed_example_dag_loads(airflow_home):
    pools = json.loads((EXAMPLE_DAGS / "etl.pools.json").read_text())
    bag = dag_bag(EXAMPLE_DAGS, known_pools=set(pools) | {"default_pool"})
    assert bag.import_errors == {}
    assert bag.dag_warnings == set()  # every pool a task uses is in the pools file (or Airflow's own)
    assert set(bag.dags) == {"etl"}
    dag = bag.dags["etl"]
    assert [t.task_id for t in dag.tasks] == ["extract", "transform", "load"]
    assert edges(dag) == {("extract", "transform"), ("transform", "load")}
    assert {t.task_id: t.pool for t in dag.tasks} == {
        "extract": "default_pool", "transform": "default_pool", "load": "warehouse"
    }
    assert dag.params.dump() == {"RUN_DATE": ""}
    assert dag.params.get_param("RUN_DATE").schema == {"type": "string"}
    assert dag.schedule is None and type(dag.timetable).__name__ == "NullTimetable"

    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    transform = dag.get_task("transform")
    assert isinstance(transform, EcsRunTaskOperator)
    assert (transform.cluster, transform.task_definition, transform.launch_type) == (
        "data-jobs", "etl-transform", "FARGATE"
    )
    assert transform.region_name == "eu-west-1"
    assert transform.network_configuration["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert (transform.awslogs_group, transform.awslogs_stream_prefix) == ("/ecs/etl/transform", "ecs/transform")
    render(transform, {"RUN_DATE": "2024-06-01"})
    assert transform.overrides == {
        "containerOverrides": [{"name": "transform", "environment": [{"name": "RUN_DATE", "value": "2024-06-01"}]}]
    }


def test_generated_dags_of_every_shape_load(airflow_home, tmp_path):
    dags = tmp_path / "dags"
    shapes = {  # dag id -> (extra top-level x-ecsflow lines, services)
        "edges": ("", """\
services:
  db: {image: postgres}
  migrate:
    image: app
    depends_on: {db: {condition: service_healthy}}
  seed:
    image: app
    depends_on: {migrate: {condition: service_completed_successfully}}
  report:
    image: app
    depends_on:
      migrate: {condition: service_completed_successfully}
      seed: {condition: service_completed_successfully}
"""),
        "cron": ("", """\
services:
  "job.one": {image: app, x-ecsflow: {schedule: "0 3 * * *", pool: nightly, pool_slots: 3}}
  "job-one": {image: app, x-ecsflow: {family: second, pool: nightly}}
"""),
        "preset": ("  schedule: '@daily'\n", """\
services:
  class: {image: app, x-ecsflow: {runtime_env: [A, B]}}
  dag: {image: app, x-ecsflow: {runtime_env: [B]}}
"""),
    }
    expected = {}
    for name, (extra, services) in shapes.items():
        folder = tmp_path / name
        folder.mkdir()
        text = NETWORK.replace("x-ecsflow:\n", "x-ecsflow:\n" + extra) + services
        generated, _ = generate(compose_project(folder, text), dag_id=name)
        assert write_dag(generated, dags).ok
        expected[name] = generated
    bag = dag_bag(dags, known_pools={"nightly", "default_pool"})
    assert bag.import_errors == {}
    assert bag.dag_warnings == set()
    assert set(bag.dags) == set(shapes)
    for name, generated in expected.items():
        dag = bag.dags[name]
        assert [t.task_id for t in dag.tasks] == list(generated.task_ids.values())
        assert edges(dag) == set(generated.edges)
        assert list(dag.params.dump()) == list(generated.params)
    assert edges(bag.dags["edges"]) == {("migrate", "seed"), ("migrate", "report"), ("seed", "report")}
    assert bag.dags["cron"].schedule == "0 3 * * *"
    assert type(bag.dags["cron"].timetable).__name__ == "CronTriggerTimetable"
    assert [t.pool for t in bag.dags["cron"].tasks] == ["nightly", "nightly"]
    assert expected["cron"].pools["nightly"]["slots"] == 3
    assert bag.dags["preset"].schedule == "@daily"
    assert type(bag.dags["preset"].timetable).__name__ == "CronTriggerTimetable"
    assert [t.task_id for t in bag.dags["preset"].tasks] == ["class", "dag"]


def test_every_accepted_schedule_loads_and_has_a_next_run(airflow_home, tmp_path):
    """The schedule check is never looser than Airflow: a DAG with each accepted form imports, serializes as
    the DAG processor stores it, and the scheduler's timetable finds its next run."""
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import TimeRestriction
    from pendulum import datetime

    from ecsflow.airflow import SCHEDULE_PRESETS, schedule_problem

    assert set(SCHEDULE_PRESETS) <= set(VALID_SCHEDULES)
    dags = tmp_path / "dags"
    project = compose_project(tmp_path, NETWORK + "services:\n  job: {image: app}\n")
    ids = {}
    for index, schedule in enumerate(VALID_SCHEDULES):
        assert schedule_problem(schedule) is None
        generated, _ = generate(project, dag_id=f"schedule_{index}", schedule=schedule)
        assert write_dag(generated, dags).ok
        ids[generated.dag_id] = schedule
    bag = dag_bag(dags, known_pools={"default_pool"})
    assert bag.import_errors == {}
    assert set(bag.dags) == set(ids)
    restriction = TimeRestriction(earliest=datetime(2024, 1, 1, tz="UTC"), latest=None, catchup=False)
    for dag_id, schedule in ids.items():
        dag = bag.dags[dag_id]
        assert dag.schedule == schedule
        kind = {"@once": "OnceTimetable", "@continuous": "ContinuousTimetable"}.get(schedule, "CronTriggerTimetable")
        assert type(dag.timetable).__name__ == kind, schedule
        if schedule == "@continuous":
            assert dag.max_active_runs == 1
        timetable = DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable
        info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
        assert info is not None and info.run_after >= restriction.earliest, schedule


def test_hostile_values_load_and_render_unchanged(airflow_home, tmp_path):
    name = "VAR " + HOSTILE
    text = NETWORK.replace("cluster: jobs", "cluster: " + json.dumps("arn:aws:ecs:eu-west-1:1:cluster/c{{x}}")) + f"""\
services:
  job:
    image: x
    command: {json.dumps(["echo", HOSTILE])}
    logging:
      driver: awslogs
      options:
        awslogs-group: {json.dumps("/ecs/" + HOSTILE)}
    x-ecsflow:
      pool: {json.dumps("pool " + HOSTILE)}
      runtime_env: [{json.dumps(name)}]
"""
    generated, builds = generate(compose_project(tmp_path, text), dag_id="hostile")
    dags = tmp_path / "dags"
    write_dag(generated, dags)
    bag = dag_bag(dags, known_pools=set(generated.pools) | {"default_pool"})
    assert bag.import_errors == {}
    assert bag.dag_warnings == set()
    dag = bag.dags["hostile"]
    [task] = dag.tasks
    assert task.pool == "pool " + HOSTILE
    assert list(dag.params.dump()) == [name]
    conf_value = "given {{ 1 + 1 }} {% raw %}\n" + HOSTILE
    render(task, {name: conf_value})
    container = builds[0].request["containerDefinitions"][0]["name"]
    assert task.cluster == "arn:aws:ecs:eu-west-1:1:cluster/c{{x}}"
    assert task.awslogs_group == "/ecs/" + HOSTILE
    assert task.awslogs_stream_prefix == f"ecs/{container}"
    assert task.overrides == {
        "containerOverrides": [{"name": container, "environment": [{"name": name, "value": conf_value}]}]
    }


# --- end to end: dag.test() against a local ECS endpoint ---

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


def run_dag(generated, builds, ecs: EcsEndpoint, cluster: str, conf: dict | None = None):
    """Write the DAG into the DAGs folder, register its task definitions, import its pools, run dag.test()."""
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert write_dag(generated, dags).ok
    register(ecs, cluster, builds)
    run_airflow("pools", "import", str(dags / generated.pools_file_name))
    bag = dag_bag(dags)
    assert bag.import_errors == {}
    dag = bag.dags[generated.dag_id]
    run = dag.test(run_conf=conf)
    assert ecs.runner.wait_idle()
    assert ecs.runner.errors == []
    return run


@pytest.fixture
def local_ecs(airflow_db, tmp_path, monkeypatch):
    """A local ECS whose tasks run: the fake jobs on PYTHONPATH; subnets must exist, as ECS requires."""
    jobs = fake_jobs(tmp_path)
    with EcsEndpoint(run_tasks=True, workdir=tmp_path, environment={"PYTHONPATH": str(jobs)},
                     check_network=True, region=REGION) as ecs:
        ecs.reset()  # moto's state is per process: start from nothing, as a new endpoint would
        for key, value in aws_environment(ecs).items():
            monkeypatch.setenv(key, value)
        yield ecs


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_the_example_runs_to_success(local_ecs, capfd):
    subnet, group = local_ecs.network()
    project = load_project([EXAMPLE], warn=lambda message: None)
    generated, builds = generate(project, flags={"subnets": [subnet], "security_groups": [group]})
    run = run_dag(generated, builds, local_ecs, "data-jobs", conf={"RUN_DATE": "2024-06-01"})

    assert str(run.state) == "success"
    assert states(run) == {"extract": "success", "transform": "success", "load": "success"}
    assert [r.family for r in local_ecs.runner.runs] == ["etl-extract", "etl-transform", "etl-load"]
    extract, transform, load = local_ecs.runner.runs
    assert extract.argv[1:] == ["-m", "etl.extract", "--source", "orders", "--to", "s3://acme-raw/orders/"]
    assert transform.environment["RUN_DATE"] == "2024-06-01"
    assert transform.environment["SPARK_DRIVER_MEMORY"] == "6g"
    assert "RUN_DATE" not in extract.environment
    assert all(r.exit_code == 0 for r in local_ecs.runner.runs)
    # The operator read each container's log stream, named as the task definition's awslogs options say.
    assert load.log_group == "/ecs/etl/load" and load.log_stream.startswith("ecs/load/")
    out = capfd.readouterr().out
    assert 'job ["--from", "s3://acme-raw/orders/", "--to", "s3://acme-clean/orders/"]' in out
    assert '"RUN_DATE": "2024-06-01"' in out
    # The pools file was imported by `airflow pools import` as it is.
    pools = {p["pool"]: p for p in json.loads(run_airflow("pools", "list", "--output", "json"))}
    assert pools["warehouse"]["slots"] == "2" or pools["warehouse"]["slots"] == 2


def test_a_non_zero_exit_fails_the_task(local_ecs, tmp_path, capfd):
    subnet, group = local_ecs.network()
    project = compose_project(tmp_path, f"""\
name: failing
x-ecsflow: {{region: eu-west-1, cluster: jobs, subnets: [{subnet}], security_groups: [{group}]}}
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
x-ecsflow: {{region: eu-west-1, cluster: jobs, subnets: [{subnet}], security_groups: [{group}]}}
services:
  job:
    image: x
    command: {json.dumps(["python", "-m", "job", HOSTILE, "{{ ds }}"])}
    environment:
      FIXED: {json.dumps(HOSTILE)}
    x-ecsflow:
      pool: {json.dumps("pool " + HOSTILE)}
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
