"""`ecsflow run`: one service, once, on ECS, with its logs and its exit code."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecsflow.execution import not_executed
from ecsflow.messages import grouped
from ecsflow.operations.core import AwsFlags, ProjectOptions, RenderResult, aws_session, render
from ecsflow.operations.plan import apply_log_groups, group_line, plan_with
from ecsflow.operations.run_once import Interrupted, OnceOptions, run_once
from ecsflow.status import ExitStatus
from ecsflow.stops import Stop, classify_stop

if TYPE_CHECKING:
    from ecsflow.ecs.client import Ecs
    from ecsflow.ecs.tasks import FollowOptions, TaskState


SANDBOX_POLL_INTERVAL = 0.1  # seconds between DescribeTasks/GetLogEvents polls: moto in this process
AWS_POLL_INTERVAL = 2.0  # against ECS: two calls every two seconds, well under both APIs' rate limits
NOT_EXECUTED = "not-executed"  # RunResult.status of a sandbox task run without the opt-in (ecsflow.execution)


@dataclass(frozen=True)
class RunOptions:
    """`ecsflow run`'s own options. ``environment``: the ``-e`` values as given (``NAME=VALUE``, or ``NAME``
    to take the value from this shell); ``command``: replaces the container's ``command`` (its entryPoint
    stays), as ``docker compose run SERVICE COMMAND`` does; ``poll_interval``: None for the default
    (AWS_POLL_INTERVAL, SANDBOX_POLL_INTERVAL in the sandbox)."""

    service: str
    environment: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    cpu: int | None = None
    memory: int | None = None
    wait: bool = True
    timeout: float | None = None
    poll_interval: float | None = None
    strict: bool = False
    # `run_once`'s: the task's startedBy, attached to when it runs already (None: ecsflow-run, never attached
    # to); Spot's fallback to FARGATE (None: x-ecsflow.spot_fallback, true unless written); RunTask's backoff
    # while there is no capacity (None: run_once's default).
    idempotency_key: str | None = None
    spot_fallback: bool | None = None
    capacity_backoff: Any = None


def _ignore(*args: Any) -> None:
    return None


@dataclass(frozen=True)
class RunCallbacks:
    """How `run` reports as it goes: ``message(kind, text)`` with kind "note" or "warning"; ``status(state)``
    with an ``ecsflow.ecs.tasks.TaskState`` at each status change; ``lines(lines)`` with the container's new log
    lines, in order, each once."""

    message: Callable[[str, str], None] = _ignore
    status: Callable[[Any], None] = _ignore
    lines: Callable[[list[str]], None] = _ignore


@dataclass(frozen=True)
class RunResult:
    service: str
    family: str
    revision: int | None
    task_arn: str | None  # None: not executed
    status: str  # the task's last status seen, or NOT_EXECUTED
    exit_code: int | None  # the essential container's
    stopped_reason: str | None
    registered: bool = False  # a new revision was registered first
    waited: bool = True
    timed_out: bool = False
    would_run: tuple[str, ...] | None = None  # not executed (the sandbox without the opt-in): its command
    message: str | None = None  # what was not done, and how to opt in
    stop_code: str | None = None  # ECS's, of the last task
    stop: Stop | None = None  # how the last task stopped (ecsflow.stops); None: it has not stopped
    capacity_provider: str | None = None  # the last task's (FARGATE_SPOT, FARGATE); None: the FARGATE launch type
    attached: bool = False  # the idempotency key's running task was followed; none was started
    idempotency_key: str | None = None
    interrupted: tuple[Interrupted, ...] = ()  # tasks of this run that Spot interrupted, each replaced
    spot_fallback: bool = True
    capacity_retries: int = 0

    @property
    def executed(self) -> bool:
        return self.would_run is None

    @property
    def exit_status(self) -> int:
        """What `ecsflow run` exits with: the container's exit code; 1 when it stopped without one, or when the
        infrastructure stopped it (an exit code given while Spot stopped it is not the job's result); 124 on
        --timeout; 0 with --no-wait (the task was started) and when nothing was executed (as asked)."""
        if not self.waited or not self.executed:
            return 0
        if self.timed_out:
            return ExitStatus.TIMEOUT
        if self.stop is not None and self.stop.infrastructure:
            return ExitStatus.ERROR
        return 1 if self.exit_code is None else self.exit_code

    def to_json(self) -> dict[str, Any]:
        return {"task_arn": self.task_arn, "family": self.family, "revision": self.revision,
                "status": self.status, "exit_code": self.exit_code, "stopped_reason": self.stopped_reason,
                "executed": self.executed,
                "would_run": None if self.executed else {"command": list(self.would_run or ()), "note": self.message},
                "stop_code": self.stop_code, "stop_kind": self.stop.kind if self.stop else None,
                "infrastructure_cause": self.stop.cause if self.stop else None,
                "capacity_provider": self.capacity_provider, "attached": self.attached,
                "idempotency_key": self.idempotency_key, "spot_fallback": self.spot_fallback,
                "interrupted_tasks": [task.to_json() for task in self.interrupted],
                "capacity_retries": self.capacity_retries}


def run(options: ProjectOptions, aws: AwsFlags, run_options: RunOptions,
        callbacks: RunCallbacks | None = None) -> RunResult:
    """`ecsflow run`: make the service's family current (as `sync` would, for this family only), start one
    Fargate task with the run's overrides, and, unless ``wait`` is False, follow it to STOPPED with its logs.

    In the sandbox without ``aws.execute_locally`` (the user's opt-in, ``ecsflow.execution``) the family is
    made current as always, and then no task is started: the result's status is NOT_EXECUTED, with the
    command that would have run and how to opt in.

    Everything that can be checked is checked before the first write: the service builds, the network
    settings, the size, the ``-e`` values, the RunTask request (botocore's validator), the cluster. On
    --timeout the task is stopped (and waited for, boundedly); on KeyboardInterrupt it is asked to stop and
    the interrupt propagates."""
    callbacks = callbacks or RunCallbacks()
    _check_run_options(aws, run_options)
    rendered = render(options, (run_options.service,), run_options.strict, aws)
    for warning in grouped(rendered.warnings):  # said as they come, each once
        callbacks.message("warning", warning)
    build = rendered.builds[0]
    request = run_request_for(rendered, build, run_options, callbacks)

    with aws_session(aws, rendered.project, rendered.region, concurrency=1) as ecs:
        ecs.check_run_request(request)
        ecs.ensure_cluster(request["cluster"], create=aws.sandbox)
        revision, arn, registered = _make_current(ecs, rendered, callbacks)
        ecs.done_registering()  # the sandbox is saved and free for other ecsflow processes while the task runs
        return run_current(ecs, aws, rendered, build, request, (revision, arn, registered), run_options, callbacks)


def run_current(ecs: Ecs, aws: AwsFlags, rendered: RenderResult, build: Any, request: dict[str, Any],
                current: tuple[int | None, str | None, bool], run_options: RunOptions, callbacks: RunCallbacks,
                on_started: Callable[[str], None] | None = None) -> RunResult:
    """Run ``build``'s family, made current (``current``: its revision, ARN and whether it was just registered),
    once (``run_once``: the idempotency key's task attached to, capacity retries, Spot's fallback), with the
    RunTask ``request`` (``run_request_for``), and follow it to its end unless ``run_options.wait`` is False
    (`ecsflow run`, and `deploy` for the jobs its services wait for). ``on_started(task_arn)`` is called for
    each task started or attached to (a second one after a Spot interruption). In the sandbox without the
    opt-in nothing is started: the result is NOT_EXECUTED."""
    revision, arn, registered = current
    container_definition = build.request["containerDefinitions"][0]
    x_ecsflow = next(s for s in rendered.project.services if s.name == build.service).x_ecsflow
    spot_fallback = x_ecsflow.spot_fallback if run_options.spot_fallback is None else run_options.spot_fallback
    if aws.sandbox and aws.runs_tasks:
        callbacks.message(
            "note", f"sandbox: the command runs on this machine in {rendered.project.working_dir}, not in a "
            f"container: the image {container_definition.get('image')} is not pulled, secrets are not set"
            + (f"; only {build.service}'s command runs, not its task's other containers "
               f"({', '.join(build.sidecars)})" if build.sidecars else ""))
    if not aws.runs_tasks:  # the sandbox without the opt-in: validated and registered, nothing executed
        argv = [*(container_definition.get("entryPoint") or []),
                *(run_options.command or container_definition.get("command") or [])]
        message = not_executed(argv, str(rendered.project.working_dir)) + _spot_plan(x_ecsflow.capacity_provider,
                                                                                    spot_fallback)
        return RunResult(service=build.service, family=build.family, revision=revision, task_arn=None,
                         status=NOT_EXECUTED, exit_code=None, stopped_reason=None, registered=registered,
                         would_run=tuple(argv), message=message, idempotency_key=run_options.idempotency_key,
                         spot_fallback=spot_fallback)
    request = {**request, "taskDefinition": arn or f"{build.family}:{revision}"}

    def started(state: TaskState) -> None:
        if on_started is not None:
            on_started(state.arn)
        callbacks.status(state)

    once = run_once(ecs, OnceOptions(
        request=request, container_definition=container_definition, family=build.family,
        follow=lambda state, definition: _follow_options(ecs, state, definition, run_options, aws.sandbox,
                                                         callbacks),
        idempotency_key=run_options.idempotency_key, spot_fallback=spot_fallback, timeout=run_options.timeout,
        wait=run_options.wait, capacity_backoff=run_options.capacity_backoff), callbacks.message, started)
    state = once.state
    return RunResult(service=build.service, family=build.family, revision=revision, task_arn=state.arn,
                     status=state.last_status, exit_code=state.exit_code if state.stopped else None,
                     stopped_reason=state.reason if state.stopped or once.timed_out else None,
                     registered=registered, waited=run_options.wait, timed_out=once.timed_out,
                     stop_code=state.stop_code if state.stopped else None,
                     stop=classify_stop(state.stop_code, state.stopped_reason, state.container_reason)
                     if state.stopped else None,
                     capacity_provider=once.capacity_provider, attached=once.attached,
                     idempotency_key=run_options.idempotency_key, interrupted=once.interrupted,
                     spot_fallback=spot_fallback, capacity_retries=once.capacity_retries)


def _spot_plan(capacity_provider: str | None, spot_fallback: bool) -> str:
    """What a task not executed would have done on Spot: the fallback, and where the sandbox's Spot switch
    acts (only on a task whose command runs)."""
    from ecsflow.execution import SPOT_INTERRUPT_VARIABLE
    from ecsflow.runtask import ON_DEMAND, SPOT

    if capacity_provider != SPOT:
        return ""
    after = (f"if Spot interrupted it, once more on {ON_DEMAND} (on-demand)" if spot_fallback
             else "if Spot interrupted it, that would be the result (spot_fallback is off)")
    switch = (f"; {SPOT_INTERRUPT_VARIABLE} interrupts only a task whose command runs (with --execute-locally): "
              "here no task was started" if os.environ.get(SPOT_INTERRUPT_VARIABLE) else "")
    return f". On ECS it would start on {SPOT}, and {after}{switch}"


def _check_run_options(aws: AwsFlags, run_options: RunOptions) -> None:
    from ecsflow.errors import EcsflowError

    if aws.sandbox and not run_options.wait:
        raise EcsflowError(
            "--no-wait cannot be used with --sandbox: the sandbox's tasks run inside this ecsflow process and "
            "end with it", hint="run without --no-wait (--timeout bounds the wait), or against ECS")
    if run_options.timeout is not None and run_options.timeout <= 0:
        raise EcsflowError("--timeout must be more than 0 seconds", key="--timeout")
    if run_options.idempotency_key is not None:
        from ecsflow.runtask import idempotency_key_problem

        if problem := idempotency_key_problem(run_options.idempotency_key):
            raise EcsflowError(f"--idempotency-key cannot be ECS's startedBy: {problem}", key="--idempotency-key")


def run_request_for(rendered: RenderResult, build: Any, run_options: RunOptions,
                    callbacks: RunCallbacks) -> dict[str, Any]:
    """RunTask's kwargs for the rendered service ``build``, after the checks that need no AWS (network, size, -e).
    Its ``taskDefinition`` names revision 1 until the family is made current (botocore's validator wants one).

    The runtime values (x-ecsflow.runtime_env) not given with ``-e`` get their defaults, as a scheduled DAG run
    does: a Jinja default is rendered for a run now, or refused with a message that says what to pass."""
    from ecsflow.runtask import (
        parse_environment,
        require_network,
        run_overrides,
        run_request,
        run_size,
        runtime_environment,
    )
    from ecsflow.validators import variables_in

    settings = rendered.resolved.settings
    network = require_network(settings)
    size = run_size(run_options.cpu, run_options.memory, int(build.request["cpu"]), int(build.request["memory"]),
                    build.request["containerDefinitions"])
    given = parse_environment(run_options.environment, os.environ)
    service = next(s for s in rendered.project.services if s.name == build.service)
    runtime = runtime_environment(service.x_ecsflow.runtime_env, given, service.name,
                                  variables=variables_in(service.raw, rendered.project.interpolated))
    for name in [n for n in runtime if n not in given]:
        callbacks.message("note", f"{name}={runtime[name]!r}: its default in x-ecsflow.runtime_env "
                          f"(pass -e {name}=... for another value)")
    environment = {**runtime, **given}

    container = build.request["containerDefinitions"][0]["name"]
    overrides = run_overrides(container, environment, run_options.command, size)
    return run_request(settings.cluster, f"{build.family}:1", network, overrides, service.x_ecsflow.capacity_provider,
                       **({"started_by": run_options.idempotency_key} if run_options.idempotency_key else {}))


def _make_current(ecs: Ecs, rendered: RenderResult, callbacks: RunCallbacks) -> tuple[int | None, str | None, bool]:
    """The same diff + register as `sync`, for the one family: its revision, ARN, and whether it was registered."""
    from ecsflow.ecs.definitions import RegisterItem
    from ecsflow.errors import AwsError

    build = rendered.builds[0]
    planned = plan_with(ecs, rendered)
    if planned.log_note:
        callbacks.message("note", planned.log_note)
    for outcome in apply_log_groups(ecs, planned):
        callbacks.message("note", group_line(outcome))
    family = planned.changeset.families[0]
    if family.status == "unchanged":
        live = (planned.live.get(build.family) or {}).get("taskDefinition") or {}
        callbacks.message("note", f"{build.family}:{live.get('revision')} is current")
        return live.get("revision"), live.get("taskDefinitionArn"), False
    [outcome] = ecs.register_families([RegisterItem(build.service, build.family, build.request,
                                                    live_revision=family.live_revision)])
    if outcome.status == "failed":
        raise AwsError(f"cannot register family '{build.family}': {outcome.error}")
    callbacks.message("note", f"registered {build.family}:{outcome.revision} ({family.status})")
    if outcome.note:
        callbacks.message("note", outcome.note)
    return outcome.revision, outcome.arn, True


def _follow_options(ecs: Ecs, started: TaskState, container_definition: dict[str, Any], run_options: RunOptions,
                    sandbox: bool, callbacks: RunCallbacks) -> FollowOptions:
    """How to follow the started task: its log (when it has one), how often to poll, whom to tell."""
    from ecsflow.ecs.tasks import FollowOptions

    container = container_definition["name"]
    tail = ecs.log_tail(container_definition, started.task_id)
    if tail is None:
        callbacks.message("note", f"container '{container}' does not log to CloudWatch Logs (awslogs): its "
                          "output is not shown")
    poll = run_options.poll_interval or (SANDBOX_POLL_INTERVAL if sandbox else AWS_POLL_INTERVAL)
    return FollowOptions(container=container, tail=tail, poll_interval=poll, settle=0.0 if sandbox else poll,
                         on_status=callbacks.status, on_lines=callbacks.lines,
                         on_note=lambda text: callbacks.message("note", text),
                         on_warning=lambda text: callbacks.message("warning", text))
