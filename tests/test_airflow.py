"""ecsflow.airflow: the DAG source and pools file `gen-dag` writes (fast: no Airflow import).

The same DAGs are loaded in a real Airflow, and run against a local ECS endpoint, by test_airflow_dagbag.py.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from airflow_support import SETTINGS_BLOCK, compose_project, generate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecsflow.airflow import (
    DagError,
    GeneratedDag,
    gen_dag,
    generate_dag,
    is_edited,
    parse_header,
    py_str,
    schedule_problem,
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


def assert_valid_python(source: str) -> None:
    compile(source, "generated_dag.py", "exec")
    if black is not None:
        assert black.format_str(source, mode=black.Mode()) == source
    # With the project's ruff settings, and with ruff's defaults plus the same rules at black's line length.
    for args in ((), ("--isolated", "--select", "E,F,W,I,B,UP")):
        result = ruff_check(source, *args)
        assert result.returncode == 0, result.stdout + result.stderr


def operator_calls(source: str) -> dict[str, dict[str, object]]:
    """task_id -> keyword arguments of each EcsRunTaskOperator(...), as Python values (literal(x) -> x)."""
    tree = ast.parse(source)
    calls = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "EcsRunTaskOperator":
            kwargs = {kw.arg: _value(kw.value) for kw in node.keywords}
            calls[kwargs["task_id"]] = kwargs
    return calls


def dag_call(source: str) -> dict[str, object]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DAG":
            return {kw.arg: _value(kw.value) for kw in node.keywords}
    raise AssertionError("no DAG(...) call")


def _value(node: ast.AST):
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "literal":
        return ("literal", ast.literal_eval(node.args[0]))
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Param":
        keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        return ("Param", *[ast.literal_eval(a) for a in node.args], keywords)
    if isinstance(node, ast.Dict):
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values, strict=True)}
    if isinstance(node, ast.List):
        return [_value(v) for v in node.elts]
    return ast.literal_eval(node)


def plain(value):
    """The value a templated field holds once Airflow resolves literal(x) to x."""
    if isinstance(value, tuple) and value and value[0] == "literal":
        return value[1]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


# --- the example ---


def test_example_dag_is_the_committed_one():
    generated = example_dag()
    assert (EXAMPLE_DAGS / "etl.py").read_text() == generated.source
    assert (EXAMPLE_DAGS / "etl.pools.json").read_text() == generated.pools_source


def test_example_dag_content():
    generated = example_dag()
    source = generated.source
    assert_valid_python(source)
    assert generated.dag_id == "etl"
    assert generated.services == ("extract", "transform", "load")
    assert generated.edges == (("extract", "transform"), ("transform", "load"))
    assert generated.params == ("RUN_DATE",)
    assert any("'api' is left out" in w for w in generated.warnings)
    assert "from airflow.sdk import DAG, Param\n" in source
    assert "from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator\n" in source
    assert "    extract >> transform\n    transform >> load\n" in source
    assert "literal" not in source  # nothing in the example needs protecting from Jinja

    dag = dag_call(source)
    assert dag["dag_id"] == "etl"
    assert dag["schedule"] is None
    assert dag["params"] == {
        "RUN_DATE": ("Param", "", {"type": "string", "description": "RUN_DATE for transform (x-ecsflow.runtime_env)"})
    }
    calls = operator_calls(source)
    assert list(calls) == ["extract", "transform", "load"]
    network = {
        "awsvpcConfiguration": {
            "subnets": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
            "securityGroups": ["sg-0123456789abcdef0"],
            "assignPublicIp": "DISABLED",
        }
    }
    assert calls["extract"] == {
        "task_id": "extract",
        "cluster": "data-jobs",
        "task_definition": "etl-extract",
        "launch_type": "FARGATE",
        "region_name": "eu-west-1",
        "network_configuration": network,
        "container_name": "extract",
        "overrides": {},
        "awslogs_group": "/ecs/etl/extract",
        "awslogs_region": "eu-west-1",
        "awslogs_stream_prefix": "ecs/extract",
    }
    assert calls["transform"]["overrides"] == {
        "containerOverrides": [
            {"name": "transform", "environment": [{"name": "RUN_DATE", "value": "{{ params['RUN_DATE'] }}"}]}
        ]
    }
    assert calls["load"]["pool"] == "warehouse"
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
    calls = operator_calls(generated.source)
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


def test_the_long_running_service_is_included_when_named():
    generated = example_dag(services=["api", "load"])
    assert generated.services == ("load", "api")
    assert not any("left out" in w for w in generated.warnings)
    # load depends on transform, which is not in this DAG: said in a comment, no edge.
    assert generated.edges == ()
    assert '# "load" depends on "transform", which is not a task of this' in generated.source


def test_unknown_service_is_an_error():
    project = load_project([EXAMPLE], warn=lambda message: None)
    settings = Settings(subnets=("subnet-1",), region="eu-west-1", account="123456789012")
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
    assert_valid_python(source)


def test_a_cycle_is_an_error():
    # The compose loader refuses cycles itself; the generator checks again for projects built in code.
    def svc(name, *deps):
        return Service(
            name=name, image="x",
            depends_on={d: Dependency(condition="service_completed_successfully") for d in deps},
        )

    project = ComposeProject(name="p", working_dir=Path("."), files=(), services=(svc("a", "c"), svc("b", "a"),
                                                                                   svc("c", "b"), svc("d")))
    builds = build_task_definitions(project, Settings(subnets=("subnet-1",)))
    with pytest.raises(DagError, match=r"cycle: a -> b -> c -> a"):
        generate_dag(project, Settings(subnets=("subnet-1",)), builds)
    # A dependency cycle through a condition that makes no edge is no DAG cycle.
    project = ComposeProject(name="p", working_dir=Path("."), files=(), services=(
        svc("a", "b"),
        Service(name="b", image="x", depends_on={"a": Dependency(condition="service_started")}),
    ))
    builds = build_task_definitions(project, Settings(subnets=("subnet-1",)))
    assert generate_dag(project, Settings(subnets=("subnet-1",)), builds).edges == (("b", "a"),)


# --- schedule, dag id, ids ---


def test_schedule_precedence(tmp_path):
    text = NETWORK.replace("x-ecsflow:\n", "x-ecsflow:\n  schedule: '@daily'\n") + """\
