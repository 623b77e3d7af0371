"""Tasks in ECS, for `ecsflow run`: start one, follow it to STOPPED with its logs, stop it.

- ``ensure_cluster``, ``run_task``, ``describe_task`` (a ``TaskState``), ``stop_task``; ``tasks_started_by``
  (the tasks of one ``startedBy``, `run --idempotency-key`); RunTask refused for lack of capacity is a
  ``CapacityUnavailable``;
- ``follow_task`` (as ``FollowOptions`` say): status changes and new log lines until STOPPED (or a timeout);
  ``follow_to_end``: the same from RunTask's answer, and on a timeout or an interrupt the task stopped and
  followed until it is STOPPED (boundedly);
- ``log_target`` (where the awslogs driver writes a container's output) and ``LogTail`` (GetLogEvents by
  forward token).

boto3's `tasks_stopped` waiter cannot stream logs while it waits (it only sleeps and describes), so the wait
for a task's end is a plain loop: DescribeTasks, then the new log events, every `poll_interval` seconds; the
same loop, bounded, follows a task after StopTask, so that what it prints while it stops is shown. There is
no botocore paginator for GetLogEvents (its forward token never runs out), so `LogTail` pages by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ecsflow.ecs.errors import (
    aws_error,
    code_and_message,
    is_boto_error,
    run_failures_error,
    translated,
    unreadable_answer,
)
from ecsflow.errors import AwsError
from ecsflow.stops import is_capacity_failure

NOT_FOUND_GRACE = 30.0  # seconds during which a task DescribeTasks does not know yet is waited for
# ECS's task life cycle from RUNNING on (PROVISIONING, PENDING, ACTIVATING come before).
_RUNNING_OR_LATER = frozenset({"RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"})


@dataclass(frozen=True)
class TaskState:
    """What `ecsflow run` needs from a DescribeTasks answer. `exit_code` and `container_reason` are the
    essential container's (the one named `container`, else the first)."""

    arn: str
    last_status: str
    desired_status: str | None = None
    exit_code: int | None = None
    container_reason: str | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None
    started: bool = False  # it has a startedAt: it was RUNNING, whether or not a poll saw it
    capacity_provider: str | None = None  # FARGATE_SPOT, FARGATE; None with a launch type
    task_definition_arn: str | None = None
    created_at: Any = None  # DescribeTasks' createdAt (a datetime), to order tasks
    stopped_at: Any = None

    @property
    def task_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def stopped(self) -> bool:
        return self.last_status == "STOPPED"

    @property
    def reason(self) -> str | None:
        """Why the task stopped, most precise first: the container's own reason names what failed
        (CannotPullContainerError, OutOfMemoryError, ...) where the task's may only say it stopped."""
        parts = [r for r in (self.stopped_reason, self.container_reason) if r]
        if len(parts) == 2 and parts[1] != parts[0] and parts[1] not in parts[0]:
            return f"{parts[0]} ({parts[1]})"
        return parts[0] if parts else None


def task_state(task: Mapping[str, Any], container: str | None = None) -> TaskState:
    containers = task.get("containers") or []
    chosen = next((c for c in containers if c.get("name") == container), containers[0] if containers else {})
    return TaskState(
        arn=task["taskArn"],
        last_status=task.get("lastStatus") or "UNKNOWN",
        desired_status=task.get("desiredStatus"),
        exit_code=chosen.get("exitCode"),
        container_reason=chosen.get("reason") or None,
        stopped_reason=task.get("stoppedReason") or None,
        stop_code=task.get("stopCode") or None,
        started=bool(task.get("startedAt")),
        capacity_provider=task.get("capacityProviderName") or None,
        task_definition_arn=task.get("taskDefinitionArn") or None,
        created_at=task.get("createdAt"),
        stopped_at=task.get("stoppedAt"),
    )


