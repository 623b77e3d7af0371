"""Generated DAGs in a real Airflow, 3.x or 2.10+: DagBag loads them, and `dag.test()` runs them against a
local ECS.

Needs the `airflow` extra (apache-airflow-providers-amazon and apache-airflow 3), or an environment with
apache-airflow 2.10+ and the provider (`.ci/run` builds one with Airflow 2.11 and runs these tests there too).
Without Airflow these tests skip, unless ECSFLOW_REQUIRE_AIRFLOW=1, when they fail (CI sets it, so a broken
install cannot pass as skipped). Airflow reads its configuration when first imported, so AIRFLOW_HOME (a
temporary folder with a sqlite database) is set by the session fixture before anything imports `airflow`.

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
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from airflow_support import REGION, ROLE, SETTINGS_BLOCK, aws_environment, compose_project, generate, register
from ecs_server import EcsEndpoint
from test_airflow_schedule import VALID_SCHEDULES

from ecsflow.airflow import write_dag
from ecsflow.compose.loader import load_project

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "etl" / "docker-compose.yml"
EXAMPLE_DAGS = ROOT / "examples" / "etl" / "dags"
HAND_WRITTEN = EXAMPLE_DAGS / "orders_rebuild.py"
AIRFLOW_CLI = Path(sys.executable).parent / "airflow"
OLDEST_AIRFLOW = (2, 10)  # what the generated files promise to load and run on

NETWORK = SETTINGS_BLOCK

# Quotes, triple quotes, backslashes, line breaks and Jinja syntax, in one value.
HOSTILE = "it's \"q\" '''t''' \"\"\"t\"\"\" back\\slash\\ {{ dag_run.conf }} {% raw %} {# c #}\nline\r\nend\n"


def _airflow_version() -> tuple[int, int] | None:
    try:
        return tuple(int(part) for part in importlib.metadata.version("apache-airflow").split(".")[:2])
    except importlib.metadata.PackageNotFoundError:
        return None


def _airflow_missing() -> str | None:
    if importlib.util.find_spec("airflow") is None:
        return "apache-airflow is not installed"
    try:
        version = importlib.metadata.version("apache-airflow")
        importlib.metadata.version("apache-airflow-providers-amazon")
    except importlib.metadata.PackageNotFoundError as error:
        return f"{error.name} is not installed"
    if _airflow_version() < OLDEST_AIRFLOW:
        return f"apache-airflow {version} is installed; the generated DAGs need Airflow 2.10 or later"
    return None


AIRFLOW_MAJOR = (_airflow_version() or (0, 0))[0]


_HOME: list[Path] = []  # the one AIRFLOW_HOME of this process: other test modules import these fixtures


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory):
    """A temporary AIRFLOW_HOME (sqlite, no examples), set before the first `import airflow` (once per process:
    a module that imports this fixture gets its own instance of it, and the same folder)."""
    if _HOME:
        yield _HOME[0]
        return
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
    _HOME.append(home)
    yield home
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def airflow_db(airflow_home):
    """`airflow db migrate` into the temporary AIRFLOW_HOME: what dag.test() and `airflow pools` need."""
    if not (airflow_home / ".migrated").exists():
        run_airflow("db", "migrate")
        (airflow_home / ".migrated").touch()
    return airflow_home


def run_airflow(*args: str) -> str:
    done = subprocess.run([str(AIRFLOW_CLI), *args], capture_output=True, text=True, env=os.environ, check=False)
    assert done.returncode == 0, f"airflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


_ON_PATH: list[str] = []  # the DAGs folders that tests put on sys.path


def dag_bag(folder: Path, known_pools=None):
    """The DAGs of a folder as Airflow's DAG processor loads them: the folder is Airflow 2's dags_folder or
    Airflow 3's bundle root, and Airflow appends it to sys.path; no other DAGs folder is there (those of
    earlier tests, and the configured one, are taken off), and modules imported from any of them before are
    forgotten, as each parse is a new process in Airflow. Every pool a task uses must be in `known_pools` (or
    Airflow's default_pool)."""
    configured = os.environ.get("AIRFLOW__CORE__DAGS_FOLDER")
    stale = {*_ON_PATH, str(folder), *([configured] if configured else [])}
    def inside(module) -> bool:
        places = [getattr(module, "__file__", None) or "", *getattr(module, "__path__", [])]
        return any(place and Path(place).is_relative_to(old) for place in places for old in stale)

    for name in [name for name, module in list(sys.modules.items()) if inside(module)]:
        del sys.modules[name]  # (all found first: a namespace package's __path__ reads its parent's)
    sys.path[:] = [entry for entry in sys.path if entry not in stale]
    sys.path.append(str(folder))
    _ON_PATH.append(str(folder))
    known = None if known_pools is None else set(known_pools) | {"default_pool"}
    if AIRFLOW_MAJOR >= 3:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(folder), known_pools=known, bundle_path=folder)
    else:
        from airflow.models.dagbag import DagBag

        bag = DagBag(dag_folder=str(folder), include_examples=False)
    assert bag.import_errors == {}
    if known is not None:  # (Airflow 2's DagBag has no such check: the same one here)
        tasks = [t for d in bag.dags.values() for t in d.tasks]
        assert {(t.dag_id, t.task_id, t.pool) for t in tasks if t.pool not in known} == set()
        if AIRFLOW_MAJOR >= 3:
            assert bag.dag_warnings == set()
    return bag


def edges(dag) -> set[tuple[str, str]]:
    return {(up, task.task_id) for task in dag.tasks for up in task.upstream_task_ids}


def schedule_of(dag):
    return dag.schedule if AIRFLOW_MAJOR >= 3 else dag.schedule_interval


CRON_TIMETABLE = "CronTriggerTimetable" if AIRFLOW_MAJOR >= 3 else "CronDataIntervalTimetable"


def render(task, params: dict[str, object], **context) -> None:
    """Render the task's templated fields as Airflow does before execute(), with these params (on try 1, unless
    ``ti`` says otherwise: the strategy of a task on FARGATE_SPOT depends on it)."""
    import types

    task.render_template_fields({"params": params, "dag_run": None, "ti": types.SimpleNamespace(try_number=1),
                                 **context})


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


def ds_of(run) -> str:
    """The run's `ds`: its logical date (Airflow 3 may run a manual run without one: then its run_after)."""
    when = getattr(run, "logical_date", None) or run.run_after
    return when.strftime("%Y-%m-%d")


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
