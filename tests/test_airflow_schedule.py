"""The DAG's schedule: which source wins, what Airflow accepts, and that a refused one writes nothing (fast: no
Airflow import). test_airflow_dagbag.py loads a DAG with each accepted form in a real Airflow (2 and 3)."""

from __future__ import annotations

import json
import re

import pytest
from airflow_support import SETTINGS_BLOCK, compose_project, dag_call, generate
from schedule_support import VALID_SCHEDULES

from ecsflow.airflow import DagError, gen_dag, schedule_problem
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

NETWORK = "name: compose\n" + SETTINGS_BLOCK


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
        resolved = resolve_settings(compose=project.x_ecsflow.settings, compose_file=None,
                                    compose_interpolated=project.x_ecsflow.interpolated, environ={}, flags={})
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
    compile(generated.source, "generated_dag.py", "exec")
    assert "max_active_runs" not in generated_source_for(project, "@daily")


def generated_source_for(project, schedule):
    return generate(project, schedule=schedule)[0].source


def test_schedule_is_stripped(tmp_path):
    project = compose_project(tmp_path, NETWORK + "services:\n  a:\n    image: x\n")
    assert dag_call(generate(project, schedule="  0 3 * * *\n")[0].source)["schedule"] == "0 3 * * *"