services:
  a:
    image: x
  b:
    image: x
"""
    project = compose_project(tmp_path, text)
    assert dag_call(generate(project)[0].source)["schedule"] == "@daily"
    assert dag_call(generate(project, schedule="0 3 * * *")[0].source)["schedule"] == "0 3 * * *"
    with_service = compose_project(tmp_path, text.replace("  b:\n    image: x\n",
                                                          "  b:\n    image: x\n    x-ecsflow: {schedule: '@hourly'}\n"))
    assert dag_call(generate(with_service)[0].source)["schedule"] == "@hourly"
    assert dag_call(generate(with_service, schedule="@weekly")[0].source)["schedule"] == "@weekly"
    no_schedule = compose_project(tmp_path, NETWORK + "services:\n  a:\n    image: x\n")
    assert dag_call(generate(no_schedule)[0].source)["schedule"] is None


def test_different_service_schedules_are_an_error(tmp_path):
    project = compose_project(tmp_path, NETWORK + """\
services:
  a:
    image: x
    x-ecsflow: {schedule: '@daily'}
  b:
    image: x
    x-ecsflow: {schedule: '@hourly'}
""")
    with pytest.raises(DagError, match="different schedules") as error:
        generate(project)
    assert "--dag-id" in error.value.hint
    assert dag_call(generate(project, services=["a"])[0].source)["schedule"] == "@daily"


# Every form the schedule check accepts; test_airflow_dagbag.py loads a DAG with each in a real Airflow.
VALID_SCHEDULES = [
    "@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly",
    "0 3 * * *",
    "*/15 * * * *",
    "0 0 1 1 *",
    "59 23 31 12 6",
    "00 07 * * *",
    "0 9-17 * * 1-5",
    "0 9-17/2 * * *",
    "5/15 * * * *",
    "0,15,30,45 0,12 * * *",
    "1-5,10-20/3,59 * * * *",
    "30 2 * * mon-fri",
    "30 2 * * MON,Wed,fri",
    "0 0 1 jan,JUL *",
    "0 0 1 jan/3 *",
    "0 0 1 feb-dec/2 *",
    "0 0 * * 7",
    "0 0 * * 5-7",
    "0 0 * * sun",
    "0 0 ? * ?",
    "0 0 1 * ?",
    "0 0 29 2 *",
    "0 0 31 1,4 *",
    "0 0 30 2 1",
    "*/59 */23 */31 */12 */7",
    "0\t3  *\t* *",
]

# value -> what the error says (checked by schedule_problem and by gen-dag, from every source).
INVALID_SCHEDULES = {
    "not a cron": "5 fields",
    "every night": "5 fields",
    "61 3 * * *": "out of range (0-59)",
    "0 24 * * *": "out of range (0-23)",
    "0 0 0 * *": "out of range (1-31)",
    "0 0 32 * *": "out of range (1-31)",
    "0 0 1 13 *": "out of range (1-12)",
    "0 0 1 0 *": "out of range (1-12)",
    "0 0 * * 8": "out of range (0-7)",
    "0 0 * * mon-sun": "runs backwards",
    "0 22-2 * * *": "runs backwards",
    "5-5 * * * *": "equal ends",
    "*/0 * * * *": "step",
    "*/61 * * * *": "step",
    "*/x * * * *": "step",
    "1,,2 * * * *": "empty item",
    "*,5 * * * *": "part of a list",
    "? * * * *": "? is only allowed",
    "0 0 * jan-foo *": "'foo' is not",
    "0 0 * mon *": "'mon' is not",
    "0 0 * * jan": "'jan' is not",
    "0 0 L * *": "'L' is not",
    "0 0 * * 1#2": "'1#2' is not",
    "0 0 15W * *": "'15W' is not",
    "H * * * *": "'H' is not",
    "-1 * * * *": "is not",
    "0 0 30 2 *": "never comes",
    "0 0 31 4,6,9,11 *": "never comes",
    "0 0 3 * * ?": "6 fields",
    "0 0 3 * * * 2030": "7 fields",
    "* * * *": "5 fields",
    "@midnight": "write '@daily'",
    "@annually": "write '@yearly'",
    "@DAILY": "lower case",
    "@every_day": "not one of Airflow's presets",
    "٣ * * * *": "is not",  # a non-ASCII digit
}


@pytest.mark.parametrize("value", VALID_SCHEDULES)
def test_valid_schedules(value):
    assert schedule_problem(value) is None


@pytest.mark.parametrize("value", list(INVALID_SCHEDULES))
def test_invalid_schedules(value):
    problem = schedule_problem(value)
    assert problem is not None and INVALID_SCHEDULES[value] in problem


def schedule_projects(tmp_path, value):
    """The same schedule from each source: (source, project, generate kwargs, what the error names)."""
    literal = json.dumps(value)
    top = compose_project(tmp_path / "top", NETWORK.replace("x-ecsflow:\n", f"x-ecsflow:\n  schedule: {literal}\n")
                          + "services:\n  a:\n    image: x\n")
    service = compose_project(tmp_path / "service", NETWORK + "services:\n  a:\n    image: x\n  b:\n    image: x\n"
                              f"    x-ecsflow: {{schedule: {literal}}}\n")
    flag = compose_project(tmp_path / "flag", NETWORK + "services:\n  a:\n    image: x\n")
    return [
        ("top-level", top, {}, "top-level x-ecsflow.schedule"),
        ("service", service, {}, "x-ecsflow.schedule of service 'b'"),
        ("flag", flag, {"schedule": value}, "--schedule"),
    ]


@pytest.mark.parametrize("value", ["not a cron", "61 3 * * *", "every night", "0 0 3 * * ?", "@midnight"])
def test_an_invalid_schedule_from_any_source_is_an_error_and_nothing_is_written(tmp_path, value):
    for folder in ("top", "service", "flag"):
        (tmp_path / folder).mkdir()
    for source, project, kwargs, named in schedule_projects(tmp_path, value):
        with pytest.raises(DagError) as error:
            generate(project, **kwargs)
        message = str(error.value)
        assert named in message and repr(value) in message and INVALID_SCHEDULES[value] in message, source
        assert "@daily" in error.value.hint and "'0 3 * * *'" in error.value.hint
        if source == "service":
            assert (error.value.service, error.value.key) == ("b", "x-ecsflow.schedule")
        # gen_dag (what the CLI calls) raises before writing anything.
        resolved = resolve_settings(compose=project.x_ecsflow, compose_file=None, environ={},
                                    flags={})
        builds = build_task_definitions(project, resolved.settings)
        out = tmp_path / f"out-{source}"
        with pytest.raises(DagError):
            gen_dag(project, resolved, builds, out, **kwargs)
        assert not out.exists()


@pytest.mark.parametrize("value", ["0 3 * * *", "30 2 * * mon-fri", "@quarterly", "@once"])
def test_a_valid_schedule_from_any_source_is_written(tmp_path, value):
    for folder in ("top", "service", "flag"):
        (tmp_path / folder).mkdir()
    for source, project, kwargs, _ in schedule_projects(tmp_path, value):
        dag = dag_call(generate(project, **kwargs)[0].source)
        assert dag["schedule"] == value, source
        assert "max_active_runs" not in dag


def test_an_invalid_schedule_is_an_error_even_when_overridden(tmp_path):
    for folder in ("top", "service", "flag"):
        (tmp_path / folder).mkdir()
    for source, project, _, named in schedule_projects(tmp_path, "every night"):
        if source == "flag":
            continue
        with pytest.raises(DagError, match=re.escape(named)):
            generate(project, schedule="@daily")


@pytest.mark.parametrize("value", [0, 3.5, True, [], {"cron": "0 3 * * *"}, "  "])
def test_a_schedule_that_is_not_text_is_an_error(tmp_path, value):
    # (a service's x-ecsflow.schedule that is not text is refused earlier, by the task definition build)
    text = NETWORK.replace("x-ecsflow:\n", f"x-ecsflow:\n  schedule: {json.dumps(value)}\n")
    project = compose_project(tmp_path, text + "services:\n  a:\n    image: x\n")
    with pytest.raises(DagError, match="top-level x-ecsflow.schedule must be a cron expression or a preset") as error:
        generate(project)
    assert error.value.hint
    with pytest.raises(DagError, match="--schedule must be a cron expression or a preset"):
        generate(compose_project(tmp_path, NETWORK + "services:\n  a:\n    image: x\n"), schedule="  ")


def test_continuous_schedule_limits_active_runs(tmp_path):
    project = compose_project(tmp_path, NETWORK + "services:\n  a:\n    image: x\n")
    generated, _ = generate(project, schedule="@continuous")
    dag = dag_call(generated.source)
    assert dag["schedule"] == "@continuous" and dag["max_active_runs"] == 1
    assert_valid_python(generated.source)
    assert "max_active_runs" not in generated_source_for(project, "@daily")


def generated_source_for(project, schedule):
    return generate(project, schedule=schedule)[0].source


def test_schedule_is_stripped(tmp_path):
    project = compose_project(tmp_path, NETWORK + "services:\n  a:\n    image: x\n")
    assert dag_call(generate(project, schedule="  0 3 * * *\n")[0].source)["schedule"] == "0 3 * * *"


def test_dag_id(tmp_path):
    project = compose_project(tmp_path, NETWORK.replace("x-ecsflow:\n", "x-ecsflow:\n  dag_id: nightly.etl\n")
                              + "services:\n  a:\n    image: x\n")
    assert generate(project)[0].dag_id == "nightly.etl"
    generated = generate(project, dag_id="other")[0]
    assert generated.dag_id == "other" and generated.file_name == "other.py"
    assert generated.pools_file_name == "other.pools.json"
    for bad in ("../escape", "a b", ".hidden", "x" * 251, "dag{{x}}"):
        with pytest.raises(DagError, match="not a valid Airflow DAG id"):
            generate(project, dag_id=bad)


def test_task_ids_and_variables_are_valid_and_unique(tmp_path):
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
""")
    generated, _ = generate(project)
    assert list(generated.task_ids.values()) == ["a.b", "a_b", "a-b", "2fast", "dag", "class", "literal"]
    source = generated.source
    assert_valid_python(source)
    for variable in ("a_b = ", "a_b_2 = ", "a_b_3 = ", "t_2fast = ", "dag_2 = ", "class_2 = ", "literal_2 = "):
        assert f"    {variable}EcsRunTaskOperator(" in source


