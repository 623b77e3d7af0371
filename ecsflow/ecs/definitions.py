"""Task definitions in ECS: describe and register many families through the bounded pool (``ecsflow.ecs.pool``).

- ``describe_families``: one ``describe_task_definition(include=["TAGS"])`` per family; a family ECS does not
  know is ``None`` (new), not an error.
- ``register_families``: one ``register_task_definition`` per family, of the request as the builder made it
  (its ``ecsflow:*`` tags included: ``ecsflow.taskdef`` owns them); "Too many concurrent attempts to create a
  new revision" retried with ``Backoff``; one family's failure is reported in its outcome and does not stop
  the others.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass
from typing import Any, Literal

from ecsflow.ecs.errors import aws_error, is_concurrent_revision, is_missing_family, translated
from ecsflow.ecs.pool import DEFAULT_CONCURRENCY, bounded


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
    """One family to register: ``request`` is the RegisterTaskDefinition kwargs, sent as they are."""

    service: str
    family: str
    request: Mapping[str, Any]

    def __post_init__(self) -> None:
        if self.request.get("family") != self.family:
            raise ValueError(f"request family {self.request.get('family')!r} is not {self.family!r}")


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
    Each family is listed once: the builder refuses two services with one family
    (``taskdef.build_task_definitions``).
    """
    items = list(items)
    outcomes: dict[str, RegisterOutcome] = {}
    done = bounded(lambda item: _register(client, item, backoff), items, concurrency, key=lambda item: item.family)
    with closing(done):  # an exception from on_done still shuts the pool down at once
        for family, outcome in done:
            outcomes[family] = outcome
            if on_done is not None:
                on_done(outcome)
    return [outcomes[item.family] for item in items]


def _register(client: Any, item: RegisterItem, backoff: Backoff) -> RegisterOutcome:
    from botocore.exceptions import BotoCoreError, ClientError

    for attempt in range(1, backoff.attempts + 1):
        try:
            answer = client.register_task_definition(**item.request)
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
