"""The local task runner: makes moto's ECS tasks run, stop and log, for ``--sandbox`` and for the tests.

moto 5 models ECS's API, not its agent: a Fargate ``RunTask`` fails when containers have no memory of their
own (moto sums container memory), its tasks never leave RUNNING by themselves except one step per
DescribeTasks call, their containers stay PENDING with ``exitCode: 0`` for ever, and nothing is written to
CloudWatch Logs. While a ``LocalTaskRunner`` is active, every task that moto's ``run_task`` creates (in
this process: the in-process ``mock_aws`` of the sandbox, or a ``ThreadedMotoServer`` of the tests, which
shares the same backends) is given the life of a real one:

- ``lastStatus`` PROVISIONING (the RunTask answer) -> PENDING -> RUNNING -> STOPPED, with ``createdAt``,
  ``pullStartedAt``, ``pullStoppedAt``, ``startedAt``, ``stoppingAt``, ``executionStoppedAt`` and ``stoppedAt``;
  moto's own DescribeTasks-driven progression is switched off for these tasks;
- the first container's command runs as a LOCAL SUBPROCESS: there is no Docker engine, so the image is
  ignored and the command (``entryPoint`` + ``command``, the run's ``containerOverrides`` command replacing
  ``command``) runs on this machine, in ``workdir`` (the sandbox: the compose project's folder). ``python``
  and ``python3`` as the executable mean the interpreter running ecsflow. Its environment is a container's:
  a few variables from this machine that a process needs to start (``PATH``, ``HOME``, locale, temp dir),
  ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_EXECUTION_ENV=AWS_ECS_FARGATE``, ``PYTHONUNBUFFERED=1``,
  then the runner's ``environment``, the definition's ``environment``, the overrides' ``environment``.
  Secrets are never resolved: their variables are not set, and the log stream says so in its first line;
- each line of stdout and stderr (merged, as the awslogs driver sends both) becomes one CloudWatch Logs event
  in moto's logs backend, group ``awslogs-group`` (created when missing), stream
  ``awslogs-stream-prefix/CONTAINER/TASK_ID``, in order, as it is printed; empty lines are skipped
  (CloudWatch Logs refuses empty events). Every line is written before the task shows STOPPED;
- the process's exit gives the container its ``exitCode`` (a signal N gives 128+N, as Docker reports it),
  the task ``stopCode: EssentialContainerExited`` and ``stoppedReason: "Essential container in task exited"``;
- a command that cannot be started (executable not found, not executable, no command at all) stops the task
  without an exit code, ``stopCode: TaskFailedToStart`` and a ``CannotStartContainerError: ...`` reason, as
  ECS reports a container that its runtime could not start;
- ``StopTask`` asks the task to stop as ECS does (``desiredStatus`` STOPPED, ``stopCode: UserInitiated``,
  the given reason): SIGTERM to the process group, SIGKILL after the container's ``stopTimeout`` (default
  ``stop_timeout``), then STOPPED with the exit code (143 for a process that SIGTERM ended).

Networking: moto creates an ENI for an awsvpc task in the first requested subnet, so a subnet moto's EC2
does not know fails the call (and one in a VPC without DNS hostnames did too: the runner gives moto's ENI a
default private DNS name of None). With ``check_network=False`` (the sandbox, and the test endpoint by default),
subnet ids are taken as given: when moto does not know the first one, the ENI goes to moto's default subnet
and the task still shows the requested subnet; security groups are never checked (moto does not either).
With ``check_network=True`` an unknown subnet is an ``InvalidParameterException``, as real ECS answers.
An empty subnet list is an ``InvalidParameterException`` either way.

Only one container per task runs (moto models only the first; ecsflow's task definitions have one). The
runner patches moto's ``EC2ContainerServiceBackend`` class while active; runners nest (the innermost active
one runs new tasks), so a sandbox opened inside a test that has an endpoint running still works.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_STOP_TIMEOUT = 30.0  # ECS's default stopTimeout for Fargate
ESSENTIAL_EXITED = "Essential container in task exited"
# What the container's process inherits from this machine: only what a process needs to start and to find
# its executable. Nothing else (not the sandbox's fake AWS credentials, not the user's shell variables).
_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT",
              "COMSPEC", "PATHEXT", "WINDIR")
_PYTHON_NAMES = ("python", "python3")
_MAX_EVENT_CHARS = 256 * 1024 - 26  # CloudWatch Logs: 256 KiB per event, 26 bytes of which are overhead


@dataclass
class LocalRun:
    """What the runner did for one task (for tests and for the curious): the process it ran and its end."""

    task_arn: str
    family: str
    container: str
    argv: list[str]
    environment: dict[str, str]
    cwd: str
    log_group: str | None = None
    log_stream: str | None = None
    lines: list[str] = field(default_factory=list)
    exit_code: int | None = None
    reason: str | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)


class _CannotStart(Exception):
    """The container cannot be started: the task stops without an exit code, with this reason."""


@dataclass
class _Job:
    backend: Any
    task: Any
    definition: Any
    run: LocalRun
    process: subprocess.Popen | None = None
    stop_reason: str | None = None
    finished: bool = False
    logs: Any = None  # moto's logs backend of the awslogs region, once the stream exists
    last_timestamp: int = 0


class LocalTaskRunner:
    """Runs the tasks moto's ECS starts, as local processes, while active (``with LocalTaskRunner(...):``).

    ``workdir``: the folder commands run in (None: the current folder at the time the task starts); it may
    be changed between runs. ``environment``: variables given to every container below the definition's own
    (e.g. ``PYTHONPATH`` for job modules in a test). ``step_delay``: seconds spent in PROVISIONING and in
    PENDING, so that a poller can see them. ``stop_timeout``: SIGTERM-to-SIGKILL seconds when the container
    definition has no ``stopTimeout``.
    """

    def __init__(
        self,
        workdir: Path | str | None = None,
        *,
        environment: Mapping[str, str] | None = None,
        check_network: bool = False,
        step_delay: float = 0.02,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
    ) -> None:
        self.workdir = workdir
        self.environment = dict(environment or {})
        self.check_network = check_network
        self.step_delay = step_delay
        self.stop_timeout = stop_timeout
        self.runs: list[LocalRun] = []
        self.errors: list[str] = []  # unexpected runner failures (each also stops its task with a reason)
        self._jobs: dict[str, _Job] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.RLock()
        self._active = False

    # -- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> LocalTaskRunner:
        if not self._active:
            _install(self)
            self._active = True
        return self

    def stop(self) -> None:
        """Deactivate: stop every task still running (its process is killed) and wait for their threads."""
        if not self._active:
            return
        try:
            self.stop_all("runner stopped", grace=1.0)
        finally:
            _uninstall(self)
            self._active = False

    def __enter__(self) -> LocalTaskRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop_all(self, reason: str = "runner reset", grace: float = 1.0) -> None:
        """Stop every task this runner still runs (SIGTERM, then SIGKILL after ``grace`` s) and wait for them."""
        with self._lock:
            jobs = [job for job in self._jobs.values() if not job.finished]
        for job in jobs:
            self._request_stop(job, reason, grace=grace)
        self.wait_idle(timeout=grace + 5)
        with self._lock:
            self._jobs = {arn: job for arn, job in self._jobs.items() if not job.finished}

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every task started so far has stopped; False when some still run after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            return not self._threads

    def run_for(self, task_arn: str) -> LocalRun | None:
        with self._lock:
            return next((run for run in self.runs if run.task_arn == task_arn), None)

    # -- moto's calls (on the server's request thread) -------------------------------------------------------

    def _network_for_moto(self, backend: Any, config: dict | None) -> dict | None:
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
            if self.check_network:
                raise InvalidParameterException(
                    f"Error retrieving subnet information for [{subnets[0]}]: "
                    f"The subnet ID '{subnets[0]}' does not exist"
                )
            vpc["subnets"] = [_default_subnet_id(ec2), *subnets[1:]]
        return {**config, "awsvpcConfiguration": vpc}

    def _adopt(self, backend: Any, task: Any, requested_network: dict | None) -> None:
        """A task moto has just created: take over its life (moto's progression off), start its thread."""
        now = _now()
        definition = backend.describe_task_definition(task.task_definition_arn)
        task._transitions = []  # moto's ManagedState: no DescribeTasks-driven progression for this task
        task.last_status = "PROVISIONING"
        task.desired_status = "RUNNING"
        task.created_at = now
        task.stop_code = None
        container_definition = definition.container_definitions[0]
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
        run = LocalRun(task_arn=task.task_arn, family=definition.family,
                       container=container_definition.get("name") or "", argv=[], environment={}, cwd="")
        job = _Job(backend=backend, task=task, definition=definition, run=run)
        thread = threading.Thread(target=self._life, args=(job,), name=f"ecsflow-task-{task.id[:8]}", daemon=True)
        with self._lock:
            self._jobs[task.task_arn] = job
            self.runs.append(run)
            self._threads.append(thread)
        thread.start()

    def _stop_task(self, task: Any, reason: str | None) -> bool:
        """moto's stop_task for a task of ours: ask it to stop; False when the task is not ours."""
        with self._lock:
            job = self._jobs.get(task.task_arn)
        if job is None:
            return False
        self._request_stop(job, reason or "Task stopped by user")
        return True

    # -- one task's life (on its own thread) -----------------------------------------------------------------

    def _life(self, job: _Job) -> None:
        task, run = job.task, job.run
        try:
            if self._pause(job):
                return self._finish(job, None, job.stop_reason)
            with self._lock:
                task.last_status = "PENDING"
                task.pull_started_at = _now()
            argv, env, cwd, notices = self._plan(job)
            run.argv, run.environment, run.cwd = argv, env, cwd
            self._open_log(job)
            if self._pause(job):
                return self._finish(job, None, job.stop_reason)
            try:
                process = subprocess.Popen(
                    argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT, start_new_session=(os.name == "posix"),
                )
            except FileNotFoundError as exc:
                raise _CannotStart(f'exec: "{argv[0]}": executable file not found in $PATH') from exc
            except PermissionError as exc:
                raise _CannotStart(f'exec: "{argv[0]}": permission denied') from exc
            with self._lock:
                job.process = process
                task.pull_stopped_at = _now()
                task.started_at = _now()
                for container in task.containers:
                    container.last_status = "RUNNING"
                task.last_status = "RUNNING"
                stop_now = job.stop_reason is not None
            if stop_now:
                self._signal(job, grace=self._grace(job))
            for notice in notices:
                self._log(job, notice)
            assert process.stdout is not None
            for raw in process.stdout:
                self._log(job, raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            code = process.wait()
            self._finish(job, 128 - code if code < 0 else code, None)
        except _CannotStart as exc:
            self._finish(job, None, f"CannotStartContainerError: {exc}", start_failed=True)
        except Exception as exc:  # noqa: BLE001 - a runner bug or a moto reset: stop the task, say why
            if job.process is not None:
                _send(job.process, signal.SIGKILL)
            self.errors.append(f"{task.task_arn}: {type(exc).__name__}: {exc}")
            self._finish(job, None, f"ecsflow local runner error: {type(exc).__name__}: {exc}")

    def _pause(self, job: _Job) -> bool:
        """Wait one step; True when a stop was asked meanwhile."""
        end = time.monotonic() + self.step_delay
        while time.monotonic() < end:
            if job.stop_reason is not None:
                return True
            time.sleep(min(0.01, max(0.0, end - time.monotonic())))
        return job.stop_reason is not None

    def _plan(self, job: _Job) -> tuple[list[str], dict[str, str], str, list[str]]:
        """argv, environment, folder, and the notices to log first."""
        definition, task = job.definition, job.task
        container = definition.container_definitions[0]
        name = container.get("name")
        entry = list(container.get("entryPoint") or [])
        command = list(container.get("command") or [])
        environment = {e["name"]: e.get("value", "") for e in container.get("environment") or []}
        for override in (task.overrides or {}).get("containerOverrides") or []:
            if override.get("name") != name:
                continue
            if override.get("command") is not None:
                command = list(override["command"])
            environment.update({e["name"]: e.get("value", "") for e in override.get("environment") or []})
        argv = entry + command
        if not argv:
            raise _CannotStart(
                "the container has no entryPoint or command, and the local runner has no image to take the "
                "default command from; give the service a `command`"
            )
        if argv[0] in _PYTHON_NAMES:
            argv[0] = sys.executable
        region = task.region_name
        env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
        env.update({"AWS_REGION": region, "AWS_DEFAULT_REGION": region, "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
                    "PYTHONUNBUFFERED": "1"})
        env.update(self.environment)
        env.update(environment)
        notices = []
        secrets = [s.get("name") for s in container.get("secrets") or []]
        if secrets:
            notices.append(
                "[ecsflow local runner] secrets are not resolved here; not set: " + ", ".join(secrets)
            )
        cwd = Path(self.workdir) if self.workdir is not None else Path.cwd()
        if not cwd.is_dir():
            raise _CannotStart(f"the local runner's working folder {cwd} does not exist")
        return argv, env, str(cwd), notices

    def _grace(self, job: _Job) -> float:
        timeout = job.definition.container_definitions[0].get("stopTimeout")
        return float(timeout) if timeout is not None else self.stop_timeout

    def _request_stop(self, job: _Job, reason: str, grace: float | None = None) -> None:
        with self._lock:
            if job.finished or job.stop_reason is not None:
                return
            job.stop_reason = reason
            task = job.task
            task.desired_status = "STOPPED"
            task.stopped_reason = reason
            task.stop_code = "UserInitiated"
            task.stopping_at = _now()
            running = job.process is not None
        if running:
            self._signal(job, grace=self._grace(job) if grace is None else grace)

    def _signal(self, job: _Job, grace: float) -> None:
        """SIGTERM now, SIGKILL after ``grace`` seconds if the process is still there (on a timer thread)."""
        process = job.process
        if process is None:
            return
        _send(process, signal.SIGTERM)

        def kill() -> None:
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _send(process, signal.SIGKILL)

        threading.Thread(target=kill, name="ecsflow-task-kill", daemon=True).start()

    def _finish(self, job: _Job, exit_code: int | None, reason: str | None, start_failed: bool = False) -> None:
        task, run = job.task, job.run
        now = _now()
        with self._lock:
            run.exit_code, run.reason = exit_code, reason
            for container in task.containers:
                container.exitCode = exit_code
                if exit_code is None and reason:
                    container.reason = reason
                container.last_status = "STOPPED"
            if job.stop_reason is not None:
                task.stopped_reason = job.stop_reason  # StopTask's reason; stopCode UserInitiated
            elif start_failed or exit_code is None:
                task.stop_code = "TaskFailedToStart"
                task.stopped_reason = reason
            else:
                task.stop_code = "EssentialContainerExited"
                task.stopped_reason = ESSENTIAL_EXITED
            task.stopping_at = getattr(task, "stopping_at", None) or now
            task.execution_stopped_at = now
            task.stopped_at = now
            task.desired_status = "STOPPED"
            task.last_status = "STOPPED"  # last: a reader that sees STOPPED sees the exit code and all logs
            job.finished = True
        run.done.set()

    # -- logs -----------------------------------------------------------------------------------------------

    def _open_log(self, job: _Job) -> None:
        container = job.definition.container_definitions[0]
        config = container.get("logConfiguration") or {}
        if config.get("logDriver") != "awslogs":
            return
        options = config.get("options") or {}
        group = options.get("awslogs-group")
        if not group:
            return
        prefix = options.get("awslogs-stream-prefix")
        task_id = job.task.task_arn.rsplit("/", 1)[-1]
        stream = f"{prefix}/{container.get('name')}/{task_id}" if prefix else task_id
        logs = _logs_backend(job.backend, options.get("awslogs-region") or job.task.region_name)
        if group not in logs.groups:
            try:
                logs.create_log_group(group, {})
            except Exception:  # noqa: BLE001 - created meanwhile by someone else
                if group not in logs.groups:
                    raise
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        job.run.log_group, job.run.log_stream, job.logs = group, stream, logs

    def _log(self, job: _Job, line: str) -> None:
        run = job.run
        run.lines.append(line)
        if not line or job.logs is None:
            return
        # Never earlier than the line before: CloudWatch Logs orders a stream by timestamp.
        job.last_timestamp = timestamp = max(int(time.time() * 1000), job.last_timestamp)
        for start in range(0, len(line), _MAX_EVENT_CHARS):
            job.logs.put_log_events(run.log_group, run.log_stream,
                                    [{"timestamp": timestamp, "message": line[start:start + _MAX_EVENT_CHARS]}])


# ---------------------------------------------------------------------------------------------------------
# moto helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _send(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(process.pid, sig)  # the whole group: a shell's children too
        elif sig == signal.SIGTERM:
            process.terminate()
        else:
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass


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

_STACK: list[LocalTaskRunner] = []
_STACK_LOCK = threading.Lock()
_PATCHES: list[Any] = []


def _install(runner: LocalTaskRunner) -> None:
    with _STACK_LOCK:
        if not _STACK:
            _PATCHES[:] = _make_patches()
            for patch in _PATCHES:
                patch.start()
        _STACK.append(runner)


def _uninstall(runner: LocalTaskRunner) -> None:
    with _STACK_LOCK:
        if runner in _STACK:
            _STACK.remove(runner)
        if not _STACK:
            for patch in reversed(_PATCHES):
                patch.stop()
            _PATCHES.clear()


def _current() -> LocalTaskRunner | None:
    with _STACK_LOCK:
        return _STACK[-1] if _STACK else None


def _owner(task_arn: str) -> LocalTaskRunner | None:
    with _STACK_LOCK:
        runners = list(reversed(_STACK))
    for runner in runners:
        with runner._lock:
            if task_arn in runner._jobs:
                return runner
    return None


def _make_patches() -> list[Any]:
    from unittest import mock

    from moto.ecs.models import EC2ContainerServiceBackend

    original_run = EC2ContainerServiceBackend.run_task
    original_stop = EC2ContainerServiceBackend.stop_task
    original_requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def run_task(self: Any, cluster_str: str, task_definition_str: str, count: int, overrides: Any,
                 started_by: str, tags: Any, launch_type: str | None, networking_configuration: Any = None,
                 *args: Any, **kwargs: Any) -> list[Any]:
        runner = _current()
        if runner is None:
            return original_run(self, cluster_str, task_definition_str, count, overrides, started_by, tags,
                                launch_type, networking_configuration, *args, **kwargs)
        requested = _normalised_request_network(networking_configuration)
        network = runner._network_for_moto(self, requested)
        tasks = original_run(self, cluster_str, task_definition_str, count, overrides, started_by, tags,
                             launch_type, network, *args, **kwargs)
        for task in tasks:
            runner._adopt(self, task, requested)
        return tasks

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        task = _find_task(self, cluster_str, task_str)
        if task is not None:
            runner = _owner(task.task_arn)
            if runner is not None and runner._stop_task(task, reason):
                return task
        return original_stop(self, cluster_str, task_str, reason)

    def requirements(task_definition: Any) -> dict[str, Any]:
        # Fargate sizes the task, not the containers: moto's sum of container memory (int += None) fails.
        if any(c.get("memory") is None and c.get("memoryReservation") is None and c.get("Memory") is None
               and c.get("MemoryReservation") is None for c in task_definition.container_definitions):
            return {"CPU": int(task_definition.cpu or 0), "MEMORY": int(task_definition.memory or 0),
                    "PORTS": [], "PORTS_UDP": []}
        return original_requirements(task_definition)

    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    return [
        # moto's Task reads the ENI's private DNS name, which moto only sets in a VPC with DNS hostnames
        # enabled (ECS needs no such thing): without a default, RunTask in such a VPC is a 500.
        mock.patch.object(NetworkInterface, "private_dns_name", None, create=True),
        mock.patch.object(EC2ContainerServiceBackend, "run_task", run_task),
        mock.patch.object(EC2ContainerServiceBackend, "stop_task", stop_task),
        mock.patch.object(EC2ContainerServiceBackend, "_calculate_task_resource_requirements",
                          staticmethod(requirements)),
    ]


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

