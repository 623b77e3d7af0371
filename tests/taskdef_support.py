"""Building one service's task definition in the ecsflow.taskdef tests (test_taskdef*.py): a service written as
in a compose file, in a project of its own, built with settings that need nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from ecsflow.compose.extension import parse_service_extension
from ecsflow.compose.model import ComposeProject, Service
from ecsflow.errors import BuildError, ComposeError
from ecsflow.settings import Settings
from ecsflow.taskdef import build_task_definition

MIB = 1024 * 1024
GIB = 1024 * MIB
EXEC_ROLE = "arn:aws:iam::123456789012:role/ecs-exec"
SETTINGS = Settings(region="eu-west-1", account="123456789012", execution_role=EXEC_ROLE)


def svc(name: str = "job", image: str | None = "acme/job:1.2", **fields) -> Service:
    if "x_ecsflow" in fields:  # written as in a compose file, parsed as the loader parses it
        fields["x_ecsflow"] = parse_service_extension(fields["x_ecsflow"], service=name)
    return Service(name=name, image=image, **fields)


def project(*services: Service, name: str = "etl") -> ComposeProject:
    return ComposeProject(name=name, working_dir=Path("/src/etl"), files=(), services=services)


def build(service: Service | None = None, settings: Settings = SETTINGS, **kwargs):
    service = service or svc()
    return build_task_definition(project(service), service, settings, **kwargs)


def container(service: Service | None = None, settings: Settings = SETTINGS, **kwargs) -> dict:
    return build(service, settings, **kwargs).request["containerDefinitions"][0]


def build_error(service: Service, settings: Settings = SETTINGS, **kwargs) -> BuildError:
    with pytest.raises(BuildError) as info:
        build(service, settings, **kwargs)
    return info.value


def x_ecsflow_error(x: dict) -> ComposeError:
    with pytest.raises(ComposeError) as info:
        svc(x_ecsflow=x)
    return info.value
