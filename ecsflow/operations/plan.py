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


def plan_with(ecs: Ecs, rendered: RenderResult) -> PlanResult:
    from ecsflow.diff import build_changeset

    live = ecs.describe_families([build.family for build in rendered.builds])
    changeset = build_changeset(
        (build.service, build.family, build.request, live.get(build.family)) for build in rendered.builds
    )
    from ecsflow.compose.kind import kinds_note

    return PlanResult(project=rendered.project, builds=rendered.builds, changeset=changeset, live=live,
                      warnings=rendered.warnings, notes=rendered.notes, kinds_note=kinds_note(rendered.kinds))


def plan(options: ProjectOptions, aws: AwsFlags, services: tuple[str, ...] = (), strict: bool = False) -> PlanResult:
    """`ecsflow diff`: render every service, describe each family once, compare. Writes nothing."""
    rendered = render(options, services, strict, aws)
    with aws_session(aws, rendered.project, rendered.region) as ecs:
        return plan_with(ecs, rendered)


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

    rendered = render(options, services, strict, aws)
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
