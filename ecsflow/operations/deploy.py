"""`ecsflow deploy`: the servers of a compose file as ECS services (design/services.md, docs/how-to/deploy.md).

Everything is read and checked before the first write: every service renders and builds (its task definition,
its CreateService request, both through botocore's validator), the families and the ECS services are described
(``ecsflow.operations.service_plan``), a live service that is not ecsflow's stops the deploy, a target group
named that does not exist stops it, and so does a job's RunTask request that would be refused. Then:

1. the families of the deployed services (and of the jobs that run) are registered as `sync` registers them,
   new or changed only, paced, a lost answer recovered (``Ecs.register_families``);
2. the steps run in `depends_on` order (``ecsflow.service.order``, ``ecsflow.operations.deploy_steps``): a
   service is created or updated (only what changed is sent), its rollout followed by deployment id
   (``ecsflow.operations.rollouts``); a job that a service waits for runs once, as `ecsflow run` runs it,
   when something that depends on it changes.

Each service ends with one status (``SERVICE_STATUSES``); the deploy succeeds when every service is created,
updated, unchanged or started (and, with --dry-run, would be created or updated).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ecsflow.operations.core import AwsFlags, ProjectOptions, aws_session, render
from ecsflow.operations.deploy_work import (
    DeployCallbacks,
    DeployOptions,
    Job,
    JobOutcome,
    ServiceOutcome,
    Work,
    update_request,
)
from ecsflow.operations.plan import plan_with_services

if TYPE_CHECKING:
    from ecsflow.ecs.client import Ecs


@dataclass(frozen=True)
class DeployResult:
    services: tuple[ServiceOutcome, ...] = ()
    jobs: tuple[JobOutcome, ...] = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    interrupted: BaseException | None = None  # Ctrl-C or SIGTERM stopped the deploy (exit 130 / 143)

    @property
    def failed(self) -> bool:
        return not all(o.done for o in self.services) or not all(j.done for j in self.jobs)


@dataclass(frozen=True)
class Prepared:
    """What `deploy` knows before it asks AWS anything: the servers' specs (``found``: a ServicesResult, its
    rendering cut down to the servers and the jobs they wait for), their order, and what to say about them."""

    found: Any
    order: Any
    notes: tuple[str, ...] = ()

    @property
    def rendered(self):
        return self.found.rendered


def deploy(options: ProjectOptions, aws: AwsFlags, named: tuple[str, ...] = (), how: DeployOptions = DeployOptions(),  # noqa: B008
           callbacks: DeployCallbacks = DeployCallbacks()) -> DeployResult:  # noqa: B008 - frozen
    """`ecsflow deploy` (see the module docstring). Ctrl-C (or SIGTERM) stops new writes at once; the result then
    holds what was done and ``interrupted``."""
    prepared = prepare(options, named, how.strict)
    if not prepared.found.specs:
        return DeployResult(warnings=prepared.found.warnings, notes=prepared.notes + (
            "no service of this project is a server: nothing to deploy (x-ecsflow.kind: service makes one)",))
    with aws_session(aws, prepared.rendered.project, prepared.rendered.region) as ecs:
        return deploy_with(ecs, prepared, aws, how, callbacks)


def prepare(options: ProjectOptions, named: tuple[str, ...] = (), strict: bool = False) -> Prepared:
    """Render and check everything `deploy` can without AWS: the specs (naming a job is an error), their
    order, the jobs they wait for rendered too."""
    from ecsflow.compose.kind import kinds_note

    found, order = _prepare(options, named, strict)
    rendered = found.rendered
    needed = {s.service for s in found.specs} | set(order.jobs)
    found = replace(found, rendered=replace(rendered, builds=tuple(b for b in rendered.builds if b.service in needed)))
    kinds = kinds_note(rendered.kinds)
    # What is said about the services deployed (not every rendered family's size notes, as sync says none).
    notes = ([kinds] if kinds else []) + [note for spec in found.specs for note in spec.notes] + list(order.notes)
    return Prepared(found, order, tuple(notes))


def deploy_with(ecs: Ecs, prepared: Prepared, aws: AwsFlags, how: DeployOptions = DeployOptions(),  # noqa: B008
                callbacks: DeployCallbacks = DeployCallbacks()) -> DeployResult:  # noqa: B008 - frozen
    """The deploy of ``prepared`` on ``ecs``: read, decide and check, then (unless ``how.dry_run``) write."""
    from ecsflow.operations.deploy_steps import Executor
    from ecsflow.operations.runs import RunOptions, run_request_for

    found, order, rendered = prepared.found, prepared.order, prepared.rendered
    notes = list(prepared.notes)
    by_service = {b.service: b for b in rendered.builds}
    clusters = list(dict.fromkeys(spec.cluster for spec in found.specs))
    planned, read = plan_with_services(ecs, rendered, found.specs, scalable_lookup=not aws.sandbox)
    services = planned.services
    if not aws.sandbox:
        _cluster_exists(ecs, read.missing_clusters)
    notes += services.notes
    _refuse(services.services)
    works = _decide(services.services, how)
    works = _with_target_groups(ecs, works, aws.sandbox, rendered.resolved.settings)
    notes += [note for work in works for note in work.notes]
    jobs = _jobs(order, works, by_service, planned, how, lambda job, build: run_request_for(
        rendered, build, RunOptions(service=job, timeout=how.timeout, strict=how.strict), _run_callbacks(callbacks)))
    _check_requests(ecs, works, jobs, how)
    if how.dry_run:
        return DeployResult(tuple(_would(work) for work in works), tuple(_would_run(j) for j in jobs.values()),
                            found.warnings, tuple(notes))
    if aws.sandbox:
        for cluster in clusters:
            ecs.ensure_cluster(cluster, create=True)
    executor = Executor(ecs, aws, rendered, order, works, jobs, how, callbacks,
                        {f.family: f for f in planned.changeset.families})
    outcomes, job_outcomes, interrupted = executor.run()
    return DeployResult(outcomes, job_outcomes, found.warnings, tuple(notes), interrupted)


def _prepare(options: ProjectOptions, named: tuple[str, ...], strict: bool):
    """The specs of the servers to deploy and their order; the jobs they wait for are rendered too."""
    from ecsflow.operations.services import project_kinds, specs_for
    from ecsflow.service.order import deploy_order

    rendered = render(options, named, strict)
    found = specs_for(rendered, named, strict)
    kinds = {**project_kinds(rendered.project), **dict(rendered.kinds)}
    order = deploy_order(rendered.project, [spec.service for spec in found.specs], kinds)
    missing = [job for job in order.jobs if job not in {b.service for b in rendered.builds}]
    if missing:
        rendered = render(options, named + tuple(missing), strict)
        found = specs_for(rendered, named, strict)
    return found, order


def _cluster_exists(ecs: Ecs, missing: frozenset[str]) -> None:
    """A cluster DescribeServices did not find: an error before any write (``ensure_cluster`` says it)."""
    for cluster in sorted(missing):
        ecs.ensure_cluster(cluster)


def _refuse(plans) -> None:
    from ecsflow.errors import EcsflowError

    refused = [plan for plan in plans if plan.refusal]
    if len(refused) == 1:
        raise EcsflowError(refused[0].refusal, service=refused[0].spec.service, hint="nothing was written")
    if refused:
        raise EcsflowError(f"{len(refused)} ECS services cannot be deployed by ecsflow:\n"
                           + "\n".join(f"- {plan.refusal}" for plan in refused), hint="nothing was written")


def _decide(plans, how: DeployOptions) -> list[Work]:
    works = []
    for plan in plans:
        if plan.live is None:
            action = "create"
        elif plan.status == "changed" or how.force_new_deployment:
            action = "update"
        else:
            action = "unchanged"
        works.append(Work(plan, action))
    return works


def _with_target_groups(ecs: Ecs, works: list[Work], sandbox: bool, settings) -> list[Work]:
    """The target groups written as names, resolved to their ARNs where a request sends them. One that does not
    exist is an error before any write; the sandbox holds no load balancer, so there it is taken as given."""
    from ecsflow.errors import EcsflowError

    def sends(work: Work) -> bool:
        balancer = work.plan.spec.load_balancer
        if balancer is None or balancer.target_group_is_arn or work.action == "unchanged":
            return False
        return work.action == "create" or any(c.path.startswith("loadBalancers") for c in work.plan.diff.changes)

    names = list(dict.fromkeys(w.plan.spec.load_balancer.target_group for w in works if sends(w)))
    if not names:
        return works
    found = {} if sandbox else ecs.services().target_groups(names)
    out, missing = [], []
    for work in works:
        if not sends(work):
            out.append(work)
            continue
        name = work.plan.spec.load_balancer.target_group
        if name in found:
            out.append(replace(work, target_group_arn=found[name]["TargetGroupArn"]))
        elif sandbox:
            arn = (f"arn:aws:elasticloadbalancing:{settings.region or 'us-east-1'}:{settings.account or '123456789012'}"
                   f":targetgroup/{name}/0000000000000000")
            out.append(replace(work, target_group_arn=arn, notes=(
                f"sandbox: target group {name} of {work.plan.spec.service} is taken as given (the sandbox holds no "
                "load balancer)",)))
        else:
            missing.append(work)
    if missing:
        first = missing[0].plan.spec
        listed = ", ".join(f"{w.plan.spec.load_balancer.target_group} ({w.plan.spec.service})" for w in missing)
        raise EcsflowError(f"no target group named {listed} in {ecs.options.region or 'this region'}",
                           service=first.service if len(missing) == 1 else None, key="x-ecsflow.service.target_group",
                           hint="create it first (ecsflow creates no load balancer or target group), or write its "
                           "ARN; nothing was written")
    return out


def _jobs(order, works: list[Work], by_service: dict, planned, how: DeployOptions, request_for) -> dict[str, Job]:
    """The jobs the deployed services wait for; each runs when a step after it changes something."""
    changes = {work.plan.spec.service: work.action != "unchanged" for work in works}
    dependents: dict[str, list[str]] = {}
    for step in order.steps:
        for before in step.after:
            dependents.setdefault(before, []).append(step.name)
    families = {f.family: f for f in planned.changeset.families}
    jobs: dict[str, Job] = {}
    for step in reversed(order.steps):
        if step.kind != "job":
            continue
        runs = any(changes.get(after, False) for after in dependents.get(step.name, []))
        changes[step.name] = runs
        build = by_service[step.name]
        live = (planned.live.get(build.family) or {}).get("taskDefinition") or {}
        jobs[step.name] = Job(build, request_for(step.name, build) if runs else {}, runs, live.get("revision"),
                              live.get("taskDefinitionArn"), families[build.family].status)
    return {name: jobs[name] for name in order.jobs}


def _check_requests(ecs: Ecs, works: list[Work], jobs: dict[str, Job], how: DeployOptions) -> None:
    """Every request deploy will send, checked with botocore's model before the first write (the revision a
    placeholder until it is registered)."""
    from ecsflow.ecs.validate import check_create_service_request, check_update_service_request

    for work in works:
        spec, placeholder = work.plan.spec, f"{work.plan.spec.family}:1"
        if work.action == "create":
            check_create_service_request(spec.create_request(placeholder, work.target_group_arn), spec.service)
        elif work.action == "update":
            check_update_service_request(update_request(work, placeholder, how), spec.service)
    for job in jobs.values():
        if job.runs:
            ecs.check_run_request({**job.request, "taskDefinition": f"{job.build.family}:1"})


def _would(work: Work) -> ServiceOutcome:
    spec, plan = work.plan.spec, work.plan
    status = {"create": "would-create", "update": "would-update", "unchanged": "unchanged"}[work.action]
    return ServiceOutcome(spec.service, spec.ecs_service, spec.cluster, status,
                          task_definition=plan.diff.live_task_definition, desired_count=_count(work),
                          desired_count_owner=spec.desired_count_owner, changes=plan.diff.changes)


def _would_run(job: Job) -> JobOutcome:
    if job.runs:
        return JobOutcome(job.build.service, job.build.family, "would-run", job.live_revision)
    return JobOutcome(job.build.service, job.build.family, "skipped", job.live_revision,
                      note="nothing that depends on it changes")


def _count(work: Work) -> int | None:
    spec, live = work.plan.spec, work.plan.live
    if live is None or spec.desired_count_owner == "compose":
        return spec.desired_count
    return live.get("desiredCount")


def _run_callbacks(callbacks: DeployCallbacks):
    from ecsflow.operations.runs import RunCallbacks

    return RunCallbacks(message=callbacks.message)
