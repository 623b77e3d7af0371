"""Generated DAGs in a real Airflow, 3.x or 2.10+: DagBag loads them (the example's, those of every shape, every
accepted schedule, hostile values, DAGs folders below the DAGs folder). Running them: test_airflow_runs.py.

Needs the `airflow` extra (apache-airflow-providers-amazon and apache-airflow 3), or an environment with
apache-airflow 2.10+ and the provider (`.ci/run` builds one with Airflow 2.11 and runs these tests there too).
Without Airflow these tests skip, unless ECSFLOW_REQUIRE_AIRFLOW=1, when they fail (CI sets it, so a broken
install cannot pass as skipped). Airflow reads its configuration when first imported, so AIRFLOW_HOME (a
temporary folder with a sqlite database) is set by the session fixture before anything imports `airflow`
(tests/real_airflow.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from airflow_support import SETTINGS_BLOCK, compose_project, generate
from real_airflow import (
    AIRFLOW_MAJOR,
    CRON_TIMETABLE,
    EXAMPLE,
    EXAMPLE_DAGS,
    HAND_WRITTEN,
    HOSTILE,
    NETWORK,
    dag_bag,
    edges,
    render,
    schedule_of,
)
from schedule_support import VALID_SCHEDULES

from ecsflow.airflow import write_dag
from ecsflow.compose.loader import load_project

pytestmark = pytest.mark.slow


# --- DagBag ---


def test_the_committed_example_dags_load(airflow_home):
    pools = json.loads((EXAMPLE_DAGS / "etl.pools.json").read_text())
    bag = dag_bag(EXAMPLE_DAGS, known_pools=set(pools))
    assert set(bag.dags) == {"etl", "orders_rebuild"}
    dag = bag.dags["etl"]
    assert [t.task_id for t in dag.tasks] == ["extract", "transform", "load"]
    assert edges(dag) == {("extract", "transform"), ("transform", "load")}
    assert {t.task_id: (t.pool, t.pool_slots) for t in dag.tasks} == {
        "extract": ("default_pool", 1), "transform": ("default_pool", 1), "load": ("warehouse", 1)
    }
    assert {t.task_id: (t.retries, t.retry_delay.total_seconds(), t.execution_timeout) for t in dag.tasks} == {
        "extract": (2, 300, None), "transform": (2, 300, dag.get_task("transform").execution_timeout),
        "load": (2, 300, None)}
    assert dag.get_task("transform").execution_timeout.total_seconds() == 7200
    assert dag.params.dump() == {"RUN_DATE": None, "FULL_REFRESH": "false"}
    assert dag.params.get_param("RUN_DATE").schema == {"type": ["null", "string"]}
    assert schedule_of(dag) is None and type(dag.timetable).__name__ == "NullTimetable"
    assert dag.start_date.year == 2024 and not dag.catchup

    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    transform = dag.get_task("transform")
    assert isinstance(transform, EcsRunTaskOperator)
    assert (transform.cluster, transform.task_definition) == ("data-jobs", "etl-transform")
    assert transform.capacity_provider_strategy == [  # rendered per try: tests/test_airflow_runs_once.py
        {"capacityProvider": "{{ 'FARGATE_SPOT' if ti.try_number <= 1 else 'FARGATE' }}", "weight": 1}]
    assert dag.get_task("extract").launch_type == "FARGATE"
    assert transform.region_name == "eu-west-1"
    assert transform.network_configuration["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    assert (transform.awslogs_group, transform.awslogs_stream_prefix) == ("/ecs/etl/transform", "ecs/transform")
    # A scheduled run: the params' defaults; RUN_DATE's default is Jinja, rendered by Airflow.
    render(transform, dag.params.dump(), ds="2024-06-01")
    assert transform.overrides == {"containerOverrides": [{"name": "transform", "environment": [
        {"name": "RUN_DATE", "value": "2024-06-01"}, {"name": "FULL_REFRESH", "value": "false"}]}]}

    # The DAG written by hand: its own Python tasks around the factories' operators.
    rebuild = bag.dags["orders_rebuild"]
    assert [t.task_id for t in rebuild.tasks] == [
        "pick_day", "extract_returns", "extract", "transform", "load", "report"]
    assert edges(rebuild) == {("pick_day", "extract_returns"), ("pick_day", "extract"),
                              ("extract_returns", "transform"), ("extract", "transform"), ("transform", "load"),
                              ("load", "report")}
    assert rebuild.get_task("load").pool_slots == 2 and rebuild.get_task("transform").retries == 0
    assert rebuild.get_task("extract_returns").overrides["containerOverrides"][0]["command"][3:5] == [
        "--source", "returns"]
    assert rebuild.params.dump() == dag.params.dump()


def test_dags_two_folders_below_the_dags_folder_load_and_keep_their_own_factories(airflow_home, tmp_path):
    """`gen-dag --out dags/team_a/ecsflow` and `--out dags/team_b/jobs`, with only the DAGs folder on sys.path
    (Airflow 2's dags_folder, Airflow 3's bundle root): both DAGs load, each with its own factories although
    their modules have one name (etl_nightly_tasks.py: DAG ids etl-nightly and etl_nightly), and so does a DAG
    written by hand beside the first that imports its factories by their dotted path, as the README says."""
    dags = tmp_path / "dags"
    team_a, team_b = dags / "team_a" / "ecsflow", dags / "team_b" / "jobs"
    example = load_project([EXAMPLE], warn=lambda message: None)
    first, _ = generate(example, dag_id="etl-nightly")
    other = compose_project(tmp_path, NETWORK.replace("cluster: jobs", "cluster: team-b-jobs") + """\
