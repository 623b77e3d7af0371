"""What a DescribeServices answer says about the deployment ecsflow started (design/services.md section 4.5). Pure.

botocore's `services_stable` waiter is not used: it reports success after the circuit breaker rolled a
deployment back, returns before a rollout ends, and never sees moto's services as stable. Instead the
deployment ecsflow started is tracked by its id (CreateService's and UpdateService's answers name it, the
PRIMARY one):

- its `rolloutState` COMPLETED, while it is the PRIMARY deployment: done;
- FAILED: when the circuit breaker rolls back, ECS starts a rollback deployment (a newer PRIMARY, on the
  previous task definition): once that one completes the service is `rolled-back`; without rollback, or with
  nothing to roll back to (a new service's first deployment), `failed`;
- a newer PRIMARY that ECS did not start for a rollback, on another task definition: someone else deployed
  (another CI run), `superseded`; on the same task definition (a concurrent `ecsflow deploy` of the same
  content): that deployment is followed instead, as if it were this one;
- gone from the list, with a PRIMARY on the previous task definition: `rolled-back` (aws-actions'
  amazon-ecs-deploy-task-definition PR #860's rule).

Events are read by id, each once (`new_events`); `failure_events` picks those that say why tasks fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

State = Literal["waiting", "completed", "failed", "rolled-back", "superseded"]
# Words of ECS's service events that say why a rollout does not progress.
_FAILURE = re.compile(r"fail|unable|unhealthy|error|denied|cannot|stopped|circuit breaker|rolling back",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Tracked:
    """One rollout ecsflow follows: the deployment it started (``deployment``), the task definition it sent,
    what ran before (``previous_task_definition``, the PRIMARY deployment's ``before``), and whether the
    circuit breaker rolls back. ``failed_reason`` is set once the deployment was seen FAILED."""

    deployment: str
    task_definition: str | None
    previous_task_definition: str | None = None
    before: str | None = None  # the PRIMARY deployment's id before the write
    rollback: bool = True
    failed_reason: str | None = None
    followed: str | None = None  # a note: a concurrent deploy's deployment of the same content is followed


@dataclass(frozen=True)
class Counts:
    """The tracked (or, once rolled back, the PRIMARY) deployment's task counts and rollout state."""

    running: int = 0
    desired: int = 0
    pending: int = 0
    failed: int = 0
    state: str = ""

    def line(self) -> str:
        parts = [f"{self.running}/{self.desired} running"]
        if self.pending:
            parts.append(f"{self.pending} pending")
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts) + (f" ({self.state})" if self.state else "")


@dataclass(frozen=True)
class Verdict:
    state: State
    tracked: Tracked
    counts: Counts
    reason: str | None = None  # ECS's rolloutStateReason, or what ecsflow concluded


def judge(service: Mapping[str, Any], tracked: Tracked) -> Verdict:
    """The state of ``tracked`` in one DescribeServices item (see the module docstring)."""
    deployments = [d for d in service.get("deployments") or [] if isinstance(d, Mapping)]
    mine = next((d for d in deployments if d.get("id") == tracked.deployment), None)
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if mine is not None and mine.get("rolloutState") == "FAILED" and tracked.failed_reason is None:
        tracked = replace(tracked, failed_reason=mine.get("rolloutStateReason") or "the deployment failed")
    if mine is not None and mine is primary:
        counts = _counts(mine)
        if mine.get("rolloutState") == "COMPLETED":
            return Verdict("completed", tracked, counts, mine.get("rolloutStateReason"))
        if mine.get("rolloutState") == "FAILED" and (not tracked.rollback or tracked.before is None):
            # No rollback, or nothing to roll back to (a new service's first deployment): ECS leaves it FAILED.
            return Verdict("failed", tracked, counts, tracked.failed_reason)
        return Verdict("waiting", tracked, counts)
    if primary is None:  # no PRIMARY at all: ECS has not listed the deployment yet
        return Verdict("waiting", tracked, _counts(mine or {}))
    counts = _counts(primary)
    same = primary.get("taskDefinition") == tracked.task_definition
    if tracked.failed_reason is not None or (mine is None and not same and tracked.previous_task_definition
                                             and primary.get("taskDefinition") == tracked.previous_task_definition):
        # ECS's rollback deployment (after a FAILED one): done when it completes.
        reason = tracked.failed_reason or "the deployment is gone and the previous task definition runs again"
        if primary.get("rolloutState") == "COMPLETED":
            return Verdict("rolled-back", tracked, counts, reason)
        if primary.get("rolloutState") == "FAILED":
            return Verdict("failed", tracked, counts, f"{reason}; the rollback failed too: "
                           f"{primary.get('rolloutStateReason') or 'no reason given'}")
        return Verdict("waiting", tracked, counts)
    if same and primary.get("id") != tracked.before:
        # A concurrent deploy of the same revision replaced this one: follow it, its outcome is ours.
        followed = replace(tracked, deployment=primary["id"],
                           followed=f"a concurrent deployment of the same task definition ({primary['id']}) "
                           f"replaced {tracked.deployment}: it was followed instead")
        return judge(service, followed)
    return Verdict("superseded", tracked, counts,
                   f"a newer deployment ({primary.get('id')}, {primary.get('taskDefinition')}) that this deploy "
                   "did not start replaced it: another deploy ran at the same time")


def _counts(deployment: Mapping[str, Any]) -> Counts:
    def number(key: str) -> int:
        value = deployment.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    return Counts(number("runningCount"), number("desiredCount"), number("pendingCount"), number("failedTasks"),
                  str(deployment.get("rolloutState") or ""))


def primary_deployment(service: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The PRIMARY deployment of a DescribeServices item (or CreateService's/UpdateService's answer)."""
    return next((d for d in (service or {}).get("deployments") or []
                 if isinstance(d, Mapping) and d.get("status") == "PRIMARY"), None)


def event_ids(service: Mapping[str, Any] | None) -> set[str]:
    """The ids of the events a DescribeServices item lists (those a deploy does not report again)."""
    return {_event_id(event) for event in (service or {}).get("events") or [] if isinstance(event, Mapping)}


def _event_id(event: Mapping[str, Any]) -> str:
    return str(event.get("id") or (event.get("createdAt"), event.get("message")))


def new_events(service: Mapping[str, Any], seen: set[str]) -> list[Mapping[str, Any]]:
    """The service's events not in ``seen`` (their ids), oldest first; ``seen`` gains them. ECS lists the
    newest first, at most 100."""
    fresh = []
    for event in service.get("events") or []:
        if not isinstance(event, Mapping):
            continue
        key = _event_id(event)
        if key not in seen:
            seen.add(key)
            fresh.append(event)
    return fresh[::-1]


def failure_events(messages: Iterable[str], limit: int = 5) -> list[str]:
    """The last ``limit`` of ``messages`` (oldest first) that say why tasks fail or stop."""
    return [message for message in messages if _FAILURE.search(message)][-limit:]
