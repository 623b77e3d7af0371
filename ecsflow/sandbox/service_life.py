"""What ECS does with a service over time, for the sandbox and the tests' endpoint (``moto_services`` hooks it into
moto, which keeps half of CreateService and never rolls out: design/services.md section 3).

A service keeps every CreateService member it was given (``EcsService.request``, UpdateService's merged in) and
answers with the members ECS fills (``answer``: deploymentConfiguration 200/100 with the circuit breaker off,
assignPublicIp DISABLED, platformVersion LATEST, availabilityZoneRebalancing ENABLED, ...), in the shape of the
real answers kept in tests/fixtures/real_shape/. Its deployments roll out as ECS's do, one step per
DescribeServices (``settle``), since nothing runs between two calls:

- CreateService starts a PRIMARY deployment IN_PROGRESS; an UpdateService that changes what the tasks run
  (``STARTS_DEPLOYMENT``, which the API reference says of each member) or forces one starts a new PRIMARY and
  makes the others ACTIVE; one that only changes counts or settings starts none;
- the next DescribeServices completes the PRIMARY: COMPLETED, running = desired, the ACTIVE ones gone, events
  "(deployment ...) deployment completed." and "has reached a steady state." (newest first, at most 100);
- a deployment the failure switch chose (``fails``: ECSFLOW_SANDBOX_FAIL_DEPLOYMENTS, ``moto_services``) fails
  instead, as ECS's circuit breaker fails one: FAILED "ECS deployment circuit breaker: tasks failed to start.",
  and with rollback on, a new PRIMARY runs the last COMPLETED deployment's revision again ("rolling back to
  deploymentId ..."), which completes at the describe after; with the circuit breaker off ECS never fails a
  deployment, so it stays IN_PROGRESS (a deploy times out);
- DeleteService drains (DRAINING), the next DescribeServices finds it INACTIVE; an UpdateService or DeleteService of
  a service that is not ACTIVE is ServiceNotActiveException, a CreateService on a taken name is "not idempotent"
  unless it is the same request with the same clientToken (a retry after a lost answer).

Pure: the caller resolves task definitions, gives the time, and turns ``Refused`` into ECS's error answer.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# UpdateService members that start a new deployment (UpdateService's reference: "This parameter triggers a new
# service deployment"); with the capacity members, what a deployment runs, which a rollback restores.
STARTS_DEPLOYMENT = ("taskDefinition", "networkConfiguration", "platformVersion", "loadBalancers", "serviceRegistries",
                     "serviceConnectConfiguration", "volumeConfigurations", "vpcLatticeConfigurations")
CAPACITY = ("launchType", "capacityProviderStrategy")
REVISION = STARTS_DEPLOYMENT + CAPACITY
MAX_EVENTS = 100  # DescribeServices shows the last 100
NOT_IDEMPOTENT = "Creation of service was not idempotent."
NOT_ACTIVE = "Service was not ACTIVE."
CAPACITY_NEEDS_FORCE = ("When switching from launch type to capacity provider strategy on an existing service, or "
                        "making a change to a capacity provider strategy on a service that is already using one, you "
                        "must force a new deployment.")
FAILED_TO_START = "ECS deployment circuit breaker: tasks failed to start."
_UNABLE = ("(service {}) is unable to consistently start tasks successfully. For more information, see the "
           "Troubleshooting section of the Amazon ECS Developer Guide.")


class Refused(Exception):
    """ECS's error answer to a call: ``code`` (the error's shape name) and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Deployment:
    id: str
    status: str  # PRIMARY or ACTIVE
    revision: dict[str, Any]  # the REVISION members it runs (taskDefinition as an ARN)
    desired: int
    running: int
    created_at: datetime
    updated_at: datetime
    platform_family: str  # "Linux", or the task definition's Windows family
    rollout: str = "IN_PROGRESS"
    reason: str = ""
    failed_tasks: int = 0
    fails: bool = False  # chosen by the sandbox's failure switch
    said_unable: bool = False

    def __post_init__(self) -> None:
        self.reason = self.reason or f"ECS deployment {self.id} in progress."


@dataclass
class EcsService:
    name: str
    cluster_arn: str
    arn: str
    request: dict[str, Any]  # CreateService's members as they now are (no cluster, tags or clientToken)
    created_at: datetime
    created_by: str
    role_arn: str
    client_token: str | None = None
    created_digest: str = ""  # of the CreateService request that made it: a retry must be the same
    status: str = "ACTIVE"
    deployments: list[Deployment] = field(default_factory=list)  # the PRIMARY first
    events: list[dict[str, Any]] = field(default_factory=list)  # the newest first

    @property
    def primary(self) -> Deployment:
        return self.deployments[0]

    @property
    def desired(self) -> int:
        return int(self.request.get("desiredCount") or 0)