services:
  report: {image: app}
""")
    second, _ = generate(other, dag_id="etl_nightly")
    assert first.tasks_file_name == second.tasks_file_name == "etl_nightly_tasks.py"
    assert write_dag(first, team_a).ok and write_dag(second, team_b).ok
    by_hand = HAND_WRITTEN.read_text().replace(
        "from etl_tasks import", "from team_a.ecsflow.etl_nightly_tasks import")
    assert "from team_a.ecsflow.etl_nightly_tasks import extract, load, params, transform" in by_hand
    (team_a / HAND_WRITTEN.name).write_text(by_hand)

    pools = json.loads(first.pools_source)
    bag = dag_bag(dags, known_pools=set(pools))
    assert set(bag.dags) == {"etl-nightly", "etl_nightly", "orders_rebuild"}
    assert {t.task_id: t.cluster for t in bag.dags["etl-nightly"].tasks} == dict.fromkeys(
        ["extract", "transform", "load"], "data-jobs")
    assert {t.task_id: t.cluster for t in bag.dags["etl_nightly"].tasks} == {"report": "team-b-jobs"}
    assert {t.cluster for t in bag.dags["orders_rebuild"].tasks if hasattr(t, "cluster")} == {"data-jobs"}
    assert [entry for entry in sys.path if entry.startswith(str(dags))] == [str(dags)]
    assert "etl_nightly_tasks" not in sys.modules  # loaded by path, never by the name a third DAG might import


def test_gen_dag_never_takes_a_name_of_a_module_airflow_loads(airflow_home, tmp_path):
    """module_names.AIRFLOW_MODULES holds every public top-level module this Airflow loads to parse the
    generated DAGs (a DAG file of that name would shadow it for Python run from the DAGs folder), measured in a
    fresh process as Airflow's DAG processor parses them."""
    from ecsflow.airflow.module_names import shadowed

    bag = "airflow.dag_processing.dagbag" if AIRFLOW_MAJOR >= 3 else "airflow.models.dagbag"
    script = f"""
import json, sys
from {bag} import DagBag
sys.path.append(sys.argv[1])  # as Airflow does: the hand-written DAG imports etl_tasks from there
bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors and bag.dags, bag.import_errors
print(json.dumps(sorted({{name.split(".")[0] for name in sys.modules}})))
"""
    done = subprocess.run([sys.executable, "-c", script, str(EXAMPLE_DAGS)], capture_output=True, text=True,
                          env=os.environ, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    ours = {path.stem for path in EXAMPLE_DAGS.glob("*.py")}  # etl_tasks, imported by the hand-written DAG
    public = [name for name in loaded if not name.startswith(("_", "unusual_prefix_")) and name not in ours]
    assert "airflow" in public and "pendulum" in public
    assert [name for name in public if shadowed(name) is None] == [], "add them to module_names.AIRFLOW_MODULES"


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
        "cron": ("  pools: {nightly: 3}\n  retries: 4\n  execution_timeout: 90m\n", """\
services:
  "job.one": {image: app, x-ecsflow: {schedule: "0 3 * * *", pool: nightly, pool_slots: 3, retry_delay: 45}}
  "job-one": {image: app, x-ecsflow: {family: second, pool: nightly, retries: 0, capacity_provider: FARGATE}}
"""),
        "preset": ("  schedule: '@daily'\n", """\
services:
  class: {image: app, x-ecsflow: {runtime_env: [A, B]}}
  dag: {image: app, x-ecsflow: {runtime_env: {B: "", C: "{{ ds_nodash }}", D: 7}}}
"""),
        "groups": ("", """\
services:
  extract: {image: app, x-ecsflow: {group: etl}}
  transform:
    image: app
    depends_on: {extract: {condition: service_completed_successfully}}
    x-ecsflow: {group: etl}
  report:
    image: app
    depends_on: {transform: {condition: service_completed_successfully}}
  etl: {image: app, x-ecsflow: {group: other}}
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
    bag = dag_bag(dags, known_pools={"nightly"})
    assert set(bag.dags) == set(shapes)
    for name, generated in expected.items():
        dag = bag.dags[name]
        assert [t.task_id for t in dag.tasks] == list(generated.task_ids.values())
        assert edges(dag) == set(generated.edges)
        assert list(dag.params.dump()) == list(generated.params)
    assert edges(bag.dags["edges"]) == {("migrate", "seed"), ("migrate", "report"), ("seed", "report")}
    cron = bag.dags["cron"]
    assert schedule_of(cron) == "0 3 * * *" and type(cron.timetable).__name__ == CRON_TIMETABLE
    assert [(t.pool, t.pool_slots, t.retries) for t in cron.tasks] == [("nightly", 3, 4), ("nightly", 1, 0)]
    assert [t.retry_delay.total_seconds() for t in cron.tasks][0] == 45
    assert [t.execution_timeout.total_seconds() for t in cron.tasks] == [5400, 5400]
    assert cron.tasks[1].capacity_provider_strategy == [{"capacityProvider": "FARGATE", "weight": 1}]
    assert expected["cron"].pools["nightly"]["slots"] == 3
    preset = bag.dags["preset"]
    assert schedule_of(preset) == "@daily" and type(preset.timetable).__name__ == CRON_TIMETABLE
    assert [t.task_id for t in preset.tasks] == ["class", "dag"]
    assert preset.params.dump() == {"A": "", "B": "", "C": None, "D": "7"}
    [_, task] = preset.tasks
    render(task, {"A": "", "B": "b", "C": None, "D": "7"}, ds_nodash="20240601")
    assert task.overrides["containerOverrides"][0]["environment"] == [
        {"name": "B", "value": "b"}, {"name": "C", "value": "20240601"}, {"name": "D", "value": "7"}]
    groups = bag.dags["groups"]
    assert [t.task_id for t in groups.tasks] == ["etl.extract", "etl.transform", "report", "other.etl"]
    assert edges(groups) == {("etl.extract", "etl.transform"), ("etl.transform", "report")}
    assert {t.task_group.group_id for t in groups.tasks} == {"etl", None, "other"}


def test_a_task_with_sidecars_is_one_airflow_task_of_its_main_service(airflow_home, tmp_path):
    """A sidecar (network_mode: service:X, x-ecsflow.task: X) is a container of X's task definition, not a task
    of the DAG: what it depends on orders X's task (compose/sidecars.py)."""
    project = compose_project(tmp_path, SETTINGS_BLOCK + """\
services:
  extract:
    image: app
    command: [extract]
  load:
    image: app
    command: [load]
    depends_on: {warm: {condition: service_completed_successfully}}
  proxy:
    image: envoyproxy/envoy:v1.31
    network_mode: service:load
  warm:
    image: app
    x-ecsflow: {task: load}
    depends_on: {extract: {condition: service_completed_successfully}}
""")
    dags = tmp_path / "dags"
    generated, builds = generate(project)
    write_dag(generated, dags)
    [load] = [b for b in builds if b.service == "load"]
    assert [c["name"] for c in load.request["containerDefinitions"]] == ["load", "proxy", "warm"]
    bag = dag_bag(dags)
    dag = bag.dags[generated.dag_id]
    assert sorted(t.task_id for t in dag.tasks) == ["extract", "load"]
    assert edges(dag) == {("extract", "load")}  # warm's dependency is its task's
    task = dag.get_task("load")
    assert (task.task_definition, task.container_name) == (f"{project.name}-load", "load")


def test_every_accepted_schedule_loads_and_has_a_next_run(airflow_home, tmp_path):
    """The schedule check is never looser than Airflow: a DAG with each accepted form imports, serializes as
    the DAG processor stores it, and the scheduler's timetable finds its next run."""
    from airflow.timetables.base import TimeRestriction
    from pendulum import datetime

    from ecsflow.airflow import SCHEDULE_PRESETS, schedule_problem

    if AIRFLOW_MAJOR >= 3:
        from airflow.serialization.serialized_objects import DagSerialization as Serialization
    else:
        from airflow.serialization.serialized_objects import SerializedDAG as Serialization

    assert set(SCHEDULE_PRESETS) <= set(VALID_SCHEDULES)
    dags = tmp_path / "dags"
    project = compose_project(tmp_path, NETWORK + "services:\n  job: {image: app}\n")
    ids = {}
    for index, schedule in enumerate(VALID_SCHEDULES):
        assert schedule_problem(schedule) is None
        generated, _ = generate(project, dag_id=f"schedule_{index}", schedule=schedule)
        assert write_dag(generated, dags).ok
        ids[generated.dag_id] = schedule
    bag = dag_bag(dags, known_pools=set())
    assert set(bag.dags) == set(ids)
    restriction = TimeRestriction(earliest=datetime(2024, 1, 1, tz="UTC"), latest=None, catchup=False)
    for dag_id, schedule in ids.items():
        dag = bag.dags[dag_id]
        assert schedule_of(dag) == schedule
        kind = {"@once": "OnceTimetable", "@continuous": "ContinuousTimetable"}.get(schedule, CRON_TIMETABLE)
        assert type(dag.timetable).__name__ == kind, schedule
        if schedule == "@continuous":
            assert dag.max_active_runs == 1
        timetable = Serialization.from_dict(Serialization.to_dict(dag)).timetable
        info = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
        assert info is not None and info.run_after >= restriction.earliest, schedule


def test_hostile_values_load_and_render_unchanged(airflow_home, tmp_path):
    name = "VAR " + HOSTILE
    pool = "pool.hostile-1_x"
    text = NETWORK.replace("cluster: jobs", "cluster: " + json.dumps("arn:aws:ecs:eu-west-1:1:cluster/c{{x}}")).replace(
        "x-ecsflow:\n", f"x-ecsflow:\n  pools: {{{json.dumps(pool)}: 2}}\n") + f"""\
services:
  job:
    image: x
    command: {json.dumps(["echo", HOSTILE])}
    logging:
      driver: awslogs
      options:
        awslogs-group: {json.dumps("/ecs/" + HOSTILE)}
    x-ecsflow:
      pool: {json.dumps(pool)}
      runtime_env: {{{json.dumps(name)}: {json.dumps("default " + HOSTILE.replace("{", "(").replace("}", ")"))}}}
"""
    generated, builds = generate(compose_project(tmp_path, text), dag_id="hostile")
    dags = tmp_path / "dags"
    write_dag(generated, dags)
    bag = dag_bag(dags, known_pools=set(generated.pools))
    dag = bag.dags["hostile"]
    [task] = dag.tasks
    assert task.pool == pool
    assert list(dag.params.dump()) == [name]
    conf_value = "given {{ 1 + 1 }} {% raw %}\n" + HOSTILE
    container = builds[0].request["containerDefinitions"][0]["name"]
    for given, sent in ((conf_value, conf_value), (None, dag.params.dump()[name])):
        render(task, {name: given} if given is not None else dag.params.dump())
        assert task.cluster == "arn:aws:ecs:eu-west-1:1:cluster/c{{x}}"
        assert task.awslogs_group == "/ecs/" + HOSTILE
        assert task.awslogs_stream_prefix == f"ecs/{container}"
        assert task.overrides == {
            "containerOverrides": [{"name": container, "environment": [{"name": name, "value": sent}]}]
        }
        [task] = dag_bag(dags).dags["hostile"].tasks  # unrendered again
    assert dag.params.dump()[name].startswith("default it's")
