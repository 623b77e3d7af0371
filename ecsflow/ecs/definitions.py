"""Task definitions in ECS: describe many families at once, through the bounded pool (``ecsflow.ecs.pool``).

- ``describe_families``: one ``describe_task_definition(include=["TAGS"])`` per family; a family ECS does not
  know is ``None`` (new), not an error. ``describe_definition``: the same for one name (family or family:N),
  botocore's errors left to the caller.
- ``RegisterItem``: a family to register, with the revision the plan compared with; ``ecsflow.ecs.register``
  registers it and ``ecsflow.ecs.converge`` removes what a race duplicated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ecsflow.ecs.errors import is_missing_family, translated, unreadable_answer
from ecsflow.ecs.pool import DEFAULT_CONCURRENCY, bounded


def describe_families(
    client: Any, families: Iterable[str], concurrency: int = DEFAULT_CONCURRENCY
) -> dict[str, dict | None]:
    """The live DescribeTaskDefinition answer (``taskDefinition`` and ``tags``) per family, None when missing.

    Any other error stops the whole call (a diff on partial knowledge would be wrong) and is raised as an
    ``AwsError``.
    """
    unique = list(dict.fromkeys(families))
    results: dict[str, dict | None] = {}
    with translated(client):
        for family, answer in bounded(lambda family: describe_definition(client, family), unique, concurrency):
            results[family] = answer
    return {family: results[family] for family in unique}


def describe_definition(client: Any, name: str) -> dict | None:
    """DescribeTaskDefinition of ``name`` (a family: its latest ACTIVE revision; or ``family:N``), with its tags;
    None when ECS has no ACTIVE revision of it; an answer without a task definition and its revision is an
    ``UnreadableAnswer``. botocore's errors are not translated: the callers decide what each means (``with
    translated(client):`` makes them ``AwsError`` s)."""
    from botocore.exceptions import ClientError

    try:
        answer = client.describe_task_definition(taskDefinition=name, include=["TAGS"])
    except ClientError as exc:
        if is_missing_family(exc):
            return None
        raise
    answer.pop("ResponseMetadata", None)
    if not isinstance(answer.get("taskDefinition"), dict):
        raise unreadable_answer(client, "DescribeTaskDefinition", "a JSON object without a taskDefinition")
    if not isinstance(answer["taskDefinition"].get("revision"), int):  # the shape is checked (ecs.shapes), not presence
        raise unreadable_answer(client, "DescribeTaskDefinition", "a task definition without its revision")
    return answer


def tag_map(tags: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """An answer's ``tags`` (``[{"key", "value"}]``) as a mapping; an entry without a key names nothing."""
    return {t["key"]: t.get("value") or "" for t in tags or () if isinstance(t.get("key"), str)}


@dataclass(frozen=True)
class RegisterItem:
    """One family to register: ``request`` is the RegisterTaskDefinition kwargs, sent as they are;
    ``live_revision`` is the latest ACTIVE revision the plan compared with (None: the family had none). What
    ECS registers above it, during this run, may be a concurrent sync's (``ecsflow.ecs.converge``)."""

    service: str
    family: str
    request: Mapping[str, Any]
    live_revision: int | None = None

    def __post_init__(self) -> None:
        if self.request.get("family") != self.family:
            raise ValueError(f"request family {self.request.get('family')!r} is not {self.family!r}")
