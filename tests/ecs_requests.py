"""Requests as ecsflow's builder makes them, to register against a test endpoint or the sandbox (test_ecs*.py,
test_faults.py, test_pacing.py): ``request(family)`` and ``item(n)`` (a RegisterItem of family fam-N), with the
builder's own tags."""

from __future__ import annotations

import functools
from pathlib import Path

from ecsflow.compose.extension import parse_service_extension
from ecsflow.compose.model import ComposeProject, Service
from ecsflow.ecs.definitions import RegisterItem
from ecsflow.ecs.register import Backoff
from ecsflow.settings import Settings
from ecsflow.taskdef import build_task_definition

REGISTER = "RegisterTaskDefinition"
DESCRIBE = "DescribeTaskDefinition"
FAST = Backoff(attempts=4, base=0.001, cap=0.002)
SETTINGS = Settings(region="us-east-1", account="123456789012",
                    execution_role="arn:aws:iam::123456789012:role/ecs-exec")


def build(project: str, service: str, x_ecsflow: dict, image: str = "acme/api:2.0"):
    """The builder's request for one service (ecsflow.taskdef, which owns the ecsflow:* tags); ``x_ecsflow``
    as in a compose file."""
    parsed = Service(name=service, image=image, x_ecsflow=parse_service_extension(x_ecsflow, service=service))
    return build_task_definition(ComposeProject(name=project, working_dir=Path("."), files=(), services=(parsed,)),
                                 parsed, SETTINGS)


@functools.cache
def builder_tags(project: str, service: str) -> tuple[tuple[str, str], ...]:
    """The tags the builder gives a service with `x-ecsflow: {tags: {team: data}}`, as (key, value) pairs."""
    tags = build(project, service, {"tags": {"team": "data"}})
    return tuple((t["key"], t["value"]) for t in tags.request["tags"])


def request(family: str, image: str = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/acme/api:2.0",
            service: str = "s1") -> dict:
    """A request as the builder makes it: ports, health check, secrets, environment, awslogs, and the
    builder's tags (of `service` in project etl)."""
    return {
        "family": family,
        "taskRoleArn": "arn:aws:iam::123456789012:role/etl-api",
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecs-exec",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "1024",
        "memory": "2048",
        "runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"},
        "ephemeralStorage": {"sizeInGiB": 30},
        "containerDefinitions": [
            {
                "name": "api",
                "image": image,
                "essential": True,
                "command": ["serve", "--port", "8000"],
                "environment": [{"name": "WORKERS", "value": "4"}, {"name": "LOG_LEVEL", "value": "info"}],
                "secrets": [{"name": "DB_PASSWORD",
                             "valueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/etl/db/password"}],
                "portMappings": [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}],
                "healthCheck": {"command": ["CMD", "curl", "-f", "http://localhost:8000/health"],
                                "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 10},
                "memoryReservation": 1024,
                "ulimits": [{"name": "nofile", "softLimit": 65536, "hardLimit": 65536}],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": "/ecs/etl/api", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "ecs"}},
            }
        ],
        "tags": [{"key": key, "value": value} for key, value in builder_tags("etl", service)],
    }


def item(n: int | str, **kwargs) -> RegisterItem:
    return RegisterItem(service=f"s{n}", family=f"fam-{n}", request=request(f"fam-{n}", service=f"s{n}", **kwargs))
