"""A real Airflow (3.x, or 2.10+) for the slow tests that load and run generated DAGs (test_airflow_dagbag.py,
test_airflow_runs.py): whether it is installed, a temporary AIRFLOW_HOME for the whole session (the fixtures
`airflow_home` and `airflow_db`, which tests/conftest.py makes the session's: Airflow reads its configuration
once, when first imported), its CLI, and a DagBag of one folder as Airflow's DAG processor loads it."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from airflow_support import SETTINGS_BLOCK

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "etl" / "docker-compose.yml"
EXAMPLE_DAGS = ROOT / "examples" / "etl" / "dags"
HAND_WRITTEN = EXAMPLE_DAGS / "orders_rebuild.py"
AIRFLOW_CLI = Path(sys.executable).parent / "airflow"
OLDEST_AIRFLOW = (2, 10)  # what the generated files promise to load and run on

NETWORK = SETTINGS_BLOCK

# Quotes, triple quotes, backslashes, line breaks and Jinja syntax, in one value.
HOSTILE = "it's \"q\" '''t''' \"\"\"t\"\"\" back\\slash\\ {{ dag_run.conf }} {% raw %} {# c #}\nline\r\nend\n"


def airflow_version() -> tuple[int, int] | None:
    try:
        return tuple(int(part) for part in importlib.metadata.version("apache-airflow").split(".")[:2])
    except importlib.metadata.PackageNotFoundError:
        return None


def airflow_missing() -> str | None:
    if importlib.util.find_spec("airflow") is None:
        return "apache-airflow is not installed"
    try:
        version = importlib.metadata.version("apache-airflow")
        importlib.metadata.version("apache-airflow-providers-amazon")
    except importlib.metadata.PackageNotFoundError as error:
        return f"{error.name} is not installed"
    if airflow_version() < OLDEST_AIRFLOW:
        return f"apache-airflow {version} is installed; the generated DAGs need Airflow 2.10 or later"
    return None


AIRFLOW_MAJOR = (airflow_version() or (0, 0))[0]


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory):
    """A temporary AIRFLOW_HOME (sqlite, no examples), set before the first `import airflow`."""
    missing = airflow_missing()
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
