"""ecsflow.airflow: the DAG file, the task factories module and the pools file `gen-dag` writes (fast: no Airflow
import; the factories module runs against stand-ins for Airflow's names, with Airflow 3's and Airflow 2's imports).

The same files are loaded in a real Airflow 3 and 2, and run against a local ECS endpoint, by
test_airflow_dagbag.py; test_airflow_factories.py covers what the factories take and the x-ecsflow keys for
Airflow; test_airflow_schedule.py the schedules.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from airflow_support import (
    ROLE,
    SETTINGS_BLOCK,
    StubLiteral,
    StubParam,
    compose_project,
    dag_call,
    generate,
    operator_kwargs,
    plain,
    tasks_namespace,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.airflow import (
    DagError,
    GeneratedDag,
    gen_dag,
    generate_dag,
    is_edited,
    parse_header,
    py_str,
    write_dag,
)
from ecsflow.compose.extension import parse_service_extension
from ecsflow.compose.loader import load_project
from ecsflow.compose.model import ComposeProject, Dependency, Logging, Service
from ecsflow.errors import EcsflowError
from ecsflow.settings import Settings, resolve_settings
from ecsflow.taskdef import build_task_definitions

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "etl" / "docker-compose.yml"
EXAMPLE_DAGS = ROOT / "examples" / "etl" / "dags"
RUFF = Path(sys.executable).parent / "ruff"
try:  # black is not a dependency; where it is installed, generated sources must be exactly black's output
    import black
except ImportError:
    black = None

NETWORK = "name: compose\n" + SETTINGS_BLOCK

# Everything that has broken generated code somewhere: quotes of both kinds, triple quotes, backslashes
# (also before a quote and at the end), line breaks of every kind, Jinja syntax, a comment sign, tabs,
# non-ASCII, a NUL-less control character, and text that looks like code.
HOSTILE = [
    "it's \"quoted\"",
    "'''triple''' and \"\"\"triple\"\"\"",
    "back\\slash \\' \\\" end\\",
    "line\nbreak\r\nand\rcarriage\n",
    "{{ dag_run.conf }} {% if x %}y{% endif %} {# comment #}",
    "{{ '{{' }} }} {{",
    "# not a comment'); import os; os.system('true') #",
    "tab\there \x0b\x0c \x1e \x85 \u2028 ü €",
]


def example_dag(**kwargs) -> GeneratedDag:
    project = load_project([EXAMPLE], warn=lambda message: None)
    generated, _ = generate(project, **kwargs)
    return generated


def ruff_check(source: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(RUFF), "check", "--no-cache", *args, "--stdin-filename", "generated_dag.py", "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def assert_valid_python(generated: GeneratedDag) -> None:
    """Both modules compile, are black's layout where black is installed, and pass ruff."""
    for source in (generated.source, generated.tasks_source):
        compile(source, "generated_dag.py", "exec")
        if black is not None:
            assert black.format_str(source, mode=black.Mode()) == source
        # With the project's ruff settings, and with ruff's defaults plus the same rules at black's line length.
        for args in ((), ("--isolated", "--select", "E,F,W,I,B,UP")):
            result = ruff_check(source, *args)
            assert result.returncode == 0, result.stdout + result.stderr


def dag_tasks(generated: GeneratedDag) -> list[tuple[str | None, str, str]]:
    """(task group or None, variable, factory) of each `VAR = MODULE.FACTORY()` in the DAG file, in order."""
    found = []

    def visit(statements, group):
        for node in statements:
            if isinstance(node, ast.With):
                call = node.items[0].context_expr
                inner = ast.literal_eval(call.args[0]) if getattr(call.func, "id", None) == "TaskGroup" else group
                visit(node.body, inner)
            elif isinstance(node, ast.Assign):
                call = node.value
                assert isinstance(call, ast.Call) and not call.args and not call.keywords
                assert call.func.value.id == "tasks"
                found.append((group, node.targets[0].id, call.func.attr))

    visit([node for node in ast.parse(generated.source).body if isinstance(node, ast.With)], None)
    return found


# --- the example ---


def test_example_files_are_the_committed_ones():
    generated = example_dag()
    assert (EXAMPLE_DAGS / "etl.py").read_text() == generated.source
    assert (EXAMPLE_DAGS / "etl_tasks.py").read_text() == generated.tasks_source
    assert (EXAMPLE_DAGS / "etl.pools.json").read_text() == generated.pools_source


