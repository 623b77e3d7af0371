"""What every command shares: the compose project loaded, its settings resolved (Consul read first when a
prefix is set), its services rendered into validated task definitions, and the ECS to talk to (sandbox or AWS)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ecsflow import collector
from ecsflow.compose.extension import ProjectExtension
from ecsflow.compose.loader import load_project
from ecsflow.compose.model import ComposeProject
from ecsflow.ecs.limits import ECS_REGISTER_RATE, Rate

if TYPE_CHECKING:
    from ecsflow.ecs.client import Ecs


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
    kinds: tuple = ()  # (compose service, ecsflow.compose.kind.Kind) for each service built, in compose order
    log_groups: tuple = ()  # ecsflow.retention.WantedGroup: the log groups the definitions name, each once


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

    written, interpolated = (compose.settings, compose.interpolated) if compose else (None, None)
    prefix, _ = consul_prefix_of(compose=written, compose_file=compose_file, compose_interpolated=interpolated,
                                 environ=environ, flags=flags)
    raw = read_prefix(prefix, environ=environ) if prefix else None
    return resolve_settings(consul=raw, consul_prefix=prefix, compose=written, compose_file=compose_file,
                            compose_interpolated=interpolated, environ=environ, flags=flags)


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


def render(options: ProjectOptions, services: tuple[str, ...] = (), strict: bool = False,
           aws: AwsFlags | None = None) -> RenderResult:
    """Load, resolve and build every selected service into a validated request, offline. With ``aws`` (the
    commands that talk to AWS anyway), an account the build needs and no setting gives is the caller's."""
    from ecsflow.compose.kind import kinds_note, workload_kind
    from ecsflow.compose.service_block import ServiceBlock
    from ecsflow.ecs.validate import check_register_request
    from ecsflow.errors import ComposeError
    from ecsflow.retention import never_expire_note
    from ecsflow.taskdef import build_task_definitions, select_services
    from ecsflow.taskdef.container import NoImageTag
    from ecsflow.taskdef.dropped import dropped_note

    messages = _Messages()
    project = load(options, messages, services)
    resolved = resolve(project, options)
    if aws is not None:
        resolved = _with_caller_account(project, resolved, aws)
    # Services left out of ECS (x-ecsflow.skip, provider:) are said once here; naming one is an error.
    selection = select_services(project, list(services) or None, strict=strict)
    notes: list[str] = []
    resolved, no_tag_reason = _with_commit_tag(project, resolved, selection.services, notes)
    try:
        builds = build_task_definitions(project, resolved.settings, [s.name for s in selection.services],
                                        strict=strict, consul_values=resolved.values, consul_secrets=resolved.secrets,
                                        consul_prefix=resolved.consul_prefix)
    except NoImageTag as error:
        error.hint = f"{error.hint} ({no_tag_reason})" if no_tag_reason else error.hint
        raise
    for build in builds:
        check_register_request(build.request, build.service)
    warnings = list(messages.warnings) + list(resolved.warnings) + list(selection.warnings)
    for build in builds:
        warnings.extend(build.warnings)
        notes.extend(build.notes)
    # Which are servers (deploy) and which jobs (gen-dag, run), said once, so a misread shows before a deploy. A
    # kind that is an error (deploy.mode: global) stops only the commands that need kinds (gen-dag, deploy).
    kinds = []
    for build in builds:
        service = project.service(build.service)
        try:
            kinds.append((build.service, workload_kind(service)))
        except ComposeError as error:
            warnings.append(f"service '{build.service}': {error.message} ({error.hint})")
            continue
        if not kinds[-1][1].is_service and service.x_ecsflow.service != ServiceBlock():
            warnings.append(f"service '{build.service}' has an x-ecsflow.service block but is a job "
                            f"({kinds[-1][1].reason}): the block is used only by ECS services (x-ecsflow.kind: "
                            "service makes it one)")
    kinds = tuple(kinds)
    note = kinds_note(kinds)
    notes.extend([note] if note else [])
    dropped = dropped_note(project, [project.service(build.service) for build in builds],
                           [name for name, kind in kinds if not kind.is_service])
    notes.extend([dropped] if dropped else [])
    log_groups = wanted_log_groups(project, builds, resolved)
    note = never_expire_note(log_groups)
    notes.extend([note] if note else [])
    return RenderResult(project=project, builds=tuple(builds), warnings=tuple(warnings), notes=tuple(notes),
                        region=resolved.settings.region, resolved=resolved, kinds=kinds, log_groups=log_groups)


def wanted_log_groups(project: ComposeProject, builds, resolved) -> tuple:
    """The log groups of the builds with their retentions (``ecsflow.retention``); two services that log to
    one group with different retentions are an error naming the second."""
    from ecsflow.errors import BuildError
    from ecsflow.retention import RetentionConflict, wanted_groups

    def origin(build) -> str:
        if build.log_retention_own:
            return f"x-ecsflow.log_retention of service '{build.service}'"
        return f"log_retention from {resolved.origins['log_retention']}"

    try:
        return wanted_groups(((b.service, b.request, b.log_retention, origin(b)) for b in builds),
                             resolved.settings.region)
    except RetentionConflict as conflict:
        service = project.service(conflict.second[0])
        raise BuildError(str(conflict), **service.where("x-ecsflow.log_retention"), service=service.name,
                         key="x-ecsflow.log_retention",
                         hint="give both services the same x-ecsflow.log_retention, or each its own log group"
                         ) from None


