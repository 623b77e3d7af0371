"""`ecsflow diff` (plan) and `ecsflow sync`: describe each family once, compare, register what changed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecsflow.compose.model import ComposeProject
from ecsflow.operations.core import AwsFlags, ProjectOptions, RenderResult, aws_session, render

if TYPE_CHECKING:
    from ecsflow.ecs.client import Ecs


@dataclass(frozen=True)
class PlanResult:
    project: ComposeProject
    builds: tuple
    changeset: Any  # ecsflow.diff.ChangeSet
    live: Mapping[str, dict | None]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    kinds_note: str | None = None  # which services are servers and which jobs (ecsflow.compose.kind)
    services: Any = None  # ecsflow.operations.service_plan.ServicesPlan: the ECS services (None: not compared)

    @property
    def has_changes(self) -> bool:
        """What `diff --exit-code` counts: a family to register, an ECS service to create or update."""
        return self.changeset.has_changes or bool(self.services and self.services.has_changes)


def plan_with(ecs: Ecs, rendered: RenderResult, live: Mapping[str, dict | None] | None = None) -> PlanResult:
    """The families' change set; ``live``: their DescribeTaskDefinition answers when already read."""
    from ecsflow.diff import build_changeset

    if live is None:
        live = ecs.describe_families([build.family for build in rendered.builds])
    changeset = build_changeset(
        (build.service, build.family, build.request, live.get(build.family)) for build in rendered.builds
    )
    from ecsflow.compose.kind import kinds_note

    return PlanResult(project=rendered.project, builds=rendered.builds, changeset=changeset, live=live,
                      warnings=rendered.warnings, notes=rendered.notes, kinds_note=kinds_note(rendered.kinds))


def plan(options: ProjectOptions, aws: AwsFlags, services: tuple[str, ...] = (), strict: bool = False, *,
         with_services: bool = True) -> PlanResult:
    """`ecsflow diff`: render every service, describe each family once, compare; with ``with_services``, the
    ECS services too (``plan_services_with``). Writes nothing."""
    rendered = render(options, services, strict)
    with aws_session(aws, rendered.project, rendered.region) as ecs:
        if with_services:
            return plan_services_with(ecs, rendered, services, strict, sandbox=aws.sandbox)
        return plan_with(ecs, rendered)


def plan_services_with(ecs: Ecs, rendered: RenderResult, named: tuple[str, ...] = (), strict: bool = False, *,
                       sandbox: bool = False) -> PlanResult:
    """`diff`: the families and the servers' ECS services compared with what ECS holds, and the project's
    services that no compose service has (notes). A server that cannot be deployed as it is written is a
    warning here (`deploy` stops on it), so that the families' diff still shows."""
    from dataclasses import replace

    from ecsflow.errors import EcsflowError
    from ecsflow.operations.services import specs_for

    try:
        found = specs_for(rendered, named, strict, refuse_jobs=False)
    except EcsflowError as error:
        planned = plan_with(ecs, rendered)
        warning = (f"the ECS services are not compared: {error.where() + ': ' if error.where() else ''}"
                   f"{error.message} (`ecsflow deploy` stops here; --no-services leaves the services out)")
        return replace(planned, warnings=planned.warnings + (warning,))
    planned, _ = plan_with_services(ecs, rendered, found.specs, scalable_lookup=not sandbox,
                                    project=rendered.project.name)
    return planned


def plan_with_services(ecs: Ecs, rendered: RenderResult, specs, *, scalable_lookup: bool,
                       project: str | None = None):
    """The families' plan with its services section (``ecsflow.operations.service_plan``), read in one pool:
    ``(PlanResult, the Read)``."""
    from dataclasses import replace

    from ecsflow.operations.service_plan import plan_services

    specs = list(specs)
    wanted: dict[str, list[str]] = {}
    for spec in specs:
        wanted.setdefault(spec.cluster, []).append(spec.ecs_service)
    read = ecs.read_with_services([b.family for b in rendered.builds], wanted, scalable=scalable_lookup)
    planned = plan_with(ecs, rendered, read.families)
    builds = {build.family: build for build in rendered.builds}
    services = plan_services(ecs, specs, builds, planned, read, project=project)
    return replace(planned, services=services), read


@dataclass(frozen=True)
class SyncResult:
    plan: PlanResult
    outcomes: tuple  # ecsflow.ecs.register.RegisterOutcome, one per family, in compose order
    interrupted: BaseException | None = None  # Ctrl-C or SIGTERM stopped the registrations (exit 130 / 143)

    @property
    def failed(self) -> bool:
        return any(outcome.status == "failed" for outcome in self.outcomes)


def sync(
    options: ProjectOptions,
    aws: AwsFlags,
    services: tuple[str, ...] = (),
    strict: bool = False,
    dry_run: bool = False,
    on_start: Callable[[int, Callable[[], float] | None], None] | None = None,
    on_done: Callable[[Any], None] | None = None,
) -> SyncResult:
    """`ecsflow sync`: register a revision for each new or changed family, nothing else.

    Every service is rendered and validated before the first write; one family's failure is reported with
    the others' outcomes. A registration whose answer was lost is not sent again blindly, and a duplicate
    that a concurrent sync made is deregistered (``ecsflow.ecs.register``, ``ecsflow.ecs.converge``); the
    outcome's ``note`` says so. `on_start(n, eta)` and `on_done(outcome)` drive a progress bar (``eta()``: the
    seconds until the last registration is sent, when they are paced to ECS's rate; else None).

    Ctrl-C (or SIGTERM) while registering stops new registrations at once; the result then holds every
    family's outcome (``not-started`` for those not reached) and ``interrupted``, the interrupt to exit with."""
    from ecsflow.ecs.definitions import RegisterItem
    from ecsflow.ecs.register import RegisterOutcome, RegistrationInterrupted

    rendered = render(options, services, strict)
    with aws_session(aws, rendered.project, rendered.region) as ecs:
        planned = plan_with(ecs, rendered)
        builds = {build.family: build for build in planned.builds}
        to_register = [
            RegisterItem(service=f.service, family=f.family, request=builds[f.family].request,
                         live_revision=f.live_revision)
            for f in planned.changeset.families if f.status != "unchanged"
        ]
        registered: dict[str, Any] = {}
        interrupted = None
        if to_register and not dry_run:
            if on_start:
                on_start(len(to_register), ecs.registration_eta(len(to_register)))
            try:
                done = ecs.register_families(to_register, on_done=on_done)
            except RegistrationInterrupted as stopped:
                done, interrupted = stopped.outcomes, stopped.__cause__ or stopped
            for outcome in done:
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
    return SyncResult(plan=planned, outcomes=tuple(outcomes), interrupted=interrupted)