def digest(request: dict[str, Any]) -> str:
    """What a retried CreateService must repeat: the request, its clientToken aside."""
    text = json.dumps({k: v for k, v in request.items() if k != "clientToken"}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def create(request: dict[str, Any], *, task_definition: str, name: str, cluster_arn: str, arn: str, role_arn: str,
           created_by: str, now: datetime, platform_family: str, fails: bool) -> EcsService:
    """The service a CreateService ``request`` (as sent: its tags and clientToken go to the digest a retry must
    match, not to the service) makes, running ``task_definition`` (the ARN its taskDefinition names), its first
    deployment IN_PROGRESS."""
    if request.get("launchType") and request.get("capacityProviderStrategy"):
        raise Refused("InvalidParameterException", "Specifying both a launchType and capacityProviderStrategy is not "
                      "supported. Remove one and try again.")
    kept = {k: copy.deepcopy(v) for k, v in request.items() if k not in ("cluster", "tags", "clientToken")}
    kept["taskDefinition"] = task_definition
    if not kept.get("capacityProviderStrategy"):
        kept.pop("capacityProviderStrategy", None)
        kept.setdefault("launchType", "EC2")  # ECS's default, without a cluster default strategy
    service = EcsService(name, cluster_arn, arn, kept, now, created_by, role_arn, request.get("clientToken"),
                         digest(request))
    service.deployments = [_deployment(service, now, platform_family, fails, running=0)]
    return service


def check_retry(service: EcsService, request: dict[str, Any]) -> None:
    """A CreateService on the name of a service that is ACTIVE or DRAINING: a retry of the request that made it
    (same clientToken, same request) is answered with the service; anything else is refused, as ECS does."""
    token = request.get("clientToken")
    if token is None or token != service.client_token or digest(request) != service.created_digest:
        raise Refused("InvalidParameterException", NOT_IDEMPOTENT)


def update(service: EcsService, changes: dict[str, Any], now: datetime, *, platform_family: str,
           fails: bool) -> None:
    """UpdateService's members ``changes`` (taskDefinition resolved to an ARN; no cluster or service)."""
    if service.status != "ACTIVE":
        raise Refused("ServiceNotActiveException", NOT_ACTIVE)
    changes = dict(changes)
    force = bool(changes.pop("forceNewDeployment", False))
    wanted = copy.deepcopy(service.request)
    for key, value in changes.items():
        if key == "capacityProviderStrategy":
            if value:
                wanted.update(capacityProviderStrategy=copy.deepcopy(value))
                wanted.pop("launchType", None)
            else:  # an empty strategy goes back to the launch type
                wanted.pop("capacityProviderStrategy", None)
                wanted["launchType"] = service.request.get("launchType") or _launch_type_of(service.request)
        elif key == "deploymentConfiguration":
            wanted[key] = {**wanted.get(key, {}), **copy.deepcopy(value)}
        else:
            wanted[key] = copy.deepcopy(value)
    if _capacity(wanted) != _capacity(service.request) and not force:
        raise Refused("InvalidParameterException", CAPACITY_NEEDS_FORCE)
    starts = force or any(not _same(key, wanted.get(key), service.request.get(key)) for key in STARTS_DEPLOYMENT)
    service.request = wanted
    if starts:
        for deployment in service.deployments:
            deployment.status = "ACTIVE"
        service.deployments.insert(0, _deployment(service, now, platform_family, fails, running=0))
    elif service.primary.desired != service.desired:
        service.primary.desired, service.primary.updated_at = service.desired, now  # scaled at the next describe


def delete(service: EcsService, *, force: bool) -> None:
    if service.status != "ACTIVE":
        raise Refused("ServiceNotActiveException", NOT_ACTIVE)
    if service.desired > 0 and not force:
        raise Refused("InvalidParameterException", "The service cannot be stopped while it is scaled above 0.")
    service.status = "DRAINING"
    service.request["desiredCount"] = 0
    for deployment in service.deployments:
        deployment.desired = 0


def settle(service: EcsService, now: datetime) -> None:
    """What ECS has done by the next DescribeServices: the PRIMARY deployment completed (or failed, see the
    module docstring), a new desired count reached, a drained service INACTIVE."""
    if service.status == "DRAINING":
        service.status = "INACTIVE"
        for deployment in service.deployments:
            deployment.running = 0
        return
    if service.status != "ACTIVE":
        return
    primary = service.primary
    if primary.rollout == "IN_PROGRESS":
        (_fail if primary.fails else _complete)(service, primary, now)
    elif primary.rollout == "COMPLETED" and primary.running != primary.desired:
        primary.running, primary.updated_at = primary.desired, now
        _event(service, now, f"(service {service.name}) has reached a steady state.")


def _complete(service: EcsService, deployment: Deployment, now: datetime) -> None:
    deployment.rollout, deployment.reason = "COMPLETED", f"ECS deployment {deployment.id} completed."
    deployment.running, deployment.failed_tasks, deployment.updated_at = deployment.desired, 0, now
    service.deployments = [deployment]
    _event(service, now, f"(service {service.name}) (deployment {deployment.id}) deployment completed.")
    _event(service, now, f"(service {service.name}) has reached a steady state.")


def _fail(service: EcsService, deployment: Deployment, now: datetime) -> None:
    breaker = (service.request.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker") or {}
    deployment.failed_tasks, deployment.running, deployment.updated_at = _threshold(breaker, service.desired), 0, now
    if not breaker.get("enable"):  # ECS keeps replacing the failed tasks: the deployment never ends
        if not deployment.said_unable:
            deployment.said_unable = True
            _event(service, now, _UNABLE.format(service.name))
        return
    deployment.rollout, deployment.reason = "FAILED", FAILED_TO_START
    _event(service, now, f"(service {service.name}) (deployment {deployment.id}) deployment failed: tasks failed "
           "to start.")
    completed = next((d for d in service.deployments[1:] if d.rollout == "COMPLETED"), None)
    if not breaker.get("rollback") or completed is None:  # nothing to go back to: the deployment stalls
        return
    deployment.status = "ACTIVE"
    service.request.update(copy.deepcopy(completed.revision))
    rollback = _deployment(service, now, completed.platform_family, False, running=completed.running)
    rollback.reason = f"ECS deployment circuit breaker: rolling back to deploymentId {completed.id}."
    service.deployments = [rollback, deployment]  # the completed deployment's tasks are the rollback's now
    _event(service, now, f"(service {service.name}) rolling back to deployment {completed.id}.")


def _threshold(breaker: dict[str, Any], desired: int) -> int:
    """How many failed tasks make the circuit breaker trip (DeploymentCircuitBreaker's thresholdConfiguration;
    by default half the desired count, at least 3 and at most 200)."""
    config = breaker.get("thresholdConfiguration") or {}
    kind, value = config.get("type", "BOUNDED_PERCENT"), int(config.get("value", 50))
    if kind == "COUNT":
        return max(1, value)
    count = math.ceil(value * desired / 100)
    return min(200, max(3, count)) if kind == "BOUNDED_PERCENT" else max(1, count)


def _deployment(service: EcsService, now: datetime, platform_family: str, fails: bool, *, running: int) -> Deployment:
    revision = {key: copy.deepcopy(service.request[key]) for key in REVISION if key in service.request}
    return Deployment(new_deployment_id(), "PRIMARY", revision, service.desired, running, now, now, platform_family,
                      fails=fails)


def new_deployment_id() -> str:
    return f"ecs-svc/{random.randrange(10**18, 10**19)}"


def _event(service: EcsService, now: datetime, message: str) -> None:
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": now, "message": message})
    del service.events[MAX_EVENTS:]


def _capacity(request: dict[str, Any]) -> Any:
    strategy = request.get("capacityProviderStrategy")
    if strategy:
        return sorted((item["capacityProvider"], item.get("weight", 0), item.get("base", 0)) for item in strategy)
    return request.get("launchType")


def _launch_type_of(request: dict[str, Any]) -> str:
    """The launch type a service goes back to from a strategy of Fargate's capacity providers only: FARGATE."""
    providers = {item.get("capacityProvider") for item in request.get("capacityProviderStrategy") or []}
    return "FARGATE" if providers and providers <= {"FARGATE", "FARGATE_SPOT"} else "EC2"


def _same(key: str, new: Any, old: Any) -> bool:
    """Whether UpdateService's ``new`` value of ``key`` is what the service has (``old``), as ECS compares them."""
    if key == "networkConfiguration":
        return _network(new) == _network(old)
    if key == "platformVersion":
        return (new or "LATEST") == (old or "LATEST")
    if key in ("loadBalancers", "serviceRegistries"):
        return sorted(map(_canonical, new or [])) == sorted(map(_canonical, old or []))
    return _canonical(new) == _canonical(old)


def _canonical(value: Any) -> str:
    return json.dumps(value if value not in ([], {}) else None, sort_keys=True)


def filled_network(config: dict[str, Any]) -> dict[str, Any]:
    """A networkConfiguration as ECS answers it: assignPublicIp DISABLED when not given."""
    vpc = dict(config.get("awsvpcConfiguration") or {})
    vpc.setdefault("assignPublicIp", "DISABLED")
    return {**config, "awsvpcConfiguration": vpc}


def _network(config: dict[str, Any] | None) -> Any:
    if not config:
        return None
    vpc = filled_network(config)["awsvpcConfiguration"]
    return {**vpc, **{key: sorted(vpc.get(key) or []) for key in ("subnets", "securityGroups")}}