def _with_caller_account(project: ComposeProject, resolved: Any, aws: AwsFlags) -> Any:
    """``resolved`` with the caller's account (STS GetCallerIdentity; the sandbox's own) when building needs the
    account (a role given by its name, an `ssm:` shorthand) and no setting gives it."""
    from dataclasses import replace

    from ecsflow.taskdef.build import needs_account

    if not needs_account(project, resolved.settings):
        return resolved
    if aws.sandbox:
        from ecsflow.sandbox.session import ACCOUNT

        account, origin = ACCOUNT, "sandbox"
    else:
        from ecsflow.ecs.account import caller_account
        from ecsflow.ecs.options import AwsOptions

        account = caller_account(AwsOptions(region=resolved.settings.region, profile=aws.profile,
                                            endpoint_url=aws.endpoint_url))
        origin = "sts:GetCallerIdentity"
    return replace(resolved, settings=replace(resolved.settings, account=account),
                   origins={**resolved.origins, "account": origin})


def _with_commit_tag(project: ComposeProject, resolved: Any, services: tuple, notes: list[str]) -> tuple[Any, str]:
    """The settings with image_tag from the git checkout of the compose file when a service is built from
    source and no tag was given (git is not run otherwise); and, when there is no commit, why not."""
    from dataclasses import replace

    from ecsflow.gitcommit import checkout_commit

    built = [s.name for s in services if not s.x_ecsflow.image and not s.image and s.has_build]
    if not built or resolved.settings.image_tag or not project.files:
        return resolved, ""
    folder = project.files[0].parent
    commit = checkout_commit(folder)
    if commit.sha is None:
        return resolved, commit.reason
    if commit.dirty:
        notes.append(f"image tag {commit.sha}: the commit of {folder}, whose checkout has changes that are not "
                     "committed (the image CI pushed for that commit does not hold them)")
    return replace(resolved, settings=replace(resolved.settings, image_tag=commit.sha),
                   origins={**resolved.origins, "image_tag": f"git:{folder}"}), ""


@dataclass(frozen=True)
class AwsFlags:
    """Where ECS is: AWS's usual chain (profile, region, AWS_ENDPOINT_URL), an explicit endpoint, or the sandbox."""

    profile: str | None = None
    endpoint_url: str | None = None
    sandbox: bool = False
    concurrency: int = 8
    register_rate: Rate | None = ECS_REGISTER_RATE  # sync's pace (ecsflow.ecs.pacing); None: not paced
    execute_locally: bool = False  # the sandbox may run tasks' commands on this machine (ecsflow.execution)
    on_note: Callable[[str], None] | None = None  # where the sandbox's notes go (the CLI prints them)

    @property
    def runs_tasks(self) -> bool:
        """A task started here runs: on ECS, or in the sandbox when the user opted in to local execution."""
        return not self.sandbox or self.execute_locally


@contextmanager
def aws_session(aws: AwsFlags, project: ComposeProject, region: str | None,
                concurrency: int | None = None) -> Iterator[Ecs]:
    """ECS for this command: the sandbox's (moto in this process, state kept next to the compose file, tasks
    run by the local runner in the project's folder) or AWS's usual chain. ``concurrency``: how many families
    at once (default: ``aws.concurrency``)."""
    from ecsflow.ecs.client import Ecs
    from ecsflow.ecs.options import AwsOptions
    from ecsflow.errors import EcsflowError

    concurrency = aws.concurrency if concurrency is None else concurrency
    if not aws.sandbox:
        ecs = Ecs.connect(AwsOptions(region=region, profile=aws.profile, endpoint_url=aws.endpoint_url,
                                     register_rate=aws.register_rate), concurrency)
        collector.resume()
        yield ecs
        return
    if aws.endpoint_url:
        raise EcsflowError("--sandbox and --endpoint-url exclude each other: the sandbox is its own ECS",
                           hint="drop one of them (ECSFLOW_SANDBOX=1 counts as --sandbox)")
    try:
        from ecsflow.sandbox.session import DEFAULT_REGION, sandbox_session
    except ImportError as exc:
        from ecsflow.sandbox import moto_missing

        raise moto_missing(exc.name) from None
    with sandbox_session(project.working_dir / ".ecsflow" / "sandbox", region or DEFAULT_REGION,
                         task_workdir=project.working_dir, execute_locally=aws.execute_locally,
                         on_note=aws.on_note, lazy=True) as sandbox:
        ecs = Ecs(sandbox.ecs_client, sandbox.options, concurrency, on_done_registering=sandbox.release)
        collector.resume()
        yield ecs
