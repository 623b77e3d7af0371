"""ecsflow.airflow: hostile values (quotes, backslashes, line breaks, Jinja, text that looks like code) stay
literal in the generated sources, and any value of any length gives valid source (black's layout where black is
installed)."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from airflow_support import (
    HOSTILE,
    NETWORK,
    ROLE,
    StubLiteral,
    StubParam,
    assert_valid_python,
    compose_project,
    dag_tasks,
    generate,
    operator_kwargs,
    plain,
    tasks_namespace,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.airflow import generate_dag, is_edited, py_str
from ecsflow.compose.extension import parse_service_extension
from ecsflow.compose.model import ComposeProject, Dependency, Logging, Service
from ecsflow.errors import EcsflowError
from ecsflow.settings import Settings
from ecsflow.taskdef import build_task_definitions

try:  # black is not a dependency; where it is installed, generated sources must be exactly black's output
    import black
except ImportError:
    black = None


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
    # The factories module: docstring, imports, _ECS, _DEFAULTS, params, _ecs_task and one function per service.
    module = ast.parse(generated.tasks_source).body
    assert [type(node).__name__ for node in module] == ["Expr", "ImportFrom", "Import"] + ["ImportFrom"] * 4 + [
        "Try", "Assign", "Assign"] + ["FunctionDef"] * 4
    for function in module[-4:]:
        assert [type(node).__name__ for node in function.body] in (["Expr", "Return"], [
            "Expr", "If", "Assign", "Assign", "AugAssign", "AnnAssign", "If", "If", "Assign", "Assign", "Expr",
            "Assign", "Assign", "If", "Return"])
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
