"""Helpers for the Airflow tests: generate DAGs from compose text, run the generated factories module against
stand-ins for Airflow and check the generated sources (the fast tests), and set up a local ECS endpoint for the
generated DAGs (the slow ones).

The end-to-end tests run against `ecs_server.EcsEndpoint(run_tasks=True, ...)` (moto's ECS, EC2 and
CloudWatch Logs behind one URL, with ecsflow's local task runner running each started task's command as a
local process); `aws_environment` points Airflow's AWS hooks at it and `register` creates what RunTask needs.
"""

from __future__ import annotations

import ast
import subprocess
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


# --- the generated sources (the fast tests: test_airflow*.py) ---

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "etl" / "docker-compose.yml"
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
