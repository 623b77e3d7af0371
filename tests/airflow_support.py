"""Helpers for the Airflow tests: generate DAGs from compose text, run the generated factories module against
stand-ins for Airflow (the fast tests), and set up a local ECS endpoint for the generated DAGs (the slow ones).

The end-to-end tests run against `ecs_server.EcsEndpoint(run_tasks=True, ...)` (moto's ECS, EC2 and
CloudWatch Logs behind one URL, with ecsflow's local task runner running each started task's command as a
local process); `aws_environment` points Airflow's AWS hooks at it and `register` creates what RunTask needs.
"""

from __future__ import annotations

import ast
import sys
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from ecsflow.airflow import GeneratedDag, generate_dag
from ecsflow.compose.loader import load_project
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/exec"  # the execution role (ECS refuses awslogs on Fargate without one)
# The platform settings every generated-DAG test needs, as a compose file's top-level x-ecsflow block.
SETTINGS_BLOCK = """\
x-ecsflow:
  region: eu-west-1
  account: "123456789012"
  cluster: jobs
  execution_role: arn:aws:iam::123456789012:role/exec
  subnets: [subnet-0001]
  security_groups: [sg-0001]
"""


def compose_project(tmp_path: Path, text: str, name: str = "compose.yml", extra: Mapping[str, str] | None = None):
    """Write a compose file (and any extra files) under tmp_path and load it as ecsflow does."""
    for rel, content in (extra or {}).items():
        (tmp_path / rel).write_text(content)
    path = tmp_path / name
    path.write_text(text)
    return load_project([path], warn=lambda message: None)


def generate(
    project,
    *,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    services: Iterable[str] | None = None,
    **kwargs,
) -> tuple[GeneratedDag, list]:
    """The DAG for a loaded project, with settings resolved as the CLI does (no Consul)."""
    resolved = resolve_settings(
        compose=project.x_ecsflow.settings,
        compose_file=project.files[0].name if project.files else None,
        compose_interpolated=project.x_ecsflow.interpolated,
        environ=environ or {},
        flags=flags or {},
    )
    names = list(services) if services is not None else None
    builds = build_task_definitions(project, resolved.settings, names)
    return generate_dag(project, resolved, builds, services=names, **kwargs), builds


def aws_environment(endpoint) -> dict[str, str]:
    """Environment variables that point boto3 (and so Airflow's AWS hooks) at a local `EcsEndpoint`."""
    return {
        "AWS_ENDPOINT_URL": endpoint.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": endpoint.region,
    }


def register(endpoint, cluster: str, builds: Iterable[Any]) -> dict[str, str]:
    """Create the cluster and register each build's request on the endpoint: family -> task definition ARN."""
    endpoint.create_cluster(cluster)
    ecs = endpoint.client("ecs")
    return {
        build.family: ecs.register_task_definition(**build.request)["taskDefinition"]["taskDefinitionArn"]
        for build in builds
    }


# --- the generated modules without Airflow: run them against stand-ins that record what they are given ---


class StubOperator:
    """Stands in for EcsRunTaskOperator: keeps the keyword arguments a factory passes, and has the attributes
    the factories module reads back (the operator's defaults where not given)."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.execution_timeout = kwargs.get("execution_timeout")
        self.waiter_delay = kwargs.get("waiter_delay", 6)
        self.waiter_max_attempts = kwargs.get("waiter_max_attempts", 1000000)


class StubParam:
    """Stands in for Airflow's Param: its default and schema keywords."""

    def __init__(self, default, **schema):
        self.default = default
        self.schema = schema

    def __eq__(self, other):
        return isinstance(other, StubParam) and (self.default, self.schema) == (other.default, other.schema)

    def __repr__(self):
        return f"Param({self.default!r}, {self.schema!r})"


@dataclass(frozen=True)
class StubLiteral:
    """Stands in for the value of literal(x): a value Airflow does not render."""

    value: Any


def _stub_modules(airflow: int) -> dict[str, Any]:
    def module(name, **attrs):
        made = types.ModuleType(name)
        made.__dict__.update(attrs)
        return made

    modules = {name: module(name) for name in (
        "airflow", "airflow.providers", "airflow.providers.amazon", "airflow.providers.amazon.aws",
        "airflow.providers.amazon.aws.operators", "airflow.models", "airflow.utils")}
    modules["airflow.providers.amazon.aws.operators.ecs"] = module("ecs", EcsRunTaskOperator=StubOperator)
    if airflow == 3:
        modules["airflow.sdk"] = module("airflow.sdk", Param=StubParam, literal=StubLiteral)
    else:
        modules["airflow.sdk"] = None  # `import airflow.sdk` raises ImportError, as on Airflow 2
        modules["airflow.models.param"] = module("param", Param=StubParam)
        modules["airflow.utils.template"] = module("template", literal=StubLiteral)
    return modules


def tasks_namespace(generated, airflow: int = 3) -> dict[str, Any]:
    """The factories module of a GeneratedDag, executed with stand-ins for what it imports from Airflow
    (Airflow 3's imports, or with `airflow=2` Airflow 2's: `airflow.sdk` missing)."""
    namespace: dict[str, Any] = {"__name__": generated.tasks_module}
    with mock.patch.dict(sys.modules, _stub_modules(airflow)):
        exec(compile(generated.tasks_source, generated.tasks_file_name, "exec"), namespace)
    return namespace


def operator_kwargs(generated, airflow: int = 3) -> dict[str, dict[str, Any]]:
    """service -> the keyword arguments its factory, called with no argument, passes to EcsRunTaskOperator."""
    namespace = tasks_namespace(generated, airflow)
    return {service: namespace[function]().kwargs for service, function in generated.functions.items()}


def plain(value):
    """The value Airflow uses once literal(x) is resolved to x."""
    if isinstance(value, StubLiteral):
        return value.value
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def dag_call(source: str) -> dict[str, Any]:
    """The keyword arguments of the DAG(...) call in a generated DAG file: literals as values, other
    expressions as their source text (`etl_tasks.params()`)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DAG":
            return {kw.arg: _ast_value(kw.value) for kw in node.keywords}
    raise AssertionError("no DAG(...) call")


def _ast_value(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)
