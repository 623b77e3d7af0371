"""A compose service that is a server (kind `service`) + the settings + its task-definition build -> the
`ServiceSpec` that `deploy` creates or updates (design/services.md section 4.3). Pure: no AWS call.

Everything that would make ECS refuse the service, or run something else than the compose file says, is a
BuildError naming the service and key before any write: no subnets, several ports and no container_port, a
grace period without a load balancer, `deploy.mode: global`. The adapter resolves a target group written as a
name to its ARN, owns the desired count once a scalable target exists (`with_autoscaling_owner`), and hands the
registered revision to `create_request` / `update_request`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ecsflow.compose.kind import KIND_KEY, Kind
from ecsflow.compose.model import ComposeProject, Service
from ecsflow.compose.service_block import TARGET_GROUP_ARN, Autoscaling
from ecsflow.diff import Change
from ecsflow.errors import BuildError
from ecsflow.runtask import NO_SUBNETS_HINT, capacity_provider_strategy, network_configuration
from ecsflow.service.connect import host_references, host_warning, service_connect
from ecsflow.service.deployment import ApiFeatures, deployment_configuration
from ecsflow.settings import Settings
from ecsflow.taskdef import TaskDefinitionBuild
from ecsflow.taskdef.container import INVALID_NAME_CHARS, ceil_seconds
from ecsflow.taskdef.context import Context

DesiredCountOwner = Literal["compose", "unset", "autoscaling"]
# What ecsflow always sends (as copilot, compose-x and compose-cli do).
FIXED: Mapping[str, Any] = {
    "propagateTags": "SERVICE",
    "enableECSManagedTags": True,
    "deploymentController": {"type": "ECS"},
    "schedulingStrategy": "REPLICA",
    "platformVersion": "LATEST",
}
LAUNCH_TYPE = "FARGATE"
CLIENT_TOKEN_LENGTH = 32  # of ECS's 36: a hex digest prefix, ASCII 33-126 as the API wants


@dataclass(frozen=True)
class LoadBalancer:
    """The target group the service registers its tasks in, as written (an ARN, or a name the adapter resolves
    with DescribeTargetGroups(Names)), and the container and port it sends to."""

    target_group: str
    container_name: str
    container_port: int

    @property
    def target_group_is_arn(self) -> bool:
        return TARGET_GROUP_ARN.fullmatch(self.target_group) is not None


@dataclass(frozen=True)
class ServiceSpec:
    """One ECS service as ecsflow wants it. ``request`` is the CreateService request less `taskDefinition` and
    `clientToken` (and with the target group as written): what `create_request` completes."""

    service: str  # the compose service
    ecs_service: str  # the ECS service's name
    cluster: str
    family: str  # the task definition family it runs
    kind: Kind
    desired_count: int  # what CreateService sends
    desired_count_owner: DesiredCountOwner  # compose: compared and sent; unset, autoscaling: never after create
    load_balancer: LoadBalancer | None
    autoscaling: Autoscaling | None
    namespace: str | None  # the Service Connect namespace, as the setting says it (a name or an ARN)
    tags: Mapping[str, str]  # those of its task definitions: ecsflow:managed/project/service, settings, x-ecsflow
    request: Mapping[str, Any] = field(repr=False)
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def with_autoscaling_owner(self) -> ServiceSpec:
        """The spec once Application Auto Scaling is known to own the count (a scalable target exists)."""
        return replace(self, desired_count_owner="autoscaling")

    def create_request(self, task_definition: str, target_group_arn: str | None = None, *,
                       preview: bool = False) -> dict[str, Any]:
        """CreateService's kwargs for the revision ``task_definition`` (an ARN or family:revision), with a
        clientToken made from the request, so that a CreateService whose answer was lost is sent again as the
        same request. A target group written as a name needs ``target_group_arn``, unless ``preview`` (render)."""
        request = copy.deepcopy(dict(self.request))
        request = {"cluster": request.pop("cluster"), "serviceName": request.pop("serviceName"),
                   "taskDefinition": task_definition, **request}
        if self.load_balancer is not None:
            request["loadBalancers"][0]["targetGroupArn"] = self._target_group_arn(target_group_arn, preview)
        request["clientToken"] = client_token(self.cluster, self.ecs_service, request)
        return request

    def update_request(self, changes: Iterable[Change], task_definition: str | None = None,
                       target_group_arn: str | None = None, *, force_new_deployment: bool = False) -> dict[str, Any]:
        """UpdateService's kwargs that send only the members ``changes`` (from `ecsflow.service.compare`) touch:
        `taskDefinition` (``task_definition``, needed then) when the content differs, desiredCount only when
        compose owns it, and forceNewDeployment only when asked."""
        wanted = self.request
        request: dict[str, Any] = {"cluster": self.cluster, "service": self.ecs_service}
        for member in dict.fromkeys(change.path.split(".")[0].split("[")[0] for change in changes):
            if member == "taskDefinition":
                if task_definition is None:
                    raise ValueError("the task definition changed: update_request needs the revision to run")
                request["taskDefinition"] = task_definition
            elif member == "desiredCount":
                if self.desired_count_owner == "compose":
                    request["desiredCount"] = self.desired_count
            elif member in ("launchType", "capacityProviderStrategy"):
                # UpdateService has no launchType: an empty strategy goes back to the launch type.
                request["capacityProviderStrategy"] = wanted.get("capacityProviderStrategy", [])
            elif member == "loadBalancers" and self.load_balancer is not None:
                request["loadBalancers"] = copy.deepcopy(wanted["loadBalancers"])
                request["loadBalancers"][0]["targetGroupArn"] = self._target_group_arn(target_group_arn, False)
            elif member in _UPDATABLE:
                request[member] = copy.deepcopy(wanted.get(member, _CLEARED.get(member)))
        if force_new_deployment:
            request["forceNewDeployment"] = True
        return request

    def _target_group_arn(self, arn: str | None, preview: bool) -> str:
        assert self.load_balancer is not None
        if arn is not None:
            return arn
        if self.load_balancer.target_group_is_arn or preview:
            return self.load_balancer.target_group
        raise ValueError(f"target group {self.load_balancer.target_group!r} is a name: resolve it to its ARN first")


# UpdateService members a change may touch, and what removing one sends.
_UPDATABLE = frozenset({"deploymentConfiguration", "networkConfiguration", "loadBalancers",
                        "healthCheckGracePeriodSeconds", "enableExecuteCommand", "enableECSManagedTags",
                        "propagateTags", "platformVersion", "serviceConnectConfiguration", "deploymentController"})
_CLEARED = {"loadBalancers": [], "healthCheckGracePeriodSeconds": 0, "enableExecuteCommand": False}


def client_token(cluster: str, name: str, request: Mapping[str, Any]) -> str:
    """CreateService's clientToken: the same for the same (cluster, name, request), at most 36 characters."""
    text = json.dumps([cluster, name, {k: v for k, v in request.items() if k != "clientToken"}], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:CLIENT_TOKEN_LENGTH]