def test_no_subnets_warns_and_leaves_out_the_network(tmp_path):
    project = compose_project(tmp_path, "services:\n  a:\n    image: x\n")
    generated, _ = generate(project)
    assert any("no subnets" in w for w in generated.warnings)
    assert "network_configuration" not in operator_calls(generated.source)["a"]
    assert_valid_python(generated.source)


def test_pinned_arns(tmp_path):
    project = compose_project(tmp_path, NETWORK + "services:\n  a:\n    image: x\n  b:\n    image: x\n")
    arn = "arn:aws:ecs:eu-west-1:123456789012:task-definition/compose-a:7"
    odd = "arn:aws:ecs:eu-west-1:123456789012:task-definition/compose-b:{{ 3 }}"
    generated, _ = generate(project, pinned_arns={"compose-a": arn, "compose-b": odd})
    calls = operator_calls(generated.source)
    assert calls["a"]["task_definition"] == arn
    assert calls["b"]["task_definition"] == ("literal", odd)
    assert "from airflow.sdk import DAG, literal\n" in generated.source
    assert_valid_python(generated.source)
    with pytest.raises(DagError, match="no registered revision is known for family 'compose-b'"):
        generate(project, pinned_arns={"compose-a": arn})


# --- runtime values and pools ---


def test_runtime_env_becomes_params_and_overrides(tmp_path):
    project = compose_project(tmp_path, NETWORK + """\
services:
  a:
    image: x
    environment: [RUN_DATE, FIXED=1]
    x-ecsflow: {runtime_env: [RUN_DATE, BATCH]}
  b:
    image: x
    x-ecsflow: {runtime_env: [RUN_DATE]}
""")
    generated, _ = generate(project)
    assert generated.params == ("RUN_DATE", "BATCH")
    params = dag_call(generated.source)["params"]
    assert params["RUN_DATE"] == ("Param", "", {"type": "string",
                                                "description": "RUN_DATE for a, b (x-ecsflow.runtime_env)"})
    assert params["BATCH"][1] == ""
    calls = operator_calls(generated.source)
    assert calls["a"]["overrides"]["containerOverrides"] == [{"name": "a", "environment": [
        {"name": "RUN_DATE", "value": "{{ params['RUN_DATE'] }}"},
        {"name": "BATCH", "value": "{{ params['BATCH'] }}"},
    ]}]


