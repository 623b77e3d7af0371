"""How the local task runner (``ecsflow.sandbox.runner``) hooks into moto: the patch of moto's ECS backend,
and the moto internals it reads and writes (EC2 subnets, the logs backend, a new task's fields).

moto 5 models ECS's API, not its agent. While a runner is active, moto's ``EC2ContainerServiceBackend`` is
patched (once, however many runners are active; they nest, the innermost active one runs new tasks, so a
sandbox opened inside a test that has an endpoint running still works):

- ``run_task``: the network is checked as ECS checks it (below), then each new task is handed to the runner
  (``LocalTaskRunner.adopt``), which takes it over with ``take_over`` and runs it;
- ``stop_task``: a task a runner owns is stopped by that runner, as ECS stops one;
- ``describe_tasks``: a task a runner owns is answered as a copy taken under the runner's lock, so that one
  answer never mixes two moments of the task's life (moto reads the containers, with their exit code, before
  the task's lastStatus: without the copy a poll could see STOPPED and no exit code yet);
- ``_calculate_task_resource_requirements``: Fargate sizes the task, not the containers (moto sums container
  memory, so a Fargate ``RunTask`` whose containers have no memory of their own would fail).

Networking: moto creates an ENI for an awsvpc task in the first requested subnet, so a subnet moto's EC2
does not know fails the call (and one in a VPC without DNS hostnames did too: the patch gives moto's ENI a
default private DNS name of None). With ``check_network=False`` (the sandbox, and the test endpoint by default),
subnet ids are taken as given: when moto does not know the first one, the ENI goes to moto's default subnet
and the task still shows the requested subnet; security groups are never checked (moto does not either).
With ``check_network=True`` an unknown subnet is an ``InvalidParameterException``, as real ECS answers.
An empty subnet list is an ``InvalidParameterException`` either way.

Task definitions (``definition_semantics``, active with the sandbox and the tests' endpoint, runner or not):
DescribeTaskDefinition of a family answers its latest ACTIVE revision, as ECS does; moto answers the highest
revision even when it is INACTIVE (deregistered), which would make a diff compare with a deregistered one.

Services (``install_service_semantics`` in ``ecsflow.sandbox.moto_services``) are patched the same way.

The default network (``network_semantics``, the sandbox's only): moto makes a region's default VPC with random
ids when EC2 is first used, anew in every command; the patch has them drawn from a generator seeded by the
account and region, so every command of a project meets the same subnets and security group.

moto is held to the minor version these internals were written against (pyproject.toml; ``ecsflow.sandbox.moto_pin``
names it and every moto internal the patches use, and stops with a clear error before the first patch is put on
when another moto is installed or an internal moved).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, Protocol

from ecsflow.sandbox.moto_pin import CountedPatches, check_moto


class TaskRunner(Protocol):
    """What the patch asks of a runner (``ecsflow.sandbox.runner.LocalTaskRunner``, which imports this module):
    moto's calls for the tasks it runs."""

    check_network: bool  # check RunTask's subnets as ECS does (see the module docstring)

    def adopt(self, backend: Any, task: Any, requested_network: dict | None) -> None:
        """A task moto has just created: take over its life (``take_over``) and run it."""

    def owns(self, task_arn: str) -> bool:
        """Whether this runner runs the task."""

    def snapshot(self, task: Any) -> Any:
        """A copy of one of this runner's tasks, taken while no field changes (DescribeTasks' answer)."""

    def stop_task(self, task: Any, reason: str | None) -> bool:
        """moto's stop_task: ask one of this runner's tasks to stop; False when the task is not its own."""


def now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------------------
# moto's tasks, subnets and logs


