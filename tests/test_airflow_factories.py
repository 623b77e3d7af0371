"""What the generated task factories take and give, and the x-ecsflow keys for Airflow (fast: the factories
module runs against stand-ins for Airflow's names; test_airflow_dagbag.py and test_airflow_runs.py load and
run the same in Airflow).

- a factory's keywords: task_id, environment, command, pool, pool_slots, retries, retry_delay,
  execution_timeout, and any other EcsRunTaskOperator argument;
- runtime values: DAG params with defaults, a Jinja default left to Airflow, and the same defaults for `run`;
- retries and timeouts per service and for the whole DAG; capacity providers; task groups; pools.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from airflow_support import SETTINGS_BLOCK, StubParam, compose_project, generate, operator_kwargs, tasks_namespace

from ecsflow.airflow import DagError
from ecsflow.errors import EcsflowError
from ecsflow.runtask import render_default, runtime_environment

jinja2 = pytest.importorskip("jinja2")

NETWORK = "name: compose\n" + SETTINGS_BLOCK


def project_with(tmp_path, services: str, top: str = ""):
    return compose_project(tmp_path, NETWORK.replace("x-ecsflow:\n", "x-ecsflow:\n" + top) + "services:\n" + services)


def render(value: str, **context) -> str:
    """A template as Airflow renders it (StrictUndefined, as Airflow's DAGs do)."""
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(value).render(**context)


def environment_of(kwargs, **context) -> dict[str, str]:
    overrides = kwargs["overrides"]
    if not overrides:
        return {}
    [container] = overrides["containerOverrides"]
    return {e["name"]: render(e["value"], **context) for e in container.get("environment", [])}


# --- the factories' keywords ---


def test_a_factory_takes_task_id_environment_command_pool_and_retries(tmp_path):
    project = project_with(tmp_path, """\
  job:
    image: x
    command: [python, -m, job]
    x-ecsflow: {runtime_env: {RUN_DATE: "{{ ds }}", MODE: full}, pool: warehouse, retries: 3}
""", top="  pools: {warehouse: 4, other: 2}\n")
    generated, _ = generate(project)
    for airflow in (3, 2):
        job = tasks_namespace(generated, airflow)["job"]
        default = job().kwargs
        assert (default["task_id"], default["pool"], default["retries"]) == ("job", "warehouse", 3)
        assert "pool_slots" not in default and "retry_delay" not in default and "execution_timeout" not in default
        assert environment_of(default, params={}, ds="2024-06-01") == {"RUN_DATE": "2024-06-01", "MODE": "full"}
        assert "command" not in default["overrides"]["containerOverrides"][0]

        custom = job(
            task_id="job_eu",
            environment={"REGION": "eu", "MODE": "{{ params.MODE }}-eu"},
            command=["python", "-m", "job", "--region", "eu"],
            pool="other",
            pool_slots=2,
            retries=0,
            retry_delay=timedelta(seconds=30),
            execution_timeout=timedelta(minutes=10),
            trigger_rule="all_done",
        ).kwargs
        assert (custom["task_id"], custom["pool"], custom["pool_slots"], custom["retries"]) == ("job_eu", "other", 2, 0)
        assert custom["retry_delay"] == timedelta(seconds=30) and custom["execution_timeout"] == timedelta(minutes=10)
        assert custom["trigger_rule"] == "all_done"  # any other operator argument passes through
        [container] = custom["overrides"]["containerOverrides"]
        assert container["name"] == "job" and container["command"] == ["python", "-m", "job", "--region", "eu"]
        # The caller's environment comes after the runtime values and replaces one of the same name.
        assert environment_of(custom, params={"MODE": "x"}, ds="2024-06-01") == {
            "RUN_DATE": "2024-06-01", "REGION": "eu", "MODE": "x-eu"}
        assert job(pool=None, retries=None).kwargs.keys() == default.keys() - {"pool", "retries"}
        # Every other argument stays what the task definition fixes; the caller may still replace one.
        assert {k: v for k, v in custom.items() if k in ("cluster", "task_definition", "container_name")} == {
            "cluster": "jobs", "task_definition": "compose-job", "container_name": "job"}
        assert job(overrides={"cpu": "512"}).kwargs["overrides"] == {"cpu": "512"}
        with pytest.raises(TypeError, match="command is a list of words"):
            job(command="python -m job")
        with pytest.raises(TypeError):
            job("positional")  # keywords only


def test_a_command_alone_or_nothing_at_all(tmp_path):
    generated, _ = generate(project_with(tmp_path, "  job: {image: x}\n"))
    job = tasks_namespace(generated)["job"]
    assert job().kwargs["overrides"] == {}
    assert job(command=[]).kwargs["overrides"] == {"containerOverrides": [{"name": "job", "command": []}]}
    assert tasks_namespace(generated)["params"]() == {}
    assert "Param" not in generated.tasks_source  # nothing to import that is not used


# --- runtime values ---


def test_runtime_env_list_map_and_defaults(tmp_path):
    project = project_with(tmp_path, """\
  a:
    image: x
    environment: [RUN_DATE, FIXED=1]
    x-ecsflow: {runtime_env: [RUN_DATE, BATCH]}
  b:
    image: x
    x-ecsflow:
      runtime_env: {RUN_DATE: "", LIMIT: 500, DRY: false, NONE: null, DAY: "{{ macros.ds_add(ds, -1) }}"}
""")
    generated, builds = generate(project)
    assert generated.params == ("RUN_DATE", "BATCH", "LIMIT", "DRY", "NONE", "DAY")
    params = tasks_namespace(generated)["params"]()
    assert params == {
        "RUN_DATE": StubParam("", type="string", description="RUN_DATE for a, b (x-ecsflow.runtime_env)"),
        "BATCH": StubParam("", type="string", description="BATCH for a (x-ecsflow.runtime_env)"),
        "LIMIT": StubParam("500", type="string", description="LIMIT for b (x-ecsflow.runtime_env)"),
        "DRY": StubParam("false", type="string", description="DRY for b (x-ecsflow.runtime_env)"),
        "NONE": StubParam("", type="string", description="NONE for b (x-ecsflow.runtime_env)"),
        "DAY": StubParam(None, type=["null", "string"],
                         description="DAY for b (x-ecsflow.runtime_env); empty: {{ macros.ds_add(ds, -1) }}"),
    }
    calls = operator_kwargs(generated)
    macros = type("macros", (), {"ds_add": staticmethod(lambda ds, days: f"{ds}{days:+d}")})
    # A scheduled run: the params hold their defaults; DAY's default is rendered by Airflow.
    defaults = {name: param.default for name, param in params.items()}
    assert environment_of(calls["b"], params=defaults, ds="2024-06-02", macros=macros) == {
        "RUN_DATE": "", "LIMIT": "500", "DRY": "false", "NONE": "", "DAY": "2024-06-02-1"}
    # A triggered run: the values given; one given as "" stays "" (only null means "the default").
    given = {**defaults, "LIMIT": "5", "DAY": "2020-01-01"}
    assert environment_of(calls["b"], params=given, ds="x", macros=macros)["DAY"] == "2020-01-01"
    assert environment_of(calls["b"], params={**given, "DAY": ""}, ds="x", macros=macros)["DAY"] == ""
    # A DAG of one's own that declares no params: every default applies.
    assert environment_of(calls["b"], params={}, ds="2024-06-02", macros=macros) == {
        "RUN_DATE": "", "LIMIT": "500", "DRY": "false", "NONE": "", "DAY": "2024-06-02-1"}
    assert environment_of(calls["a"], params={"RUN_DATE": "2024-01-01"}) == {"RUN_DATE": "2024-01-01", "BATCH": ""}
    # Runtime values never reach the task definition.
    env = {e["name"] for e in builds[0].request["containerDefinitions"][0]["environment"]}
    assert "RUN_DATE" not in env and "FIXED" in env


def test_one_param_has_one_default(tmp_path):
    project = project_with(tmp_path, """\
  a: {image: x, x-ecsflow: {runtime_env: {RUN_DATE: "{{ ds }}"}}}
  b: {image: x, x-ecsflow: {runtime_env: [RUN_DATE]}}
""")
    with pytest.raises(DagError, match="RUN_DATE has the default '' here and '{{ ds }}' in service 'a'") as error:
        generate(project)
    assert (error.value.service, error.value.key) == ("b", "x-ecsflow.runtime_env.RUN_DATE")
    assert error.value.file.endswith("compose.yml") and error.value.line
    assert "--dag-id" in error.value.hint
    assert generate(project, services=["a"])[0].params == ("RUN_DATE",)


@pytest.mark.parametrize("default", ["{{ ds }", "{% if x %}", "{{ 1 + }}", "{% endif %}{{ ds }}{% if true %}"])
def test_a_jinja_default_must_be_a_whole_template(tmp_path, default):
    project = project_with(tmp_path, f"  a: {{image: x, x-ecsflow: {{runtime_env: {{DAY: {json.dumps(default)}}}}}}}\n")
    with pytest.raises(DagError, match="the default of DAY in x-ecsflow.runtime_env is not a valid Jinja") as error:
        generate(project)
    assert (error.value.service, error.value.key) == ("a", "x-ecsflow.runtime_env.DAY")


NOW = datetime(2024, 6, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize("default, value", [
    ("", ""),
    ("false", "false"),
    ("{{ ds }}", "2024-06-02"),
    ("{{ ds_nodash }}", "20240602"),
    ("s3://bucket/{{ ds }}/", "s3://bucket/2024-06-02/"),
    ("{{ macros.ds_add(ds, -1) }}", "2024-06-01"),
    ("{{ macros.ds_format(ds, '%Y-%m-%d', '%d/%m/%Y') }}", "02/06/2024"),
    ("{{ logical_date.strftime('%H') }}", "03"),
    ("{{ ts }}", "2024-06-02T03:04:05+00:00"),
    ("{{ ts_nodash }}", "20240602T030405"),
    ("{{ data_interval_end | ds }}", "2024-06-02"),
    ("{{ (logical_date - macros.timedelta(days=7)) | ds_nodash }}", "20240526"),
])
def test_run_renders_a_default_for_a_run_now(default, value):
    assert render_default("RUN_DATE", default, "job", now=NOW) == value


@pytest.mark.parametrize("default, says", [
    ("{{ dag_run.conf }}", "'dag_run' is undefined"),
    ("{{ var.value.bucket }}", "'var' is undefined"),
    ("{{ ti.xcom_pull('x') }}", "'ti' is undefined"),
    ("{{ ds", "cannot be rendered"),
    ("{{ ''.__class__ }}", "cannot be rendered"),  # the sandbox, as in Airflow
])
def test_run_refuses_a_default_it_cannot_render_with_a_clear_message(default, says):
    with pytest.raises(EcsflowError) as error:
        render_default("RUN_DATE", default, "job", now=NOW)
    assert says in error.value.message and (error.value.service, error.value.key) == (
        "job", "x-ecsflow.runtime_env.RUN_DATE")
    assert "-e RUN_DATE=VALUE" in error.value.hint


def test_run_sends_the_values_given_else_the_defaults():
    runtime = {"RUN_DATE": "{{ ds }}", "MODE": "full", "UNUSED": "{{ dag_run.conf }}"}
    assert runtime_environment(runtime, {"UNUSED": "x", "MODE": "partial"}, "job", now=NOW) == {
        "RUN_DATE": "2024-06-02", "MODE": "partial", "UNUSED": "x"}


# --- retries, timeouts, capacity ---


def test_retries_and_timeouts_per_service_over_the_project(tmp_path):
    project = project_with(tmp_path, """\
  a: {image: x}
  b: {image: x, x-ecsflow: {retries: 0, retry_delay: 90, execution_timeout: 1h30m}}
  c: {image: x, x-ecsflow: {retry_delay: "2.5"}}
""", top="  retries: 3\n  retry_delay: 5m\n  execution_timeout: 2h\n")
    generated, _ = generate(project)
    calls = operator_kwargs(generated)
    assert {k: (v["retries"], v["retry_delay"], v["execution_timeout"]) for k, v in calls.items()} == {
        "a": (3, timedelta(minutes=5), timedelta(hours=2)),
        "b": (0, timedelta(seconds=90), timedelta(minutes=90)),
        "c": (3, timedelta(seconds=2.5), timedelta(hours=2)),
    }
    source = generated.tasks_source
    assert "    retry_delay: timedelta | None = timedelta(minutes=5),\n" in source  # in the units one writes
    assert "    execution_timeout: timedelta | None = timedelta(minutes=90),\n" in source
    assert "    retry_delay: timedelta | None = timedelta(seconds=2.5),\n" in source
    nothing, _ = generate(project_with(tmp_path, "  a: {image: x}\n"))
    assert {"retries", "retry_delay", "execution_timeout"}.isdisjoint(operator_kwargs(nothing)["a"])


def test_capacity_provider(tmp_path):
    project = project_with(tmp_path, """\
  spot: {image: x, x-ecsflow: {capacity_provider: FARGATE_SPOT}}
  plain: {image: x, x-ecsflow: {capacity_provider: FARGATE}}
  default: {image: x}
""")
    calls = operator_kwargs(generate(project)[0])
    assert calls["spot"]["capacity_provider_strategy"] == [  # retries on FARGATE: tests/test_airflow_runs_once.py
        {"capacityProvider": "{{ 'FARGATE_SPOT' if ti.try_number <= 1 else 'FARGATE' }}", "weight": 1}]
    assert calls["plain"]["capacity_provider_strategy"] == [{"capacityProvider": "FARGATE", "weight": 1}]
    assert "launch_type" not in calls["spot"] and "launch_type" not in calls["plain"]
    assert calls["default"]["launch_type"] == "FARGATE" and "capacity_provider_strategy" not in calls["default"]


# --- groups ---


def test_task_groups(tmp_path):
    project = project_with(tmp_path, """\
  extract: {image: x, x-ecsflow: {group: etl}}
  report: {image: x}
  transform:
    image: x
    depends_on: {extract: {condition: service_completed_successfully}}
    x-ecsflow: {group: etl}
  etl: {image: x}
  other: {image: x, x-ecsflow: {group: other-jobs}}
""")
    generated, _ = generate(project)
    # Task ids are Airflow's: the group's id and the task's; a task outside groups never takes a group's id.
    assert generated.task_ids == {"extract": "etl.extract", "report": "report", "transform": "etl.transform",
                                  "etl": "etl_2", "other": "other-jobs.other"}
    assert generated.edges == (("etl.extract", "etl.transform"),)
    body = generated.source.split(") as dag:\n")[1]
    assert body == """\
    with TaskGroup("etl"):
        extract = tasks.extract()
        transform = tasks.transform()

    report = tasks.report()
    etl = tasks.etl()

    with TaskGroup("other-jobs"):
        other = tasks.other()

    extract >> transform
"""
    assert "    from airflow.sdk import DAG, TaskGroup\n" in generated.source
    assert "    from airflow.utils.task_group import TaskGroup\n" in generated.source
    # The factory's task_id is the task's own; the group adds its prefix when the task is made inside it.
    assert operator_kwargs(generated)["transform"]["task_id"] == "transform"


# --- pools ---


def test_pools_are_sized_at_the_top_and_taken_per_task(tmp_path):
    project = project_with(tmp_path, """\
  a: {image: x, x-ecsflow: {pool: warehouse, pool_slots: 2}}
  b: {image: x, x-ecsflow: {pool: warehouse, pool_slots: 4}}
  c: {image: x, x-ecsflow: {pool: api}}
  d: {image: x, x-ecsflow: {pool: default_pool, pool_slots: 3}}
  e: {image: x, x-ecsflow: {pool: shared}}
  f: {image: x, x-ecsflow: {pool_slots: 2}}
""", top="  pools: {warehouse: 4, api: 1, unused: 9}\n")
    generated, _ = generate(project)
    assert generated.pools == {
        "warehouse": {"slots": 4, "description": "ecsflow: DAG compose, services a, b", "include_deferred": True},
        "api": {"slots": 1, "description": "ecsflow: DAG compose, services c", "include_deferred": True},
    }
    calls = operator_kwargs(generated)
    assert [(calls[t].get("pool"), calls[t].get("pool_slots")) for t in "abcdef"] == [
        ("warehouse", 2), ("warehouse", 4), ("api", None), ("default_pool", 3), ("shared", None), (None, 2)]
    assert [w for w in generated.warnings if "pool" in w] == [
        "service 'e' runs in pool 'shared', which is not in the top-level x-ecsflow.pools: it is not in the pools "
        "file, so create it in Airflow (airflow pools set ...) or declare its size"]
    # `airflow pools import` format, keys sorted, one trailing newline.
    assert generated.pools_source == json.dumps(dict(sorted(generated.pools.items())), indent=2) + "\n"
    assert list(json.loads(generated.pools_source)["api"]) == ["slots", "description", "include_deferred"]


def test_the_old_pool_form_is_an_error_that_shows_the_new_one(tmp_path):
    project = project_with(tmp_path, "  load: {image: x, x-ecsflow: {pool: warehouse, pool_slots: 2}}\n")
    with pytest.raises(DagError) as error:
        generate(project)
    assert (error.value.service, error.value.key) == ("load", "x-ecsflow.pool_slots")
    assert error.value.file.endswith("compose.yml") and error.value.line == 10
    assert "pool 'warehouse' has no size" in error.value.message
    assert "the number of slots one task takes (Airflow's pool_slots)" in error.value.message
    assert "`x-ecsflow: {pools: {warehouse: 2}}`" in error.value.hint


def test_a_task_larger_than_its_pool_is_an_error(tmp_path):
    project = project_with(tmp_path, "  load: {image: x, x-ecsflow: {pool: warehouse, pool_slots: 5}}\n",
                           top="  pools: {warehouse: 4}\n")
    with pytest.raises(DagError, match="takes 5 slots of pool 'warehouse', which has 4: it could never run"):
        generate(project)


@pytest.mark.parametrize("default", ["B1g-" * 2250, "{{ ds }}" + "B1g-" * 2250])
def test_runtime_defaults_over_ecss_overrides_limit_are_refused_when_the_dag_is_generated(tmp_path, default):
    """ECS refuses RunTask overrides over 8,192 characters of JSON, so every run of such a DAG would fail: the
    defaults (a Jinja one measured as written) are checked by run's rule, and named by length, never shown."""
    project = project_with(tmp_path, f"  job:\n    image: x\n    x-ecsflow:\n"
                                     f"      runtime_env: {{SMALL: a, BIG: '{default}'}}\n")
    with pytest.raises(DagError, match="8192") as error:
        generate(project)
    assert "runtime_env BIG (its default" in error.value.message and "B1g-B1g-" not in str(error.value)
    assert (error.value.service, error.value.key) == ("job", "x-ecsflow.runtime_env")
    within = project_with(tmp_path, "  job:\n    image: x\n    x-ecsflow:\n"
                                    f"      runtime_env: {{BIG: '{'B1g-' * 1900}'}}\n")
    assert generate(within)[0].params == ("BIG",)
