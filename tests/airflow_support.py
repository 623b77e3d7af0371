"""Helpers for the Airflow tests: generate DAGs from compose text, and a local ECS + CloudWatch Logs endpoint.

`LocalEcs` is moto's ThreadedMotoServer (the real boto3 wire protocol, on 127.0.0.1) plus a small "agent"
thread that does what moto does not: it runs each started task's container command as a local process,
with the task definition's environment merged with the run's overrides, writes the output lines to the
awslogs stream ECS would write (`PREFIX/CONTAINER/TASK-ID`), and stops the task with the process's exit
code. Where moto alone falls short for `EcsRunTaskOperator` (moto 5.2):
- its containers stay `lastStatus: PENDING` with `exitCode: 0` for ever, and the operator fails a stopped
  task whose container is still PENDING ("This task is still pending");
- its tasks move from RUNNING to STOPPED one step per DescribeTasks call (moto's state manager), whatever
  the container did; here the agent alone stops them (the state manager is set to never advance);
- nothing writes to CloudWatch Logs, so the operator has no log lines to show;
- an awsvpc task needs the subnet to exist in moto's EC2 (it creates an ENI), so the tests create a VPC,
  subnet and security group first and pass their ids as settings.
The image is not pulled: the agent runs the command on this machine (`python` is this interpreter), with
`PYTHONPATH` set to the fake job modules the test provides.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsflow.airflow import GeneratedDag, generate_dag
from ecsflow.compose.loader import load_project
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"


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
        compose=project.extensions.get("x-ecsflow"),
        compose_file=project.files[0].name if project.files else None,
        environ=environ or {},
        flags=flags or {},
    )
    names = list(services) if services is not None else None
    builds = build_task_definitions(project, resolved.settings, names)
    return generate_dag(project, resolved, builds, services=names, **kwargs), builds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Run:
    """One task the agent ran: what the container got and what it did."""

    task_arn: str
    family: str
    container: str
    argv: list[str]
    environment: dict[str, str]
    exit_code: int
    output: list[str]
    log_group: str | None = None
    log_stream: str | None = None


@dataclass
class LocalEcs:
    """moto's server for ECS, EC2 and CloudWatch Logs on 127.0.0.1, with an agent that runs started tasks."""

    region: str = REGION
    pythonpath: str | None = None
    runs: list[Run] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._seen: set[str] = set()

    # --- lifecycle ---

    def __enter__(self) -> LocalEcs:
        from moto.core.base_backend import BackendDict
        from moto.moto_api import state_manager
        from moto.server import ThreadedMotoServer

        BackendDict.reset()  # moto's state is per process: start from nothing, as a new endpoint would
        # Only the agent stops tasks: no DescribeTasks-driven progression to STOPPED.
        state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
        self._patch = _fargate_memory_patch()
        self._patch.start()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self._agent = threading.Thread(target=self._loop, name="local-ecs-agent", daemon=True)
        self._agent.start()
        return self

    def __exit__(self, *exc) -> None:
        from moto.core.base_backend import BackendDict
        from moto.moto_api import state_manager

        self._stop.set()
        self._agent.join(timeout=10)
        self._server.stop()
        self._patch.stop()
        state_manager.unset_transition("ecs::task")
        BackendDict.reset()

    def client(self, service: str):
        import boto3

        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def aws_environment(self) -> dict[str, str]:
        """Environment variables that point boto3 (and so Airflow's AWS hooks) at this endpoint."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": self.region,
        }

    # --- setup ---

    def network(self) -> tuple[str, str]:
        """A VPC with one subnet and one security group: (subnet id, security group id)."""
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="jobs", Description="jobs", VpcId=vpc)["GroupId"]
        return subnet, group

    def register(self, cluster: str, builds: Iterable[Any]) -> dict[str, str]:
        """Create the cluster and register each build's request: family -> task definition ARN."""
        ecs = self.client("ecs")
        ecs.create_cluster(clusterName=cluster)
        arns = {}
        for build in builds:
            response = ecs.register_task_definition(**build.request)
            arns[build.family] = response["taskDefinition"]["taskDefinitionArn"]
        return arns

    # --- the agent ---

    def wait_idle(self, timeout: float = 10) -> None:
        """Wait until every started task has been run by the agent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ecs = self._backend("ecs")
            if all(arn in self._seen for tasks in ecs.tasks.values() for arn in tasks):
                return
            time.sleep(0.05)

    def _backend(self, service: str):
        from moto.backends import get_backend

        return get_backend(service)[ACCOUNT][self.region]

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._tick()
            except Exception as error:  # noqa: BLE001 - reported by the tests through `errors`
                self.errors.append(f"{type(error).__name__}: {error}")
            self._stop.wait(0.05)

    def _tick(self) -> None:
        ecs = self._backend("ecs")
        for cluster_tasks in list(ecs.tasks.values()):
            for arn, task in list(cluster_tasks.items()):
                if arn in self._seen:
                    continue
                self._seen.add(arn)
                self._run(ecs, task)

    def _run(self, ecs, task) -> None:
        definition = ecs.describe_task_definition(task.task_definition_arn)
        container_def = definition.container_definitions[0]
        name = container_def["name"]
        environment = {e["name"]: e["value"] for e in container_def.get("environment") or []}
        argv = list(container_def.get("entryPoint") or []) + list(container_def.get("command") or [])
        for override in (task.overrides or {}).get("containerOverrides") or []:
            if override.get("name") == name:
                environment.update({e["name"]: e["value"] for e in override.get("environment") or []})
                if override.get("command"):
                    argv = list(container_def.get("entryPoint") or []) + list(override["command"])
        if argv and argv[0] == "python":
            argv[0] = sys.executable
        process_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **environment}
        if self.pythonpath:
            process_env["PYTHONPATH"] = self.pythonpath
        try:
            done = subprocess.run(
                argv, env=process_env, capture_output=True, text=True, timeout=120, check=False
            )
            code, output = done.returncode, (done.stdout + done.stderr).splitlines()
        except (OSError, subprocess.TimeoutExpired) as error:
            code, output = 255, [f"cannot run {argv!r}: {error}"]
        task_id = task.task_arn.split("/")[-1]
        run = Run(task.task_arn, definition.family, name, argv, environment, code, output)
        options = (container_def.get("logConfiguration") or {}).get("options") or {}
        if (container_def.get("logConfiguration") or {}).get("logDriver") == "awslogs":
            run.log_group = options["awslogs-group"]
            run.log_stream = f"{options['awslogs-stream-prefix']}/{name}/{task_id}"
            self._write_logs(run.log_group, run.log_stream, output)
        for container in task.containers:
            container.last_status = "STOPPED"
            container.exitCode = code
            container.reason = "" if code == 0 else f"exit code {code}"
        task.desired_status = "STOPPED"
        task.stopped_reason = "Essential container in task exited"
        task.status = "STOPPED"
        self.runs.append(run)

    def _write_logs(self, group: str, stream: str, lines: list[str]) -> None:
        logs = self.client("logs")
        try:
            logs.create_log_group(logGroupName=group)
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        now = int(time.time() * 1000)
        events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines or ["(no output)"])]
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def _fargate_memory_patch():
    """moto's RunTask sums container-level memory, which a Fargate task definition need not have (memory is
    set for the task): without this, RunTask fails with a 500 (TypeError: int += None)."""
    import copy
    from unittest import mock

    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def calculate(task_definition):
        patched = copy.copy(task_definition)
        patched.container_definitions = [
            {**d, "memory": d.get("memory") or d.get("memoryReservation") or 0}
            for d in task_definition.container_definitions
        ]
        return original(patched)

    return mock.patch.object(
        EC2ContainerServiceBackend, "_calculate_task_resource_requirements", staticmethod(calculate)
    )
