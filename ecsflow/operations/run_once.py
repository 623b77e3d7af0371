"""`ecsflow run`'s task, once: attach to the task an idempotency key already runs, or start one (again, a
bounded number of times, while ECS has no capacity), follow it to its end, and start it once more on FARGATE
(on-demand) when Spot interrupted it.

The rules, each here once:

- **Idempotency key** (``--idempotency-key KEY``): the task is started with ``startedBy=KEY``. Before that,
  ListTasks(startedBy=KEY, desiredStatus=RUNNING): a task that is running (or starting) is attached to
  instead: followed with its logs, its exit code the run's. A task of another family under the key is an
  error, not a task to attach to. A task with the key that has stopped (a run that finished, for about an
  hour after, while ECS still lists it) is said, then a new task is started: the key keeps two copies of a job
  from running at once, as the Amazon provider's reattach does (it lists RUNNING tasks only); it does not turn
  a job that already ran into a no-op, which a re-run after a failure must not be, and which ECS forgets
  after an hour anyway. Two runs with one key at once: both may list nothing and start a task (the window is
  from ListTasks to the new task appearing in ListTasks, ECS being eventually consistent). Each run lists the
  key's tasks again right after RunTask: the oldest task (createdAt, then ARN) is kept, and a run whose task
  is not the oldest stops its own (just started, normally before its container runs) and follows the oldest.
- **Capacity** (RunTask's failures "Capacity is unavailable at this time", ``RESOURCE:*``): on FARGATE_SPOT
  with the fallback, the task is started on FARGATE at once; otherwise RunTask is tried again after a
  jittered exponential backoff, ``CAPACITY_BACKOFF.attempts`` times in all, then the run fails (exit 1).
- **Spot interruption** (DescribeTasks: ``stopCode: SpotInterruption``, no exit code): with the fallback (the
  default; ``--no-spot-fallback`` or ``x-ecsflow.spot_fallback: false`` turn it off) the task is started
  again, once, on FARGATE, with the same overrides and key, and the run's result is that task's; without
  it, the interruption is the result (exit 1).
- ``--timeout`` is the whole run's: a second task gets what is left of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecsflow.ecs.register import Backoff
from ecsflow.errors import AwsError, EcsflowError
from ecsflow.runtask import ON_DEMAND, SPOT, capacity_provider_strategy
from ecsflow.stops import CAPACITY, SPOT_INTERRUPTION

if TYPE_CHECKING:
    from ecsflow.ecs.client import Ecs
    from ecsflow.ecs.tasks import FollowOptions, TaskState


# RunTask refused for lack of capacity: five attempts in all, with waits of 2.5-5, 5-10, 10-20 and 20-40 s
# between them (at most 75 s): Fargate's capacity comes back within minutes, not seconds.
CAPACITY_BACKOFF = Backoff(attempts=5, base=5.0, cap=40.0)


@dataclass(frozen=True)
class Interrupted:
    """A task of this run that Spot interrupted (and that a task on FARGATE replaced)."""

    task_arn: str
    capacity_provider: str | None
    stop_code: str | None
    stopped_reason: str | None

    def to_json(self) -> dict[str, Any]:
        return {"task_arn": self.task_arn, "capacity_provider": self.capacity_provider,
                "stop_code": self.stop_code, "stopped_reason": self.stopped_reason}


@dataclass(frozen=True)
class OnceOptions:
    """How one run places and follows its task: RunTask's kwargs (with the revision to run), the container
    definition, the key, whether Spot falls back, ``--timeout``, whether to wait at all, and how to follow a
    task (``follow(state, container_definition)``: its FollowOptions)."""

    request: Mapping[str, Any]
    container_definition: Mapping[str, Any]
    family: str
    follow: Callable[[TaskState, Mapping[str, Any]], FollowOptions]
    idempotency_key: str | None = None
    spot_fallback: bool = True
    timeout: float | None = None
    wait: bool = True
    capacity_backoff: Backoff | None = None  # None: CAPACITY_BACKOFF
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class Once:
    """What became of the run's task: its last state, and how it got there."""

    state: TaskState
    timed_out: bool = False
    attached: bool = False  # an earlier run's task (the idempotency key's) was followed, none was started
    interrupted: tuple[Interrupted, ...] = ()
    capacity_retries: int = 0  # RunTask calls refused for lack of capacity, and tried again
    capacity_provider: str | None = None  # of the last task: FARGATE_SPOT, FARGATE (None: a launch type)


