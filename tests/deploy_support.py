"""What the deploy tests share: a small project of servers and a job, the CLI against the test endpoint
(tests/ecs_server.py), and the requests ecsflow sends for it (to script the answers ECS gives them)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import ecsflow
from ecs_faults import parsed_body
from ecs_server import EcsEndpoint

ROLE = "arn:aws:iam::123456789012:role/ecs-exec"
WRITES = {"CreateService", "UpdateService", "TagResource", "UntagResource", "RegisterTaskDefinition", "RunTask",
          "CreateCluster", "DeleteService"}


class RecordingEndpoint(EcsEndpoint):
    """The test endpoint, keeping each JSON request it is sent (action, body), in order: what a deploy sent."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[tuple[str, dict]] = []

    def _answer(self, method, path, headers, body):
        target = headers.get("x-amz-target", "")
        if target:
            self.requests.append((target.rsplit(".", 1)[-1], parsed_body(body)))
        return super()._answer(method, path, headers, body)

    def reset(self) -> None:
        super().reset()
        self.requests.clear()

    def sent(self, action: str) -> list[dict]:
        return [body for name, body in self.requests if name == action]

    def actions(self) -> list[str]:
        return [name for name, _ in self.requests]


API = """\
  api:
    image: acme/api:1
    ports: ["8000:8000"]
    restart: always
"""


def fresh(endpoint: RecordingEndpoint) -> RecordingEndpoint:
    """A module's endpoint as each test starts with it: moto emptied, the default cluster, no call counted and no
    request kept from the test before."""
    endpoint.reset()
    endpoint.create_cluster("default")
    endpoint.reset_counts()
    endpoint.requests.clear()
    return endpoint


def project(tmp_path: Path, services: str = API, head: str = "", subnet: str = "subnet-1",
            group: str = "sg-1") -> Path:
    """A compose project of ``services`` (YAML under `services:`) with the settings deploy needs."""
    (tmp_path / "compose.yaml").write_text(f"""\
name: shop
x-ecsflow:
  region: us-east-1
  account: "123456789012"
  cluster: default
  execution_role: {ROLE}
  subnets: [{subnet}]
  security_groups: [{group}]
{head}services:
{services}""")
    return tmp_path


PLAIN = {"NO_COLOR": "1"}


def deploy_json(endpoint, folder: Path, *args: str, env: dict | None = None, expect: int = 0):
    """`ecsflow deploy --format json` of ``folder``'s project against ``endpoint`` (tests/cli_runner.py's
    ``ecsflow``, failing on an exit other than ``expect``), and the JSON document it printed, if any."""
    result = ecsflow("deploy", "--format", "json", "--poll-interval", "0.01", *args, file=folder / "compose.yaml",
                     endpoint=endpoint, env={**PLAIN, **(env or {})}, expect=expect)
    document = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, document


def writes(endpoint) -> dict[str, int]:
    return {action: n for action, n in endpoint.calls.items() if action in WRITES}


def create_request(folder: Path, service: str = "api", task_definition: str | None = None) -> dict:
    """The CreateService request ecsflow sends for ``service``, for ``task_definition`` (default
    ``shop-<service>:1``, as ECS names the first revision)."""
    from ecsflow.operations import ProjectOptions
    from ecsflow.operations.services import service_specs

    found = service_specs(ProjectOptions(files=(folder / "compose.yaml",)))
    spec = next(s for s in found.specs if s.service == service)
    arn = task_definition or f"arn:aws:ecs:us-east-1:123456789012:task-definition/{spec.family}:1"
    return spec.create_request(arn)
