"""A live ECS service (an item of DescribeServices' `services`) against a `ServiceSpec`: the field-level changes
(design/services.md section 4.4), in the ChangeSet's terms (`ecsflow.diff.Change`: path, old, new).

Only what ecsflow writes is compared, after filling ECS's defaults on both sides (deploymentConfiguration
200/100 and circuit breaker off when absent, assignPublicIp DISABLED, platformVersion LATEST, propagateTags
NONE, enableExecuteCommand/enableECSManagedTags false, healthCheckGracePeriodSeconds 0, a capacity provider's
base 0, ...): what ECS adds or ecsflow does not write (status, counts, deployments, events, ARNs, alarms,
availabilityZoneRebalancing, placement, ...) is dropped, so a service ecsflow created compares equal, and a
default that ECS introduces later is no change. Lists whose order ECS does not keep are sorted.

- desiredCount is compared only when compose owns it (deploy.replicas), never when autoscaling does or it is
  unset;
- the task definition is compared by content: the caller says whether the revision the service runs holds the
  wanted content (`task_definition_same`), never by ARN;
- security groups only when the spec names some (without, ECS uses the VPC's default group), Service Connect
  only when the spec has a namespace;
- tags are compared apart (`tags_to_add`, `tags_to_remove`): UpdateService cannot change them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ecsflow.diff import Change, strictly_equal
from ecsflow.service.build import ServiceSpec

Status = Literal["new", "changed", "unchanged"]
FARGATE_PROVIDERS = ("FARGATE", "FARGATE_SPOT")
_BREAKER_OFF = {"enable": False, "rollback": False}
# ThresholdConfiguration's documented default, and ECS's deploymentConfiguration defaults for a REPLICA service.
_THRESHOLD_DEFAULT = {"type": "BOUNDED_PERCENT", "value": 50}
_DEFAULTS: Mapping[str, Any] = {
    "launchType": None,
    "capacityProviderStrategy": [],
    "platformVersion": "LATEST",
    "loadBalancers": [],
    "healthCheckGracePeriodSeconds": 0,
    "enableExecuteCommand": False,
    "enableECSManagedTags": False,
    "propagateTags": "NONE",
    "deploymentController": {"type": "ECS"},
    "schedulingStrategy": "REPLICA",
}


@dataclass(frozen=True)
class ServiceDiff:
    """One service against ECS: `new` (no ACTIVE service of that name), `changed` (``changes`` hold what
    UpdateService must send; `ServiceSpec.update_request(changes, ...)`) or `unchanged`. Tag differences do not
    make a service `changed` (UpdateService cannot send them): the adapter tags and untags."""

    service: str
    ecs_service: str
    status: Status
    changes: tuple[Change, ...] = ()
    live_task_definition: str | None = None  # the ARN the service runs
    tags_to_add: Mapping[str, str] = field(default_factory=dict)  # new keys and changed values
    tags_to_remove: tuple[str, ...] = ()  # live keys the spec does not set (aws: keys excepted)
    notes: tuple[str, ...] = ()

    @property
    def task_definition_changed(self) -> bool:
        return any(change.path == "taskDefinition" for change in self.changes)

    @property
    def tags_changed(self) -> bool:
        return bool(self.tags_to_add or self.tags_to_remove)


def refusal(live: Mapping[str, Any]) -> str | None:
    """Why ecsflow must not update this live service (a blue/green or external deployment, EC2 capacity, DAEMON
    scheduling), or None: the adapter refuses it before any write."""
    controller = (live.get("deploymentController") or {}).get("type", "ECS")
    name = live.get("serviceName", "the service")
    if controller != "ECS":
        return (f"ECS service {name} uses the {controller} deployment controller; ecsflow deploys rolling updates "
                "(the ECS controller) only")
    if live.get("launchType") not in (None, "FARGATE"):
        return f"ECS service {name} runs on the {live['launchType']} launch type; ecsflow deploys Fargate services only"
    providers = [item.get("capacityProvider") for item in live.get("capacityProviderStrategy") or []]
    if any(provider not in FARGATE_PROVIDERS for provider in providers):
        return (f"ECS service {name} runs on capacity provider(s) {', '.join(map(str, providers))}; ecsflow deploys "
                "Fargate services only (FARGATE, FARGATE_SPOT)")
    if live.get("schedulingStrategy", "REPLICA") != "REPLICA":
        return f"ECS service {name} uses {live['schedulingStrategy']} scheduling; ecsflow deploys REPLICA services only"
    return None


def compare_service(spec: ServiceSpec, live: Mapping[str, Any] | None, *, task_definition_same: bool = True,
                    wanted_task_definition: str | None = None, namespace_arn: str | None = None) -> ServiceDiff:
    """``live``: the DescribeServices item (with include=["TAGS"] for the tags), or None when there is none.
    ``task_definition_same``: whether the revision it runs holds the wanted content (the adapter describes it);
    ``wanted_task_definition`` only names the wanted revision in the change. ``namespace_arn``: what the spec's
    namespace name resolves to, when the adapter looked it up (ECS answers with the ARN); without it a namespace
    name matches any live namespace ARN."""
    if live is None or live.get("status", "ACTIVE") != "ACTIVE":
        notes = (f"ECS service {spec.ecs_service} is {live['status']}",) if live and live.get("status") else ()
        return ServiceDiff(spec.service, spec.ecs_service, "new", notes=notes)
    wanted, found = normalise_wanted(spec), normalise_live(live, spec, namespace_arn)
    changes = list(_differences(found, wanted, ""))
    if not task_definition_same:
        shown = wanted_task_definition or f"a revision of {spec.family} with the wanted content"
        changes.insert(0, Change("taskDefinition", live.get("taskDefinition"), shown))
    notes = []
    if any(c.path in ("launchType", "capacityProviderStrategy") for c in changes) and live.get("launchType"):
        notes.append(f"ECS service {spec.ecs_service} moves from the {live['launchType']} launch type to a capacity "
                     "provider strategy: ECS may refuse that change (UpdateService's valid transitions); if it does, "
                     "delete the service and deploy again")
    add, remove = _tag_changes(spec.tags, live.get("tags"))
    return ServiceDiff(spec.service, spec.ecs_service, "changed" if changes else "unchanged", tuple(changes),
                       live.get("taskDefinition"), add, remove, tuple(notes))


def normalise_wanted(spec: ServiceSpec) -> dict[str, Any]:
    """The ecsflow-owned fields of the spec's CreateService request, defaults filled."""
    return _canonical(spec.request, spec, spec.request.get("serviceConnectConfiguration"))


