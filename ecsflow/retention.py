"""Logs that expire: the `log_retention` rule, the log groups a project's definitions name, and what `sync` would
change about them. Pure: no AWS call (``ecsflow.ecs.logs`` reads and writes the groups).

A retention is a number of days CloudWatch Logs accepts (PutRetentionPolicy's ``retentionInDays``): one of
``RETENTION_DAYS``, written ``30`` or ``30d``. Another value is an error, never rounded: a data team that wrote
``45d`` should not keep its logs 60 days without being told.

ecsflow creates a group that is missing with its retention, and sets the retention of a group that has another
(or none), only where the setting applies; it never deletes a group and never removes a retention. A group
whose definitions have no retention is left as it is (awslogs-create-group still makes it at the task's start).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ecsflow.validators import InvalidValue

# CloudWatch Logs' PutRetentionPolicy: the values of retentionInDays it accepts.
RETENTION_DAYS: tuple[int, ...] = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                                   2192, 2557, 2922, 3288, 3653)
HOW_TO_SET = "x-ecsflow.log_retention (top level or per service), ECSFLOW_LOG_RETENTION or --log-retention"
_DAYS = re.compile(r"\s*(\d{1,9})\s*d?\s*", re.IGNORECASE)


def retention_days(value: Any) -> int:
    """``30``, ``"30"`` or ``"30d"`` -> 30, if CloudWatch Logs accepts it; else ``InvalidValue``."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidValue(_rule(), value)
    match = _DAYS.fullmatch(value) if isinstance(value, str) else None
    days = value if isinstance(value, int) else int(match.group(1)) if match else None
    if days is None:
        raise InvalidValue(_rule(), value)
    if days not in RETENTION_DAYS:
        near = min(RETENTION_DAYS, key=lambda allowed: (abs(allowed - days), allowed))
        raise InvalidValue(f"{_rule()}; {days} is not one (the nearest is {near})", value)
    return days


def _rule() -> str:
    return (f"a number of days CloudWatch Logs accepts as a retention, written 30 or 30d: "
            f"{', '.join(map(str, RETENTION_DAYS))}")


# ---------------------------------------------------------------------------------------------------------
# the groups the definitions name


@dataclass(frozen=True)
class WantedGroup:
    """A log group the definitions name: ``retention`` None when no log_retention applies to it; ``services``
    the compose services that log to it; ``origin`` where the retention came from."""

    name: str
    region: str | None
    retention: int | None
    services: tuple[str, ...]
    origin: str = ""


def groups_of(request: Mapping[str, Any], region: str | None) -> list[tuple[str, str | None]]:
    """``(group, region)`` of each awslogs container of a RegisterTaskDefinition request."""
    found = []
    for container in request.get("containerDefinitions") or []:
        log = container.get("logConfiguration") or {}
        options = log.get("options") or {}
        if log.get("logDriver") == "awslogs" and options.get("awslogs-group"):
            found.append((str(options["awslogs-group"]), options.get("awslogs-region") or region))
    return found


class RetentionConflict(ValueError):
    """Two services log to one group with different retentions: ``first`` and ``second`` are (service, days,
    origin)."""

    def __init__(self, group: str, first: tuple[str, int | None, str], second: tuple[str, int | None, str]):
        self.group, self.first, self.second = group, first, second
        super().__init__(f"services '{first[0]}' and '{second[0]}' both log to group {group}, with the retentions "
                         f"{_days(first[1])} ({first[2]}) and {_days(second[1])} ({second[2]})")


