"""ECS services as ECS runs them, in moto (the sandbox, and the tests' endpoint): moto 5.2 keeps half of a
CreateService and never rolls a deployment out (design/services.md section 3), so while
``install_service_semantics`` is in effect moto's ECS answers CreateService, UpdateService, DeleteService,
DescribeServices and ListServices through ``ecsflow.sandbox.service_life`` (what ECS does with a service) and
``ecsflow.sandbox.service_answers`` (what it answers):

- every CreateService member is kept and answered with ECS's defaults; no launchType with a capacity provider
  strategy; moto's subnet and security group checks are skipped (the sandbox takes the network as given, as the
  runner does with ``check_network=False``; moto's check also imports its EC2 and fails without securityGroups);
  ECS's own checks are made instead: an awsvpc task definition needs a networkConfiguration, a load balancer's
  container and port must be in the task definition;
- deployments roll out one step per DescribeServices, a taken name is "not idempotent" unless retried with the
  same clientToken, a deleted service drains, then is INACTIVE and no longer listed; more than 10 names in one
  DescribeServices is refused, as ECS refuses it.

The state of each service is kept on moto's own `Service` object (``ecsflow``), so moto's reset forgets it with
the rest, and moto's TagResource/UntagResource/ListTagsForResource keep working on its tags.

The failure switch (a sandbox test switch, off by default): ``ECSFLOW_SANDBOX_FAIL_DEPLOYMENTS`` holds service
name globs (``api``, ``etl-*``, comma-separated); a deployment started while a glob matches its service's name fails
at the next DescribeServices as ECS's circuit breaker fails one ("tasks failed to start."), then rolls back when
the service's circuit breaker says so (``service_life``). It is read when a deployment starts.
"""

from __future__ import annotations

import copy
import fnmatch
import os
import threading
from typing import Any

from ecsflow.sandbox import service_life
from ecsflow.sandbox.moto_patches import now
from ecsflow.sandbox.moto_pin import CountedPatches
from ecsflow.sandbox.service_answers import service_answer
from ecsflow.sandbox.service_life import EcsService, Refused

FAIL_DEPLOYMENTS = "ECSFLOW_SANDBOX_FAIL_DEPLOYMENTS"
DESCRIBE_MAX = 10  # DescribeServices' limit
_LOCK = threading.RLock()  # moto's server answers calls on several threads; a service changes under this lock


def install_service_semantics() -> None:
    _SERVICES.install()


def uninstall_service_semantics() -> None:
    _SERVICES.uninstall()


def failure_chosen(name: str) -> bool:
    """Whether the failure switch makes a new deployment of the service ``name`` fail."""
    globs = [glob.strip() for glob in os.environ.get(FAIL_DEPLOYMENTS, "").split(",") if glob.strip()]
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs)


def state_of(service: Any) -> EcsService | None:
    """The ECS state of one of moto's services (None: made without these semantics)."""
    return getattr(service, "ecsflow", None)


def backend_of(region: str) -> Any:
    """moto's ECS backend of ``region`` in moto's default account (the sandbox's)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ecs.models import ecs_backends

    return ecs_backends[DEFAULT_ACCOUNT_ID][region]


def add_service(backend: Any, cluster: Any, request: dict[str, Any], state: EcsService) -> Any:
    """Make moto's `Service` for ``state`` (created through moto's own create_service, less the network it would
    check) and keep the state on it."""
    service = backend.__class__.create_service(
        backend, cluster_str=cluster.name, service_name=state.name, desired_count=state.desired,
        task_definition_str=None, load_balancers=copy.deepcopy(request.get("loadBalancers")),
        scheduling_strategy=request.get("schedulingStrategy"), tags=copy.deepcopy(request.get("tags")),
        deployment_controller=request.get("deploymentController"), launch_type="FARGATE",
        service_registries=request.get("serviceRegistries"), platform_version=request.get("platformVersion"),
        propagate_tags=request.get("propagateTags") or "NONE", network_configuration=None,
        role_arn=request.get("role"))
    state.arn = service.arn  # moto's, which its TagResource compares
    service.ecsflow = state
    _mirror(service, state)
    return service


def identities(cluster_arn: str, role: str | None = None) -> tuple[str, str]:
    """(the service's role: ``role`` as an ARN, else ECS's service-linked role; the caller moto says it is), in
    the account of ``cluster_arn``."""
    _, partition, _, _, account = cluster_arn.split(":")[:5]
    iam = f"arn:{partition}:iam::{account}"
    if role:
        return (role if role.startswith("arn:") else f"{iam}:role/{role}"), f"{iam}:user/moto"
    return f"{iam}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS", f"{iam}:user/moto"


def _mirror(service: Any, state: EcsService) -> None:
    """What moto's own code reads of a service (ListTaskSets, its CloudFormation), as the state says."""
    service.status = state.status
    service.desired_count = state.desired
    service.running_count = sum(d.running for d in state.deployments)
    service.pending_count = 0
    service.task_definition = state.primary.revision["taskDefinition"]
    service.launch_type = state.request.get("launchType")


def _answer(service: Any) -> Any:
    state = state_of(service)
    return service if state is None else service_answer(state, service.tags)


def _platform_family(definition: Any) -> str:
    family = (getattr(definition, "runtime_platform", None) or {}).get("operatingSystemFamily")
    return "Linux" if family in (None, "LINUX") else str(family)