def test_pools_file(tmp_path):
    project = compose_project(tmp_path, NETWORK + """\
services:
  a:
    image: x
    x-ecsflow: {pool: warehouse, pool_slots: 2}
  b:
    image: x
    x-ecsflow: {pool: warehouse, pool_slots: 5}
  c:
    image: x
    x-ecsflow: {pool: api}
  d:
    image: x
    x-ecsflow: {pool: default_pool}
""")
    generated, _ = generate(project)
    assert generated.pools == {
        "api": {"slots": 1, "description": "ecsflow: DAG compose, services c", "include_deferred": True},
        "warehouse": {"slots": 5, "description": "ecsflow: DAG compose, services a, b", "include_deferred": True},
    }
    assert any("'warehouse' gets pool_slots 5 from 'b' and 2" in w for w in generated.warnings)
    assert any("'default_pool' is Airflow's own" in w for w in generated.warnings)
    calls = operator_calls(generated.source)
    assert [calls[t].get("pool") for t in "abcd"] == ["warehouse", "warehouse", "api", "default_pool"]
    # `airflow pools import` format, keys sorted, one trailing newline.
    assert generated.pools_source == json.dumps(dict(sorted(generated.pools.items())), indent=2) + "\n"
    assert list(json.loads(generated.pools_source)["api"]) == ["slots", "description", "include_deferred"]