def normalise_live(live: Mapping[str, Any], spec: ServiceSpec, namespace_arn: str | None = None) -> dict[str, Any]:
    """The same fields of a DescribeServices item; Service Connect is read from its PRIMARY deployment (the
    service itself does not carry it)."""
    balancer = spec.load_balancer
    if balancer is not None and not balancer.target_group_is_arn:
        # A target group written as a name is the ARN of that name: the name is unique in a region's account.
        live = {**live, "loadBalancers": [
            {**lb, "targetGroupArn": balancer.target_group}
            if str(lb.get("targetGroupArn", "")).split(":targetgroup/")[-1].split("/")[0] == balancer.target_group
            else lb for lb in live.get("loadBalancers") or []]}
    primary = next((d for d in live.get("deployments") or [] if d.get("status") == "PRIMARY"), {})
    connect = primary.get("serviceConnectConfiguration")
    if connect and spec.namespace and _same_namespace(connect.get("namespace"), spec.namespace, namespace_arn):
        connect = {**connect, "namespace": spec.namespace}
    return _canonical(live, spec, connect)


def _canonical(source: Mapping[str, Any], spec: ServiceSpec, connect: Mapping[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {key: default if source.get(key) is None else source[key]
                           for key, default in _DEFAULTS.items()}
    if spec.desired_count_owner == "compose":
        out["desiredCount"] = source.get("desiredCount")
    out["capacityProviderStrategy"] = sorted(
        ({"capacityProvider": item.get("capacityProvider"), "weight": item.get("weight", 0),
          "base": item.get("base", 0)} for item in out["capacityProviderStrategy"]),
        key=lambda item: str(item["capacityProvider"]))
    out["loadBalancers"] = sorted(
        ({key: lb.get(key) for key in ("targetGroupArn", "loadBalancerName", "containerName", "containerPort")
          if lb.get(key) is not None} for lb in out["loadBalancers"]), key=repr)
    out["networkConfiguration"] = _network(source.get("networkConfiguration"), spec)
    out["deploymentConfiguration"] = _deployment(source.get("deploymentConfiguration"))
    if spec.namespace:
        out["serviceConnectConfiguration"] = _connect(connect)
    return out


def _network(network: Mapping[str, Any] | None, spec: ServiceSpec) -> dict[str, Any]:
    vpc = (network or {}).get("awsvpcConfiguration") or {}
    out = {"subnets": sorted(vpc.get("subnets") or []), "assignPublicIp": vpc.get("assignPublicIp") or "DISABLED"}
    wanted = spec.request["networkConfiguration"]["awsvpcConfiguration"]
    if wanted.get("securityGroups"):
        out["securityGroups"] = sorted(vpc.get("securityGroups") or [])
    return {"awsvpcConfiguration": out}


def _deployment(config: Mapping[str, Any] | None) -> dict[str, Any]:
    config = config or {}
    breaker = {**_BREAKER_OFF, **(config.get("deploymentCircuitBreaker") or {})}
    out_breaker = {"enable": bool(breaker["enable"]), "rollback": bool(breaker["rollback"]),
                   "thresholdConfiguration": dict(breaker.get("thresholdConfiguration") or _THRESHOLD_DEFAULT)}
    return {"maximumPercent": config.get("maximumPercent", 200),
            "minimumHealthyPercent": config.get("minimumHealthyPercent", 100),
            "deploymentCircuitBreaker": out_breaker}


def _connect(connect: Mapping[str, Any] | None) -> dict[str, Any]:
    if not connect or not connect.get("enabled"):
        return {"enabled": False}
    services = []
    for item in connect.get("services") or []:
        aliases = sorted(({"port": a.get("port"), "dnsName": a.get("dnsName")}
                          for a in item.get("clientAliases") or []), key=repr)
        services.append({"portName": item.get("portName"),
                         "discoveryName": item.get("discoveryName") or item.get("portName"), "clientAliases": aliases})
    return {"enabled": True, "namespace": connect.get("namespace"),
            "services": sorted(services, key=lambda item: str(item["portName"]))}


def _same_namespace(live: str | None, wanted: str, wanted_arn: str | None) -> bool:
    if live is None:
        return False
    if live in (wanted, wanted_arn):
        return True
    # A name and an ARN cannot be matched offline (the ARN holds the namespace's id, not its name): the same,
    # unless the adapter resolved the name.
    return wanted_arn is None and live.startswith("arn:") != wanted.startswith("arn:")


def _differences(old: Any, new: Any, path: str):
    """Changes from ``old`` to ``new``, down dicts; lists (sorted above where order means nothing) whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(dict.fromkeys([*old, *new])):
            yield from _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
    elif not strictly_equal(old, new):
        yield Change(path, old, new)


def _tag_changes(wanted: Mapping[str, str], live: Any) -> tuple[dict[str, str], tuple[str, ...]]:
    if live is None:  # described without include=["TAGS"]: nothing to say
        return {}, ()
    found = {tag.get("key"): tag.get("value") for tag in live}
    add = {key: value for key, value in wanted.items() if found.get(key) != value}
    remove = tuple(sorted(key for key in found if key not in wanted and not str(key).lower().startswith("aws:")))
    return add, remove
