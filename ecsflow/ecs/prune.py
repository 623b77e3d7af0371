"""The ECS side of `ecsflow prune`: list a family's revisions, find what the cluster uses, deregister and delete.

- ``family_names``: the families with an ACTIVE revision (of a prefix), for the orphans;
- ``list_families``: per family, its ACTIVE (and INACTIVE) revision numbers through ListTaskDefinitions'
  paginator (100 a page: a family may have thousands) and its latest revision's tags; one family's error is
  its own entry, the other families are still listed;
- ``revisions_in_use``: the revisions the services (ListServices + DescribeServices, 10 a call: the service's
  task definition, its deployments' and task sets') and the RUNNING or PENDING tasks (ListTasks +
  DescribeTasks, 100 a call) of one cluster use;
- ``deregister_revisions`` / ``delete_revisions``: one DeregisterTaskDefinition per revision, one
  DeleteTaskDefinitions per 10; each revision's result is reported, a failure does not stop the others. An
  error of the session (a dropped connection, no answer, credentials that stopped working) is reported too,
  as the failure of the revisions it concerns (said to be maybe done when the request may have reached ECS),
  never as one error that hides what was done; the calls not sent yet are then not sent ("not attempted"),
  since every one would fail alike.

All through the bounded pool; throttling is botocore's retry mode's business (``ecsflow.ecs.client``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from ecsflow.ecs.definitions import Ref, describe_definition, parse_arn, revision_arns, revision_ref, tag_map
from ecsflow.ecs.errors import (
    aws_error,
    code_and_message,
    is_ambiguous,
    is_boto_error,
    is_session_error,
    one_line,
    translated,
)
from ecsflow.ecs.pool import DEFAULT_CONCURRENCY, bounded
from ecsflow.errors import AwsError

DESCRIBE_SERVICES_MAX = 10  # DescribeServices: at most 10 services a call
DESCRIBE_TASKS_MAX = 100  # DescribeTasks: at most 100 tasks a call
DELETE_MAX = 10  # DeleteTaskDefinitions: at most 10 revisions a call

@dataclass(frozen=True)
class FamilyRevisions:
    """What ECS holds of one family: ``tags`` of its latest ACTIVE revision (None: no ACTIVE revision),
    the ACTIVE and INACTIVE revision numbers (INACTIVE only when asked), or the ``error`` that stopped it."""

    family: str
    tags: dict[str, str] | None = None
    active: tuple[int, ...] = ()
    inactive: tuple[int, ...] = ()
    error: str | None = None


def list_families(client: Any, families: Iterable[str], *, inactive: bool = False, managed_only: Callable[
        [dict[str, str]], bool] | None = None, concurrency: int = DEFAULT_CONCURRENCY,
        on_done: Callable[[FamilyRevisions], None] | None = None) -> dict[str, FamilyRevisions]:
    """``FamilyRevisions`` per family. A family whose latest tags fail ``managed_only`` is not listed further
    (its revisions are not needed: it is left alone)."""
    unique = list(dict.fromkeys(families))

    def one(family: str) -> FamilyRevisions:
        try:
            return _list_family(client, family, inactive, managed_only)
        except Exception as exc:
            return FamilyRevisions(family, error=_one_call_error(client, exc))

    results: dict[str, FamilyRevisions] = {}
    with translated(client):
        for family, listed in bounded(one, unique, concurrency):
            results[family] = listed
            if on_done is not None:
                on_done(listed)
    return {family: results[family] for family in unique}


def _one_call_error(client: Any, exc: Exception) -> str:
    """The report line of an error that concerns one family or revision; anything else (an error of the
    session: credentials, endpoint; or not AWS's at all) is raised, as it would fail every other call too."""
    if not is_boto_error(exc) or is_session_error(exc):
        raise exc
    return one_line(aws_error(exc, client=client))


def _list_family(client: Any, family: str, inactive: bool,
                 managed_only: Callable[[dict[str, str]], bool] | None) -> FamilyRevisions:
    answer = describe_definition(client, family)  # None: no ACTIVE revision; an answer without its revision is an error
    if answer is None:
        return FamilyRevisions(family, inactive=_revisions(client, family, "INACTIVE") if inactive else ())
    tags = tag_map(answer.get("tags"))
    if managed_only is not None and not managed_only(tags):
        return FamilyRevisions(family, tags=tags)
    active = _revisions(client, family, "ACTIVE")
    # The revision just described is ACTIVE, even if the listing (eventually consistent) missed it.
    active = tuple(sorted({*active, answer["taskDefinition"]["revision"]}))
    return FamilyRevisions(family, tags, active, _revisions(client, family, "INACTIVE") if inactive else ())


def family_names(client: Any, prefix: str | None = None) -> list[str]:
    """The families with an ACTIVE revision (ListTaskDefinitionFamilies' paginator), those starting with
    ``prefix`` when given; errors as ``AwsError``."""
    with translated(client):
        return _paged(client, "list_task_definition_families", "families", status="ACTIVE",
                      **({"familyPrefix": prefix} if prefix else {}))


def _revisions(client: Any, family: str, status: str) -> tuple[int, ...]:
    return tuple(sorted({parse_arn(arn)[1] for arn in revision_arns(client, status, family)}))


def revisions_in_use(client: Any, cluster: str, *, missing_cluster_ok: bool = False,
                     concurrency: int = DEFAULT_CONCURRENCY) -> dict[Ref, tuple[str, ...]]:
    """What uses which revision in ``cluster``: ``{(family, revision): ("service api", "task 1a2b3c", ...)}``.

    A cluster ECS does not know is an ``AwsError`` (a wrong name would make every revision look unused),
    unless ``missing_cluster_ok`` (the sandbox, which keeps a cluster only for its services): then nothing is in use.
    """
    users: dict[Ref, list[str]] = {}

    def add(arn: str | None, user: str) -> None:
        if ref := revision_ref(arn):
            bucket = users.setdefault(ref, [])
            if user not in bucket:
                bucket.append(user)

    from botocore.exceptions import ClientError

    with translated(client):
        try:
            service_arns = _paged(client, "list_services", "serviceArns", cluster=cluster)
            task_arns = list(dict.fromkeys(
                arn for status in ("RUNNING", "PENDING")
                for arn in _paged(client, "list_tasks", "taskArns", cluster=cluster, desiredStatus=status)))
        except ClientError as exc:
            if code_and_message(exc)[0] != "ClusterNotFoundException":
                raise
            if missing_cluster_ok:
                return {}
            raise AwsError(
                f"the ECS cluster '{cluster}' does not exist in {client.meta.region_name}: prune cannot tell which "
                "revisions its services and tasks use", hint="choose the cluster with --cluster, ECSFLOW_CLUSTER or "
                "x-ecsflow.cluster (`ecsflow config` shows where the value comes from)") from exc

        def services(chunk: list[str]) -> list[dict]:
            return client.describe_services(cluster=cluster, services=chunk).get("services") or []

        def tasks(chunk: list[str]) -> list[dict]:
            return client.describe_tasks(cluster=cluster, tasks=chunk).get("tasks") or []

        for _, answer in bounded(services, _chunks(service_arns, DESCRIBE_SERVICES_MAX), concurrency, key=id):
            for service in answer:
                user = f"service {service.get('serviceName')}"
                add(service.get("taskDefinition"), user)
                for deployment in (*(service.get("deployments") or ()), *(service.get("taskSets") or ())):
                    add(deployment.get("taskDefinition"), user)
        for _, answer in bounded(tasks, _chunks(task_arns, DESCRIBE_TASKS_MAX), concurrency, key=id):
            for task in answer:
                add(task.get("taskDefinitionArn"), f"task {task.get('taskArn', '').rsplit('/', 1)[-1]}")
    return {ref: tuple(names) for ref, names in users.items()}


def _paged(client: Any, operation: str, key: str, **kwargs: Any) -> list[str]:
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page.get(key) or []]


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class RevisionResult:
    """The result of one action on one revision: ``error`` is None when it was done."""

    family: str
    revision: int
    error: str | None = None


