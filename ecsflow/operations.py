"""One function per command: joins the pure core (load, build, diff) to the adapters (ECS, Consul)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsflow.compose.loader import load_project
from ecsflow.compose.model import ComposeProject


@dataclass(frozen=True)
class ProjectOptions:
    """How to find and read the compose project (the options shared with `docker compose`), and the
    settings given on the command line (setting name -> value; None or () when not given)."""

    files: tuple[Path, ...] = ()
    project_name: str | None = None
    env_files: tuple[Path, ...] = ()
    profiles: tuple[str, ...] = ()
    flags: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RenderResult:
    project: ComposeProject
    builds: tuple = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    region: str | None = None


@dataclass
class _Messages:
    warnings: list[str] = field(default_factory=list)


def load(options: ProjectOptions, messages: _Messages) -> ComposeProject:
    return load_project(options.files, project_name=options.project_name, env_files=options.env_files,
                        profiles=options.profiles, warn=messages.warnings.append)


def resolve(project: ComposeProject, options: ProjectOptions, environ: Mapping[str, str] | None = None):
    """The settings for this project: defaults < Consul < x-ecsflow < ECSFLOW_* < flags."""
    from ecsflow.consul import resolve_with_consul

    return resolve_with_consul(
        compose=project.extensions.get("x-ecsflow"),
        compose_file=project.files[0].name if project.files else None,
        environ=os.environ if environ is None else environ,
        flags=options.flags,
    )


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
    from ecsflow.taskdef import build_task_definitions

    messages = _Messages()
    project = load(options, messages)
    resolved = resolve(project, options)
    builds = build_task_definitions(project, resolved.settings, list(services) or None, strict=strict,
                                    consul_values=resolved.values, consul_secrets=resolved.secrets,
                                    consul_prefix=resolved.consul_prefix)
    warnings = list(messages.warnings) + list(resolved.warnings)
    notes: list[str] = []
    for build in builds:
        warnings.extend(build.warnings)
        notes.extend(build.notes)
    return RenderResult(project=project, builds=tuple(builds), warnings=tuple(warnings), notes=tuple(notes),
                        region=resolved.settings.region)


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
def ecs_client(aws: AwsFlags, project: ComposeProject, region: str | None) -> Iterator[Any]:
    """A boto3 ECS client: the sandbox's (moto in this process, state kept next to the compose file) or AWS's."""
    from ecsflow.ecs import AwsOptions, make_ecs_client

    if aws.sandbox:
        try:
            from ecsflow.sandbox import DEFAULT_REGION, sandbox_session
        except ImportError as exc:
            from ecsflow.errors import EcsflowError

            raise EcsflowError(f"the sandbox needs moto, which is not installed ({exc.name})",
                               hint="pip install 'ecsflow[sandbox]'") from None

        with sandbox_session(project.working_dir / ".ecsflow" / "sandbox", region or DEFAULT_REGION) as options:
            yield make_ecs_client(options, aws.concurrency)
        return
    options = AwsOptions(region=region, profile=aws.profile, endpoint_url=aws.endpoint_url)
    yield make_ecs_client(options, aws.concurrency)


def _plan_with(client: Any, rendered: RenderResult, concurrency: int) -> PlanResult:
    from ecsflow.diff import build_changeset
    from ecsflow.ecs import describe_families

    live = describe_families(client, [build.family for build in rendered.builds], concurrency)
    changeset = build_changeset(
        (build.service, build.family, build.request, live.get(build.family)) for build in rendered.builds
    )
    return PlanResult(project=rendered.project, builds=rendered.builds, changeset=changeset, live=live,
                      warnings=rendered.warnings, notes=rendered.notes)


def plan(options: ProjectOptions, aws: AwsFlags, services: tuple[str, ...] = (), strict: bool = False) -> PlanResult:
    """`ecsflow diff`: render every service, describe each family once, compare. Writes nothing."""
    rendered = render(options, services, strict)
    with ecs_client(aws, rendered.project, rendered.region) as client:
        return _plan_with(client, rendered, aws.concurrency)


@dataclass(frozen=True)
class SyncResult:
    plan: PlanResult
    outcomes: tuple  # ecsflow.ecs.RegisterOutcome, one per family, in compose order

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
    from ecsflow.ecs import RegisterItem, RegisterOutcome, register_families

    rendered = render(options, services, strict)
    with ecs_client(aws, rendered.project, rendered.region) as client:
        planned = _plan_with(client, rendered, aws.concurrency)
        builds = {build.family: build for build in planned.builds}
        to_register = [
            RegisterItem(service=f.service, family=f.family, request=builds[f.family].request,
                         project=planned.project.name)
            for f in planned.changeset.families if f.status != "unchanged"
        ]
        registered: dict[str, Any] = {}
        if to_register and not dry_run:
            if on_start:
                on_start(len(to_register))
            for outcome in register_families(client, to_register, aws.concurrency, on_done=on_done):
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
