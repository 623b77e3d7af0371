"""The import discipline of docs/design.md section 4, which keeps the core testable without servers and
`ecsflow --help` fast: the pure core loads, builds, compares and generates DAGs without importing an AWS SDK,
rich or a network client, and only the ECS adapter and the sandbox import botocore, boto3 or moto."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from ecsflow.errors import BuildError, EcsflowError
from ecsflow.status import ExitStatus, Terminated, status_of

PACKAGE = Path(__file__).resolve().parents[1] / "ecsflow"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "etl" / "docker-compose.yml"
ADAPTERS = ("ecs", "sandbox")  # the only folders of ecsflow/ allowed to import the AWS SDK or moto
SDK = {"boto3", "botocore", "moto"}
NOT_IN_THE_CORE = SDK | {"rich", "consul", "requests", "urllib3", "http", "airflow", "typer"}


def test_the_pure_core_does_its_work_without_sdk_rich_or_network_modules():
    code = f"""
import sys
from ecsflow.compose.loader import load_project
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions
from ecsflow.diff import build_changeset
from ecsflow.masking import looks_sensitive
from ecsflow.airflow import generate_dag
from ecsflow.fargate import smallest_size
from ecsflow.runtask import network_configuration
from ecsflow.prune import plan_family
from ecsflow.verify import plan_checks
from ecsflow.compose.kind import workload_kind
from ecsflow.service.build import build_service_specs
from ecsflow.service.compare import compare_service
from ecsflow.service.order import deploy_order
project = load_project([{str(EXAMPLE)!r}], environ={{}})
resolved = resolve_settings(compose=project.x_ecsflow.settings, compose_interpolated=project.x_ecsflow.interpolated,
                            environ={{}}, flags={{}})
builds = build_task_definitions(project, resolved.settings)
build_changeset((b.service, b.family, b.request, None) for b in builds)
generate_dag(project, resolved, builds)
plan_family("s", "f", [1, 2, 3], [], {{}}, keep=1)
plan_checks(((b.service, b.family, b.request) for b in builds), region=None, cluster="c")
kinds = {{s.name: workload_kind(s) for s in project.services}}
specs = build_service_specs(project, resolved.settings, builds, kinds)
compare_service(specs[0], specs[0].create_request("etl-api:1"))
deploy_order(project, [s.service for s in specs], kinds)
print(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(NOT_IN_THE_CORE)!r})))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_only_the_ecs_adapter_and_the_sandbox_import_the_aws_sdk():
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in ADAPTERS:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(PACKAGE)}:{node.lineno} {n}" for n in names if n.split(".")[0] in SDK]
    assert offenders == []


def test_the_help_loads_no_sdk_and_no_rich():
    code = "import sys; from ecsflow.cli import app; print(sorted({m.split('.')[0] for m in sys.modules} & "
    code += f"set({sorted(SDK | {'rich', 'deepdiff', 'yaml', 'consul'})!r})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def import_graph(package: Path = PACKAGE) -> dict[str, dict[str, str]]:
    """Each module of ``package`` -> the modules of ``package`` it imports -> where (``path:line``), read from
    the source: every import, those inside functions and under TYPE_CHECKING included. ``from a.b import c``
    imports the module ``a.b.c`` when there is one, else ``a.b`` (a package is its ``__init__.py``)."""
    def name_of(path: Path) -> str:
        parts = path.relative_to(package.parent).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    modules = {name_of(path): path for path in package.rglob("*.py")}
    graph: dict[str, dict[str, str]] = {}
    for name, path in modules.items():
        imports = graph.setdefault(name, {})
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert not node.level, f"{path}:{node.lineno}: a relative import (ecsflow imports absolutely)"
                targets = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    imports.setdefault(target, f"{path.relative_to(package.parent)}:{node.lineno}")
    return graph


def import_circles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Circles of ``graph``, each as the modules that import each other in turn (the first one again last):
    at least one through every group of modules tied into a loop."""
    circles: list[list[str]] = []
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = "open"
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                circles.append([*path[path.index(imported):], imported])
            elif imported not in state:
                visit(imported)
        path.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return circles


def test_no_module_of_ecsflow_imports_itself_back_through_others():
    """No import circles (docs/design.md section 4): each module can be read, tested and moved with what it
    imports alone. A circle is named with the imports that tie it."""
    graph = import_graph()
    circles = [", ".join(f"{graph[module][imported]} imports {imported}"
                         for module, imported in zip(circle, circle[1:], strict=False))
               for circle in import_circles(graph)]
    assert circles == [], "import circles:\n" + "\n".join(circles)


def test_exit_statuses_come_from_one_mapping():
    assert status_of(BuildError("x")) == ExitStatus.ERROR == 1
    assert status_of(EcsflowError("x")) == status_of(ValueError("x")) == ExitStatus.ERROR
    assert status_of(KeyboardInterrupt()) == ExitStatus.INTERRUPTED == 130
    assert status_of(Terminated()) == ExitStatus.TERMINATED == 143
    assert (ExitStatus.CHANGES, ExitStatus.TIMEOUT) == (2, 124)


def test_one_validator_kit_for_x_ecsflow_and_the_settings():
    """The x-ecsflow parser and the settings parsers share one kit (ecsflow/validators.py): neither defines an
    error class of its own nor its own way of showing a value, so their rules (tags, roles) cannot drift."""
    for module in ("compose/extension.py", "settings/values.py", "settings/__init__.py"):
        tree = ast.parse((PACKAGE / module).read_text())
        classes = [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)
                   and any(isinstance(b, ast.Name) and b.id.endswith(("Error", "Exception")) for b in n.bases)]
        own = [n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
               and n.name.lstrip("_") in ("describe", "text", "tags", "flag", "whole", "names", "bool")]
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "ecsflow.validators"
                    for a in n.names}
        assert classes == [] and not [n for n in own if n != "_tags"], (module, classes, own)
        assert "InvalidValue" in imported, module