# --- writing: hash, edits, --force ---


def test_write_then_unchanged(tmp_path):
    generated = example_dag()
    out = tmp_path / "dags" / "nested"
    first = write_dag(generated, out)
    assert first.ok and first.written == (out / "etl.py", out / "etl.pools.json")
    assert first.messages == (f"created {out / 'etl.py'}", f"created {out / 'etl.pools.json'}")
    assert (out / "etl.py").read_text() == generated.source
    second = write_dag(generated, out)
    assert second.ok and second.written == () and second.unchanged == (out / "etl.py", out / "etl.pools.json")
    assert second.messages[0] == f"unchanged {out / 'etl.py'}"


def test_header_hash_covers_the_body():
    source = example_dag().source
    dag_hash, pools_hash = parse_header(source)
    assert len(dag_hash) == len(pools_hash) == 64
    assert not is_edited(source)
    assert is_edited(source.replace('"data-jobs"', '"other"'))
    assert is_edited(source + "\n")
    assert is_edited("print('hello')\n")


def test_a_changed_project_updates_an_unedited_file(tmp_path):
    write_dag(example_dag(), tmp_path)
    result = write_dag(example_dag(schedule="@daily"), tmp_path)
    assert result.ok and result.written == (tmp_path / "etl.py",)
    assert result.unchanged == (tmp_path / "etl.pools.json",)
    assert result.messages[0] == f"updated {tmp_path / 'etl.py'}"
    assert "schedule=\"@daily\"" in (tmp_path / "etl.py").read_text()


