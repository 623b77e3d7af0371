"""Helpers for the Airflow tests: generate DAGs from compose text, and set up a local ECS endpoint for them.

The end-to-end tests run against `ecs_server.EcsEndpoint(run_tasks=True, ...)` (moto's ECS, EC2 and
CloudWatch Logs behind one URL, with ecsflow's local task runner running each started task's command as a
local process); `aws_environment` points Airflow's AWS hooks at it and `register` creates what RunTask needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ecsflow.airflow import GeneratedDag, generate_dag
from ecsflow.compose.loader import load_project
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

REGION = "eu-west-1"
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
        compose=project.x_ecsflow,
        compose_file=project.files[0].name if project.files else None,
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