def ensure_cluster(client: Any, cluster: str, *, create: bool = False) -> bool:
    """True when the cluster (a name or an ARN) is ACTIVE; with ``create`` (the sandbox) a missing one is
    created (True, too), named as the ARN names it, with the Fargate capacity providers. Without it a missing
    or inactive cluster is an ``AwsError``."""
    with translated(client):
        answer = client.describe_clusters(clusters=[cluster])
        if any(c.get("status") == "ACTIVE" for c in answer.get("clusters") or []):
            return True
        if create:
            client.create_cluster(clusterName=cluster_name(cluster), capacityProviders=["FARGATE", "FARGATE_SPOT"])
            return True
    raise AwsError(
        f"the ECS cluster '{cluster}' does not exist (or is not ACTIVE) in {client.meta.region_name}",
        hint="create it (`aws ecs create-cluster --cluster-name ...`), or choose another with --cluster, "
        "ECSFLOW_CLUSTER or x-ecsflow.cluster (`ecsflow config` shows where the value comes from)",
    )


def cluster_name(cluster: str) -> str:
    """A cluster's name, from its name or its ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`, as Terraform writes
    it into Consul)."""
    if cluster.startswith("arn:") and ":cluster/" in cluster:
        return cluster.rsplit(":cluster/", 1)[1]
    return cluster


def run_task(client: Any, request: Mapping[str, Any], container: str | None = None) -> TaskState:
    """Start one task (``request`` is RunTask's kwargs); its state as RunTask answered. A ``failures``
    answer, or an error, is an ``AwsError`` that says what ECS said and what to do."""
    try:
        answer = client.run_task(**request)
    except Exception as exc:
        if not is_boto_error(exc):
            raise
        error = aws_error(exc, client=client)
        code, _ = code_and_message(exc)
        if code in ("InvalidParameterException", "ClientException") and not error.hint:
            error.hint = ("check the network settings (subnets, security groups: `ecsflow config`) and that "
                          "they belong to one VPC in this region; check the cluster and the task definition")
        raise error from exc
    tasks = answer.get("tasks") or []
    if tasks:
        return task_state(_with_arn(client, "RunTask", tasks[0]), container)
    failures = answer.get("failures") or []
    error = run_failures_error(failures, request)
    if failures and all(is_capacity_failure(f.get("reason")) for f in failures):
        raise CapacityUnavailable(error.message, hint=error.hint)
    raise error


class CapacityUnavailable(AwsError):
    """RunTask started no task because there is no capacity now (``ecsflow.stops.is_capacity_failure``): worth
    trying again later, or on other capacity."""


def tasks_started_by(client: Any, cluster: str, started_by: str, desired_status: str,
                     container: str | None = None) -> list[TaskState]:
    """The tasks of the cluster started with ``started_by`` whose desired status is ``desired_status``
    (RUNNING: not asked to stop; STOPPED: stopping or stopped, for about an hour after), described, in the
    order they were created. ListTasks with startedBy and desiredStatus, as the Amazon provider's reattach
    lists them (one page: 100 tasks is more than one key ever has)."""
    with translated(client):
        arns = client.list_tasks(cluster=cluster, startedBy=started_by, desiredStatus=desired_status,
                                 maxResults=100).get("taskArns") or []
        if not arns:
            return []
        answer = client.describe_tasks(cluster=cluster, tasks=arns)
    states = [task_state(_with_arn(client, "DescribeTasks", task), container) for task in answer.get("tasks") or []]
    # (ListTasks may be a moment behind the tasks: what it listed is checked against what DescribeTasks says.)
    return sorted((s for s in states if s.desired_status == desired_status), key=_creation)


def _creation(state: TaskState) -> tuple[float, str]:
    when = state.created_at
    return (when.timestamp() if hasattr(when, "timestamp") else 0.0, state.arn)


def describe_task(client: Any, cluster: str, task_arn: str, container: str | None = None) -> TaskState:
    with translated(client):
        answer = client.describe_tasks(cluster=cluster, tasks=[task_arn])
    tasks = answer.get("tasks") or []
    if not tasks:
        reasons = ", ".join(str(f.get("reason")) for f in answer.get("failures") or []) or "not found"
        raise TaskNotFound(f"ECS does not know task {task_arn} in cluster '{cluster}' ({reasons})",
                           hint="ECS forgets stopped tasks after about an hour; check the cluster")
    return task_state(_with_arn(client, "DescribeTasks", tasks[0]), container)