def build_service_specs(project: ComposeProject, settings: Settings, builds: Iterable[TaskDefinitionBuild],
                        kinds: Mapping[str, Kind], *, strict: bool = False,
                        api: ApiFeatures = ApiFeatures()) -> list[ServiceSpec]:  # noqa: B008 - frozen
    """The specs of the services among ``builds`` whose kind (``kinds``: compose service -> Kind) is service, in
    compose order; every one is checked before one error (or all of them) is raised. Naming a job is the
    caller's error (`ecsflow.compose.kind.not_a_job_error`)."""
    specs: list[ServiceSpec] = []
    errors: list[BuildError] = []
    for build in builds:
        kind = kinds[build.service]
        if not kind.is_service:
            continue
        try:
            specs.append(build_service_spec(project, project.service(build.service), settings, build, kind,
                                            strict=strict, api=api))
        except BuildError as error:
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BuildError(f"{len(errors)} services cannot become ECS services:\n" + "\n".join(f"- {e}" for e in errors))
    owners: dict[str, str] = {}
    for spec in specs:
        if spec.ecs_service in owners:
            raise BuildError(f"services '{owners[spec.ecs_service]}' and '{spec.service}' would both be the ECS "
                             f"service '{spec.ecs_service}'", service=spec.service,
                             key="x-ecsflow.service.service_name",
                             **project.service(spec.service).where("x-ecsflow.service.service_name"),
                             hint="give one of them its own x-ecsflow.service.service_name")
        owners[spec.ecs_service] = spec.service
    return [replace(spec, warnings=spec.warnings + _host_warnings(project, spec, kinds, settings)) for spec in specs]