def run_once(ecs: Ecs, how: OnceOptions, message: Callable[[str, str], None],
             on_status: Callable[[Any], None]) -> Once:
    """Attach or start (see the module's docstring), then follow to the end, falling back from Spot once."""
    cluster = how.request["cluster"]
    request = dict(how.request)
    state, attached, retries = None, False, 0
    if how.idempotency_key:
        state = _running_with_key(ecs, how, message)
        attached = state is not None
    if state is None:
        state, request, retries = _start(ecs, request, how, message)
        if how.idempotency_key:
            state, attached = _settle_a_race(ecs, how, state, message)
    on_status(state)
    if not how.wait:
        return Once(state, attached=attached, capacity_retries=retries, capacity_provider=_provider(request, state))
    deadline = None if how.timeout is None else time.monotonic() + how.timeout
    definition = how.container_definition if not attached else _definition_of(ecs, state, how)
    interrupted: list[Interrupted] = []
    while True:
        # (the first task has the whole --timeout; one started after it what is left)
        left = how.timeout if deadline is None or not interrupted else max(0.001, deadline - time.monotonic())
        follow = how.follow(state, definition)
        state, timed_out = ecs.follow_to_end(cluster, state, follow, timeout=left,
                                             stop_timeout=float(definition.get("stopTimeout") or 30))
        provider = _provider(request, state)
        spot_stop = state.stopped and not timed_out and state.stop_code == SPOT_INTERRUPTION and provider == SPOT
        if not (spot_stop and how.spot_fallback and not interrupted):
            return Once(state, timed_out=timed_out, attached=attached, interrupted=tuple(interrupted),
                        capacity_retries=retries, capacity_provider=provider)
        interrupted.append(Interrupted(state.arn, provider, state.stop_code, state.stopped_reason))
        message("warning", f"task {state.task_id} was interrupted by Spot ({state.stop_code}: "
                f"{state.reason or 'no reason given'}): starting it again, once, on {ON_DEMAND} (on-demand)")
        state, request, more = _start(ecs, _on_demand(request), how, message)
        retries += more
        definition = how.container_definition
        on_status(state)


def _provider(request: Mapping[str, Any], state: TaskState) -> str | None:
    """The capacity provider a task runs on: as DescribeTasks says, else as it was asked for."""
    return state.capacity_provider or _requested_provider(request)


def _requested_provider(request: Mapping[str, Any]) -> str | None:
    strategy = request.get("capacityProviderStrategy") or []
    return strategy[0].get("capacityProvider") if strategy else None


def _on_demand(request: Mapping[str, Any]) -> dict[str, Any]:
    """The same RunTask on FARGATE: the capacity provider strategy's (the cluster has both providers, as
    the Airflow tasks' retries need too), a new clientToken (botocore fills it: a new task)."""
    return {**request, "capacityProviderStrategy": capacity_provider_strategy(ON_DEMAND)}


def _start(ecs: Ecs, request: dict[str, Any], how: OnceOptions,
           message: Callable[[str, str], None]) -> tuple[TaskState, dict[str, Any], int]:
    """RunTask, again while ECS has no capacity (or once on FARGATE, from Spot): the task, the request that
    started it, the retries."""
    from ecsflow.ecs.tasks import CapacityUnavailable

    backoff = how.capacity_backoff or CAPACITY_BACKOFF
    container = how.container_definition["name"]
    retries = 0
    while True:
        try:
            return ecs.run_task(request, container), request, retries
        except CapacityUnavailable as error:
            if _requested_provider(request) == SPOT and how.spot_fallback:
                message("warning", f"no {SPOT} capacity ({error.message}): starting the task on {ON_DEMAND} "
                        "(on-demand) instead")
                request = _on_demand(request)
                continue
            retries += 1
            if retries >= backoff.attempts:
                raise AwsError(f"{error.message} ({CAPACITY}: RunTask was tried {retries} times)",
                               hint=error.hint) from None
            wait = backoff.delay(retries)
            message("note", f"no capacity to start the task ({error.message}): trying again in {wait:.0f} s "
                    f"({retries + 1} of {backoff.attempts})")
            how.sleep(wait)


