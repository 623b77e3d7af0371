"""What `ecsflow deploy` works with and reports (``ecsflow.operations.deploy`` plans, ``deploy_steps`` writes):
its options, its callbacks, one service's or job's work and outcome, and the UpdateService request of a change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

SERVICE_STATUSES = ("created", "updated", "unchanged", "started", "failed", "rolled-back", "timeout", "superseded",
                    "would-create", "would-update", "not-started")
SERVICE_DONE = frozenset({"created", "updated", "unchanged", "started", "would-create", "would-update"})
# A job that ran and exited 0, was not executed (the sandbox without the opt-in), was not needed, or would run.
JOB_DONE = frozenset({"succeeded", "not-executed", "skipped", "would-run"})
AWS_POLL = 5.0  # seconds between DescribeServices polls at first, backing off to three times as much
SANDBOX_POLL = 0.1
DEFAULT_TIMEOUT = 900.0  # --timeout: 15 minutes


@dataclass(frozen=True)
class DeployOptions:
    wait: bool = True
    timeout: float = DEFAULT_TIMEOUT  # seconds, for each rollout (and each job)
    dry_run: bool = False
    force_new_deployment: bool = False
    poll_interval: float | None = None  # None: AWS_POLL, SANDBOX_POLL in the sandbox
    strict: bool = False


def _ignore(*args: Any) -> None:
    return None


@dataclass(frozen=True)
class DeployCallbacks:
    """How `deploy` reports as it goes: ``message(kind, text)`` (note, warning); ``registering(n, eta)`` and
    ``registered(outcome)`` around the registrations; ``event(ecs_service, text)``: each new ECS service event,
    once; ``progress(ecs_service, text)``: a rollout's counts when they change; ``job_lines(job, lines)``: a
    job's log lines."""

    message: Callable[[str, str], None] = _ignore
    registering: Callable[[int, Any], None] = _ignore
    registered: Callable[[Any], None] = _ignore
    event: Callable[[str, str], None] = _ignore
    progress: Callable[[str, str], None] = _ignore
    job_lines: Callable[[str, list[str]], None] = _ignore


@dataclass(frozen=True)
class ServiceOutcome:
    service: str
    ecs_service: str
    cluster: str
    status: str  # one of SERVICE_STATUSES
    task_definition: str | None = None
    previous_task_definition: str | None = None
    deployment_id: str | None = None
    desired_count: int | None = None
    desired_count_owner: str | None = None
    changes: tuple = ()  # ecsflow.diff.Change
    events: tuple[str, ...] = ()
    error: str | None = None
    note: str | None = None

    @property
    def done(self) -> bool:
        return self.status in SERVICE_DONE

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "ecs_service": self.ecs_service, "cluster": self.cluster,
                "status": self.status, "task_definition": self.task_definition,
                "previous_task_definition": self.previous_task_definition, "deployment_id": self.deployment_id,
                "desired_count": self.desired_count, "desired_count_owner": self.desired_count_owner,
                "changes": [{"path": c.path, "old": c.old, "new": c.new} for c in self.changes],
                "events": list(self.events), "error": self.error, "note": self.note}


@dataclass(frozen=True)
class JobOutcome:
    service: str
    family: str
    status: Literal["succeeded", "not-executed", "skipped", "would-run", "failed", "timeout", "not-started"]
    revision: int | None = None
    task_arn: str | None = None
    exit_code: int | None = None
    error: str | None = None
    note: str | None = None

    @property
    def done(self) -> bool:
        return self.status in JOB_DONE

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "family": self.family, "status": self.status, "revision": self.revision,
                "task_arn": self.task_arn, "exit_code": self.exit_code, "error": self.error, "note": self.note}


@dataclass(frozen=True)
class Work:
    """One service to deploy: its plan (``ecsflow.operations.service_plan.ServicePlan``), what to do, the target
    group's ARN when one is sent, and the notes about it."""

    plan: Any
    action: Literal["create", "update", "unchanged"]
    target_group_arn: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """One job to run once before the services that wait for it: its build, its RunTask request (the
    ``taskDefinition`` filled once its family is current), and whether anything after it changes."""

    build: Any
    request: dict = field(repr=False)
    runs: bool
    live_revision: int | None = None  # the family's latest ACTIVE revision, as the plan saw it
    live_arn: str | None = None
    family_status: str = "unchanged"


def update_request(work: Work, task_definition: str | None, how: DeployOptions) -> dict[str, Any]:
    """UpdateService's kwargs for ``work``: the changed members only; forceNewDeployment when asked, or when
    the capacity provider strategy changes (that change alone starts no deployment: the API reference)."""
    diff = work.plan.diff
    capacity = any(c.path.split(".")[0].split("[")[0] in ("launchType", "capacityProviderStrategy")
                   for c in diff.changes)
    return work.plan.spec.update_request(diff.changes, task_definition if diff.task_definition_changed else None,
                                         work.target_group_arn,
                                         force_new_deployment=how.force_new_deployment or capacity)