def take_over(backend: Any, task: Any, requested_network: dict | None) -> Any:
    """Give a task moto has just created the fields of a task ECS has just started, with moto's own
    DescribeTasks-driven progression off; the task definition it runs."""
    created = now()
    definition = backend.describe_task_definition(task.task_definition_arn)
    task._transitions = []  # moto's ManagedState: no DescribeTasks-driven progression for this task
    task.last_status = "PROVISIONING"
    task.desired_status = "RUNNING"
    task.created_at = created
    task.stop_code = None
    task_id = task.task_arn.rsplit("/", 1)[-1]
    for container in task.containers:
        # moto derives both from the task definition's ARN; ECS's shapes are these.
        container.task_arn = task.task_arn
        container.container_arn = task.task_arn.replace(":task/", ":container/", 1).rsplit("/", 1)[0] + (
            f"/{task_id}/{container.container_arn.rsplit('/', 1)[-1]}")
        container.last_status = "PENDING"
        container.exitCode = None  # moto says 0 before the container even started
        container.reason = None
    overrides = task.overrides or {}
    if overrides.get("cpu") or definition.cpu:
        task.cpu = str(overrides.get("cpu") or definition.cpu)
    if overrides.get("memory") or definition.memory:
        task.memory = str(overrides.get("memory") or definition.memory)
    if requested_network is not None and "awsvpcConfiguration" in requested_network:
        task.network_configuration = requested_network
        subnet = requested_network["awsvpcConfiguration"]["subnets"][0]
        for attachment in task.attachments:
            for detail in attachment.get("details", []):
                if detail.get("name") == "subnetId":
                    detail["value"] = subnet
    return definition


def network_for_moto(backend: Any, config: dict | None, check_network: bool) -> dict | None:
    """The network configuration to give moto's run_task, after ECS's own checks."""
    from moto.ecs.exceptions import InvalidParameterException

    if not config or "awsvpcConfiguration" not in config:
        return config
    vpc = dict(config["awsvpcConfiguration"])
    subnets = list(vpc.get("subnets") or [])
    if not subnets:
        raise InvalidParameterException("subnets can not be empty.")
    vpc["subnets"] = subnets
    vpc["securityGroups"] = list(vpc.get("securityGroups") or [])  # moto needs the key; ECS does not
    ec2 = _ec2_backend(backend)
    known = _known_subnet(ec2, subnets[0])
    if not known:
        if check_network:
            raise InvalidParameterException(
                f"Error retrieving subnet information for [{subnets[0]}]: "
                f"The subnet ID '{subnets[0]}' does not exist"
            )
        vpc["subnets"] = [_default_subnet_id(ec2), *subnets[1:]]
    return {**config, "awsvpcConfiguration": vpc}


def open_log_stream(backend: Any, region: str, group: str, stream: str) -> Any:
    """moto's logs backend of ``region``, with the group and the stream created when missing."""
    logs = _logs_backend(backend, region)
    if group not in logs.groups:
        try:
            logs.create_log_group(group, {})
        except Exception:  # noqa: BLE001 - created meanwhile by someone else
            if group not in logs.groups:
                raise
    if stream not in logs.groups[group].streams:
        logs.create_log_stream(group, stream)
    return logs


def _ec2_backend(backend: Any) -> Any:
    from moto.ec2 import ec2_backends

    return ec2_backends[backend.account_id][backend.region_name]


def _logs_backend(backend: Any, region: str) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[backend.account_id][region]


def _known_subnet(ec2: Any, subnet_id: str) -> bool:
    from moto.ec2.exceptions import InvalidSubnetIdError

    try:
        ec2.get_subnet(subnet_id)
        return True
    except InvalidSubnetIdError:
        return False


def _default_subnet_id(ec2: Any) -> str:
    subnets = ec2.get_default_subnets()
    if subnets:
        return sorted(subnets.values(), key=lambda s: s.availability_zone)[0].id
    vpc = ec2.get_default_vpc() or ec2.create_default_vpc()
    return ec2.create_subnet(vpc_id=vpc.id, cidr_block="172.31.250.0/24").id


# ---------------------------------------------------------------------------------------------------------
# the patch of moto's ECS backend (one installation, shared by nested runners)