def _with_arn(client: Any, operation: str, task: Mapping[str, Any]) -> Mapping[str, Any]:
    """A task of an answer, which must name it (the shape of the rest is checked: ``ecsflow.ecs.shapes``)."""
    if isinstance(task.get("taskArn"), str):
        return task
    raise aws_error(unreadable_answer(client, operation, "a task without its taskArn"), client=client)


class TaskNotFound(AwsError):
    """DescribeTasks does not know the task (MISSING): ECS is eventually consistent right after RunTask."""


def stop_task(client: Any, cluster: str, task_arn: str, reason: str) -> None:
    """Ask ECS to stop the task (SIGTERM, then SIGKILL after the container's stop timeout)."""
    with translated(client):
        client.stop_task(cluster=cluster, task=task_arn, reason=reason[:255])


@dataclass(frozen=True)
class LogTarget:
    """Where the awslogs driver writes a task's container output."""

    group: str
    stream: str
    region: str | None = None


def log_target(container_definition: Mapping[str, Any], task_id: str) -> LogTarget | None:
    """The awslogs group and stream (``PREFIX/CONTAINER/TASK_ID``) of a container, None without awslogs."""
    config = container_definition.get("logConfiguration") or {}
    options = config.get("options") or {}
    if config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
        return None
    prefix = options.get("awslogs-stream-prefix")
    name = container_definition.get("name")
    stream = f"{prefix}/{name}/{task_id}" if prefix else task_id
    return LogTarget(options["awslogs-group"], stream, options.get("awslogs-region"))


class LogTail:
    """New events of one log stream, each read once, in order: GetLogEvents from the head, then from the
    last ``nextForwardToken``. A stream that does not exist yet (the container has not started) has none."""

    max_pages = 100  # per read: 100 pages of up to 10,000 events; the rest comes at the next read

    def __init__(self, client: Any, target: LogTarget, limit: int | None = None) -> None:
        self.client, self.target, self.limit = client, target, limit
        self._token: str | None = None

    def read(self) -> list[str]:
        from botocore.exceptions import ClientError

        lines: list[str] = []
        for _ in range(self.max_pages):
            kwargs: dict[str, Any] = {"logGroupName": self.target.group, "logStreamName": self.target.stream,
                                      "startFromHead": True}
            if self._token:
                kwargs["nextToken"] = self._token
            if self.limit:
                kwargs["limit"] = self.limit
            with translated(self.client):
                try:
                    page = self.client.get_log_events(**kwargs)
                except ClientError as exc:
                    if code_and_message(exc)[0] == "ResourceNotFoundException":
                        return lines
                    raise
            lines.extend(str(event.get("message", "")).rstrip("\n") for event in page.get("events") or [])
            token = page.get("nextForwardToken")
            # The end of the stream: the token comes back unchanged (pages may be empty before that).
            done = not token or token == self._token
            self._token = token or self._token
            if done:
                break
        return lines


@dataclass(frozen=True)
class FollowOptions:
    """How ``follow_task`` follows a task: the essential ``container``; the ``tail`` of its log (None: no
    logs); seconds between polls; ``settle`` seconds to wait for the last log lines after STOPPED (CloudWatch
    Logs may show them a moment later); what to call with each status change, the new log lines, a note, a
    warning."""

    container: str | None = None
    tail: LogTail | None = None
    poll_interval: float = 2.0
    settle: float = 0.0
    on_status: Callable[[TaskState], None] = lambda state: None
    on_lines: Callable[[list[str]], None] = lambda lines: None
    on_note: Callable[[str], None] = lambda message: None
    on_warning: Callable[[str], None] = lambda message: None


