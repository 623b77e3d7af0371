"""The task level of the mapping (family, roles, size, platform, tags) and the checks of a whole request."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ecsflow.compose.model import ComposeProject, Service
from ecsflow.errors import BuildError
from ecsflow.fargate import DEFAULT_SIZE, LARGEST_HINT, SizeError, containers_fit, exact_size, smallest_size
from ecsflow.settings import Settings
from ecsflow.tags import RESERVED_TAG_PREFIX, managed_tags, reserved_keys
from ecsflow.taskdef.container import (
    BUILT,
    INVALID_NAME_CHARS,
    NO_REGISTRY_HINT,
    NO_TAG_HINT,
    NoImageTag,
    NoRegistry,
    container_definition,
    mib,
)
from ecsflow.taskdef.containers import link_containers
from ecsflow.taskdef.context import Context, partition
from ecsflow.taskdef.select import select_services
from ecsflow.taskdef.volumes import task_volumes
from ecsflow.validators import MAX_TAGS

# ECS's quota: "Task definition max size: 64 KiB".
MAX_TASK_DEFINITION_BYTES = 64 * 1024

_ARCHITECTURES = {"amd64": "X86_64", "x86_64": "X86_64", "arm64": "ARM64", "aarch64": "ARM64"}


# Real ECS's answer to a Fargate definition that logs with awslogs and has no execution role (ClientException).
ECS_NO_ROLE_RULE = "Fargate requires task definition to have execution role ARN to support log driver awslogs"
NO_ROLE_HINT = ("set execution_role to the task execution role's ARN (in x-ecsflow: the top-level block or the "
                "service's; or ECSFLOW_EXECUTION_ROLE, or --execution-role), or give the service a logging driver "
                "other than awslogs: `logging: {driver: none}` keeps no output")


class NoExecutionRole(BuildError):
    """A Fargate definition that ECS refuses: awslogs without an execution role. Several are said as one."""


def _no_role_message(who_logs: str, has: str) -> str:
    return (f"{who_logs} to CloudWatch Logs (awslogs) on Fargate but {has} no execution role (the execution_role "
            f"setting), and ECS refuses that: \"{ECS_NO_ROLE_RULE}\"")


@dataclass(frozen=True)
class TaskDefinitionBuild:
    """One service's desired task definition: `request` is exactly the kwargs of register_task_definition."""

    service: str
    family: str
    request: dict[str, Any]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # The other compose services whose containers this task holds (compose/sidecars.py), in compose order.
    sidecars: tuple[str, ...] = ()
    # Days its log groups keep events (x-ecsflow.log_retention, else the setting); None: they never expire.
    # Not part of the request: a retention is the group's, so changing it registers no new revision.
    log_retention: int | None = None
    log_retention_own: bool = False  # from the service's own x-ecsflow.log_retention


def build_task_definitions(
    project: ComposeProject,
    settings: Settings,
    service_names: Iterable[str] | None = None,
    *,
    strict: bool = False,
    consul_values: Mapping[str, str] | None = None,
    consul_secrets: Mapping[str, str] | None = None,
    consul_prefix: str | None = None,
) -> list[TaskDefinitionBuild]:
    """Build the selected services (all when None) in compose order, less those `select_services` leaves
    out; all are checked before raising."""
    selection = select_services(project, service_names, strict=strict)
    if selection.services:
        _check_roles(settings)

    builds: list[TaskDefinitionBuild] = []
    errors: list[BuildError] = []
    for service in selection.services:
        try:
            builds.append(
                build_task_definition(
                    project,
                    service,
                    settings,
                    strict=strict,
                    consul_values=consul_values,
                    consul_secrets=consul_secrets,
                    consul_prefix=consul_prefix,
                    sidecars=selection.sidecars.get(service.name, ()),
                )
            )
        except BuildError as error:
            errors.append(error)
    # One setting missing is said once, not once per service.
    errors = _said_once(errors, NoExecutionRole, lambda shown: NoExecutionRole(
        _no_role_message(f"services {shown} log", "have"), key="execution_role", hint=NO_ROLE_HINT))
    errors = _said_once(errors, NoRegistry, lambda shown: NoRegistry(
        f"services {shown} are {BUILT}, and ECS needs their images in a registry, but no registry is set",
        key="registry", hint=NO_REGISTRY_HINT))
    errors = _said_once(errors, NoImageTag, lambda shown: NoImageTag(
        f"services {shown} are {BUILT}, and their image tag is unknown", key="image_tag", hint=NO_TAG_HINT))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BuildError(
            f"{len(errors)} services cannot become task definitions:\n" + "\n".join(f"- {e}" for e in errors)
        )

    # Two services registering into one family would overwrite each other's revisions.
    owners: dict[str, str] = {}
    for build in builds:
        if build.family in owners:
            raise BuildError(
                f"services '{owners[build.family]}' and '{build.service}' both have family '{build.family}'",
                service=build.service,
                key="x-ecsflow.family",
                hint="give one of them its own x-ecsflow.family",
            )
        owners[build.family] = build.service
    return builds


