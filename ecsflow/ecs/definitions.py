"""Task definitions in ECS: describe and register many families through the bounded pool (``ecsflow.ecs.pool``).

- ``describe_families``: one ``describe_task_definition(include=["TAGS"])`` per family; a family ECS does not
  know is ``None`` (new), not an error.
- ``register_families``: one ``register_task_definition`` per family, at most once per family per run; tags
  merged, the ``ecsflow:*`` ones added here (see ``RegisterItem``); "Too many concurrent attempts to create a
  new revision" retried with ``Backoff``; one family's failure is reported in its outcome and does not stop
  the others.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Literal

from ecsflow.ecs.errors import aws_error, is_concurrent_revision, is_missing_family, translated
from ecsflow.ecs.pool import DEFAULT_CONCURRENCY, bounded
from ecsflow.errors import EcsflowError

# Tags every registered revision carries, so people and tools can tell what ecsflow manages. The builder
# puts them in the request (so render shows them); they are set here again, so no caller can forget them.
from ecsflow.taskdef import MANAGED_TAG, PROJECT_TAG, SERVICE_TAG


def describe_families(
    client: Any, families: Iterable[str], concurrency: int = DEFAULT_CONCURRENCY
) -> dict[str, dict | None]:
    """The live DescribeTaskDefinition answer (``taskDefinition`` and ``tags``) per family, None when missing.

    Any other error stops the whole call (a diff on partial knowledge would be wrong) and is raised as an
    ``AwsError``.
    """
    unique = list(dict.fromkeys(families))

    def describe(family: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            answer = client.describe_task_definition(taskDefinition=family, include=["TAGS"])
        except ClientError as exc:
            if is_missing_family(exc):
                return None
            raise
        answer.pop("ResponseMetadata", None)
        return answer

    results: dict[str, dict | None] = {}
    with translated(client):
        for family, answer in bounded(describe, unique, concurrency):
            results[family] = answer
    return {family: results[family] for family in unique}


@dataclass(frozen=True)
class RegisterItem:
    """One family to register. ``request`` is the RegisterTaskDefinition kwargs; its own ``tags`` (user tags
    from settings and x-ecsflow) are kept, ``tags`` here are merged over them, and the adapter adds
    ``ecsflow:managed=true``, ``ecsflow:project=<project>`` and ``ecsflow:service=<service>`` over both."""

    service: str
    family: str
    request: Mapping[str, Any]
    project: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegisterOutcome:
    service: str
    family: str
    status: Literal["registered", "failed"]
    revision: int | None = None
    arn: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Backoff:
    """Jittered exponential backoff for the errors botocore does not retry by itself."""

    attempts: int = 6  # all attempts, the first one included: waits of up to 0.5+1+2+4+8 s
    base: float = 0.5
    cap: float = 8.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, ...): "equal jitter", so two CI jobs that
        collided once spread apart, yet each always waits a little."""
        ceiling = min(self.cap, self.base * 2 ** (retry - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


DEFAULT_BACKOFF = Backoff()


def register_families(
    client: Any,
    items: Iterable[RegisterItem],
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[RegisterOutcome], None] | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> list[RegisterOutcome]:
    """Register one new revision per item; outcomes in the order of ``items``.

    ``on_done`` is called with each outcome as it completes, on the calling thread (safe for a progress bar).
    Two items of one family are refused before any call: registering a family twice in one run would make
    a spurious revision, and two services claiming one family is a configuration error.
    """
    items = list(items)
    _refuse_duplicates(items)
    outcomes: dict[str, RegisterOutcome] = {}
    done = bounded(lambda item: _register(client, item, backoff), items, concurrency, key=lambda item: item.family)
    with closing(done):  # an exception from on_done still shuts the pool down at once
        for family, outcome in done:
            outcomes[family] = outcome
            if on_done is not None:
                on_done(outcome)
    return [outcomes[item.family] for item in items]


def register_request(item: RegisterItem) -> dict[str, Any]:
    """The exact kwargs sent for ``item``: its request with the merged tags (sorted by key)."""
    if item.request.get("family") != item.family:
        raise ValueError(f"request family {item.request.get('family')!r} is not {item.family!r}")
    tags = {t["key"]: t["value"] for t in item.request.get("tags") or []}
    tags.update(item.tags)
    tags.update({MANAGED_TAG: "true", PROJECT_TAG: item.project, SERVICE_TAG: item.service})
    return {**item.request, "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]}


def _refuse_duplicates(items: list[RegisterItem]) -> None:
    seen: dict[str, RegisterItem] = {}
    for item in items:
        if item.family in seen:
            first = seen[item.family]
            raise EcsflowError(
                f"services '{first.service}' and '{item.service}' would both register family '{item.family}'"
                if first.service != item.service
                else f"family '{item.family}' is listed twice",
                service=item.service,
                hint="each family is registered at most once per run; give each service its own "
                "`x-ecsflow: family:` (or a family pattern with {service} in it)",
            )
        seen[item.family] = item


def _register(client: Any, item: RegisterItem, backoff: Backoff) -> RegisterOutcome:
    from botocore.exceptions import BotoCoreError, ClientError

    request = register_request(item)
    for attempt in range(1, backoff.attempts + 1):
        try:
            answer = client.register_task_definition(**request)
        except ClientError as exc:
            if is_concurrent_revision(exc) and attempt < backoff.attempts:
                time.sleep(backoff.delay(attempt))
                continue
            return _failed(item, exc)
        except BotoCoreError as exc:
            return _failed(item, exc)
        td = answer["taskDefinition"]
        return RegisterOutcome(item.service, item.family, "registered", td.get("revision"), td.get("taskDefinitionArn"))
    raise AssertionError("unreachable: the last attempt returns")


def _failed(item: RegisterItem, exc: Exception) -> RegisterOutcome:
    error = aws_error(exc)
    text = f"{error.message} (hint: {error.hint})" if error.hint else error.message
    return RegisterOutcome(item.service, item.family, "failed", error=text)
