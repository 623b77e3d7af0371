"""Task definitions in ECS: describe many families at once, through the bounded pool (``ecsflow.ecs.pool``).

- ``describe_families``: one ``describe_task_definition(include=["TAGS"])`` per family; a family ECS does not
  know is ``None`` (new), not an error. ``describe_definition``: the same for one name (family or family:N),
  botocore's errors left to the caller.
- ``revision_arns``: ListTaskDefinitions, of every family or of one; ``parse_arn``: a revision's family and
  number.
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


Ref = tuple[str, int]  # (family, revision)


def parse_arn(arn: str) -> Ref:
    """``(family, revision)`` of a task definition ARN (or ``family:revision``); ValueError for anything else."""
    family, _, revision = arn.rsplit("/", 1)[-1].rpartition(":")
    if not family or not revision.isdigit():
        raise ValueError(f"not a task definition revision: {arn!r}")
    return family, int(revision)


def revision_ref(arn: Any) -> Ref | None:
    """``parse_arn`` of an ARN in an answer, None when it names no revision (then it cannot be one of ours)."""
    try:
        return parse_arn(arn) if isinstance(arn, str) else None
    except ValueError:
        return None


def revision_arns(client: Any, status: str, family: str | None = None, *, above: int | None = None) -> list[str]:
    """The ARNs of the revisions in ``status`` (ACTIVE or INACTIVE), through ListTaskDefinitions' paginator: of
    every family, or of ``family`` only. familyPrefix is the full family name on ECS (its documentation); each
    ARN's family is checked all the same, so that `etl-load` never lists `etl-loader`'s revisions. ``above``
    (with ``family``): only the revisions numbered above it, asked newest first and paged only until it.
    botocore's errors are not translated."""
    query: dict[str, Any] = {"status": status}
    if family is not None:
        query["familyPrefix"] = family
    if above is not None:
        query["sort"] = "DESC"
    arns: list[str] = []
    for page in client.get_paginator("list_task_definitions").paginate(**query):
        listed = page.get("taskDefinitionArns") or []
        if family is None:
            arns += listed
            continue
        found = [(arn, ref[1]) for arn in listed if (ref := revision_ref(arn)) and ref[0] == family]
        arns += [arn for arn, number in found if above is None or number > above]
        numbers = [number for _, number in found]
        if above is not None and numbers and numbers == sorted(numbers, reverse=True) and numbers[-1] <= above:
            break  # newest first, as asked: the next pages are older still
    return arns


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
