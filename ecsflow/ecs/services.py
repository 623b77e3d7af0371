"""ECS services, for `ecsflow deploy`, `diff` and `verify`: the only code that calls DescribeServices,
CreateService, UpdateService, TagResource/UntagResource on a service, Application Auto Scaling and Elastic Load
Balancing (design/services.md sections 4.4 to 4.7). ``Services`` is the facade (``Ecs.services()``).

- ``describe``: DescribeServices, ten names a call (ECS's limit), through the bounded pool, with the tags; a
  name ECS does not know (``failures`` MISSING), or a cluster that does not exist, is None, not an error;
- ``create``: CreateService with its client token. botocore's retries send the same request, the same token,
  so a CreateService whose answer was lost is retried idempotently; after botocore gives up on a call that may
  have been carried out, ``LostAnswer`` tells the caller to describe and decide. "Creation of service was not
  idempotent" (another request made the service first: a concurrent deploy, or someone else) is
  ``NotIdempotent``: the caller describes and takes the update path;
- ``update``, ``tag``, ``untag``;
- ``scalable_targets``: which services Application Auto Scaling scales (DescribeScalableTargets, fifty a call);
- ``target_groups``: target groups by name or ARN (DescribeTargetGroups), those that do not exist left out;
- ``stopped_tasks``: why the tasks a deployment started stopped (ListTasks of the service's stopped tasks,
  DescribeTasks, the deployment's by ``startedBy``, as copilot's deployment streamer reads them);
- ``project_services``: the cluster's services that carry ``ecsflow:project=<project>`` (`diff`'s note);
- ``capacity_providers``: the cluster's (`verify`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ecsflow.ecs.errors import aws_error, code_and_message, is_ambiguous, is_boto_error, lost_answer_reason, translated
from ecsflow.ecs.pool import DEFAULT_CONCURRENCY, bounded
from ecsflow.errors import AwsError
from ecsflow.tags import PROJECT_TAG

DESCRIBE_BATCH = 10  # DescribeServices: "up to 10 services ... in a single operation"
SCALABLE_BATCH = 50  # DescribeScalableTargets' ResourceIds
TARGET_GROUP_BATCH = 20  # DescribeTargetGroups' Names/TargetGroupArns (ELB's documented limit)
TASK_BATCH = 100  # DescribeTasks
DESIRED_COUNT = "ecs:service:DesiredCount"
_NOT_IDEMPOTENT = "not idempotent"  # "Creation of service was not idempotent."


class LostAnswer(AwsError):
    """CreateService or UpdateService failed after it may have been carried out (no answer, a 5xx)."""


class NotIdempotent(AwsError):
    """CreateService of a name that another request created first."""


def _translated_write(client: Any, operation: str, call: Any) -> dict:
    try:
        answer = call()
    except Exception as exc:
        if not is_boto_error(exc):
            raise
        code, message = code_and_message(exc)
        error = aws_error(exc, client=client)
        if code == "InvalidParameterException" and _NOT_IDEMPOTENT in message.lower():
            raise NotIdempotent(error.message, hint=error.hint) from exc
        if is_ambiguous(exc):
            raise LostAnswer(f"{operation} got {lost_answer_reason(exc)} ({error.message})", hint=error.hint) from exc
        raise error from exc
    service = answer.get("service")
    if not isinstance(service, dict):
        from ecsflow.ecs.errors import unreadable_answer

        raise aws_error(unreadable_answer(client, operation, "an answer without the service"), client=client)
    return service


class Services:
    """The calls about ECS services, for one command; clients of Application Auto Scaling and Elastic Load
    Balancing are made (as the ECS client was) when first needed."""

    def __init__(self, client: Any, make_client: Callable[[str], Any], concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self._client, self._make_client, self.concurrency = client, make_client, concurrency
        self._others: dict[str, Any] = {}
        self.missing_clusters: set[str] = set()  # the clusters DescribeServices said do not exist

    def _other(self, service: str) -> Any:
        if service not in self._others:
            self._others[service] = self._make_client(service)
        return self._others[service]

    # -- ECS ----------------------------------------------------------------------------------------------

    def describe(self, cluster: str, names: Iterable[str], *, tags: bool = True) -> dict[str, dict | None]:
        """Each name's DescribeServices item (``tags``: with include=["TAGS"]), None when ECS has none; ten a
        call, the calls through the bounded pool. A cluster that does not exist holds no service (and is
        remembered in ``missing_clusters``)."""
        unique = list(dict.fromkeys(names))
        found: dict[str, dict | None] = {}
        with translated(self._client):
            for _, items in bounded(lambda batch: self.describe_batch(cluster, batch, tags=tags),
                                    batches(unique, DESCRIBE_BATCH), self.concurrency, key=lambda batch: batch[0]):
                found.update(items)
        return {name: found.get(name) for name in unique}

    def describe_batch(self, cluster: str, batch: list[str], *, tags: bool = True) -> dict[str, dict]:
        """One DescribeServices call (at most ten names): the items ECS has, by name. botocore's errors are
        not translated (the callers do it)."""
        from botocore.exceptions import ClientError

        try:
            answer = self._client.describe_services(cluster=cluster, services=batch,
                                                    **({"include": ["TAGS"]} if tags else {}))
        except ClientError as exc:
            if code_and_message(exc)[0] == "ClusterNotFoundException":
                self.missing_clusters.add(cluster)
                return {}
            raise
        return {str(item.get("serviceName")): item for item in answer.get("services") or [] if isinstance(item, dict)}

    def create(self, request: Mapping[str, Any]) -> dict:
        """CreateService (``request`` with its clientToken): the new service (see the module docstring)."""
        return _translated_write(self._client, "CreateService", lambda: self._client.create_service(**request))

    def update(self, request: Mapping[str, Any]) -> dict:
        return _translated_write(self._client, "UpdateService", lambda: self._client.update_service(**request))

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        if tags:
            with translated(self._client):
                self._client.tag_resource(resourceArn=arn, tags=[{"key": k, "value": v} for k, v in tags.items()])

    def untag(self, arn: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            with translated(self._client):
                self._client.untag_resource(resourceArn=arn, tagKeys=keys)

    def stopped_tasks(self, cluster: str, service: str, deployment: str, limit: int = 5) -> list[str]:
        """Why the last ``limit`` tasks that ``deployment`` started stopped: "task 1a2b3c: Essential container in
        task exited (exit code 1)", newest first."""
        with translated(self._client):
            arns = self._client.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED",
                                           maxResults=TASK_BATCH).get("taskArns") or []
            if not arns:
                return []
            tasks = self._client.describe_tasks(cluster=cluster, tasks=arns[:TASK_BATCH]).get("tasks") or []
        mine = [t for t in tasks if t.get("startedBy") == deployment]
        mine.sort(key=lambda t: str(t.get("stoppedAt") or t.get("createdAt") or ""), reverse=True)
        return [_stop_reason(task) for task in mine[:limit]]

    def project_services(self, cluster: str, project: str, known: Iterable[str]) -> list[str]:
        """The names of the cluster's services, other than ``known``, that carry ``ecsflow:project=project``:
        ListServices, then DescribeServices of the others with their tags. A missing cluster has none."""
        from botocore.exceptions import ClientError

        known = set(known)
        try:
            with translated(self._client):
                names = [arn.rsplit("/", 1)[-1] for page in self._client.get_paginator("list_services").paginate(
                    cluster=cluster, PaginationConfig={"PageSize": 100}) for arn in page.get("serviceArns") or []]
        except AwsError as error:
            if isinstance(error.__cause__, ClientError) and \
                    code_and_message(error.__cause__)[0] == "ClusterNotFoundException":
                return []
            raise
        others = [name for name in names if name not in known]
        described = self.describe(cluster, others)
        return sorted(name for name, item in described.items() if item and item.get("status") == "ACTIVE"
                      and _tag(item, PROJECT_TAG) == project)

    def capacity_providers(self, cluster: str) -> list[str] | None:
        """The capacity providers of an ACTIVE cluster; None when there is no such cluster."""
        with translated(self._client):
            clusters = self._client.describe_clusters(clusters=[cluster]).get("clusters") or []
        active = [c for c in clusters if c.get("status") == "ACTIVE"]
        return list(active[0].get("capacityProviders") or []) if active else None

    # -- Application Auto Scaling, Elastic Load Balancing -------------------------------------------------

    def scalable_targets(self, cluster: str, names: Iterable[str]) -> set[str]:
        """The names among ``names`` whose desired count Application Auto Scaling scales (a scalable target
        ``service/<cluster>/<name>``, ecs:service:DesiredCount). Raises ``AwsError`` when it cannot be asked."""
        from ecsflow.ecs.tasks import cluster_name

        ids = {f"service/{cluster_name(cluster)}/{name}": name for name in dict.fromkeys(names)}
        client = self._other("application-autoscaling")
        scaled: set[str] = set()
        with translated(client):
            for batch in batches(list(ids), SCALABLE_BATCH):
                for page in client.get_paginator("describe_scalable_targets").paginate(
                        ServiceNamespace="ecs", ResourceIds=batch, ScalableDimension=DESIRED_COUNT):
                    scaled.update(ids[t["ResourceId"]] for t in page.get("ScalableTargets") or []
                                  if t.get("ResourceId") in ids)
        return scaled

    def target_groups(self, names_or_arns: Iterable[str]) -> dict[str, dict]:
        """Each target group (by name or ARN) that exists -> its DescribeTargetGroups item; one that does not is
        left out. Names and ARNs are asked apart (the API takes one or the other), twenty a call."""
        wanted = list(dict.fromkeys(names_or_arns))
        client = self._other("elbv2")
        found: dict[str, dict] = {}
        for key, items in (("TargetGroupArns", [w for w in wanted if w.startswith("arn:")]),
                           ("Names", [w for w in wanted if not w.startswith("arn:")])):
            for i in range(0, len(items), TARGET_GROUP_BATCH):
                found.update(self._target_group_batch(client, key, items[i:i + TARGET_GROUP_BATCH]))
        return found

    def _target_group_batch(self, client: Any, key: str, batch: list[str]) -> dict[str, dict]:
        from botocore.exceptions import ClientError

        try:
            with translated(client):
                groups = client.describe_target_groups(**{key: batch}).get("TargetGroups") or []
        except AwsError as error:
            cause = error.__cause__
            if not (isinstance(cause, ClientError) and code_and_message(cause)[0] in (
                    "TargetGroupNotFound", "TargetGroupNotFoundException")):
                raise
            if len(batch) == 1:
                return {}
            # One of them is missing, and ELB says no more: ask for each alone.
            return {k: v for one in batch for k, v in self._target_group_batch(client, key, [one]).items()}
        field = "TargetGroupArn" if key == "TargetGroupArns" else "TargetGroupName"
        return {group[field]: group for group in groups if group.get(field) in batch}


