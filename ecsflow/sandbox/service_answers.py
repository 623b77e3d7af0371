"""An ``EcsService`` (``service_life``) as ECS answers it in CreateService, UpdateService, DeleteService and
DescribeServices: the `Service` shape with every member ECS fills, in the shape of the real answers kept in
tests/fixtures/real_shape/ (the 2026 one: deploymentConfiguration's strategy and bake time,
availabilityZoneRebalancing, currentServiceRevisions, resourceManagementType). Service Connect is in the
deployments only, as ECS keeps it (the `Service` shape has no such member), with the discovery names and DNS names
ECS defaults filled. currentServiceDeployment is left out: it names DescribeServiceDeployments, which moto lacks.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from ecsflow.sandbox.service_life import Deployment, EcsService, filled_network

_DEPLOYMENT_DEFAULTS = {"maximumPercent": 200, "minimumHealthyPercent": 100, "strategy": "ROLLING",
                        "bakeTimeInMinutes": 0}
_FARGATE = ("FARGATE", "FARGATE_SPOT")
_RESOLVED_PLATFORM = "1.4.0"  # what a deployment of platform LATEST runs on Linux


def service_answer(service: EcsService, tags: list[dict[str, str]] | None) -> dict[str, Any]:
    r = service.request
    primary = service.primary
    answer: dict[str, Any] = {
        "serviceArn": service.arn,
        "serviceName": service.name,
        "clusterArn": service.cluster_arn,
        "loadBalancers": copy.deepcopy(r.get("loadBalancers") or []),
        "serviceRegistries": copy.deepcopy(r.get("serviceRegistries") or []),
        "status": service.status,
        "desiredCount": service.desired,
        "runningCount": sum(d.running for d in service.deployments),
        "pendingCount": 0,
        **_capacity(r),
    }
    if _on_fargate(r):
        answer.update(platformVersion=r.get("platformVersion") or "LATEST", platformFamily=primary.platform_family)
    given = copy.deepcopy(r.get("deploymentConfiguration") or {})
    breaker = {"enable": False, "rollback": False, **given.pop("deploymentCircuitBreaker", {})}
    answer.update({
        "taskDefinition": primary.revision["taskDefinition"],
        "deploymentConfiguration": {"deploymentCircuitBreaker": breaker, **_DEPLOYMENT_DEFAULTS, **given},
        "deployments": [_deployment_answer(service, d) for d in service.deployments],
        "roleArn": service.role_arn,
        "events": copy.deepcopy(service.events),
        "createdAt": service.created_at,
        "currentServiceRevisions": [
            {"arn": service.arn.replace(":service/", ":service-revision/", 1) + "/" + d.id.rsplit("/", 1)[-1],
             "requestedTaskCount": d.desired, "runningTaskCount": d.running, "pendingTaskCount": 0}
            for d in service.deployments],
        "placementConstraints": copy.deepcopy(r.get("placementConstraints") or []),
        "placementStrategy": copy.deepcopy(r.get("placementStrategy") or []),
    })
    if r.get("networkConfiguration"):
        answer["networkConfiguration"] = filled_network(copy.deepcopy(r["networkConfiguration"]))
    answer.update({
        "healthCheckGracePeriodSeconds": r.get("healthCheckGracePeriodSeconds", 0),
        "schedulingStrategy": r.get("schedulingStrategy", "REPLICA"),
        "deploymentController": copy.deepcopy(r.get("deploymentController") or {"type": "ECS"}),
        "tags": copy.deepcopy(tags) if tags else None,  # moto's serializer drops them unless include=["TAGS"]
        "createdBy": service.created_by,
        "enableECSManagedTags": r.get("enableECSManagedTags", False),
        "propagateTags": r.get("propagateTags", "NONE"),
        "enableExecuteCommand": r.get("enableExecuteCommand", False),
        "availabilityZoneRebalancing": r.get("availabilityZoneRebalancing", "ENABLED"),
        "resourceManagementType": "CUSTOMER",
    })
    return answer


def _deployment_answer(service: EcsService, deployment: Deployment) -> dict[str, Any]:
    revision = deployment.revision
    answer: dict[str, Any] = {
        "id": deployment.id, "status": deployment.status, "taskDefinition": revision["taskDefinition"],
        "desiredCount": deployment.desired, "pendingCount": 0, "runningCount": deployment.running,
        "failedTasks": deployment.failed_tasks, "createdAt": deployment.created_at,
        "updatedAt": deployment.updated_at, **_capacity(revision),
    }
    if _on_fargate(revision):
        platform = revision.get("platformVersion") or "LATEST"
        answer.update(platformVersion=_RESOLVED_PLATFORM if platform == "LATEST" else platform,
                      platformFamily=deployment.platform_family)
    if revision.get("networkConfiguration"):
        answer["networkConfiguration"] = filled_network(copy.deepcopy(revision["networkConfiguration"]))
    answer.update(rolloutState=deployment.rollout, rolloutStateReason=deployment.reason)
    connect = revision.get("serviceConnectConfiguration")
    if connect and connect.get("enabled"):
        answer["serviceConnectConfiguration"] = filled = _connect(connect)
        answer["serviceConnectResources"] = [
            {"discoveryName": item["discoveryName"], "discoveryArn": _discovery_arn(service, item["discoveryName"])}
            for item in filled.get("services") or []]
    for key in ("volumeConfigurations", "vpcLatticeConfigurations"):
        if revision.get(key):
            answer[key] = copy.deepcopy(revision[key])
    return answer


def _capacity(request: dict[str, Any]) -> dict[str, Any]:
    strategy = request.get("capacityProviderStrategy")
    if strategy:
        return {"capacityProviderStrategy": [{"capacityProvider": item["capacityProvider"],
                                              "weight": item.get("weight", 0), "base": item.get("base", 0)}
                                             for item in strategy]}
    return {"launchType": request.get("launchType") or "EC2"}


def _on_fargate(request: dict[str, Any]) -> bool:
    strategy = request.get("capacityProviderStrategy")
    if strategy:
        return all(item.get("capacityProvider") in _FARGATE for item in strategy)
    return request.get("launchType") == "FARGATE"


def _connect(config: dict[str, Any]) -> dict[str, Any]:
    """Service Connect as ECS keeps it: each service's discoveryName defaults to its portName, each client
    alias's dnsName to discoveryName.namespace."""
    filled = copy.deepcopy(config)
    namespace = str(filled.get("namespace") or "")
    for item in filled.get("services") or []:
        item.setdefault("discoveryName", item.get("portName"))
        for alias in item.get("clientAliases") or []:
            if not namespace.startswith("arn:"):
                alias.setdefault("dnsName", f"{item['discoveryName']}.{namespace}")
    return filled


def _discovery_arn(service: EcsService, discovery_name: str) -> str:
    _, partition, _, region, account = service.arn.split(":")[:5]
    digest = hashlib.sha256(f"{service.arn}/{discovery_name}".encode()).hexdigest()[:16]
    return f"arn:{partition}:servicediscovery:{region}:{account}:service/srv-{digest}"