NETWORK_CONFIGURATION = {
    "awsvpcConfiguration": {
        "subnets": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
        "securityGroups": ["sg-0123456789abcdef0"],
        "assignPublicIp": "DISABLED",
    }
}


def test_example_dag_content():
    generated = example_dag()
    assert_valid_python(generated)
    assert (generated.dag_id, generated.tasks_module, generated.tasks_file_name) == ("etl", "etl_tasks", "etl_tasks.py")
    assert generated.services == ("extract", "transform", "load")
    assert generated.edges == (("extract", "transform"), ("transform", "load"))
    assert generated.params == ("RUN_DATE", "FULL_REFRESH")
    assert any("'api' is left out" in w for w in generated.warnings)
    source = generated.source
    # One file for Airflow 2.10+ and 3: airflow.sdk when there is one, else Airflow 2's modules.
    assert "try:  # Airflow 3\n    from airflow.sdk import DAG\nexcept ImportError:  # Airflow 2.10+\n" in source
    assert "    from airflow.models.dag import DAG\n" in source
    # The factories come by path from beside the DAG file, not from sys.path (test_airflow_dagbag.py loads
    # them two folders below the DAGs folder).
    assert "import etl_tasks" not in source and '\ntasks = _beside_this_file("etl_tasks")\n' in source
    assert "EcsRunTaskOperator" not in source and "literal" not in generated.tasks_source
    assert dag_tasks(generated) == [(None, name, name) for name in ("extract", "transform", "load")]
    assert "    extract >> transform\n    transform >> load\n" in source
    assert dag_call(source) == {
        "dag_id": "etl",
        "description": "ECS Fargate tasks of the compose project etl, generated by ecsflow",
        "schedule": None,
        "start_date": "pendulum.datetime(2024, 1, 1, tz='UTC')",  # Airflow 2 needs one
        "catchup": False,
        "tags": ["ecsflow"],
        "params": "tasks.params()",
    }

    for airflow in (3, 2):
        namespace = tasks_namespace(generated, airflow)
        assert namespace["params"]() == {
            "RUN_DATE": StubParam(None, type=["null", "string"],
                                  description="RUN_DATE for transform (x-ecsflow.runtime_env); empty: {{ ds }}"),
            "FULL_REFRESH": StubParam("false", type="string",
                                      description="FULL_REFRESH for transform (x-ecsflow.runtime_env)"),
        }
        calls = operator_kwargs(generated, airflow)
        assert list(calls) == ["extract", "transform", "load"]
        assert calls["extract"] == {
            "cluster": "data-jobs",
            "region_name": "eu-west-1",
            "network_configuration": NETWORK_CONFIGURATION,
            "task_definition": "etl-extract",
            "launch_type": "FARGATE",
            "container_name": "extract",
            "awslogs_group": "/ecs/etl/extract",
            "awslogs_region": "eu-west-1",
            "awslogs_stream_prefix": "ecs/extract",
            "overrides": {},
            "task_id": "extract",
            "retries": 2,  # the top-level x-ecsflow's
            "retry_delay": timedelta(minutes=5),
        }
        transform = calls["transform"]
        assert "launch_type" not in transform  # RunTask takes a launch type or a capacity provider strategy
        assert transform["capacity_provider_strategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
        assert transform["execution_timeout"] == timedelta(hours=2)
        assert transform["overrides"] == {"containerOverrides": [{"name": "transform", "environment": [
            {"name": "RUN_DATE", "value": "{% if params.get('RUN_DATE') is not none %}{{ params['RUN_DATE'] }}"
                                          "{% else %}{{ ds }}{% endif %}"},
            {"name": "FULL_REFRESH", "value": "{{ params.get('FULL_REFRESH', 'false') }}"},
        ]}]}
        assert calls["load"]["pool"] == "warehouse" and "pool_slots" not in calls["load"]
        assert "pool" not in calls["extract"]
    assert generated.pools == {
        "warehouse": {"slots": 2, "description": "ecsflow: DAG etl, services load", "include_deferred": True}
    }
    assert json.loads(generated.pools_source) == generated.pools


def test_dag_matches_the_task_definitions():
    """Family, container name and awslogs options come from the built requests, whatever the settings."""
    project = load_project([EXAMPLE], warn=lambda message: None)
    generated, builds = generate(
        project, flags={"family": "team-{service}", "log_group": "/jobs/{service}", "assign_public_ip": True}
    )
    calls = operator_kwargs(generated)
    for build in builds:
        if build.service not in calls:
            continue
        call = calls[build.service]
        container = build.request["containerDefinitions"][0]
        options = container["logConfiguration"]["options"]
        assert call["task_definition"] == build.family == f"team-{build.service}"
        assert call["container_name"] == container["name"]
        assert call["awslogs_group"] == options["awslogs-group"] == f"/jobs/{build.service}"
        assert call["awslogs_stream_prefix"] == f"{options['awslogs-stream-prefix']}/{container['name']}"
        assert call["network_configuration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED"


def test_a_subset_warns_about_the_dependencies_it_leaves_out():
    generated = example_dag(services=["load"], dag_id="load_only")
    assert generated.services == ("load",)
    assert not any("left out" in w for w in generated.warnings)
    # load runs after transform (service_completed_successfully), which is not in this DAG: no edge, a warning.
    assert generated.edges == ()
    assert '# "load" depends on "transform", which is not a task of this' in generated.source
    assert [w for w in generated.warnings if "depends_on" in w] == [
        "service 'load' runs after 'transform' (depends_on: service_completed_successfully), but 'transform' is not "
        "in this DAG: the DAG does not wait for it (name it too, or make sure another DAG runs it first)"
    ]
    assert generated.tasks_module == "load_only_tasks" and set(generated.functions) == {"load"}


def test_naming_a_server_is_an_error_that_names_the_kind_key():
    """An Airflow task waits for its ECS task to stop, and a server never stops: naming one (api publishes a port)
    is refused, and x-ecsflow.kind: job is the way to put it in a DAG anyway."""
    with pytest.raises(EcsflowError) as error:
        example_dag(services=["api", "load"], dag_id="load_only")
    assert error.value.service == "api" and error.value.key == "x-ecsflow.kind"
    assert "'api' is a service (it publishes ports): gen-dag puts jobs in the DAG" in error.value.message
    assert "x-ecsflow.kind: job" in error.value.hint


def test_a_server_marked_as_a_job_goes_in_the_dag(tmp_path):
    project = compose_project(tmp_path, NETWORK + """\
services:
  report:
    image: acme/report:1
    ports: ["8080:8080"]
    x-ecsflow: {kind: job}
  web:
    image: acme/web:1
    restart: unless-stopped
""")
    generated, _ = generate(project)
    assert generated.services == ("report",)
    assert generated.warnings == ("service 'web' is left out of the DAG: it is a long-running server (it has "
                                  "restart: unless-stopped), and an Airflow task waits for its ECS task to stop "
                                  "(x-ecsflow.kind: job makes it a task)",)


def test_unknown_service_is_an_error():
    project = load_project([EXAMPLE], warn=lambda message: None)
    settings = Settings(subnets=("subnet-1",), region="eu-west-1", account="123456789012", execution_role=ROLE)
    builds = build_task_definitions(project, settings)
    with pytest.raises(EcsflowError, match="no such service: 'nope'"):
        generate_dag(project, settings, builds, services=["load", "nope"])
    with pytest.raises(DagError, match="no task definition was built for 'load'"):
        generate_dag(project, settings, builds[:1], services=["load"])


# --- edges ---


def test_edges_only_for_completed_successfully(tmp_path):
    project = compose_project(
        tmp_path,
        NETWORK
        + """\
services:
  db:
    image: postgres:16
  migrate:
    image: app
    depends_on:
      db: {condition: service_healthy}
  seed:
    image: app
    depends_on:
      db: {condition: service_started}
      migrate: {condition: service_completed_successfully}
  report:
    image: app
    depends_on:
      migrate: {condition: service_completed_successfully}
      seed: {condition: service_completed_successfully}
""",
    )
    generated, _ = generate(project)
    assert set(generated.edges) == {("migrate", "seed"), ("migrate", "report"), ("seed", "report")}
    source = generated.source
    assert "    migrate >> seed\n" in source and "    seed >> report\n" in source
    assert '# "migrate" depends on "db" with condition "service_healthy": no edge.' in source
    assert '# "seed" depends on "db" with condition "service_started": no edge.' in source
    assert "# Only service_completed_successfully means 'after it finished'" in source
    assert not any("depends_on" in w for w in generated.warnings)  # every service is in the DAG
    assert_valid_python(generated)


def test_a_cycle_is_an_error():
    # The compose loader refuses cycles itself; the generator checks again for projects built in code.
    def svc(name, *deps):
        return Service(
            name=name, image="x",
            depends_on={d: Dependency(condition="service_completed_successfully") for d in deps},
        )

    project = ComposeProject(name="p", working_dir=Path("."), files=(), services=(svc("a", "c"), svc("b", "a"),
                                                                                   svc("c", "b"), svc("d")))
    builds = build_task_definitions(project, Settings(subnets=("subnet-1",), execution_role=ROLE))
    with pytest.raises(DagError, match=r"cycle: a -> b -> c -> a"):
        generate_dag(project, Settings(subnets=("subnet-1",), execution_role=ROLE), builds)
    # A dependency cycle through a condition that makes no edge is no DAG cycle.
    project = ComposeProject(name="p", working_dir=Path("."), files=(), services=(
        svc("a", "b"),
        Service(name="b", image="x", depends_on={"a": Dependency(condition="service_started")}),
    ))
    builds = build_task_definitions(project, Settings(subnets=("subnet-1",), execution_role=ROLE))
    assert generate_dag(project, Settings(subnets=("subnet-1",), execution_role=ROLE), builds).edges == (("b", "a"),)


# --- ids and names ---


def test_dag_id(tmp_path):
    project = compose_project(tmp_path, NETWORK.replace("x-ecsflow:\n", "x-ecsflow:\n  dag_id: nightly.etl\n")
                              + "services:\n  a:\n    image: x\n")
    generated = generate(project)[0]
    assert generated.dag_id == "nightly.etl" and generated.tasks_module == "nightly_etl_tasks"
    generated = generate(project, dag_id="other")[0]
    assert generated.dag_id == "other" and generated.file_name == "other.py"
    assert generated.pools_file_name == "other.pools.json" and generated.tasks_file_name == "other_tasks.py"
    assert generate(project, dag_id="2024-orders")[0].tasks_module == "dag_2024_orders_tasks"
    for bad in ("../escape", "a b", ".hidden", "x" * 251, "dag{{x}}"):
        with pytest.raises(DagError, match="not a valid Airflow DAG id"):
            generate(project, dag_id=bad)


def test_task_ids_and_names_are_valid_and_unique(tmp_path):
    project = compose_project(tmp_path, NETWORK + """\
services:
  a.b:
    image: x
  a_b:
    image: x
    x-ecsflow: {family: other}
  a-b:
    image: x
    x-ecsflow: {family: third}
  2fast:
    image: x
  dag:
    image: x
  class:
    image: x
  literal:
    image: x
  params:
    image: x
    x-ecsflow: {family: fourth}
  compose_tasks:
    image: x
    x-ecsflow: {family: fifth}
  format:
    image: x
""")
    generated, _ = generate(project)
    assert list(generated.task_ids.values()) == [
        "a.b", "a_b", "a-b", "2fast", "dag", "class", "literal", "params", "compose_tasks", "format"]
    assert_valid_python(generated)
    names = ["a_b", "a_b_2", "a_b_3", "t_2fast", "dag_2", "class_2", "literal_2", "params_2", "compose_tasks",
             "format"]
    assert [variable for _, variable, _ in dag_tasks(generated)] == names
    assert [function for _, _, function in dag_tasks(generated)] == names
    assert list(generated.functions.values()) == names
    assert {k: v["task_id"] for k, v in operator_kwargs(generated).items()} == generated.task_ids


def test_no_subnets_warns_and_leaves_out_the_network(tmp_path):
    project = compose_project(tmp_path, "services:\n  a:\n    image: x\n")
    generated, _ = generate(project, flags={"execution_role": ROLE})
    assert any("no subnets" in w for w in generated.warnings)
    assert "network_configuration" not in operator_kwargs(generated)["a"]
    assert_valid_python(generated)


def test_pinned_arns(tmp_path):
    project = compose_project(tmp_path, NETWORK + "services:\n  a:\n    image: x\n  b:\n    image: x\n")
    arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/compose-a:7"
    odd = "arn:aws:ecs:eu-west-1:123456789012:task-definition/compose-b:{{ 3 }}"
    generated, _ = generate(project, pinned_arns={"compose-a": arn, "compose-b": odd})
    for airflow in (3, 2):
        calls = operator_kwargs(generated, airflow)
        assert calls["a"]["task_definition"] == arn
        assert calls["b"]["task_definition"] == StubLiteral(odd)
    assert "    from airflow.sdk import literal\nexcept ImportError:  # Airflow 2.10+\n" in generated.tasks_source
    assert "    from airflow.utils.template import literal\n" in generated.tasks_source
    assert_valid_python(generated)
    with pytest.raises(DagError, match="no registered revision is known for family 'compose-b'"):
        generate(project, pinned_arns={"compose-a": arn})


# --- writing: hash, edits, --force ---


def files_of(generated: GeneratedDag, out: Path) -> tuple[Path, Path, Path]:
    return out / generated.file_name, out / generated.tasks_file_name, out / generated.pools_file_name


def test_write_then_unchanged(tmp_path):
    generated = example_dag()
    out = tmp_path / "dags" / "nested"
    first = write_dag(generated, out)
    files = files_of(generated, out)
    assert first.ok and first.written == files
    assert first.messages == tuple(f"created {path}" for path in files)
    assert (out / "etl.py").read_text() == generated.source
    assert (out / "etl_tasks.py").read_text() == generated.tasks_source
    second = write_dag(generated, out)
    assert second.ok and second.written == () and second.unchanged == files
    assert second.messages[0] == f"unchanged {out / 'etl.py'}"


def test_the_hash_covers_the_whole_file():
    generated = example_dag()
    for source in (generated.source, generated.tasks_source):
        file_hash, pools_hash = parse_header(source)
        assert len(file_hash) == 64 and (pools_hash is None) == (source == generated.tasks_source)
        assert not is_edited(source)
        assert is_edited(source.replace('"data-jobs"', '"other"') if "data-jobs" in source else source + "x")
        assert is_edited(source + "\n")
        assert is_edited("# my note\n" + source)  # a comment above the header is an edit too
        assert is_edited(source.replace("# Change the compose file", "# Change the YAML file"))
        assert is_edited(source.replace("# ecsflow: sha256 ", "# ecsflow: sha256 \n# note\n# ecsflow: sha256 "))
    assert is_edited(generated.source.replace(parse_header(generated.source)[1], "0" * 64))  # the pools hash too
    assert is_edited("print('hello')\n")


def test_a_file_of_the_earlier_format_is_recognised_unedited(tmp_path):
    """DAG files written when the hash covered only the text below the header are replaced, not refused."""
    import hashlib

    def sha(text):
        return hashlib.sha256(text.encode()).hexdigest()

    body = '"""Runs ECS Fargate task definitions from Airflow; generated by `ecsflow gen-dag`."""\n'
    pools = "{}\n"
    intro = ('# Generated by `ecsflow gen-dag` from the compose project "etl" ("docker-compose.yml").\n'
             "# Change the compose file and generate again rather than editing this file: gen-dag\n"
             "# refuses to overwrite it once its text no longer matches the hash (unless --force).\n")
    legacy = f"{intro}# ecsflow: sha256 {sha(body)}\n# ecsflow: pools sha256 {sha(pools)}\n{body}"
    assert not is_edited(legacy)
    assert is_edited("# my note\n" + legacy)
    assert is_edited(legacy + "x = 1\n")
    (tmp_path / "etl.py").write_text(legacy)
    (tmp_path / "etl.pools.json").write_text(pools)
    result = write_dag(example_dag(), tmp_path)
    assert result.ok and result.messages[0] == f"updated {tmp_path / 'etl.py'}"
    assert result.messages[2] == f"updated {tmp_path / 'etl.pools.json'}"


def test_a_changed_project_updates_unedited_files(tmp_path):
    write_dag(example_dag(), tmp_path)
    result = write_dag(example_dag(schedule="@daily"), tmp_path)
    assert result.ok and result.written == (tmp_path / "etl.py",)
    assert result.unchanged == (tmp_path / "etl_tasks.py", tmp_path / "etl.pools.json")
    assert result.messages[0] == f"updated {tmp_path / 'etl.py'}"
    assert "schedule=\"@daily\"" in (tmp_path / "etl.py").read_text()


@pytest.mark.parametrize("name", ["etl.py", "etl_tasks.py"])
def test_an_edited_file_is_refused_unless_force(tmp_path, name):
    write_dag(example_dag(), tmp_path)
    path = tmp_path / name
    edited = "# a note added above the header\n" + path.read_text()
    path.write_text(edited)
    new = example_dag(schedule="@daily", flags={"cluster": "other"})
    result = write_dag(new, tmp_path)
    assert not result.ok and result.refused == (path,)
    assert f"refused {path}: it was edited since ecsflow generated it; use --force to overwrite it" in result.messages
    assert result.written == ()  # nothing is written when a file is refused
    assert path.read_text() == edited
    forced = write_dag(new, tmp_path, force=True)
    assert forced.ok and path in forced.written
    assert f"overwrote {path} (it was edited since ecsflow generated it; --force)" in forced.messages
    assert (tmp_path / "etl.py").read_text() == new.source
    assert (tmp_path / "etl_tasks.py").read_text() == new.tasks_source


@pytest.mark.parametrize("name", ["etl.py", "etl_tasks.py"])
def test_a_file_not_made_by_ecsflow_is_refused(tmp_path, name):
    (tmp_path / name).write_text("# my own module\nprint('hi')\n")
    result = write_dag(example_dag(), tmp_path)
    assert result.refused == (tmp_path / name,)
    assert "no ecsflow hash header" in " ".join(result.messages)
    # Nothing is written when a file is refused.
    assert len(result.skipped) == 2 and result.written == ()
    assert not (tmp_path / "etl.pools.json").exists()
    assert (tmp_path / name).read_text() == "# my own module\nprint('hi')\n"


def test_an_edited_pools_file_is_refused_unless_force(tmp_path):
    generated = example_dag()
    write_dag(generated, tmp_path)
    pools = tmp_path / "etl.pools.json"
    pools.write_text(pools.read_text().replace('"slots": 2', '"slots": 8'))
    changed = example_dag(schedule="@daily")
    result = write_dag(changed, tmp_path)
    assert result.refused == (pools,) and result.skipped == (tmp_path / "etl.py",)
    assert "edited since ecsflow generated it" in result.messages[2]
    assert '"slots": 8' in pools.read_text()
    assert write_dag(changed, tmp_path, force=True).written == (tmp_path / "etl.py", pools)
    assert pools.read_text() == generated.pools_source


def test_gen_dag_generates_and_writes(tmp_path):
    project = load_project([EXAMPLE], warn=lambda message: None)
    resolved = resolve_settings(compose=project.x_ecsflow.settings, compose_interpolated=project.x_ecsflow.interpolated,
                                environ={})
    builds = build_task_definitions(project, resolved.settings)
    result = gen_dag(project, resolved, builds, tmp_path, dag_id="etl_daily", schedule="@daily")
    assert result.written.ok
    assert (tmp_path / "etl_daily.py").read_text() == result.generated.source
    assert (tmp_path / "etl_daily_tasks.py").read_text() == result.generated.tasks_source
    assert 'tasks = _beside_this_file("etl_daily_tasks")\n' in result.generated.source
    assert (tmp_path / "etl_daily.pools.json").exists()


def test_written_files_are_readable_by_others(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    write_dag(example_dag(), tmp_path)
    assert (tmp_path / "etl.py").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    assert (tmp_path / "etl_tasks.py").stat().st_mode & 0o777 == 0o666 & ~umask
    (tmp_path / "etl.py").chmod(0o640)
    write_dag(example_dag(schedule="@daily"), tmp_path)
    assert (tmp_path / "etl.py").stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_a_pools_file_without_its_dag_file_is_refused(tmp_path):
    (tmp_path / "etl.pools.json").write_text('{"mine": {"slots": 1}}\n')
    result = write_dag(example_dag(), tmp_path)
    assert result.refused == (tmp_path / "etl.pools.json",)
    assert "etl.py does not exist to tell whether ecsflow wrote it" in result.messages[2]
    assert not (tmp_path / "etl.py").exists() and not (tmp_path / "etl_tasks.py").exists()


# --- hostile values ---


def test_py_str_round_trips_and_prefers_double_quotes():
    for value in HOSTILE + ["", "'", '"', "\\", "plain"]:
        literal = py_str(value)
        assert ast.literal_eval(literal) == value
        assert "\n" not in literal and "\r" not in literal
    assert py_str("plain") == '"plain"'
    assert py_str("it's") == '"it\'s"'
    assert py_str('say "hi"') == "'say \"hi\"'"


@pytest.mark.parametrize("value", HOSTILE + ["", "a" * 251, "pool name"])
def test_a_pool_name_airflow_refuses_is_an_error(tmp_path, value):
    for top in (False, True):
        block = f"  pools: {{{json.dumps(value)}: 1}}\n" if top else ""
        text = NETWORK.replace("x-ecsflow:\n", "x-ecsflow:\n" + block) + (
            "services:\n  a:\n    image: x\n" + ("" if top else f"    x-ecsflow: {{pool: {json.dumps(value)}}}\n"))
        with pytest.raises(EcsflowError, match="Airflow pool name") as error:
            compose_project(tmp_path, text)
        assert error.value.key == ("x-ecsflow.pools" if top else "x-ecsflow.pool")
        assert error.value.file and (top or error.value.service == "a")


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_stay_literal(tmp_path, value):
    """Names, log options, defaults, conditions: both modules compile, ruff accepts them, and every value reads
    back exactly (templated fields through literal() when Jinja would change them). (Pool names are Airflow keys:
    letters, digits, '_', '-' and '.'; anything else is refused when the compose file is read.)"""
    # Service names stay plain: Compose allows only letters, digits, '.', '_' and '-' in them.
    text = NETWORK.replace("x-ecsflow:\n", "x-ecsflow:\n  pools: {night.pool-1_x: 3}\n") + f"""\
services:
  job:
    image: x
    command: {json.dumps(["python", "-c", value])}
    environment:
      PLAIN: {json.dumps(value)}
    logging:
      driver: awslogs
      options:
        awslogs-group: {json.dumps("/ecs/" + value)}
        awslogs-stream-prefix: {json.dumps("pre" + value)}
    x-ecsflow:
      pool: night.pool-1_x
      runtime_env: [{json.dumps("VAR" + value)}, PLAIN_NAME]
  other:
    image: x
    depends_on:
      job: {{condition: service_healthy}}  # Compose's schema allows only its three conditions
"""
    project = compose_project(tmp_path, text)
    generated, builds = generate(project)
    assert_valid_python(generated)
    for source in (generated.source, generated.tasks_source):
        assert not is_edited(source)

    raw = operator_kwargs(generated)["job"]
    call = plain(raw)
    container = builds[0].request["containerDefinitions"][0]["name"]
    assert call["awslogs_group"] == "/ecs/" + value
    assert call["awslogs_stream_prefix"] == f"pre{value}/{container}"
    assert call["pool"] == "night.pool-1_x"
    assert call["overrides"]["containerOverrides"][0]["environment"][0]["name"] == "VAR" + value
    assert tasks_namespace(generated)["params"]()["VAR" + value] == StubParam(
        "", type="string", description=f"VAR{value} for job (x-ecsflow.runtime_env)")
    assert generated.pools["night.pool-1_x"]["slots"] == 3
    # A value that Jinja would alter is wrapped, the others are plain strings.
    needs = any(c in value for c in "{\r\n")
    assert isinstance(raw["awslogs_group"], StubLiteral) is needs
    # Commands and environment stay in the task definition: the modules never carry them.
    for source in (generated.source, generated.tasks_source):
        assert "PLAIN" not in source.replace("PLAIN_NAME", "")
    # The condition is quoted in the comment, and the comment stays one line per line.
    assert f"with condition {py_str('service_healthy')}: no edge." in generated.source
    # Nothing escaped into code: the DAG module is a docstring, four imports, the try of Airflow's imports, the
    # loader of the factories module and its one call with a string, and the `with DAG(...)` block, which holds
    # only the two task assignments (no edge: the condition makes none).
    module = ast.parse(generated.source).body
    assert [type(node).__name__ for node in module] == [
        "Expr", "Import", "Import", "ImportFrom", "Import", "Try", "FunctionDef", "Assign", "With"]
    assert ast.unparse(module[7]) == f"tasks = _beside_this_file({generated.tasks_module!r})"
    assert [type(node).__name__ for node in module[8].body] == ["Assign", "Assign"]
    # The factories module: docstring, imports, _ECS, params, _ecs_task and one function per service.
    module = ast.parse(generated.tasks_source).body
    assert [type(node).__name__ for node in module] == ["Expr"] + ["ImportFrom"] * 5 + ["Try", "Assign"] + [
        "FunctionDef"] * 4
    for function in module[-4:]:
        assert [type(node).__name__ for node in function.body] in (["Expr", "Return"], [
            "Expr", "If", "Assign", "Assign", "AugAssign", "AnnAssign", "If", "If", "Assign", "Assign", "Expr",
            "Return"])
    assert generated.edges == ()


def test_runtime_env_name_is_a_safe_jinja_literal(tmp_path):
    jinja2 = pytest.importorskip("jinja2")
    names = [value.replace("\x0b", "") for value in HOSTILE] + ["'] }}{{ 7*7 }}", "RUN_DATE"]
    body = "".join(f"        {json.dumps(n)}: {json.dumps(f'default {i}')}\n" for i, n in enumerate(names))
    text = NETWORK + f"services:\n  a:\n    image: x\n    x-ecsflow:\n      runtime_env:\n{body}"
    project = compose_project(tmp_path, text)
    generated, _ = generate(project)
    env = plain(operator_kwargs(generated)["a"]["overrides"])["containerOverrides"][0]["environment"]
    assert [e["name"] for e in env] == names
    for index, entry in enumerate(env):
        template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(entry["value"])
        given = {name: f"value of {name!r} {{{{ not rendered }}}}\n" for name in names}
        assert template.render(params=given) == given[entry["name"]]
        assert template.render(params={}) == f"default {index}"  # a DAG without the params: the default


# --- any value, any length: the layout stays valid (and black's, where black is installed) ---

_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60) | st.sampled_from(HOSTILE)


@settings(max_examples=examples(60, 600), suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.from_regex(r"[a-z][a-z0-9_. -]{0,70}", fullmatch=True), min_size=1, max_size=4,
                   unique_by=lambda n: re.sub(r"[^A-Za-z0-9_-]", "-", n)),
    pool=st.from_regex(r"[A-Za-z0-9_.-]{1,250}", fullmatch=True),
    group=_text,
    variables=st.lists(_text, max_size=3, unique=True),
    cluster=_text,
    subnets=st.lists(st.from_regex(r"subnet-[0-9a-f]{1,40}", fullmatch=True), min_size=1, max_size=4),
    task_group=st.none() | st.from_regex(r"[A-Za-z0-9_-]{1,200}", fullmatch=True),
)
def test_any_values_give_valid_source(names, pool, group, variables, cluster, subnets, task_group):
    block = {"pool": pool, "runtime_env": variables}
    if task_group:
        block["group"] = task_group
    services = tuple(
        Service(
            name=name,
            image="x",
            x_ecsflow=parse_service_extension(block if i == 0 else {}),
            logging=Logging(driver="awslogs", options={"awslogs-group": group}),
            depends_on={names[0]: Dependency(condition="service_completed_successfully")} if i else {},
        )
        for i, name in enumerate(names)
    )
    project = ComposeProject(name="p", working_dir=Path("."), files=(), services=services)
    config = Settings(cluster=cluster, subnets=tuple(subnets), security_groups=("sg-1",), region="eu-west-1",
                      execution_role=ROLE)
    builds = build_task_definitions(project, config)
    generated = generate_dag(project, config, builds)
    for source in (generated.source, generated.tasks_source):
        compile(source, "generated.py", "exec")
        if black is not None:
            assert black.format_str(source, mode=black.Mode()) == source
    calls = {k: plain(v) for k, v in operator_kwargs(generated).items()}
    first = calls[names[0]]
    assert first["cluster"] == cluster and first["pool"] == pool and first["awslogs_group"] == group
    assert [e["name"] for e in (first["overrides"] or {"containerOverrides": [{"environment": []}]})[
        "containerOverrides"][0]["environment"]] == variables
    assert set(tasks_namespace(generated)["params"]()) == set(variables)
    assert len(generated.edges) == len(names) - 1
    if task_group:
        assert dag_tasks(generated)[0][0] == task_group
        assert generated.task_ids[names[0]].startswith(task_group + ".")
        assert len(generated.task_ids[names[0]]) <= 250


def test_module_names_that_would_shadow_one_are_named_by_a_fixed_rule():
    from ecsflow.airflow.module_names import shadowed, untaken

    assert shadowed("json") == "the standard library's json module"
    assert shadowed("distutils") and shadowed("telnetlib") and shadowed("test")  # removed since 3.8; test package
    assert shadowed("airflow") == "the airflow package"
    assert shadowed("yaml") == "the yaml package, which Airflow imports"
    assert shadowed("etl") is None and shadowed("etl_tasks") is None
    assert shadowed("json.daily") is None and shadowed("json-daily") is None  # cannot be imported by name
    assert untaken("json", "_dag") == ("json_dag", "the standard library's json module")
    assert untaken("etl", "_dag") == ("etl", None)