def _check(definition: Any, network: Any, load_balancers: Any) -> None:
    """ECS's checks of a service against its task definition, which moto does not make."""
    if definition.network_mode == "awsvpc" and not (network or {}).get("awsvpcConfiguration"):
        raise Refused("InvalidParameterException",
                      "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    if network and not (network.get("awsvpcConfiguration") or {}).get("subnets"):
        raise Refused("InvalidParameterException", "subnets can not be empty.")
    containers = {c.get("name"): c for c in definition.container_definitions}
    for balancer in load_balancers or []:
        name, port = balancer.get("containerName"), balancer.get("containerPort")
        if name not in containers:
            raise Refused("InvalidParameterException", f"The container {name} does not exist in the task definition.")
        if port not in [m.get("containerPort") for m in containers[name].get("portMappings") or []]:
            raise Refused("InvalidParameterException", f"The container {name} did not have a container port {port} "
                          "defined.")


def _make_patches() -> list[Any]:
    from unittest import mock

    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import ECSException, InvalidParameterException
    from moto.ecs.responses import DESCRIBE_SERVICES_TAGS, EC2ContainerServiceResponse

    def ecs_error(call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except Refused as refused:
            raise ECSException(refused.code, refused.message) from None

    def create_service(self: Any) -> ActionResult:
        request = copy.deepcopy(self._get_params())
        backend = self.ecs_backend
        cluster = backend._get_cluster(request.get("cluster", "default"))
        name = request["serviceName"]
        with _LOCK:
            existing = backend.services.get(f"{cluster.name}:{name}")
            if state_of(existing) is not None and state_of(existing).status != "INACTIVE":
                ecs_error(service_life.check_retry, state_of(existing), request)
                return ActionResult({"service": _answer(existing)})  # a retry: the service it made
            definition = backend.describe_task_definition(request["taskDefinition"])
            ecs_error(_check, definition, request.get("networkConfiguration"), request.get("loadBalancers"))
            role, caller = identities(cluster.arn, request.get("role"))
            state = ecs_error(service_life.create, request, task_definition=definition.arn, name=name,
                              cluster_arn=cluster.arn, arn="",
                              role_arn=role, created_by=caller, now=now(),
                              platform_family=_platform_family(definition), fails=failure_chosen(name))
            service = add_service(backend, cluster, request, state)
            return ActionResult({"service": _answer(service)})

    def update_service(self: Any) -> ActionResult:
        changes = copy.deepcopy(self._get_params())
        backend = self.ecs_backend
        cluster_str, name = changes.pop("cluster", "default"), str(changes.pop("service")).split("/")[-1]
        with _LOCK:
            service = backend._get_service(cluster_str, name)
            state = state_of(service)
            if state is None:
                return original["update_service"](self)
            if state.status != "ACTIVE":
                raise ECSException("ServiceNotActiveException", service_life.NOT_ACTIVE)
            family = state.primary.platform_family
            if {"taskDefinition", "networkConfiguration", "loadBalancers"} & set(changes):
                definition = backend.describe_task_definition(changes.get("taskDefinition")
                                                              or state.request["taskDefinition"])
                ecs_error(_check, definition, changes.get("networkConfiguration",
                                                          state.request.get("networkConfiguration")),
                          changes.get("loadBalancers", state.request.get("loadBalancers")))
                if "taskDefinition" in changes:
                    changes["taskDefinition"], family = definition.arn, _platform_family(definition)
            ecs_error(service_life.update, state, changes, now(), platform_family=family,
                      fails=failure_chosen(name))
            _mirror(service, state)
            return ActionResult({"service": _answer(service)})

    def delete_service(self: Any) -> ActionResult:
        with _LOCK:
            service = self.ecs_backend._get_service(self._get_param("cluster", "default"),
                                                    str(self._get_param("service")).split("/")[-1])
            state = state_of(service)
            if state is None:
                return original["delete_service"](self)
            ecs_error(service_life.delete, state, force=bool(self._get_param("force", False)))
            _mirror(service, state)
            return ActionResult({"service": _answer(service)})

    def describe_services(self: Any) -> ActionResult:
        names = self._get_param("services", [])
        if not names:
            raise InvalidParameterException("Services cannot be empty.")
        if len(names) > DESCRIBE_MAX:
            raise InvalidParameterException(f"service names can have at most {DESCRIBE_MAX} items.")
        with _LOCK:
            found, failures = self.ecs_backend.describe_services(self._get_param("cluster", "default"), names)
            settled: set[int] = set()
            for service in found:
                state = state_of(service)
                if state is not None and id(state) not in settled:  # one step per call, even if named twice
                    settled.add(id(state))
                    service_life.settle(state, now())
                    _mirror(service, state)
            answers = [_answer(service) for service in found]
        if "TAGS" in self._get_param("include", []):
            self._include_in_response(DESCRIBE_SERVICES_TAGS)
        else:
            self._exclude_from_response(DESCRIBE_SERVICES_TAGS)
        return ActionResult({"services": answers, "failures": failures})

    def list_services(self: Any) -> ActionResult:
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        strategy, launch_type = self._get_param("schedulingStrategy"), self._get_param("launchType")
        with _LOCK:
            arns = sorted(service.arn for service in backend.services.values()
                          if service.cluster_name == cluster.name and service.status != "INACTIVE"
                          and strategy in (None, service.scheduling_strategy)
                          and launch_type in (None, service.launch_type))
        return ActionResult({"serviceArns": arns})

    handlers = {"create_service": create_service, "update_service": update_service,
                "delete_service": delete_service, "describe_services": describe_services,
                "list_services": list_services}
    original = {name: getattr(EC2ContainerServiceResponse, name) for name in handlers}
    return [mock.patch.object(EC2ContainerServiceResponse, name, handler) for name, handler in handlers.items()]


_SERVICES = CountedPatches(_make_patches)