def _said_once(errors: list[BuildError], kind: type[BuildError],
               one: Callable[[str], BuildError]) -> list[BuildError]:
    """``errors`` with those of ``kind``, when there are several, replaced by ``one(their services)`` first."""
    alike = [e for e in errors if isinstance(e, kind)]
    if len(alike) < 2:
        return errors
    names = [f"'{e.service}'" for e in alike]
    return [one(", ".join(names[:-1]) + f" and {names[-1]}"), *(e for e in errors if not isinstance(e, kind))]


def build_task_definition(
    project: ComposeProject,
    service: Service,
    settings: Settings,
    *,
    strict: bool = False,
    consul_values: Mapping[str, str] | None = None,
    consul_secrets: Mapping[str, str] | None = None,
    consul_prefix: str | None = None,
    sidecars: Sequence[Service] = (),
) -> TaskDefinitionBuild:
    """Map one compose service, with its ``sidecars`` (compose/sidecars.py) as the other containers of its task,
    to a validated RegisterTaskDefinition request (docs/design.md section 5).

    `consul_prefix` only names where the Consul values came from, in errors."""
    contexts = [Context(project, s, settings, strict, consul_values, consul_secrets, consul_prefix)
                for s in (service, *sidecars)]
    return _build(contexts[0], contexts[1:])