@dataclass(frozen=True)
class Read:
    """What `diff` and `deploy` read before they decide, in one bounded pool: each family's DescribeTaskDefinition
    answer, each service's DescribeServices item (by (cluster, name)), which of them Application Auto Scaling
    scales (``scaled``; the ``AwsError`` when it could not be asked; None when not asked), and the clusters that
    do not exist."""

    families: dict[str, dict | None]
    services: dict[tuple[str, str], dict | None]
    scaled: set[tuple[str, str]] | AwsError | None
    missing_clusters: frozenset[str]


def read_together(client: Any, api: Services, families: Iterable[str], services: Mapping[str, list[str]],
                  scalable: bool) -> Read:
    """The describes `diff` and `deploy` make, in one pool of ``api.concurrency`` workers, so that their round
    trips overlap: one DescribeTaskDefinition per family, one DescribeServices per ten services, and (with
    ``scalable``) one DescribeScalableTargets per cluster for its services."""
    from ecsflow.ecs.definitions import describe_definition

    # The services' answers first: they are the largest to read (each with its deployments and up to 100
    # events), so they are read while the families' describes are still under way, not after the last of them.
    work: list[tuple[str, Any]] = [("services", (cluster, tuple(batch))) for cluster, names in services.items()
                                   for batch in batches(list(dict.fromkeys(names)), DESCRIBE_BATCH)]
    work += [("scalable", (cluster, tuple(names))) for cluster, names in services.items() if scalable and names]
    work += [("family", family) for family in dict.fromkeys(families)]

    def one(item: tuple[str, Any]) -> Any:
        kind, what = item
        if kind == "family":
            return describe_definition(client, what)
        if kind == "services":
            return api.describe_batch(what[0], list(what[1]))
        try:
            return api.scalable_targets(what[0], what[1])
        except AwsError as error:
            return error

    found_families: dict[str, dict | None] = {}
    found_services: dict[tuple[str, str], dict | None] = {}
    scaled: set[tuple[str, str]] | AwsError | None = set() if scalable else None
    with translated(client):
        for (kind, what), result in bounded(one, work, api.concurrency):
            if kind == "family":
                found_families[what] = result
            elif kind == "services":
                found_services.update({(what[0], name): item for name, item in result.items()})
            elif isinstance(result, AwsError) or isinstance(scaled, AwsError):
                scaled = scaled if isinstance(scaled, AwsError) else result
            else:
                scaled |= {(what[0], name) for name in result}
    names = {(cluster, name): found_services.get((cluster, name)) for cluster, listed in services.items()
             for name in listed}
    return Read({f: found_families.get(f) for f in dict.fromkeys(families)}, names, scaled,
                frozenset(api.missing_clusters))


def batches(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _tag(item: Mapping[str, Any], key: str) -> str | None:
    return next((t.get("value") for t in item.get("tags") or [] if t.get("key") == key), None)


def _stop_reason(task: Mapping[str, Any]) -> str:
    task_id = str(task.get("taskArn", "")).rsplit("/", 1)[-1][:12]
    reasons = [str(task.get("stoppedReason") or "stopped")]
    for container in task.get("containers") or []:
        if container.get("reason"):
            reasons.append(f"{container.get('name')}: {container['reason']}")
        elif container.get("exitCode") not in (None, 0):
            reasons.append(f"{container.get('name')} exited with {container['exitCode']}")
    return f"task {task_id}: " + "; ".join(reasons)