def test_an_edited_dag_file_is_refused_unless_force(tmp_path):
    write_dag(example_dag(), tmp_path)
    dag = tmp_path / "etl.py"
    edited = dag.read_text().replace("schedule=None", 'schedule="@hourly"')
    dag.write_text(edited)
    new = example_dag(schedule="@daily")
    result = write_dag(new, tmp_path)
    assert not result.ok and result.refused == (dag,)
    assert result.messages[0] == f"refused {dag}: it was edited since ecsflow generated it; use --force to overwrite it"
    assert dag.read_text() == edited
    forced = write_dag(new, tmp_path, force=True)
    assert forced.ok and forced.written == (dag,)
    assert forced.messages[0] == f"overwrote {dag} (it was edited since ecsflow generated it; --force)"
    assert dag.read_text() == new.source


def test_a_file_not_made_by_ecsflow_is_refused(tmp_path):
    (tmp_path / "etl.py").write_text("# my own DAG\nprint('hi')\n")
    result = write_dag(example_dag(), tmp_path)
    assert result.refused == (tmp_path / "etl.py",)
    assert "no ecsflow hash header" in result.messages[0]
    # Nothing is written when a file is refused: not even the pools file.
    assert result.skipped == (tmp_path / "etl.pools.json",)
    assert not (tmp_path / "etl.pools.json").exists()
    assert (tmp_path / "etl.py").read_text() == "# my own DAG\nprint('hi')\n"


