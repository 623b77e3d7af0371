"""`ecsflow verify` (and `diff --verify`): check that what the desired task definitions name exists, read-only.

``ecsflow.verify`` says what to check and what each answer means; ``ecsflow.ecs.verify`` asks AWS, once per
distinct resource, through the bounded pool. No secret value is read: parameters and secrets are described,
never fetched."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecsflow.operations.core import AwsFlags, ProjectOptions, RenderResult, aws_session, render
from ecsflow.operations.plan import PlanResult, plan_services_with, plan_with

if TYPE_CHECKING:
    from ecsflow.ecs.client import Ecs


@dataclass(frozen=True)
class VerifyResult:
    results: tuple  # ecsflow.verify.CheckResult, one per family and check, in plan_checks' order
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return any(result.failing for result in self.results)


def verify_with(ecs: Ecs, rendered: RenderResult, *, sandbox: bool = False,
                on_start: Callable[[int], None] | None = None,
                on_done: Callable[..., None] | None = None) -> VerifyResult:
    from ecsflow.ecs.verify import ResourceChecks
    from ecsflow.verify import evaluate, plan_checks

    resources = ResourceChecks(ecs.options, ecs.concurrency)
    settings = rendered.resolved.settings
    checks = plan_checks(((b.service, b.family, b.request) for b in rendered.builds), region=ecs.options.region,
                         cluster=settings.cluster, subnets=settings.subnets, security_groups=settings.security_groups,
                         account=resources.account(),
                         retentions={b.family: b.log_retention for b in rendered.builds})
    checks += _service_checks(rendered, ecs.options.region)
    targets = list(dict.fromkeys(check.target for check in checks if check.target is not None))
    if on_start is not None:
        on_start(len(targets))
    findings = resources.look_up(targets, on_done=on_done)
    notes = ("the sandbox holds no image, role, parameter or secret, and no network but its default VPC; its log "
             "groups and clusters are those sync and deploy made there: verify there shows what would be checked, "
             "and reports what is missing",) if sandbox else ()
    return VerifyResult(tuple(evaluate(check, findings.get(check.target)) for check in checks), notes=notes)


def _service_checks(rendered: RenderResult, region: str | None) -> list:
    """The ECS services' checks; a server that cannot become one as written is a failing line of its own."""
    from ecsflow.errors import EcsflowError
    from ecsflow.operations.services import specs_for
    from ecsflow.verify import plan_service_checks, service_build_failure

    try:
        specs = specs_for(rendered, refuse_jobs=False).specs
    except EcsflowError as error:
        service = error.service
        family = next((b.family for b in rendered.builds if b.service == service), None)
        where = f"{error.where()}: " if error.where() else ""
        return [service_build_failure(family, service, f"{where}{error.message}; deploy stops here")]
    return plan_service_checks(specs, region=region)


def verify(options: ProjectOptions, aws: AwsFlags, services: tuple[str, ...] = (), strict: bool = False,
           on_start: Callable[[int], None] | None = None, on_done: Callable[..., Any] | None = None) -> VerifyResult:
    """`ecsflow verify`: render every service, then check each definition's resources. Writes nothing."""
    rendered = render(options, services, strict, aws)
    with aws_session(aws, rendered.project, rendered.region) as ecs:
        result = verify_with(ecs, rendered, sandbox=aws.sandbox, on_start=on_start, on_done=on_done)
    return VerifyResult(result.results, rendered.warnings, result.notes)


def diff_and_verify(options: ProjectOptions, aws: AwsFlags, services: tuple[str, ...] = (),
                    strict: bool = False, *, with_services: bool = True) -> tuple[PlanResult, VerifyResult]:
    """`ecsflow diff --verify`: the change set (with the ECS services unless not ``with_services``) and the
    checks, in one session (one sandbox)."""
    rendered = render(options, services, strict, aws)
    with aws_session(aws, rendered.project, rendered.region) as ecs:
        planned = (plan_services_with(ecs, rendered, services, strict, sandbox=aws.sandbox) if with_services else
                   plan_with(ecs, rendered))
        return planned, verify_with(ecs, rendered, sandbox=aws.sandbox)
