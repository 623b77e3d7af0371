"""ECS service answers for the deploy tests' scripted endpoints (``EcsEndpoint.respond``), in the shape real ECS
gives them (tests/fixtures/real_shape/, SOURCES.md there): CreateService, UpdateService and DescribeServices all
answer the same `Service` structure. ``service_item`` makes one from the CreateService request ecsflow sends,
with the deployments a test scripts (``deployment``), as ECS keeps the request: the members sent, the defaults
ECS fills (deploymentConfiguration's percentages, strategy and bake time, the grace period,
availabilityZoneRebalancing), the read-only members of the 2026 answer (roleArn, platformFamily, ...)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

REAL = Path(__file__).parent / "fixtures" / "real_shape"
ACCOUNT = "123456789012"


def deployment(deployment_id: str, task_definition: str, *, status: str = "PRIMARY", rollout: str = "IN_PROGRESS",
               running: int = 0, desired: int = 1, pending: int | None = None, failed: int = 0,
               reason: str | None = None) -> dict:
    """One item of a service's `deployments`, as the 2026 answer has them."""
    template = json.loads((REAL / "workshop_update_service_load_balancer.json").read_text())["service"]
    item = copy.deepcopy(template["deployments"][0])
    said = {"COMPLETED": "completed", "IN_PROGRESS": "in progress"}.get(rollout, "failed")
    item.update({"id": deployment_id, "status": status, "taskDefinition": task_definition, "desiredCount": desired,
                 "runningCount": running, "pendingCount": desired - running if pending is None else pending,
                 "failedTasks": failed, "rolloutState": rollout,
                 "rolloutStateReason": reason or f"ECS deployment {deployment_id} {said}."})
    return item


def service_item(request: dict, deployments: list[dict], *, region: str = "us-east-1", events: list[dict] = (),
                 tags: bool = True, desired: int | None = None) -> dict:
    """The DescribeServices item for a service created with ``request`` (CreateService's kwargs)."""
    template = json.loads((REAL / "workshop_update_service_load_balancer.json").read_text())["service"]
    answer = copy.deepcopy(template)
    sent = {k: copy.deepcopy(v) for k, v in request.items() if k not in ("clientToken", "cluster")}
    connect = sent.pop("serviceConnectConfiguration", None)
    for member in ("launchType", "capacityProviderStrategy", "healthCheckGracePeriodSeconds", "tags"):
        answer.pop(member, None)
    answer.update(sent)
    name, cluster = request["serviceName"], request.get("cluster", "default")
    answer["serviceArn"] = f"arn:aws:ecs:{region}:{ACCOUNT}:service/{cluster}/{name}"
    answer["clusterArn"] = f"arn:aws:ecs:{region}:{ACCOUNT}:cluster/{cluster}"
    answer["availabilityZoneRebalancing"] = "ENABLED"
    answer["deploymentConfiguration"] = {"maximumPercent": 200, "minimumHealthyPercent": 100, **sent.get(
        "deploymentConfiguration", {}), "strategy": "ROLLING", "bakeTimeInMinutes": 0}
    answer.setdefault("healthCheckGracePeriodSeconds", 0)
    answer["loadBalancers"] = sent.get("loadBalancers", [])
    if desired is not None:
        answer["desiredCount"] = desired
    answer["deployments"] = copy.deepcopy(deployments)
    primary = next((d for d in deployments if d["status"] == "PRIMARY"), None)
    if primary:
        answer["taskDefinition"] = primary["taskDefinition"]
        answer["runningCount"] = primary["runningCount"]
        answer["pendingCount"] = primary["pendingCount"]
        if connect:
            primary = next(d for d in answer["deployments"] if d["status"] == "PRIMARY")
            primary["serviceConnectConfiguration"] = connect
    answer["events"] = list(events)
    if not tags:
        answer.pop("tags", None)
    return answer


def event(event_id: str, message: str, at: str = "2026-04-30T03:00:42.816000+00:00") -> dict:
    return {"id": event_id, "createdAt": at, "message": message}


def described(*items: dict, missing: tuple[str, ...] = (), region: str = "us-east-1",
              cluster: str = "default") -> dict:
    """A DescribeServices answer: ``items``, and a MISSING failure for each name in ``missing``."""
    return {"services": list(items), "failures": [
        {"arn": f"arn:aws:ecs:{region}:{ACCOUNT}:service/{cluster}/{name}", "reason": "MISSING"} for name in missing]}


def answered(item: dict) -> dict:
    """CreateService's and UpdateService's answer: the service, without the tags (they are not returned)."""
    service = copy.deepcopy(item)
    service.pop("tags", None)
    return {"service": service}