class _Actions:
    """The calls of one action (deregister, delete) on many revisions: each failure is its revisions' result;
    after an error of the session, the calls not sent yet are skipped with its reason."""

    def __init__(self, client: Any, done: str) -> None:
        self.client, self.done = client, done  # done: what the call does, for "it may have been deleted"
        self.halted: str | None = None

    def skipped(self) -> str | None:
        return f"not attempted: {self.halted}" if self.halted else None

    def error(self, exc: Exception) -> str:
        if not is_boto_error(exc):
            raise exc
        error = aws_error(exc, client=self.client)
        if is_session_error(exc):
            self.halted = self.halted or error.message
        text = one_line(error)
        if is_ambiguous(exc):
            text += f" (the request may have reached ECS: it may have been {self.done}; run prune again to see)"
        return text


def deregister_revisions(client: Any, refs: Iterable[Ref], concurrency: int = DEFAULT_CONCURRENCY,
                         on_done: Callable[[RevisionResult], None] | None = None) -> list[RevisionResult]:
    """Deregister each revision (one call each: ECS has no batch form); results in the order they complete,
    each also handed to ``on_done`` then, on the calling thread."""
    actions = _Actions(client, "deregistered")

    def one(ref: Ref) -> RevisionResult:
        family, revision = ref
        if skipped := actions.skipped():
            return RevisionResult(family, revision, skipped)
        try:
            client.deregister_task_definition(taskDefinition=f"{family}:{revision}")
        except Exception as exc:
            return RevisionResult(family, revision, actions.error(exc))
        return RevisionResult(family, revision)

    results = []
    for _, result in bounded(one, list(refs), concurrency):
        results.append(result)
        if on_done is not None:
            on_done(result)
    return results


def delete_revisions(client: Any, refs: Iterable[Ref], concurrency: int = DEFAULT_CONCURRENCY,
                     on_done: Callable[[RevisionResult], None] | None = None) -> list[RevisionResult]:
    """Delete INACTIVE revisions, 10 a call; each revision's result from the answer's ``taskDefinitions``
    and ``failures`` (a failed call fails its 10)."""
    actions = _Actions(client, "deleted")

    def batch(chunk: list[str]) -> list[RevisionResult]:
        if skipped := actions.skipped():
            return [RevisionResult(*parse_arn(name), skipped) for name in chunk]
        try:
            answer = client.delete_task_definitions(taskDefinitions=chunk)
        except Exception as exc:
            error = actions.error(exc)
            return [RevisionResult(*parse_arn(name), error) for name in chunk]
        failures = {revision_ref(f.get("arn")): f.get("reason") or "failed" for f in answer.get("failures") or []}
        done = {revision_ref(d.get("taskDefinitionArn")) for d in answer.get("taskDefinitions") or []}
        results = []
        for name in chunk:
            ref = parse_arn(name)
            error = failures.get(ref) or (None if ref in done else "ECS neither deleted it nor said why")
            results.append(RevisionResult(*ref, error))
        return results

    names = [f"{family}:{revision}" for family, revision in refs]
    done: list[RevisionResult] = []
    for _, results in bounded(batch, _chunks(names, DELETE_MAX), concurrency, key=id):
        for result in results:
            done.append(result)
            if on_done is not None:
                on_done(result)
    return done