def build_service_spec(project: ComposeProject, service: Service, settings: Settings, build: TaskDefinitionBuild,
                       kind: Kind, *, strict: bool = False, api: ApiFeatures = ApiFeatures()) -> ServiceSpec:  # noqa: B008
    """One service's spec (see the module docstring); ``build`` is its task definition's."""
    ctx = Context(project, service, settings, strict)
    block = ctx.x_ecsflow.service
    if strict and not kind.explicit:
        raise ctx.error(f"--strict needs {KIND_KEY}: service on every service deployed as one; this one is inferred "
                        f"({kind.reason})", key=KIND_KEY, hint=f"write {KIND_KEY}: service (or job), or drop --strict")
    if (service.raw.get("deploy") or {}).get("mode") == "global":
        raise ctx.error("deploy.mode: global runs one task on every instance, which Fargate cannot do",
                        key="deploy.mode", hint="use mode: replicated with deploy.replicas")
    container = build.request["containerDefinitions"][0]
    replicas = (service.raw.get("deploy") or {}).get("replicas")
    desired, owner = _desired_count(ctx, replicas, block.autoscaling)
    request: dict[str, Any] = {"cluster": settings.cluster, "serviceName": _name(ctx), "desiredCount": desired}
    request.update({"capacityProviderStrategy": capacity_provider_strategy(ctx.x_ecsflow.capacity_provider)}
                   if ctx.x_ecsflow.capacity_provider else {"launchType": LAUNCH_TYPE})
    request["networkConfiguration"] = _network(ctx)
    load_balancer = _load_balancer(ctx, build.request["containerDefinitions"])
    if load_balancer is not None:
        request["loadBalancers"] = [{"targetGroupArn": load_balancer.target_group,
                                     "containerName": load_balancer.container_name,
                                     "containerPort": load_balancer.container_port}]
    grace = _grace_period(ctx, load_balancer)
    if grace is not None:
        request["healthCheckGracePeriodSeconds"] = grace
    request["deploymentConfiguration"] = deployment_configuration(ctx, replicas, api)
    request["enableExecuteCommand"] = bool(block.exec)
    request.update(copy.deepcopy(dict(FIXED)))
    if settings.namespace:
        request["serviceConnectConfiguration"] = service_connect(service, container, settings.namespace, ctx.notes)
    request["tags"] = copy.deepcopy(build.request["tags"])
    if block.container_port is not None and load_balancer is None:
        ctx.warn("x-ecsflow.service.container_port has no effect without x-ecsflow.service.target_group")
    return ServiceSpec(
        service=service.name, ecs_service=request["serviceName"], cluster=settings.cluster, family=build.family,
        kind=kind, desired_count=desired, desired_count_owner=owner, load_balancer=load_balancer,
        autoscaling=block.autoscaling, namespace=settings.namespace,
        tags={tag["key"]: tag["value"] for tag in build.request["tags"]}, request=request,
        warnings=tuple(ctx.warnings), notes=tuple(ctx.notes),
    )


def _name(ctx: Context) -> str:
    if ctx.x_ecsflow.service.service_name is not None:
        return ctx.x_ecsflow.service.service_name
    wanted = ctx.pattern("service_name")
    name = INVALID_NAME_CHARS.sub("-", wanted)[:255]
    if name != wanted:
        ctx.note(f"ECS service name '{wanted}' becomes '{name}' (ECS allows [A-Za-z0-9_-], 255 at most)")
    return name


def _desired_count(ctx: Context, replicas: Any, autoscaling: Autoscaling | None) -> tuple[int, DesiredCountOwner]:
    """CreateService's desiredCount and who owns it afterwards (design/services.md section 4.6)."""
    if autoscaling is not None:
        if replicas is not None and replicas > autoscaling.max:
            raise ctx.error(f"deploy.replicas {replicas} is above x-ecsflow.service.autoscaling.max "
                            f"{autoscaling.max}", key="deploy.replicas", hint="lower replicas or raise max")
        return max(1 if replicas is None else replicas, autoscaling.min), "autoscaling"
    if replicas is None:
        return 1, "unset"
    return int(replicas), "compose"