def _running_with_key(ecs: Ecs, how: OnceOptions, message: Callable[[str, str], None]) -> TaskState | None:
    """The task the key runs already (the oldest, if several), or None; a stopped one is only said."""
    cluster, key = how.request["cluster"], how.idempotency_key
    container = how.container_definition["name"]
    running = ecs.tasks_started_by(cluster, key, "RUNNING", container)
    if running:
        task = running[0]
        family = _family(task.task_definition_arn)
        if family is not None and family != how.family:
            raise EcsflowError(
                f"task {task.task_id}, started with idempotency key {key!r}, runs family {family!r}, not "
                f"{how.family!r}: a key names one job", key="--idempotency-key",
                hint="give each job its own key (the key of a CI job's run and step, for example)")
        if len(running) > 1:
            message("warning", f"{len(running)} tasks run with idempotency key {key!r} ("
                    f"{', '.join(t.task_id for t in running)}): following the oldest")
        message("note", f"attached to task {task.task_id} ({_revision(task.task_definition_arn)}), which an "
                f"earlier run with idempotency key {key!r} started: following it instead of starting another")
        return task
    asked_to_stop = ecs.tasks_started_by(cluster, key, "STOPPED", container)
    stopping = [t for t in asked_to_stop if not t.stopped]
    if stopping:
        message("warning", f"task {stopping[0].task_id}, started with idempotency key {key!r}, was asked to stop "
                "and is still stopping: a new task starts now, and both may run until it has stopped")
    stopped = [t for t in asked_to_stop if t.stopped]
    if stopped and not stopping:
        last = max(stopped, key=lambda t: _seconds(t.stopped_at))
        end = f"exit code {last.exit_code}" if last.exit_code is not None else (last.reason or "no exit code")
        message("note", f"task {last.task_id}, started with idempotency key {key!r}, has stopped ({end}): a "
                "stopped task is not attached to; starting a new one")
    return None


def _settle_a_race(ecs: Ecs, how: OnceOptions, ours: TaskState,
                   message: Callable[[str, str], None]) -> tuple[TaskState, bool]:
    """Right after RunTask: if another run with the key started a task too, the oldest one stays."""
    cluster, key = how.request["cluster"], how.idempotency_key
    running = ecs.tasks_started_by(cluster, key, "RUNNING", how.container_definition["name"])
    candidates = {task.arn: task for task in running if task.arn != ours.arn}
    if not candidates:
        return ours, False
    oldest = min([ours, *candidates.values()], key=lambda t: (_seconds(t.created_at), t.arn))
    if oldest.arn == ours.arn:
        return ours, False
    ecs.stop_task(cluster, ours.arn, f"ecsflow run: task {oldest.task_id} with the same idempotency key "
                  "started first")
    message("warning", f"another run with idempotency key {key!r} started task {oldest.task_id} at the same "
            f"time: task {ours.task_id} (this run's) is stopped, and this run follows {oldest.task_id}")
    return oldest, True


def _definition_of(ecs: Ecs, task: TaskState, how: OnceOptions) -> Mapping[str, Any]:
    """The container definition an attached task runs: its revision may be older than the current one, and
    its awslogs stream is named by that revision's log options."""
    current = how.request.get("taskDefinition") or ""
    arn = task.task_definition_arn
    if not arn or arn == current or arn.endswith(f"/{current}"):
        return how.container_definition
    described = ecs.describe_revision(arn) or {}  # None (deregistered since): the current log options are used
    containers = (described.get("taskDefinition") or {}).get("containerDefinitions") or []
    name = how.container_definition["name"]
    return next((c for c in containers if c.get("name") == name), containers[0] if containers else
                how.container_definition)


def _family(task_definition_arn: str | None) -> str | None:
    if not task_definition_arn:
        return None
    return task_definition_arn.rsplit("/", 1)[-1].rsplit(":", 1)[0]


def _revision(task_definition_arn: str | None) -> str:
    return task_definition_arn.rsplit("/", 1)[-1] if task_definition_arn else "its revision unknown"


def _seconds(when: Any) -> float:
    return when.timestamp() if hasattr(when, "timestamp") else 0.0

