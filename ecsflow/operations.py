"""One function per command: joins the pure core (load, build, diff) to the adapters (ECS, Consul)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecsflow.compose.extension import ProjectExtension
from ecsflow.compose.loader import load_project
from ecsflow.compose.model import ComposeProject

if TYPE_CHECKING:
    from ecsflow.ecs.client import Ecs
    from ecsflow.ecs.tasks import FollowOptions, TaskState


@dataclass(frozen=True)
class ProjectOptions:
    """How to find and read the compose project (the options shared with `docker compose`), and the
    settings given on the command line (setting name -> value; None or () when not given). ``on_loaded`` is
    called with the project as soon as it is loaded (the CLI masks its environment's secrets from then on)."""

    files: tuple[Path, ...] = ()
    project_name: str | None = None
    env_files: tuple[Path, ...] = ()
    profiles: tuple[str, ...] = ()
    flags: Mapping[str, Any] = field(default_factory=dict)
    on_loaded: Callable[[ComposeProject], None] | None = None


@dataclass(frozen=True)
class RenderResult:
    project: ComposeProject
    builds: tuple = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    region: str | None = None
    resolved: Any = None  # ecsflow.settings.ResolvedSettings


@dataclass
class _Messages:
    warnings: list[str] = field(default_factory=list)


def load(options: ProjectOptions, messages: _Messages, services: tuple[str, ...] = ()) -> ComposeProject:
    """The compose project; services named on the command line are enabled whatever their profiles."""
    project = load_project(options.files, project_name=options.project_name, env_files=options.env_files,
                           profiles=options.profiles, warn=messages.warnings.append, services=services)
    if options.on_loaded is not None:
        options.on_loaded(project)
    return project


def resolve(project: ComposeProject, options: ProjectOptions, environ: Mapping[str, str] | None = None):
    """The settings for this project: defaults < Consul < x-ecsflow < ECSFLOW_* < flags."""
    return resolve_with_consul(project.x_ecsflow, project.files[0].name if project.files else None,
                               options.flags, os.environ if environ is None else environ)


def resolve_with_consul(compose: ProjectExtension | None, compose_file: str | None, flags: Mapping[str, Any],
                        environ: Mapping[str, str]):
    """Find the Consul prefix (x-ecsflow < ECSFLOW_CONSUL_PREFIX < --consul-prefix), read it once if there is
    one (Consul is not contacted otherwise), and resolve the settings with it."""
    from ecsflow.consul import read_prefix
    from ecsflow.settings import consul_prefix_of, resolve_settings

    prefix, _ = consul_prefix_of(compose=compose, compose_file=compose_file, environ=environ, flags=flags)
    raw = read_prefix(prefix, environ=environ) if prefix else None
    return resolve_settings(consul=raw, consul_prefix=prefix, compose=compose, compose_file=compose_file,
                            environ=environ, flags=flags)


@dataclass(frozen=True)
class ConfigResult:
    project: ComposeProject
    rows: tuple[tuple[str, str, str], ...]
    warnings: tuple[str, ...] = ()


def config(options: ProjectOptions) -> ConfigResult:
    from ecsflow.settings import settings_to_rows

    messages = _Messages()
    project = load(options, messages)
    resolved = resolve(project, options)
    return ConfigResult(project=project, rows=tuple(settings_to_rows(resolved)),
                        warnings=tuple(messages.warnings) + tuple(resolved.warnings))


def render(options: ProjectOptions, services: tuple[str, ...] = (), strict: bool = False) -> RenderResult:
    from ecsflow.taskdef import build_task_definitions, select_services

    messages = _Messages()
    project = load(options, messages, services)
    resolved = resolve(project, options)
    # Services left out of ECS (x-ecsflow.skip, provider:) are said once here; naming one is an error.
    selection = select_services(project, list(services) or None, strict=strict)
    builds = build_task_definitions(project, resolved.settings, [s.name for s in selection.services],
                                    strict=strict, consul_values=resolved.values, consul_secrets=resolved.secrets,
                                    consul_prefix=resolved.consul_prefix)
    warnings = list(messages.warnings) + list(resolved.warnings) + list(selection.warnings)
    notes: list[str] = []
    for build in builds:
        warnings.extend(build.warnings)
        notes.extend(build.notes)
    return RenderResult(project=project, builds=tuple(builds), warnings=tuple(warnings), notes=tuple(notes),
                        region=resolved.settings.region, resolved=resolved)


@dataclass(frozen=True)
class AwsFlags:
    """Where ECS is: AWS's usual chain (profile, region, AWS_ENDPOINT_URL), an explicit endpoint, or the sandbox."""

    profile: str | None = None
    endpoint_url: str | None = None
    sandbox: bool = False
    concurrency: int = 8


@dataclass(frozen=True)
class PlanResult:
    project: ComposeProject
    builds: tuple
    changeset: Any  # ecsflow.diff.ChangeSet
    live: Mapping[str, dict | None]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@contextmanager
def aws_session(aws: AwsFlags, project: ComposeProject, region: str | None,
                concurrency: int | None = None) -> Iterator[Ecs]:
    """ECS for this command: the sandbox's (moto in this process, state kept next to the compose file, tasks
    run by the local runner in the project's folder) or AWS's usual chain. ``concurrency``: how many families
    at once (default: ``aws.concurrency``)."""
    from ecsflow.ecs.client import AwsOptions, Ecs
    from ecsflow.errors import EcsflowError

    concurrency = aws.concurrency if concurrency is None else concurrency
    if not aws.sandbox:
        yield Ecs.connect(AwsOptions(region=region, profile=aws.profile, endpoint_url=aws.endpoint_url), concurrency)
        return
    if aws.endpoint_url:
        raise EcsflowError("--sandbox and --endpoint-url exclude each other: the sandbox is its own ECS",
                           hint="drop one of them (ECSFLOW_SANDBOX=1 counts as --sandbox)")
    try:
        from ecsflow.sandbox.session import DEFAULT_REGION, sandbox_session
    except ImportError as exc:
        raise EcsflowError(f"the sandbox needs moto, which is not installed ({exc.name})",
                           hint="pip install 'ecsflow[sandbox]'") from None
    with sandbox_session(project.working_dir / ".ecsflow" / "sandbox", region or DEFAULT_REGION,
                         task_workdir=project.working_dir) as options:
        yield Ecs.connect(options, concurrency)


def _plan_with(ecs: Ecs, rendered: RenderResult) -> PlanResult:
    from ecsflow.diff import build_changeset

    live = ecs.describe_families([build.family for build in rendered.builds])
    changeset = build_changeset(
        (build.service, build.family, build.request, live.get(build.family)) for build in rendered.builds
    )
    return PlanResult(project=rendered.project, builds=rendered.builds, changeset=changeset, live=live,
                      warnings=rendered.warnings, notes=rendered.notes)


def plan(options: ProjectOptions, aws: AwsFlags, services: tuple[str, ...] = (), strict: bool = False) -> PlanResult:
    """`ecsflow diff`: render every service, describe each family once, compare. Writes nothing."""
    rendered = render(options, services, strict)
    with aws_session(aws, rendered.project, rendered.region) as ecs:
        return _plan_with(ecs, rendered)


@dataclass(frozen=True)
class SyncResult:
    plan: PlanResult
    outcomes: tuple  # ecsflow.ecs.definitions.RegisterOutcome, one per family, in compose order

    @property
    def failed(self) -> bool:
        return any(outcome.status == "failed" for outcome in self.outcomes)


def sync(
    options: ProjectOptions,
    aws: AwsFlags,
    services: tuple[str, ...] = (),
    strict: bool = False,
    dry_run: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[Any], None] | None = None,
) -> SyncResult:
    """`ecsflow sync`: register a revision for each new or changed family, nothing else.

    Every service is rendered and validated before the first write; one family's failure is reported with
    the others' outcomes. `on_start(n)` and `on_done(outcome)` drive a progress bar."""
    from ecsflow.ecs.definitions import RegisterItem, RegisterOutcome

    rendered = render(options, services, strict)
    with aws_session(aws, rendered.project, rendered.region) as ecs:
        planned = _plan_with(ecs, rendered)
        builds = {build.family: build for build in planned.builds}
        to_register = [
            RegisterItem(service=f.service, family=f.family, request=builds[f.family].request)
            for f in planned.changeset.families if f.status != "unchanged"
        ]
        registered: dict[str, Any] = {}
        if to_register and not dry_run:
            if on_start:
                on_start(len(to_register))
            for outcome in ecs.register_families(to_register, on_done=on_done):
                registered[outcome.family] = outcome
    outcomes = []
    for family in planned.changeset.families:
        if family.family in registered:
            outcomes.append(registered[family.family])
        elif family.status == "unchanged" or dry_run:
            live = (planned.live.get(family.family) or {}).get("taskDefinition") or {}
            status = "unchanged" if family.status == "unchanged" else "would-register"
            outcomes.append(RegisterOutcome(family.service, family.family, status, live.get("revision"),
                                            live.get("taskDefinitionArn")))
    return SyncResult(plan=planned, outcomes=tuple(outcomes))


