"""CloudWatch Logs for `log_retention` (``ecsflow.retention``): the groups described, created and given their
retention. Never DeleteLogGroup, never DeleteRetentionPolicy.

Groups are described in batches: one paginated DescribeLogGroups per folder of names (``/ecs/etl/`` for
``/ecs/etl/extract`` and ``/ecs/etl/load``), read until the page passes the batch's last name (CloudWatch Logs
answers in name order), at most ``BATCH_PAGES`` pages; a name still not seen after that is described by its own
exact prefix. The batches go through the bounded pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ecsflow.ecs.errors import translated
from ecsflow.ecs.pool import bounded
from ecsflow.retention import GroupChange, LiveGroup

BATCH_PAGES = 5  # DescribeLogGroups pages (50 groups each) read for a folder before naming groups one by one
PAGE_SIZE = 50  # DescribeLogGroups' largest limit

GroupKey = tuple[str, str | None]  # (name, region; None: the command's)


@dataclass(frozen=True)
class GroupOutcome:
    """What was done to a group: ``created`` (with its retention) or ``retention`` (set)."""

    name: str
    region: str | None
    status: str
    retention: int
    live_retention: int | None = None


def describe_groups(client_of: Callable[[str | None], Any], groups: Iterable[GroupKey],
                    concurrency: int) -> dict[GroupKey, LiveGroup | None]:
    """Each group as CloudWatch Logs holds it, None when there is none (``client_of(region)``: its client)."""
    batches: dict[tuple[str | None, str], list[str]] = {}
    for name, region in dict.fromkeys(groups):
        batches.setdefault((region, name.rsplit("/", 1)[0] + "/" if "/" in name else name), []).append(name)
    found: dict[GroupKey, LiveGroup | None] = {}

    def one(item: tuple[tuple[str | None, str], list[str]]) -> dict[str, LiveGroup | None]:
        (region, prefix), names = item
        client = client_of(region)
        with translated(client):
            seen = _described(client, prefix, set(names), BATCH_PAGES)
            for name in names:
                if name not in seen:  # beyond the batch's pages: by its own name
                    seen.update(_described(client, name, {name}, None))
        return {name: seen.get(name) for name in names}

    for (region, _), result in bounded(one, list(batches.items()), concurrency, key=lambda item: item[0]):
        found.update({(name, region): group for name, group in result.items()})
    return found


def _described(client: Any, prefix: str, wanted: set[str], pages: int | None) -> dict[str, LiveGroup | None]:
    """The wanted groups under ``prefix``: a LiveGroup for each found, None for each known to be absent (the
    pages went past it, or ended); nothing for one not reached within ``pages`` (None: no bound)."""
    last, found, read = max(wanted), {}, 0
    for page in client.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=prefix, PaginationConfig={"PageSize": PAGE_SIZE}):
        groups = page.get("logGroups") or []
        found.update({g["logGroupName"]: LiveGroup(g["logGroupName"], g.get("retentionInDays"))
                      for g in groups if g.get("logGroupName") in wanted})
        if groups and str(groups[-1].get("logGroupName")) >= last:
            break
        read += 1
        if pages is not None and read >= pages and page.get("nextToken"):
            return found
    return {name: found.get(name) for name in wanted}


def apply_changes(client_of: Callable[[str | None], Any], changes: Iterable[GroupChange],
                  concurrency: int) -> list[GroupOutcome]:
    """Create each group to create, then set its retention; set the retention of each group to change. A
    group made meanwhile by someone else (awslogs-create-group at a task's start) is given its retention."""
    def one(change: GroupChange) -> GroupOutcome:
        client = client_of(change.region)
        with translated(client):
            status = "retention"
            if change.status == "create":
                try:
                    client.create_log_group(logGroupName=change.name)
                    status = "created"
                except client.exceptions.ResourceAlreadyExistsException:
                    pass
            client.put_retention_policy(logGroupName=change.name, retentionInDays=change.retention)
        return GroupOutcome(change.name, change.region, status, change.retention, change.live_retention)

    pending = [change for change in changes if change.status != "unchanged"]
    done = dict(bounded(one, pending, concurrency, key=lambda change: (change.name, change.region)))
    return [done[(change.name, change.region)] for change in pending]


def keys_of(groups: Iterable[Any]) -> list[GroupKey]:
    """The (name, region) of the wanted groups (``ecsflow.retention.WantedGroup``) that have a retention: only
    those are read and written."""
    return [(group.name, group.region) for group in groups if group.retention is not None]