def follow_task(
    client: Any,
    cluster: str,
    task_arn: str,
    how: FollowOptions,
    *,
    timeout: float | None = None,
    known_status: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[TaskState, bool]:
    """Poll the task until it is STOPPED, reporting each status change and the new log lines as they come.
    A task seen STOPPED that has a ``startedAt`` but was never seen RUNNING is reported RUNNING first.

    Returns ``(state, timed_out)``: ``timed_out`` is True when ``timeout`` seconds passed first (the task is
    left running: the caller decides). After STOPPED the log is read to its end, and once more after
    ``how.settle`` seconds. A log that cannot be read (no permission) is a warning, and the task is still
    followed. ``known_status`` is the status already reported (RunTask's answer), so it is not reported twice."""
    container, tail, poll_interval, settle = how.container, how.tail, how.poll_interval, how.settle
    on_status, on_lines, on_warning = how.on_status, how.on_lines, how.on_warning
    deadline = clock() + timeout if timeout is not None else None
    last_status = known_status

    def read_logs() -> None:
        nonlocal tail
        if tail is None:
            return
        try:
            lines = tail.read()
        except AwsError as error:
            on_warning(f"cannot read the task's logs, no more are shown: {error.message}")
            tail = None
            return
        if lines:
            on_lines(lines)

    started = clock()
    while True:
        try:
            state = describe_task(client, cluster, task_arn, container)
        except TaskNotFound:
            # Just after RunTask, DescribeTasks may not know the task yet: give it a while, not forever.
            if clock() - started > NOT_FOUND_GRACE:
                raise
            sleep(poll_interval)
            continue
        if state.last_status != last_status:
            if state.stopped and state.started and last_status not in _RUNNING_OR_LATER:
                # It ran between two polls (a short job, a slow poll): say so, as ECS's startedAt does.
                on_status(replace(state, last_status="RUNNING", exit_code=None, container_reason=None,
                                  stopped_reason=None, stop_code=None))
            last_status = state.last_status
            on_status(state)
        read_logs()
        if state.stopped:
            if settle > 0 and tail is not None:
                sleep(settle)
                read_logs()
            return state, False
        now = clock()
        if deadline is not None and now >= deadline:
            return state, True
        sleep(poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - now)))


def follow_to_end(client: Any, cluster: str, started: TaskState, how: FollowOptions, *, timeout: float | None,
                  stop_timeout: float) -> tuple[TaskState, bool]:
    """``follow_task`` from RunTask's answer, as `ecsflow run` follows its task: ``(state, timed_out)``.

    When ``timeout`` seconds pass first, or on KeyboardInterrupt (Ctrl-C, or SIGTERM made one), the task is
    asked to stop, as ECS stops one (SIGTERM, then SIGKILL after ``stop_timeout``, the container's stop
    timeout) and followed, with its last log lines, until it is STOPPED, for at most ``stop_timeout`` and
    ``STOP_MARGIN`` seconds; then the interrupt propagates. No task outlives its `ecsflow run` unannounced: a
    second interrupt ends the wait at once, and the note says that ECS goes on stopping the task."""
    seen = [started.last_status]  # the last status reported, so that the wait after a stop does not repeat it
    report = how.on_status
    how = replace(how, on_status=lambda state: (seen.append(state.last_status), report(state)))
    try:
        final, timed_out = follow_task(client, cluster, started.arn, how, timeout=timeout,
                                       known_status=started.last_status)
    except KeyboardInterrupt:
        how.on_warning(f"interrupted: asking ECS to stop task {started.task_id}")
        _stop_and_wait(client, cluster, started, how, "ecsflow run: interrupted (Ctrl-C or SIGTERM)", stop_timeout,
                       seen[-1])
        raise
    if not timed_out:
        return final, False
    how.on_warning(f"--timeout of {timeout:g} s reached: stopping task {started.task_id}")
    final = _stop_and_wait(client, cluster, started, how, f"ecsflow run: --timeout of {timeout:g} s reached",
                           stop_timeout, final.last_status)
    return final, True


STOP_MARGIN = 30.0  # seconds, beyond the stop timeout, that ECS may take to show a killed task STOPPED


def _stop_and_wait(client: Any, cluster: str, started: TaskState, how: FollowOptions, reason: str,
                   stop_timeout: float, known_status: str | None) -> TaskState:
    stop_task(client, cluster, started.arn, reason)
    wait = stop_timeout + STOP_MARGIN
    how.on_note(f"task {started.task_id} was asked to stop ({reason}): waiting up to {wait:g} s for it to stop "
                f"(SIGTERM, then SIGKILL after {stop_timeout:g} s); Ctrl-C again stops waiting")
    final, timed_out = follow_task(client, cluster, started.arn, how, timeout=wait, known_status=known_status)
    if timed_out:
        how.on_warning(f"task {started.task_id} has not stopped after {wait:g} s; ECS goes on stopping it")
    return final