def gen_dag(
    options: ProjectOptions,
    out_dir: Path,
    services: tuple[str, ...] = (),
    *,
    dag_id: str | None = None,
    schedule: str | None = None,
    pin: bool = False,
    force: bool = False,
    aws: AwsFlags | None = None,
    strict: bool = False,
):
    """`ecsflow gen-dag`: the Airflow DAG (and pools file) that runs the services' families.

    With `pin`, each task runs the family's current revision (looked up in ECS) instead of the latest ACTIVE
    one at run time; a family not registered yet is an error (sync first)."""
    from ecsflow.airflow import gen_dag as generate_and_write
    from ecsflow.errors import EcsflowError

    rendered = render(options, (), strict)
    if services:  # a named service left out of ECS is an error, as in render
        from ecsflow.taskdef import select_services

        select_services(rendered.project, services)
    pinned = None
    if pin:
        aws = aws or AwsFlags()
        with aws_session(aws, rendered.project, rendered.region) as ecs:
            live = ecs.describe_families([build.family for build in rendered.builds])
        pinned = {family: answer["taskDefinition"]["taskDefinitionArn"] for family, answer in live.items() if answer}
        wanted = [b for b in rendered.builds if not services or b.service in services]
        missing = [b.family for b in wanted if b.family not in pinned]
        if missing:
            raise EcsflowError(f"--pin needs registered task definitions; not in ECS yet: {', '.join(missing)}",
                               hint="run `ecsflow sync` first")
        from dataclasses import replace

        from ecsflow.diff import diff_family

        stale = [
            f"{b.family}: the compose file has changes not synced yet; the DAG pins revision "
            f"{live[b.family]['taskDefinition'].get('revision')}, which does not have them (run `ecsflow sync`)"
            for b in wanted if diff_family(b.service, b.family, b.request, live[b.family]).status == "changed"
        ]
        rendered = replace(rendered, warnings=rendered.warnings + tuple(stale))
    result = generate_and_write(rendered.project, rendered.resolved, rendered.builds, Path(out_dir),
                                services=list(services) or None, dag_id=dag_id, schedule=schedule,
                                pinned_arns=pinned, force=force)
    return rendered, result


