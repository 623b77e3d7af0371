"""What the service tests share (test_service_build, _compare, _connect, _order, test_sandbox_services): a compose
project of servers written from YAML, the service specs ecsflow builds for it, and the CreateService request of
one, checked with botocore's model."""

from __future__ import annotations

import textwrap
from pathlib import Path

from ecsflow.compose.loader import load_project
from ecsflow.ecs.validate import check_create_service_request
from ecsflow.operations.services import project_kinds
from ecsflow.service.build import build_service_specs
from ecsflow.service.deployment import ApiFeatures
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

ROLE = "arn:aws:iam::123456789012:role/ecs-exec"
TG_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/6d0ecf831eec9f09"
HEAD = f"""\
name: shop
x-ecsflow:
  region: eu-west-1
  cluster: apps
  execution_role: {ROLE}
  subnets: [subnet-0b2, subnet-0a1]
  security_groups: [sg-0f, sg-0a]
"""


def load(tmp_path: Path, services: str, head: str = HEAD):
    path = tmp_path / "compose.yaml"
    path.write_text(head + "services:\n" + textwrap.indent(textwrap.dedent(services), "  "))
    return load_project([path], environ={}, warn=lambda message: None)


def specs(tmp_path: Path, services: str, head: str = HEAD, *, strict: bool = False, api: ApiFeatures | None = None,
          **flags):
    project = load(tmp_path, services, head)
    settings = resolve_settings(compose=project.x_ecsflow.settings,
                                compose_interpolated=project.x_ecsflow.interpolated, environ={}, flags=flags).settings
    builds = build_task_definitions(project, settings)
    return {spec.service: spec for spec in build_service_specs(project, settings, builds, project_kinds(project),
                                                               strict=strict, api=api or ApiFeatures())}


def request(spec) -> dict:
    created = spec.create_request(f"arn:aws:ecs:eu-west-1:123456789012:task-definition/{spec.family}:3")
    check_create_service_request(created, spec.service)
    return created


API = """\
api:
  image: acme/api:1
  ports: ["8000:8000"]
  healthcheck: {test: [CMD, curl, -f, localhost:8000], start_period: 45s}
"""