_STACK: list[TaskRunner] = []
_STACK_LOCK = threading.Lock()
_PATCHES: list[Any] = []


def install(runner: TaskRunner) -> None:
    """Make ``runner`` the one that runs new tasks; the first one patches moto."""
    with _STACK_LOCK:
        if not _STACK:
            check_moto()
            _PATCHES[:] = _make_patches()
            for patch in _PATCHES:
                patch.start()
        _STACK.append(runner)


def uninstall(runner: TaskRunner) -> None:
    """``runner`` runs no new tasks; the last one takes the patch off."""
    with _STACK_LOCK:
        if runner in _STACK:
            _STACK.remove(runner)
        if not _STACK:
            for patch in reversed(_PATCHES):
                patch.stop()
            _PATCHES.clear()


def _current() -> TaskRunner | None:
    with _STACK_LOCK:
        return _STACK[-1] if _STACK else None


def _owner(task_arn: str) -> TaskRunner | None:
    with _STACK_LOCK:
        runners = list(reversed(_STACK))
    return next((runner for runner in runners if runner.owns(task_arn)), None)


def _make_patches() -> list[Any]:
    from unittest import mock

    from moto.ecs.models import EC2ContainerServiceBackend

    original_run = EC2ContainerServiceBackend.run_task
    original_stop = EC2ContainerServiceBackend.stop_task
    original_describe = EC2ContainerServiceBackend.describe_tasks
    original_requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def run_task(self: Any, cluster_str: str, task_definition_str: str, count: int, overrides: Any,
                 started_by: str, tags: Any, launch_type: str | None, networking_configuration: Any = None,
                 *args: Any, **kwargs: Any) -> list[Any]:
        _patch_network_interfaces()
        runner = _current()
        if runner is None:
            return original_run(self, cluster_str, task_definition_str, count, overrides, started_by, tags,
                                launch_type, networking_configuration, *args, **kwargs)
        requested = _normalised_request_network(networking_configuration)
        network = network_for_moto(self, requested, runner.check_network)
        tasks = original_run(self, cluster_str, task_definition_str, count, overrides, started_by, tags,
                             launch_type, network, *args, **kwargs)
        for task in tasks:
            runner.adopt(self, task, requested)
        return tasks

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        task = _find_task(self, cluster_str, task_str)
        if task is not None:
            runner = _owner(task.task_arn)
            if runner is not None and runner.stop_task(task, reason):
                return task
        return original_stop(self, cluster_str, task_str, reason)

    def describe_tasks(self: Any, cluster_str: str, tasks: list[str], *args: Any, **kwargs: Any) -> list[Any]:
        answered = []
        for task in original_describe(self, cluster_str, tasks, *args, **kwargs):
            runner = _owner(task.task_arn)
            answered.append(runner.snapshot(task) if runner is not None else task)
        return answered

    def requirements(task_definition: Any) -> dict[str, Any]:
        # Fargate sizes the task, not the containers: moto's sum of container memory (int += None) fails.
        if any(c.get("memory") is None and c.get("memoryReservation") is None and c.get("Memory") is None
               and c.get("MemoryReservation") is None for c in task_definition.container_definitions):
            return {"CPU": int(task_definition.cpu or 0), "MEMORY": int(task_definition.memory or 0),
                    "PORTS": [], "PORTS_UDP": []}
        return original_requirements(task_definition)

    return [
        mock.patch.object(EC2ContainerServiceBackend, "run_task", run_task),
        mock.patch.object(EC2ContainerServiceBackend, "stop_task", stop_task),
        mock.patch.object(EC2ContainerServiceBackend, "describe_tasks", describe_tasks),
        mock.patch.object(EC2ContainerServiceBackend, "_calculate_task_resource_requirements",
                          staticmethod(requirements)),
    ]


