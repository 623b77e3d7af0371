"""After a registration: one ACTIVE revision per distinct content, even when two syncs raced (docs/design.md section 8).

Two `ecsflow sync` runs at once (two CI pipelines after two merges) both describe a family, both see it
changed, both register: two identical revisions. There is no lock service to prevent it, so each run checks
after registering, and both reach the same decision:

- the revisions to look at are the family's ACTIVE ones newer than the one the plan compared with
  (``RegisterItem.live_revision``, the baseline); only those can come from this run or a concurrent one;
- the duplicates of this run's content are those that hold the same canonical content (``ecsflow.diff``'s
  normal form) and carry the ``ecsflow:managed`` tag;
- of the duplicates, the lowest revision of the last unbroken run of them is kept, the others are
  deregistered. "Unbroken": with no revision of other content between them, so that the family's latest
  revision holds the same content before and after (a concurrent sync of other content that came last stays
  last; order among revisions is ECS's order of arrival).

The run that registered later always sees the earlier revision (ECS numbers revisions in order), so at least
one of the racing runs removes each duplicate; both may try, and deregistering twice is harmless.

The normal path costs nothing: when this run's revision is the baseline + 1, nothing was registered between
the plan and this registration, and a later duplicate is the later run's to remove. Otherwise:
ListTaskDefinitions (the family, ACTIVE, newest first, paged until the baseline) and one
DescribeTaskDefinition per other revision above the baseline, then one DeregisterTaskDefinition per duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecsflow.ecs.definitions import RegisterItem, describe_definition, parse_arn, revision_arns, tag_map
from ecsflow.ecs.errors import translated
from ecsflow.errors import AwsError
from ecsflow.tags import is_managed


@dataclass(frozen=True)
class Deduplicated:
    """The revision that holds the content after the check, and what was done (None: nothing)."""

    revision: int
    arn: str | None
    note: str | None = None


def deduplicate(client: Any, item: RegisterItem, revision: int, arn: str | None, *,
                lost: str | None = None) -> Deduplicated:
    """Deregister the duplicates of ``item``'s content that a race produced (see the module docstring).
    ``lost``: this run had an ambiguous failure, so a duplicate may be its own earlier attempt."""
    from ecsflow.diff import diff_family

    baseline = item.live_revision or 0
    if revision == baseline + 1:
        return Deduplicated(revision, arn)
    try:
        numbers = sorted(set(active_since(client, item.family, baseline)) | {revision})
        present, same, arns = [], {revision}, {revision: arn}
        for number in numbers:
            if number == revision:
                present.append(number)
                continue
            with translated(client):
                answer = describe_definition(client, f"{item.family}:{number}")
            if answer is None or answer["taskDefinition"].get("status", "ACTIVE") != "ACTIVE":
                continue  # deregistered since it was listed
            present.append(number)
            arns[number] = answer["taskDefinition"].get("taskDefinitionArn")
            tags = tag_map(answer.get("tags"))
            if is_managed(tags) and diff_family(item.service, item.family, dict(item.request),
                                                answer).status == "unchanged":
                same.add(number)
    except AwsError as error:
        return Deduplicated(revision, arn, f"could not check for a duplicate from a concurrent sync: {error.message}")
    keep = _lowest_of_last_run(present, same)
    if keep == revision and len(same) == 1:
        return Deduplicated(revision, arn)
    done, failed = _deregister(client, item.family, sorted(same - {keep}))
    return Deduplicated(keep, arns.get(keep), _note(item.family, revision, keep, done, failed, lost))


def active_since(client: Any, family: str, baseline: int) -> list[int]:
    """The revision numbers of ``family``'s ACTIVE revisions above ``baseline``."""
    with translated(client):
        return [parse_arn(arn)[1] for arn in revision_arns(client, "ACTIVE", family, above=baseline)]


def _lowest_of_last_run(present: list[int], same: set[int]) -> int:
    """The lowest revision of the last unbroken run of ``same`` in ``present`` (ascending)."""
    i = present.index(max(same))
    while i > 0 and present[i - 1] in same:
        i -= 1
    return present[i]


def _deregister(client: Any, family: str, numbers: list[int]) -> tuple[list[int], list[str]]:
    done, failed = [], []
    for number in numbers:
        name = f"{family}:{number}"
        try:
            with translated(client):
                client.deregister_task_definition(taskDefinition=name)
            done.append(number)
        except AwsError as error:
            # The concurrent run may have deregistered it first (ECS then answers ACTIVE no more).
            try:
                with translated(client):
                    answer = describe_definition(client, name)
            except AwsError:
                answer = {"taskDefinition": {}}
            if answer is None or answer["taskDefinition"].get("status") == "INACTIVE":
                done.append(number)
            else:
                failed.append(f"{name} ({error.message})")
    return done, failed


def _note(family: str, revision: int, keep: int, done: list[int], failed: list[str], lost: str | None) -> str:
    by = "registered concurrently or by this run's lost attempt" if lost else "registered by a concurrent sync"
    others = [n for n in done if n != revision]
    parts = []
    if keep != revision:
        parts.append(f"{family}:{keep} holds the same content, {by}")
        if revision in done:
            parts.append(f"deregistered this run's duplicate {family}:{revision}")
    if others:
        names = ", ".join(f"{family}:{n}" for n in others)
        parts.append(f"deregistered duplicate{'s' if len(others) > 1 else ''} {names} "
                     f"{by if keep == revision else 'of it'}")
    if failed:
        parts.append(f"could not deregister duplicate {', '.join(failed)}")
    return "; ".join(parts)