def wanted_groups(builds: Iterable[tuple[str, Mapping[str, Any], int | None, str]],
                  region: str | None) -> tuple[WantedGroup, ...]:
    """The groups of ``(service, request, retention, origin)`` items, each once, in order; a group two services
    want with different retentions is a ``RetentionConflict``."""
    groups: dict[tuple[str, str | None], WantedGroup] = {}
    for service, request, retention, origin in builds:
        for name, group_region in groups_of(request, region):
            key = (name, group_region)
            seen = groups.get(key)
            if seen is None:
                groups[key] = WantedGroup(name, group_region, retention, (service,), origin)
            elif seen.retention != retention:
                raise RetentionConflict(name, (seen.services[0], seen.retention, seen.origin),
                                        (service, retention, origin))
            elif service not in seen.services:
                groups[key] = WantedGroup(name, group_region, retention, (*seen.services, service), seen.origin)
    return tuple(groups.values())


def never_expire_note(groups: Iterable[WantedGroup]) -> str | None:
    """The one note of a command whose groups have no retention (None when every group has one)."""
    names = list(dict.fromkeys(g.name for g in groups if g.retention is None))
    if not names:
        return None
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    which = "log group" if len(names) == 1 else f"{len(names)} log groups"
    return (f"no log_retention is set, so the {which} {shown} will never expire (CloudWatch Logs keeps "
            f"what awslogs writes forever); set {HOW_TO_SET}, e.g. 30d")


# ---------------------------------------------------------------------------------------------------------
# what sync would change


@dataclass(frozen=True)
class LiveGroup:
    """What CloudWatch Logs holds of a group: ``retention`` None when it never expires."""

    name: str
    retention: int | None


@dataclass(frozen=True)
class GroupChange:
    """One group's plan: ``create`` (with ``retention``), ``retention`` (from ``live_retention`` to
    ``retention``), or ``unchanged``."""

    name: str
    region: str | None
    status: Literal["create", "retention", "unchanged"]
    retention: int
    live_retention: int | None = None
    services: tuple[str, ...] = ()

    @property
    def detail(self) -> str:
        if self.status == "create":
            return f"create with a retention of {_days(self.retention)}"
        if self.status == "retention":
            return f"retention {_days(self.live_retention)} -> {_days(self.retention)}"
        return f"retention {_days(self.retention)}"

    @property
    def would(self) -> str:
        """What `sync --dry-run` and `deploy --dry-run` say of it."""
        if self.status == "create":
            return f"log group {self.name}: would be created with a retention of {_days(self.retention)}"
        return f"log group {self.name}: would change retention {_days(self.live_retention)} -> {_days(self.retention)}"


@dataclass(frozen=True)
class GroupPlan:
    """The groups with a retention, and what sync does to each (the others are left alone)."""

    changes: tuple[GroupChange, ...] = ()

    @property
    def has_changes(self) -> bool:
        return any(change.status != "unchanged" for change in self.changes)

    @property
    def pending(self) -> tuple[GroupChange, ...]:
        return tuple(change for change in self.changes if change.status != "unchanged")


def plan_groups(wanted: Iterable[WantedGroup],
                live: Mapping[tuple[str, str | None], LiveGroup | None]) -> GroupPlan:
    """Each wanted group that has a retention against what is there (``live``: by (name, region), None when
    the group does not exist)."""
    changes = []
    for group in wanted:
        if group.retention is None:
            continue
        found = live.get((group.name, group.region))
        if found is None:
            status = "create"
        elif found.retention != group.retention:
            status = "retention"
        else:
            status = "unchanged"
        changes.append(GroupChange(group.name, group.region, status, group.retention,
                                   found.retention if found else None, group.services))
    return GroupPlan(tuple(changes))


def written_line(outcome: Any) -> str:
    """A group written (``ecsflow.ecs.logs.GroupOutcome``), as sync, run and deploy say it."""
    if outcome.status == "created":
        return f"log group {outcome.name}: created with a retention of {_days(outcome.retention)}"
    return f"log group {outcome.name}: retention {_days(outcome.live_retention)} -> {_days(outcome.retention)}"


def _days(days: int | None) -> str:
    return "none (never expires)" if days is None else f"{days} day{'s' if days != 1 else ''}"