def _patch_network_interfaces() -> None:
    """moto's Task reads the ENI's private DNS name, which moto only sets in a VPC with DNS hostnames enabled
    (ECS needs no such thing): without a default, RunTask in such a VPC is a 500. Patched at the first RunTask,
    not with the others: importing moto's EC2 costs a sandbox that runs no task 0.3 s (sandbox/moto_import.py)."""
    from unittest import mock

    with _STACK_LOCK:
        if not _STACK or any(getattr(patch, "attribute", None) == "private_dns_name" for patch in _PATCHES):
            return
        from moto.ec2.models.elastic_network_interfaces import NetworkInterface

        patch = mock.patch.object(NetworkInterface, "private_dns_name", None, create=True)
        patch.start()
        _PATCHES.append(patch)  # taken off with the others


def _normalised_request_network(config: Any) -> dict | None:
    if not isinstance(config, dict) or not isinstance(config.get("awsvpcConfiguration"), dict):
        return config
    vpc = dict(config["awsvpcConfiguration"])
    for key in ("subnets", "securityGroups"):
        if key in vpc:
            vpc[key] = list(vpc[key] or [])
    return {**config, "awsvpcConfiguration": vpc}


def _find_task(backend: Any, cluster_str: str, task_str: str) -> Any:
    task_id = task_str.rsplit("/", 1)[-1]
    for tasks in backend.tasks.values():
        for arn, task in tasks.items():
            if arn.rsplit("/", 1)[-1] == task_id:
                return task
    return None



# ---------------------------------------------------------------------------------------------------------
# task definitions as ECS answers them (one installation, counted: the sandbox and the endpoint may nest)


def install_definition_semantics() -> None:
    _DEFINITIONS.install()


def uninstall_definition_semantics() -> None:
    _DEFINITIONS.uninstall()


def _latest_active_patch() -> Any:
    from unittest import mock

    from moto.ecs.exceptions import TaskDefinitionNotFoundException
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.describe_task_definition

    def describe_task_definition(self: Any, task_definition_str: str) -> Any:
        name = task_definition_str.split("/")[-1]
        if ":" in name:
            return original(self, task_definition_str)
        # ECS: "If a revision isn't specified, the latest ACTIVE revision is used."
        active = [n for n, d in (self.task_definitions.get(name) or {}).items() if d.status == "ACTIVE"]
        if not active:
            raise TaskDefinitionNotFoundException()
        return original(self, f"{name}:{max(active)}")

    return mock.patch.object(EC2ContainerServiceBackend, "describe_task_definition", describe_task_definition)


_DEFINITIONS = CountedPatches(lambda: [_latest_active_patch()])


# ---------------------------------------------------------------------------------------------------------
# the default network, the same in every command (the sandbox's; counted, as the sandbox may nest)


def install_network_semantics() -> None:
    _NETWORK.install()


def uninstall_network_semantics() -> None:
    _NETWORK.uninstall()


def _stable_default_network_patch() -> Any:
    """moto makes a region's EC2 backend when it is first used, and in it the default VPC (its subnets, its
    `default` security group, its route table and network ACL) with random ids: anew in every command, so the
    ids `init` proposed were unknown to the next command. Made with ids drawn from a generator seeded by the
    account and region, they are the same in every command, as an account's default VPC is. Under moto's own
    backend lock, so that no other backend is made meanwhile; moto's random stream is left as it was."""
    import hashlib
    from unittest import mock

    import moto.ec2.utils
    from moto.core.base_backend import AccountSpecificBackend, backend_lock
    from moto.moto_api._internal import MotoRandom

    original = AccountSpecificBackend.__getitem__

    def getitem(self: Any, region_name: str) -> Any:
        if self.service_name != "ec2" or region_name in self.keys():
            return original(self, region_name)
        seed = hashlib.sha256(f"{self.account_id}/{region_name}".encode()).digest()
        with backend_lock, mock.patch.object(moto.ec2.utils, "random", MotoRandom(seed)):
            return original(self, region_name)

    return mock.patch.object(AccountSpecificBackend, "__getitem__", getitem)


_NETWORK = CountedPatches(lambda: [_stable_default_network_patch()])