def test_an_edited_pools_file_is_refused_unless_force(tmp_path):
    generated = example_dag()
    write_dag(generated, tmp_path)
    pools = tmp_path / "etl.pools.json"
    pools.write_text(pools.read_text().replace('"slots": 2', '"slots": 8'))
    changed = example_dag(schedule="@daily")
    result = write_dag(changed, tmp_path)
    assert result.refused == (pools,) and result.skipped == (tmp_path / "etl.py",)
    assert "edited since ecsflow generated it" in result.messages[1]
    assert '"slots": 8' in pools.read_text()
    assert write_dag(changed, tmp_path, force=True).written == (tmp_path / "etl.py", pools)
    assert pools.read_text() == generated.pools_source


def test_gen_dag_generates_and_writes(tmp_path):
    project = load_project([EXAMPLE], warn=lambda message: None)
    resolved = resolve_settings(compose=project.x_ecsflow, environ={})
    builds = build_task_definitions(project, resolved.settings)
    result = gen_dag(project, resolved, builds, tmp_path, dag_id="etl_daily", schedule="@daily")
    assert result.written.ok
    assert (tmp_path / "etl_daily.py").read_text() == result.generated.source
    assert (tmp_path / "etl_daily.pools.json").exists()


# --- hostile values ---


def test_py_str_round_trips_and_prefers_double_quotes():
    for value in HOSTILE + ["", "'", '"', "\\", "plain"]:
        literal = py_str(value)
        assert ast.literal_eval(literal) == value
        assert "\n" not in literal and "\r" not in literal
    assert py_str("plain") == '"plain"'
    assert py_str("it's") == '"it\'s"'
    assert py_str('say "hi"') == "'say \"hi\"'"


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_stay_literal(tmp_path, value):
    """Names, pools, log options, conditions: the source compiles, ruff accepts it, and every value reads back
    exactly (templated fields through literal() when Jinja would change them)."""
    # Service names stay plain: Compose allows only letters, digits, '.', '_' and '-' in them.
    service = json.dumps("job")
    other = json.dumps("other")
    text = NETWORK + f"""\
services:
  {service}:
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
      pool: {json.dumps("pool " + value)}
      runtime_env: [{json.dumps("VAR" + value)}, PLAIN_NAME]
  {other}:
    image: x
    depends_on:
      {service}: {{condition: {json.dumps("service_" + value)}}}
"""
    project = compose_project(tmp_path, text)
    generated, builds = generate(project)
    source = generated.source
    assert_valid_python(source)
    assert len(parse_header(source)) == 2 and not is_edited(source)

    calls = operator_calls(source)
    [job_id, other_id] = generated.task_ids.values()
    call = plain(calls[job_id])
    container = builds[0].request["containerDefinitions"][0]["name"]
    assert call["awslogs_group"] == "/ecs/" + value
    assert call["awslogs_stream_prefix"] == f"pre{value}/{container}"
    assert call["pool"] == "pool " + value
    assert call["overrides"]["containerOverrides"][0]["environment"][0]["name"] == "VAR" + value
    assert dag_call(source)["params"]["VAR" + value][1] == ""
    assert generated.pools["pool " + value]["slots"] == 1
    # A value that Jinja would alter is wrapped, the others are plain strings.
    needs = any(c in value for c in "{\r\n")
    assert isinstance(calls[job_id]["awslogs_group"], tuple) is needs
    # Commands and environment stay in the task definition: the DAG never carries them.
    assert "PLAIN" not in source.replace("PLAIN_NAME", "")
    # The condition is quoted in the comment, and the comment stays one line per line.
    assert f"with condition {py_str('service_' + value)}: no edge." in source
    # Nothing escaped into code: the module is a docstring, two imports and the `with DAG(...)` block,
    # which holds only the two task assignments (no edge: the condition makes none).
    module = ast.parse(source).body
    assert [type(node).__name__ for node in module] == ["Expr", "ImportFrom", "ImportFrom", "With"]
    assert [type(node).__name__ for node in module[3].body] == ["Assign", "Assign"]
    assert other_id in calls and generated.edges == ()


