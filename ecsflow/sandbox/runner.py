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

With ``spot_interrupt_after`` (seconds; the sandbox's test switch, ``ecsflow.execution.SPOT_INTERRUPT_VARIABLE``)
a task on FARGATE_SPOT is interrupted that long after its process started, as Spot interrupts one: SIGTERM,
SIGKILL after the stop timeout, then STOPPED with ``stopCode: SpotInterruption``, ``stoppedReason: "Your
Spot Task was interrupted."`` and no exit code (the shape ECS gives). Tasks on FARGATE are never interrupted.

Nothing is executed unless the runner is made with ``execute=True`` (docs/design.md section 12: the sandbox executes a
command on this machine only when the user opts in, ``ecsflow.execution``): without it, a task that moto
starts is stopped before its process would start, without an exit code, ``stopCode: TaskFailedToStart`` and a
reason that says how to opt in.

Subnets are taken as given, or checked as ECS checks them with ``check_network=True``: see
``ecsflow.sandbox.moto_patches``, which hooks the runner into moto (runners nest: the innermost active one
runs new tasks). Only one container per task runs, the first (moto models only the first): a task with
sidecars runs its main service's command alone, which `ecsflow run` says.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsflow.ecs.tasks import log_target
from ecsflow.execution import runner_refusal
from ecsflow.sandbox.moto_patches import install, now, open_log_stream, take_over, uninstall

DEFAULT_STOP_TIMEOUT = 30.0  # ECS's default stopTimeout for Fargate
ESSENTIAL_EXITED = "Essential container in task exited"
SPOT_INTERRUPTED = "Your Spot Task was interrupted."  # ECS's stoppedReason (stopCode SpotInterruption)
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
    interrupted: bool = False  # by Spot (spot_interrupt_after): no exit code
    finished: bool = False
    logs: Any = None  # moto's logs backend of the awslogs region, once the stream exists
    last_timestamp: int = 0


class LocalTaskRunner:
    """Runs the tasks moto's ECS starts, as local processes, while active (``with LocalTaskRunner(...):``).

    ``workdir``: the folder commands run in (None: the current folder at the time the task starts); it may
    be changed between runs. ``execute``: run the commands at all (the user's opt-in; see the module's
    docstring); False: every task is stopped before it starts. ``environment``: variables given to every
    container below the definition's own (e.g. ``PYTHONPATH`` for job modules in a test). ``step_delay``:
    seconds spent in PROVISIONING and in PENDING, so that a poller can see them. ``stop_timeout``:
    SIGTERM-to-SIGKILL seconds when the container definition has no ``stopTimeout``. ``spot_interrupt_after``:
    seconds after which a FARGATE_SPOT task is interrupted (None: never; it may be changed between runs).
    """

    def __init__(
        self,
        workdir: Path | str | None = None,
        *,
        execute: bool = False,
        environment: Mapping[str, str] | None = None,
        check_network: bool = False,
        step_delay: float = 0.02,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        spot_interrupt_after: float | None = None,
    ) -> None:
        self.workdir = workdir
        self.execute = execute
        self.environment = dict(environment or {})
        self.check_network = check_network
        self.step_delay = step_delay
        self.stop_timeout = stop_timeout
        self.spot_interrupt_after = spot_interrupt_after
        self.runs: list[LocalRun] = []
        self.errors: list[str] = []  # unexpected runner failures (each also stops its task with a reason)
        self._jobs: dict[str, _Job] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.RLock()
        self._active = False

    # -- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> LocalTaskRunner:
        if not self._active:
            install(self)
            self._active = True
        return self

    def stop(self) -> None:
        """Deactivate: stop every task still running (its process is killed) and wait for their threads."""
        if not self._active:
            return
        try:
            self.stop_all("runner stopped", grace=1.0)
        finally:
            uninstall(self)
            self._active = False

    def __enter__(self) -> LocalTaskRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop_all(self, reason: str = "runner reset", grace: float = 1.0) -> None:
        """Stop every task this runner still runs (SIGTERM, then SIGKILL after ``grace`` s) and wait for them.
        A task asked to stop before (StopTask) is killed after ``grace`` s too: its own, longer, stop timeout
        runs on a daemon thread that would die with this process and leave the task's process behind."""
        with self._lock:
            jobs = [job for job in self._jobs.values() if not job.finished]
        for job in jobs:
            self._request_stop(job, reason, grace=grace)
        if not self.wait_idle(timeout=grace):
            for job in jobs:
                if job.process is not None:
                    _send(job.process, signal.SIGKILL)
        self.wait_idle(timeout=5)
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

    def owns(self, task_arn: str) -> bool:
        with self._lock:
            return task_arn in self._jobs

    # -- moto's calls (on the server's request thread) -------------------------------------------------------

    def adopt(self, backend: Any, task: Any, requested_network: dict | None) -> None:
        """A task moto has just created (on the server's request thread): take over its life, start its thread."""
        definition = take_over(backend, task, requested_network)
        run = LocalRun(task_arn=task.task_arn, family=definition.family,
                       container=definition.container_definitions[0].get("name") or "", argv=[], environment={},
                       cwd="")
        job = _Job(backend=backend, task=task, definition=definition, run=run)
        thread = threading.Thread(target=self._life, args=(job,), name=f"ecsflow-task-{task.id[:8]}", daemon=True)
        with self._lock:
            self._jobs[task.task_arn] = job
            self.runs.append(run)
            self._threads.append(thread)
        thread.start()

    def snapshot(self, task: Any) -> Any:
        """A copy of one of this runner's tasks (and of its containers), taken while no field changes."""
        with self._lock:
            copied = copy.copy(task)
            copied.containers = [copy.copy(container) for container in task.containers]
            return copied

    def stop_task(self, task: Any, reason: str | None) -> bool:
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
                task.pull_started_at = now()
            argv, env, cwd, notices = self._plan(job)
            run.argv, run.environment, run.cwd = argv, env, cwd
            self._open_log(job)
            if self._pause(job):
                return self._finish(job, None, job.stop_reason)
            if not self.execute:
                raise _CannotStart(runner_refusal())
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
                task.pull_stopped_at = now()
                task.started_at = now()
                for container in task.containers:
                    container.last_status = "RUNNING"
                task.last_status = "RUNNING"
                stop_now = job.stop_reason is not None
            if stop_now:
                self._signal(job, grace=self._grace(job))
            self._arm_spot_interruption(job)
            for notice in notices:
                self._log(job, notice)
            assert process.stdout is not None
            for raw in process.stdout:
                self._log(job, raw.decode("utf-8", errors="replace").rstrip("\r\n"))
            code = process.wait()
            self._finish(job, None if job.interrupted else 128 - code if code < 0 else code, None)
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

    def _arm_spot_interruption(self, job: _Job) -> None:
        after = self.spot_interrupt_after
        if after is None or getattr(job.task, "capacity_provider_name", None) != "FARGATE_SPOT":
            return

        timer = threading.Timer(after, self._request_stop, args=(job, SPOT_INTERRUPTED),
                                kwargs={"stop_code": "SpotInterruption"})
        timer.daemon = True
        timer.start()

    def _request_stop(self, job: _Job, reason: str, grace: float | None = None,
                      stop_code: str = "UserInitiated") -> None:
        with self._lock:
            if job.finished or job.stop_reason is not None:
                return
            job.stop_reason = reason
            job.interrupted = stop_code == "SpotInterruption"
            task = job.task
            task.desired_status = "STOPPED"
            task.stopped_reason = reason
            task.stop_code = stop_code
            task.stopping_at = now()
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
        stopped_at = now()
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
            task.stopping_at = getattr(task, "stopping_at", None) or stopped_at
            task.execution_stopped_at = stopped_at
            task.stopped_at = stopped_at
            task.desired_status = "STOPPED"
            task.last_status = "STOPPED"  # last: a reader that sees STOPPED sees the exit code and all logs
            job.finished = True
        run.done.set()

    # -- logs -----------------------------------------------------------------------------------------------

    def _open_log(self, job: _Job) -> None:
        target = log_target(job.definition.container_definitions[0], job.task.task_arn.rsplit("/", 1)[-1])
        if target is None:
            return
        job.logs = open_log_stream(job.backend, target.region or job.task.region_name, target.group, target.stream)
        job.run.log_group, job.run.log_stream = target.group, target.stream

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
# processes


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