# ---------------------------------------------------------------------------------------------------------
# run

SANDBOX_POLL_INTERVAL = 0.1  # seconds between DescribeTasks/GetLogEvents polls: moto in this process
AWS_POLL_INTERVAL = 2.0  # against ECS: two calls every two seconds, well under both APIs' rate limits
TIMEOUT_EXIT = 124  # as timeout(1)
INTERRUPTED_EXIT = 130  # 128 + SIGINT


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
    task_arn: str
    status: str  # the task's last status seen
    exit_code: int | None  # the essential container's
    stopped_reason: str | None
    registered: bool = False  # a new revision was registered first
    waited: bool = True
    timed_out: bool = False

    @property
    def exit_status(self) -> int:
        """What `ecsflow run` exits with: the container's exit code; 1 when it stopped without one; 124 on
        --timeout; 0 with --no-wait (the task was started)."""
        if not self.waited:
            return 0
        if self.timed_out:
            return TIMEOUT_EXIT
        return 1 if self.exit_code is None else self.exit_code

    def to_json(self) -> dict[str, Any]:
        return {"task_arn": self.task_arn, "family": self.family, "revision": self.revision,
                "status": self.status, "exit_code": self.exit_code, "stopped_reason": self.stopped_reason}


def run(options: ProjectOptions, aws: AwsFlags, run_options: RunOptions,
        callbacks: RunCallbacks | None = None) -> RunResult:
    """`ecsflow run`: make the service's family current (as `sync` would, for this family only), start one
    Fargate task with the run's overrides, and, unless ``wait`` is False, follow it to STOPPED with its logs.

    Everything that can be checked is checked before the first write: the service builds, the network
    settings, the size, the ``-e`` values, the RunTask request (botocore's validator), the cluster. On
    --timeout the task is stopped (and waited for, boundedly); on KeyboardInterrupt it is asked to stop and
    the interrupt propagates."""
    callbacks = callbacks or RunCallbacks()
    _check_run_options(aws, run_options)
    rendered = render(options, (run_options.service,), run_options.strict)
    for warning in rendered.warnings:
        callbacks.message("warning", warning)
    build = rendered.builds[0]
    container_definition = build.request["containerDefinitions"][0]
    request = _run_request(rendered, run_options, callbacks)
    cluster = request["cluster"]

    with aws_session(aws, rendered.project, rendered.region, concurrency=1) as ecs:
        ecs.check_run_request(request)
        if aws.sandbox:
            callbacks.message(
                "note", f"sandbox: the command runs on this machine in {rendered.project.working_dir}, not in a "
                f"container: the image {container_definition.get('image')} is not pulled, secrets are not set")
        ecs.ensure_cluster(cluster, create=aws.sandbox)
        revision, arn, registered = _make_current(ecs, rendered, callbacks)
        request["taskDefinition"] = arn or f"{build.family}:{revision}"
        state = ecs.run_task(request, container_definition["name"])
        callbacks.status(state)
        timed_out = False
        if run_options.wait:
            how = _follow_options(ecs, state, container_definition, run_options, aws.sandbox, callbacks)
            state, timed_out = ecs.follow_to_end(cluster, state, how, timeout=run_options.timeout,
                                                 stop_timeout=float(container_definition.get("stopTimeout") or 30))
    return RunResult(service=build.service, family=build.family, revision=revision, task_arn=state.arn,
                     status=state.last_status, exit_code=state.exit_code if state.stopped else None,
                     stopped_reason=state.reason if state.stopped or timed_out else None,
                     registered=registered, waited=run_options.wait, timed_out=timed_out)