def test_runtime_env_name_is_a_safe_jinja_literal(tmp_path):
    jinja2 = pytest.importorskip("jinja2")
    names = [value.replace("\x0b", "") for value in HOSTILE] + ["'] }}{{ 7*7 }}", "RUN_DATE"]
    body = "".join(f"      - {json.dumps(n)}\n" for n in names)
    text = NETWORK + f"services:\n  a:\n    image: x\n    x-ecsflow:\n      runtime_env:\n{body}"
    project = compose_project(tmp_path, text)
    generated, _ = generate(project)
    env = plain(operator_calls(generated.source)["a"]["overrides"])["containerOverrides"][0]["environment"]
    assert [e["name"] for e in env] == names
    for entry in env:
        template = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(entry["value"])
        given = {name: f"value of {name!r} {{{{ not rendered }}}}\n" for name in names}
        assert template.render(params=given) == given[entry["name"]]


# --- any value, any length: the layout stays valid (and black's, where black is installed) ---

_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60) | st.sampled_from(HOSTILE)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(st.from_regex(r"[a-z][a-z0-9_. -]{0,70}", fullmatch=True), min_size=1, max_size=4,
                   unique_by=lambda n: re.sub(r"[^A-Za-z0-9_-]", "-", n)),
    pool=_text,
    group=_text,
    variables=st.lists(_text, max_size=3, unique=True),
    cluster=_text,
    subnets=st.lists(st.from_regex(r"subnet-[0-9a-f]{1,40}", fullmatch=True), min_size=1, max_size=4),
)
def test_any_values_give_valid_source(names, pool, group, variables, cluster, subnets):
    services = tuple(
        Service(
            name=name,
            image="x",
            x_ecsflow=parse_service_extension({"pool": pool, "runtime_env": variables} if i == 0 else {}),
            logging=Logging(driver="awslogs", options={"awslogs-group": group}),
            depends_on={names[0]: Dependency(condition="service_completed_successfully")} if i else {},
        )
        for i, name in enumerate(names)
    )
    project = ComposeProject(name="p", working_dir=Path("."), files=(), services=services)
    config = Settings(cluster=cluster, subnets=tuple(subnets), security_groups=("sg-1",), region="eu-west-1")
    builds = build_task_definitions(project, config)
    generated = generate_dag(project, config, builds)
    compile(generated.source, "generated_dag.py", "exec")
    if black is not None:
        assert black.format_str(generated.source, mode=black.Mode()) == generated.source
    calls = {k: plain(v) for k, v in operator_calls(generated.source).items()}
    first = calls[generated.task_ids[names[0]]]
    assert first["cluster"] == cluster and first["pool"] == pool and first["awslogs_group"] == group
    assert [e["name"] for e in (first["overrides"] or {"containerOverrides": [{"environment": []}]})[
        "containerOverrides"][0]["environment"]] == variables
    assert set(dag_call(generated.source).get("params") or {}) == set(variables)
    assert len(generated.edges) == len(names) - 1


def test_written_files_are_readable_by_others(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    write_dag(example_dag(), tmp_path)
    assert (tmp_path / "etl.py").stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600
    (tmp_path / "etl.py").chmod(0o640)
    write_dag(example_dag(schedule="@daily"), tmp_path)
    assert (tmp_path / "etl.py").stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_a_pools_file_without_its_dag_file_is_refused(tmp_path):
    (tmp_path / "etl.pools.json").write_text('{"mine": {"slots": 1}}\n')
    result = write_dag(example_dag(), tmp_path)
    assert result.refused == (tmp_path / "etl.pools.json",)
    assert "etl.py does not exist to tell whether ecsflow wrote it" in result.messages[1]
    assert not (tmp_path / "etl.py").exists()