def _network(ctx: Context) -> dict[str, Any]:
    block, settings = ctx.x_ecsflow.service, ctx.settings
    chosen = replace(settings, subnets=block.subnets or settings.subnets,
                     security_groups=block.security_groups or settings.security_groups,
                     assign_public_ip=settings.assign_public_ip if block.assign_public_ip is None
                     else block.assign_public_ip)
    network = network_configuration(chosen)
    if network is None:
        raise ctx.error("no subnets to run the service's tasks in: a Fargate service needs at least one",
                        key="subnets", hint=f"{NO_SUBNETS_HINT}; or x-ecsflow.service.subnets on the service")
    vpc = network["awsvpcConfiguration"]
    for key in ("subnets", "securityGroups"):  # sorted, as the comparison sorts them: ECS keeps no order
        if key in vpc:
            vpc[key] = sorted(vpc[key])
    return network


def _load_balancer(ctx: Context, containers: Sequence[Mapping[str, Any]]) -> LoadBalancer | None:
    """The target group, and the container and port it sends to: the main service's ports first, then any
    container's of the task (a proxy sidecar's, compose/sidecars.py)."""
    block = ctx.x_ecsflow.service
    if block.target_group is None:
        return None
    owners: dict[int, str] = {}  # a TCP port -> the first container of the task that maps it
    for container in containers:
        for pm in container.get("portMappings") or []:
            if pm.get("protocol") == "tcp":
                owners.setdefault(pm["containerPort"], container["name"])
    mapped = list(owners)
    published = list(dict.fromkeys(p.target for p in ctx.service.ports if p.protocol == "tcp")) or mapped
    if block.container_port is not None:
        if block.container_port not in mapped:
            raise ctx.error(f"x-ecsflow.service.container_port {block.container_port} is not a TCP port of the service "
                            f"({', '.join(map(str, mapped)) or 'it has none'}): ECS refuses a load balancer that sends "
                            "to a port the container does not map", key="x-ecsflow.service.container_port",
                            hint="add it to ports (or expose), or name one of its ports")
        port = block.container_port
    elif len(published) == 1:
        port = published[0]
    elif not published:
        raise ctx.error("x-ecsflow.service.target_group needs a port to send to, and the service has no TCP port",
                        key="x-ecsflow.service.target_group", hint="add the port to ports (or expose)")
    else:
        raise ctx.error(f"the service has several ports ({', '.join(map(str, published))}): which one the target "
                        "group sends to must be named", key="x-ecsflow.service.container_port",
                        hint=f"write x-ecsflow.service.container_port: {published[0]} (for example)")
    return LoadBalancer(block.target_group, owners[port], port)


def _grace_period(ctx: Context, load_balancer: LoadBalancer | None) -> int | None:
    """healthCheckGracePeriodSeconds: x-ecsflow's, else the health check's start period; only with a load
    balancer (ecspresso's verify refuses one without, and design/services.md keeps that rule)."""
    written = ctx.x_ecsflow.service.health_check_grace_period
    if load_balancer is None:
        if written is not None:
            raise ctx.error("x-ecsflow.service.health_check_grace_period applies to a load balancer's health checks, "
                            "and the service has none", key="x-ecsflow.service.health_check_grace_period",
                            hint="set x-ecsflow.service.target_group, or remove the grace period")
        return None
    if written is not None:
        return written
    health = ctx.service.healthcheck
    if health is not None and health.start_period and not health.disable:
        return ceil_seconds(health.start_period)
    return None


def _host_warnings(project: ComposeProject, spec: ServiceSpec, kinds: Mapping[str, Kind],
                   settings: Settings) -> tuple[str, ...]:
    service = project.service(spec.service)
    references = host_references(service, [s.name for s in project.services])
    if not references:
        return ()
    answering = {s.name: _why_not_answering(s, kinds.get(s.name)) for s in project.services}
    warning = host_warning(service, references, settings.namespace, answering)
    return (warning,) if warning else ()


def _why_not_answering(service: Service, kind: Kind | None) -> str:
    """"" when Service Connect answers under this compose service's name; else why not."""
    if service.x_ecsflow.skip or kind is None:
        return f"{service.name} is left out of ECS"
    if not kind.is_service:
        return f"{service.name} is a job, not an ECS service"
    if not any(p.protocol == "tcp" for p in service.ports) and not service.expose:
        return f"{service.name} has no port"
    return ""