def _check_run_options(aws: AwsFlags, run_options: RunOptions) -> None:
    from ecsflow.errors import EcsflowError

    if aws.sandbox and not run_options.wait:
        raise EcsflowError(
            "--no-wait cannot be used with --sandbox: the sandbox's tasks run inside this ecsflow process and "
            "end with it", hint="run without --no-wait (--timeout bounds the wait), or against ECS")
    if run_options.timeout is not None and run_options.timeout <= 0:
        raise EcsflowError("--timeout must be more than 0 seconds", key="--timeout")


def _run_request(rendered: RenderResult, run_options: RunOptions, callbacks: RunCallbacks) -> dict[str, Any]:
    """RunTask's kwargs for the one rendered service, after the checks that need no AWS (network, size, -e).
    Its ``taskDefinition`` names revision 1 until the family is made current (botocore's validator wants one)."""
    from ecsflow.runtask import (
        launch_type_warning,
        parse_environment,
        require_network,
        run_overrides,
        run_request,
        run_size,
    )

    settings = rendered.resolved.settings
    build = rendered.builds[0]
    network = require_network(settings)
    size = run_size(run_options.cpu, run_options.memory, int(build.request["cpu"]), int(build.request["memory"]))
    environment = parse_environment(run_options.environment, os.environ)
    service = next(s for s in rendered.project.services if s.name == build.service)
    missing = [n for n in service.x_ecsflow.runtime_env if n not in environment]
    if missing:
        callbacks.message("warning", f"service '{build.service}' expects {', '.join(missing)} at run time "
                          f"(x-ecsflow.runtime_env); pass " + " ".join(f"-e {n}=..." for n in missing))
    launch_warning = launch_type_warning(settings, "the task runs")
    if launch_warning:
        callbacks.message("warning", launch_warning)

    container = build.request["containerDefinitions"][0]["name"]
    overrides = run_overrides(container, environment, run_options.command, size)
    return run_request(settings.cluster, f"{build.family}:1", network, overrides)


def _make_current(ecs: Ecs, rendered: RenderResult, callbacks: RunCallbacks) -> tuple[int | None, str | None, bool]:
    """The same diff + register as `sync`, for the one family: its revision, ARN, and whether it was registered."""
    from ecsflow.ecs.definitions import RegisterItem
    from ecsflow.errors import AwsError

    build = rendered.builds[0]
    planned = _plan_with(ecs, rendered)
    family = planned.changeset.families[0]
    if family.status == "unchanged":
        live = (planned.live.get(build.family) or {}).get("taskDefinition") or {}
        callbacks.message("note", f"{build.family}:{live.get('revision')} is current")
        return live.get("revision"), live.get("taskDefinitionArn"), False
    [outcome] = ecs.register_families([RegisterItem(build.service, build.family, build.request)])
    if outcome.status == "failed":
        raise AwsError(f"cannot register family '{build.family}': {outcome.error}")
    callbacks.message("note", f"registered {build.family}:{outcome.revision} ({family.status})")
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