def _build(ctx: Context, sidecars: Sequence[Context] = ()) -> TaskDefinitionBuild:
    family = _family(ctx)
    contexts = (ctx, *sidecars)
    containers = [container_definition(c) for c in contexts]
    if sidecars:
        link_containers(contexts, containers)
    cpu, memory = _task_size(ctx, sidecars)
    reservations = [c["memoryReservation"] for c in containers if c.get("memoryReservation") is not None]
    if reservations and sum(reservations) > memory:
        raise ctx.error(
            f"mem_reservation {sum(reservations)} MiB is more than the task memory {memory} MiB"
            + (" (the sum of its containers')" if len(reservations) > 1 else ""),
            key="mem_reservation",
            hint="lower mem_reservation or raise x-ecsflow.memory",
        )
    if ctx.x_ecsflow.cpu is not None or ctx.x_ecsflow.memory is not None:
        try:  # an exact size may be smaller than the containers' own limits (a size computed holds them)
            containers_fit(containers, cpu, memory, ("x-ecsflow.cpu", "x-ecsflow.memory"))
        except SizeError as exc:
            raise ctx.error(exc.message, key=f"x-ecsflow.{exc.key}", hint=exc.hint) from None

    request: dict[str, Any] = {"family": family}
    task_role = _role(ctx, "task_role")
    execution_role = _role(ctx, "execution_role")
    if task_role:
        request["taskRoleArn"] = task_role
    if execution_role:
        request["executionRoleArn"] = execution_role
    elif any((c.get("logConfiguration") or {}).get("logDriver") == "awslogs" for c in containers):
        # moto (and so the sandbox) registers it; real ECS answers ClientException. Refused here, before any write.
        raise NoExecutionRole(_no_role_message("logs", "has"), **ctx.service.where("x-ecsflow.execution_role"),
                              service=ctx.service.name, key="execution_role", hint=NO_ROLE_HINT)
    else:
        ctx.warn("no execution role: Fargate needs one to read secrets and to pull images from ECR"
                 " (set execution_role)")
    volumes: dict[str, dict[str, Any]] = {}  # the task's, by name: a volume two containers mount is one volume
    for context, container in zip(contexts, containers, strict=True):
        own_volumes, mount_points = task_volumes(context)
        for volume in own_volumes:
            volumes.setdefault(volume["name"], volume)
        if mount_points:
            container["mountPoints"] = mount_points
    request.update(
        networkMode="awsvpc",
        containerDefinitions=containers,
        requiresCompatibilities=["FARGATE"],
        cpu=str(cpu),
        memory=str(memory),
    )
    if volumes:
        request["volumes"] = list(volumes.values())
    if ctx.service.platform:
        request["runtimePlatform"] = _runtime_platform(ctx, ctx.service.platform)
    if ctx.x_ecsflow.ephemeral_storage is not None:
        request["ephemeralStorage"] = {"sizeInGiB": ctx.x_ecsflow.ephemeral_storage}
    tags = {**ctx.settings.tags, **ctx.x_ecsflow.tags}
    reserved = reserved_keys(tags)
    if reserved:
        raise ctx.error(f"tag key '{reserved[0]}' is reserved: ecsflow sets the {RESERVED_TAG_PREFIX}* tags "
                        "itself", key="x-ecsflow.tags")
    # The tags `sync` registers with, so that render prints exactly the request sync sends.
    own = managed_tags(ctx.project.name, ctx.service.name)
    tags.update(own)
    if len(tags) > MAX_TAGS:
        raise ctx.error(f"{len(tags) - len(own)} tags (the tags setting and x-ecsflow.tags) and ecsflow's "
                        f"{len(own)} are more than the {MAX_TAGS} ECS allows on a task definition",
                        key="x-ecsflow.tags", hint=f"keep at most {MAX_TAGS - len(own)} tags of your own")
    request["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]

    own_retention = ctx.x_ecsflow.log_retention
    size = len(json.dumps(request).encode())
    if size > MAX_TASK_DEFINITION_BYTES:
        raise ctx.error(f"the task definition is {size} bytes; ECS refuses more than 64 KiB",
                        hint="move large values out of the environment (into S3, SSM or the image)")
    return TaskDefinitionBuild(
        service=ctx.service.name,
        family=family,
        request=request,
        warnings=tuple(w for c in contexts for w in c.warnings),
        notes=tuple(n for c in contexts for n in c.notes),
        sidecars=tuple(c.service.name for c in sidecars),
        log_retention=ctx.settings.log_retention if own_retention is None else own_retention,
        log_retention_own=own_retention is not None,
    )


def _family(ctx: Context) -> str:
    wanted = ctx.x_ecsflow.family if ctx.x_ecsflow.family is not None else ctx.pattern("family")
    family = INVALID_NAME_CHARS.sub("-", wanted)[:255]
    if not family.strip("-_"):
        raise ctx.error(f"family {ctx.shown(wanted)} has no letters or digits", key="x-ecsflow.family")
    if family != wanted:
        ctx.note(f"family '{wanted}' becomes '{family}' (ECS allows [A-Za-z0-9_-], 255 at most)")
    return family


def _role(ctx: Context, key: str) -> str | None:
    role = getattr(ctx.x_ecsflow, key) or getattr(ctx.settings, key)
    if _bare(role):
        if not ctx.settings.account:  # the setting itself was checked once (build_task_definitions)
            raise ctx.error(_bare_role_message(f"x-ecsflow.{key}", ctx.shown(role)), key=f"x-ecsflow.{key}",
                            hint=BARE_ROLE_HINT)
        # ECS answers with the full ARN; sending the same avoids a diff on every run.
        role = f"arn:{partition(ctx.settings.region)}:iam::{ctx.settings.account}:role/{role}"
    return role or None


def _bare(role: str | None) -> bool:
    return bool(role) and not role.startswith("arn:")


# ECS would register a bare role name, and every task would then fail to start: its ARN needs the account.
BARE_ROLE_HINT = ("set account (x-ecsflow.account, ECSFLOW_ACCOUNT; `ecsflow init` finds it), or write the role's "
                  "ARN; diff, sync, deploy, run, verify and prune take the account from the credentials (STS) when "
                  "it is not set")


def _bare_role_message(what: str, shown: str) -> str:
    return (f"{what} {shown} is a role name, and ECS needs the role's ARN (arn:aws:iam::ACCOUNT:role/NAME), which "
            "needs the account setting: it is not set")


def _check_roles(settings: Settings) -> None:
    """A project-wide role given by its name, without the account: one error, not one per service."""
    for key in ("execution_role", "task_role"):
        role = getattr(settings, key)
        if _bare(role) and not settings.account:
            raise BuildError(_bare_role_message(f"the {key} setting", f"'{role}'"), key="account",
                             hint=BARE_ROLE_HINT)


def needs_account(project: ComposeProject, settings: Settings) -> bool:
    """Whether building the project needs the account setting, which is not set: a role given by its name, or
    an `ssm:` / `secretsmanager:` shorthand of a secret."""
    if settings.account:
        return False
    if _bare(settings.execution_role) or _bare(settings.task_role):
        return True
    return any(_bare(s.x_ecsflow.execution_role) or _bare(s.x_ecsflow.task_role)
               or any(not ref.startswith("arn:") for ref in s.x_ecsflow.secrets.values())
               for s in project.services)


def _needs(s: Service) -> tuple[int | None, int | None]:
    """What one container asks for: cpu units, and MiB (its limit, or its reservation when that is more)."""
    memories = [mib(b) for b in (s.mem_limit, s.mem_reservation) if b]
    return (math.ceil(s.cpus * 1024 - 1e-9) if s.cpus else None), (max(memories) if memories else None)


def _task_size(ctx: Context, sidecars: Sequence[Context] = ()) -> tuple[int, int]:
    s = ctx.service
    needs = [_needs(c.service) for c in (ctx, *sidecars)]
    cpus = [n[0] for n in needs if n[0] is not None]
    memories = [n[1] for n in needs if n[1] is not None]
    # The task holds every container: it needs the sum of their limits (one container: its own).
    need_cpu = sum(cpus) if cpus else None
    need_memory = sum(memories) if memories else None
    x_cpu, x_memory = ctx.x_ecsflow.cpu, ctx.x_ecsflow.memory
    if x_cpu is not None or x_memory is not None:
        try:
            return exact_size(x_cpu, x_memory, need_cpu, need_memory, ("x-ecsflow.cpu", "x-ecsflow.memory"))
        except SizeError as exc:
            raise ctx.error(exc.message, key=f"x-ecsflow.{exc.key}", hint=exc.hint) from None
    if need_cpu is None and need_memory is None:
        return DEFAULT_SIZE

    size = smallest_size(need_cpu, need_memory)
    asked = " and ".join(
        part
        for part in (
            (f"cpus {s.cpus:g} ({need_cpu} units)" if not sidecars else f"cpu {need_cpu} units") if need_cpu else "",
            f"memory {need_memory} MiB" if need_memory else "",
        )
        if part
    )
    if size is None:
        memory_key = "mem_limit" if s.mem_limit and mib(s.mem_limit) == need_memory else "mem_reservation"
        raise ctx.error(
            f"no Fargate task size holds {asked}",
            key="cpus" if need_cpu and need_cpu > 16384 else memory_key,
            hint=LARGEST_HINT,
        )
    rounded = (need_cpu and size[0] != need_cpu) or (need_memory and size[1] != need_memory)
    if rounded:  # what was written is a Fargate size (the other half its smallest match): nothing to say
        ctx.note(f"task size cpu {size[0]} / memory {size[1]} MiB: the smallest Fargate size that holds {asked}"
                 + (f" (the sum of its {len(sidecars) + 1} containers' limits)" if sidecars else "")
                 + " (rounded up)")
    return size


def _runtime_platform(ctx: Context, platform: str) -> dict[str, str]:
    system, _, rest = platform.lower().partition("/")
    architecture = rest.partition("/")[0]
    if system == "linux" and architecture == "386":
        ctx.adapted("platform", f"platform '{platform}' runs on Fargate as X86_64 (x86-64 CPUs run 32-bit "
                    "x86 programs)",
                    f"platform {ctx.shown(platform)} is not a Fargate platform", "write platform: linux/amd64")
        architecture = "amd64"
    if system != "linux" or architecture not in _ARCHITECTURES:
        raise ctx.error(
            f"platform {ctx.shown(platform)} cannot run on Fargate, which runs linux/amd64 and linux/arm64 images",
            key="platform",
            hint="leave the service out of ECS with `x-ecsflow: {skip: true}` (it still runs with "
            "docker compose), or build its image for linux/amd64 or linux/arm64",
        )
    return {"cpuArchitecture": _ARCHITECTURES[architecture], "operatingSystemFamily": "LINUX"}
