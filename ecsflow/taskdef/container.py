"""A service's container definition (docs/design.md section 5): the container-level fields of the mapping."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ecsflow.errors import BuildError
from ecsflow.taskdef.context import Context
from ecsflow.taskdef.dropped import DROPPED_KEYS
from ecsflow.taskdef.names import INVALID_NAME_CHARS
from ecsflow.taskdef.variables import environment_and_secrets

MIB = 1024 * 1024
# PortMapping.appProtocol values in the ECS API.
APP_PROTOCOLS = ("http", "http2", "grpc")

# ECS HealthCheck limits, in seconds (retries: a count). Source: the ECS API reference, HealthCheck
# (https://docs.aws.amazon.com/sdk-for-python/v4/reference/clients/ecs/dictionaries/HealthCheckDict/).
HEALTHCHECK_RANGES: dict[str, tuple[int, int]] = {
    "interval": (5, 300),
    "timeout": (2, 60),
    "retries": (1, 10),
    "startPeriod": (0, 300),
}
MAX_STOP_TIMEOUT = 120  # ContainerDefinition.stopTimeout on Fargate
ECS_INTEGER_MAX = 2**31 - 1  # ECS's API "Integer" (a Java int)

ULIMIT_NAMES = frozenset(
    "core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime sigpending stack".split()
)

# Compose keys read through the Service model (or below, from `raw`).
_MAPPED = frozenset(
    "image build command entrypoint environment env_file healthcheck ports expose cpus mem_limit "
    "mem_reservation deploy working_dir user labels stop_grace_period init read_only ulimits platform "
    "logging depends_on profiles cap_add cap_drop volumes".split()
)
# Keys that only matter to Docker Compose on one machine: nothing to carry over; said once for the project
# (taskdef/dropped.py), not per service. `extends` is the loader's, already resolved.
_QUIET = frozenset({*DROPPED_KEYS, "extends"})
# Keys whose effect Fargate cannot give: a warning naming service and key, an error under strict.
_NOT_POSSIBLE = frozenset(
    "privileged devices tmpfs extra_hosts dns dns_search dns_opt network_mode pid ipc sysctls shm_size "
    "security_opt cgroup cgroup_parent userns_mode uts runtime volumes_from hostname domainname mac_address "
    "isolation gpus device_cgroup_rules blkio_config cpu_shares cpu_quota cpu_period cpu_rt_period "
    "cpu_rt_runtime cpuset cpu_count cpu_percent oom_kill_disable oom_score_adj pids_limit mem_swappiness "
    "memswap_limit storage_opt group_add stop_signal post_start pre_stop credential_spec use_api_socket "
    "provider models".split()
)
# Keys that mostly serve local development (source mounts, files from the host): not carried over, with a
# warning, but not an error under strict, because the image usually already holds what they provide.
_NOT_CARRIED = {
    "secrets": "compose file secrets are not mounted on ECS; use x-ecsflow.secrets",
    "configs": "compose configs are not mounted on ECS; bake them into the image or use environment",
}
# ContainerDefinition.image in the ECS API reference: "up to 255 characters total are allowed, including letters
# (uppercase and lowercase), numbers, hyphens, underscores, colons, periods, forward slashes, and number signs";
# with a digest, the limit applies before the @, and after it "sha256:" and exactly 64 hexadecimal digits.
IMAGE_NAME = re.compile(r"[A-Za-z0-9_.:/#-]{1,255}")
IMAGE_DIGEST = re.compile(r"sha256:[0-9A-Fa-f]{64}")
IMAGE_RULE = ("at most 255 letters, digits and - _ . : / # (the registry prefix included), then optionally "
              "@sha256: and 64 hexadecimal digits")


def ceil_seconds(value: float) -> int:
    # Durations arrive as floats parsed from "1m30s" etc.; a hair of float noise must not add a second.
    return math.ceil(value - 1e-9)


def mib(size_bytes: int) -> int:
    return math.ceil(size_bytes / MIB)


def _has_registry_host(image: str) -> bool:
    first, slash, _ = image.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


def container_definition(ctx: Context) -> dict[str, Any]:
    s = ctx.service
    name = INVALID_NAME_CHARS.sub("-", s.name)[:255]
    if name != s.name:
        ctx.note(f"container name '{name}' (ECS allows letters, digits, '-' and '_')")
    c: dict[str, Any] = {"name": name, "image": _image(ctx), "essential": True}
    c.update(_entry_point_and_command(ctx))
    environment, secrets = environment_and_secrets(ctx)
    if environment:
        c["environment"] = environment
    if secrets:
        c["secrets"] = secrets
    ports = _port_mappings(ctx)
    if ports:
        c["portMappings"] = ports
    health = _health_check(ctx)
    if health:
        c["healthCheck"] = health
    if s.mem_reservation:
        c["memoryReservation"] = mib(s.mem_reservation)
    if s.working_dir:
        c["workingDirectory"] = s.working_dir
    if s.user:
        c["user"] = s.user
    if s.labels:
        c["dockerLabels"] = {str(k): str(v) for k, v in s.labels.items()}
    if s.stop_grace_period is not None:
        c["stopTimeout"] = _stop_timeout(ctx, s.stop_grace_period)
    linux = _linux_parameters(ctx)
    if linux:
        c["linuxParameters"] = linux
    if s.read_only:
        c["readonlyRootFilesystem"] = True
    ulimits = _ulimits(ctx)
    if ulimits:
        c["ulimits"] = ulimits
    log = _log_configuration(ctx)
    if log:
        c["logConfiguration"] = log
    _check_other_keys(ctx)
    return c


def _entry_point_and_command(ctx: Context) -> dict[str, list[str]]:
    entrypoint, command = ctx.service.entrypoint, ctx.service.command
    if entrypoint is None or any(entrypoint):
        return {k: list(v) for k, v in (("entryPoint", entrypoint), ("command", command)) if v}
    # `entrypoint: []` (or "", or [""]) clears the image's ENTRYPOINT in Docker. ECS has no way to say so
    # (it drops an empty entryPoint), but an explicit entryPoint also discards the image's CMD, as
    # Docker's does: entryPoint = the command runs exactly the same program and arguments.
    if command:
        ctx.note("entrypoint: [] clears the image's ENTRYPOINT: the command becomes the ECS entryPoint (a "
                 "command given at run time is appended to it)")
        return {"entryPoint": list(command)}
    ctx.adapted("entrypoint", "entrypoint: [] clears the image's ENTRYPOINT, which ECS cannot express "
                "without a command: the image's ENTRYPOINT runs on ECS",
                hint="add the command to run (it becomes the ECS entryPoint)")
    return {}


def _image(ctx: Context) -> str:
    """`x-ecsflow.image`, else `image`, with the registry in front when it names no host; a service built from
    source (`build:` and no `image:`) runs `{registry}/{project}-{service}:{tag}` (`built_image`)."""
    image, key = ctx.x_ecsflow.image, "x-ecsflow.image"
    if image is None:
        image, key = ctx.service.image, "image"
    if not image:
        return _checked_image(ctx, built_image(ctx), "build")
    registry = ctx.settings.registry
    if registry and not _has_registry_host(image):
        image = f"{registry.rstrip('/')}/{image}"
    return _checked_image(ctx, image, key)


def built_image(ctx: Context) -> str:
    """The image of a service that Docker Compose builds: Compose names it `{project}-{service}` (tagged
    latest); on ECS it is that repository in the registry, tagged with the image_tag setting."""
    s = ctx.service
    if not s.has_build:
        raise ctx.error("has no image; ECS runs images from a registry", key="image",
                        hint="name the image with `image:` (or x-ecsflow.image)")
    where = {**s.where("build"), "service": s.name}  # the key that needs a registry and a tag
    repository = f"{ctx.project.name}-{s.name}"
    if not ctx.settings.registry:
        raise NoRegistry(f"is {BUILT}, and ECS needs its image in a registry ({{registry}}/{repository}:{{tag}}), but "
                         "no registry is set", key="registry", hint=NO_REGISTRY_HINT, **where)
    if not ctx.settings.image_tag:
        raise NoImageTag(f"is {BUILT}, and its image tag is unknown", key="image_tag", hint=NO_TAG_HINT, **where)
    return f"{ctx.settings.registry.rstrip('/')}/{repository}:{ctx.settings.image_tag}"


BUILT = "built from source (`build:` and no `image:`)"
NO_REGISTRY_HINT = ("set the registry setting (top-level x-ecsflow: {registry: ...}, ECSFLOW_REGISTRY or --registry) "
                    "to where CI pushes the built images, or name the image with x-ecsflow.image")
NO_TAG_HINT = ("pass --image-tag TAG or set ECSFLOW_IMAGE_TAG to the tag CI pushed; without them ecsflow uses the "
               "commit of the git checkout that holds the compose file (`git rev-parse --short=12 HEAD`)")


class NoRegistry(BuildError):
    """A built service and no registry setting: one setting is missing, said once for all such services."""


class NoImageTag(BuildError):
    """A built service whose image has no tag: one setting is missing, said once for all such services."""


def _checked_image(ctx: Context, image: str, key: str) -> str:
    name, at, digest = image.partition("@")
    if not IMAGE_NAME.fullmatch(name) or (at and not IMAGE_DIGEST.fullmatch(digest)):
        # botocore does not check it and moto registers it; ECS refuses it (or the task cannot pull it).
        raise ctx.error(f"image {ctx.shown(image)} is not an image ECS accepts: {IMAGE_RULE}", key=key,
                        hint="write the image as REPOSITORY[:TAG] or REPOSITORY@sha256:DIGEST")
    return image


def _port_mappings(ctx: Context) -> list[dict[str, Any]]:
    mappings: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()

    def add(port: int, protocol: str, key: str, name: str | None = None, app_protocol: str | None = None) -> None:
        if protocol not in ("tcp", "udp"):
            raise ctx.error(f"port {port}/{protocol}: ECS maps tcp and udp only", key=key)
        if (port, protocol) not in seen:
            seen.add((port, protocol))
            # With awsvpc the task has its own address: hostPort must equal containerPort.
            mapping: dict[str, Any] = {"containerPort": port, "hostPort": port, "protocol": protocol}
            # Compose's long syntax `name` / `app_protocol` are ECS's (Service Connect) `name` / `appProtocol`.
            # With a Service Connect namespace every port is named: the ECS service refers to it by name.
            if name or ctx.settings.namespace:
                mapping["name"] = name or port_name(ctx.service.name, port, protocol)
            if app_protocol in APP_PROTOCOLS:
                mapping["appProtocol"] = app_protocol
            elif app_protocol:
                # Only Service Connect reads it, and it knows these three: the port itself is kept.
                ctx.adapted(key, f"port {port}: app_protocol '{app_protocol}' is not one ECS knows "
                            f"({', '.join(APP_PROTOCOLS)}) and is left out",
                            hint="remove app_protocol or use one of those", note=True)
            mappings.append(mapping)

    for port in ctx.service.ports:
        if port.published is not None and port.published != str(port.target):
            ctx.warn(
                f"published port {port.published} differs from target {port.target}; "
                f"with awsvpc the task listens on {port.target} itself"
            )
        add(port.target, port.protocol, "ports", port.name, port.app_protocol)
    for entry in ctx.service.expose:
        match = re.fullmatch(r"(\d+)(?:/(\w+))?", str(entry))
        if not match:
            raise ctx.error(
                f"expose {ctx.shown(entry)} is not a single port; port ranges are not possible",
                key="expose",
                hint="list each port on its own",
            )
        add(int(match[1]), (match[2] or "tcp").lower(), "expose")
    return mappings


def port_name(service: str, port: int, protocol: str = "tcp") -> str:
    """The name of a port mapping that Compose does not name, for Service Connect (only when a namespace is
    set): ``{service}-{port}``, in ECS's rule for the name (at most 64 lowercase letters, digits, _ and -, not
    starting with -)."""
    suffix = f"-{port}" + ("-udp" if protocol == "udp" else "")
    base = re.sub(r"[^a-z0-9_-]", "-", service.lower()).lstrip("-") or "port"
    return base[: 64 - len(suffix)] + suffix


def _health_check(ctx: Context) -> dict[str, Any] | None:
    hc = ctx.service.healthcheck
    if hc is None or hc.disable or (hc.test and hc.test[0] == "NONE"):
        return None
    if not hc.test:
        if any(v is not None for v in (hc.interval, hc.timeout, hc.retries, hc.start_period)):
            ctx.warn(
                "healthcheck has timings but no test; ECS needs a command (it ignores the image's "
                "HEALTHCHECK), so there is no health check"
            )
        return None
    if hc.test[0] not in ("CMD", "CMD-SHELL"):
        raise ctx.error(
            f"healthcheck test must start with CMD, CMD-SHELL or NONE, not {ctx.shown(hc.test[0])}",
            key="healthcheck.test",
        )
    check: dict[str, Any] = {"command": list(hc.test)}
    written = ctx.service.raw.get("healthcheck") or {}
    for compose_key, ecs_key, value in (
        ("interval", "interval", hc.interval),
        ("timeout", "timeout", hc.timeout),
        ("retries", "retries", hc.retries),
        ("start_period", "startPeriod", hc.start_period),
    ):
        if value is None:
            continue
        number = ceil_seconds(value)
        if number == 0 and ecs_key != "startPeriod":
            continue  # Docker reads 0 as "not set": the default applies, as in ECS when the field is absent
        low, high = HEALTHCHECK_RANGES[ecs_key]
        used = min(max(number, low), high)
        if used != number:
            unit = "" if ecs_key == "retries" else " seconds"
            shown = written.get(compose_key, number) if isinstance(written, Mapping) else number
            ctx.adapted(
                f"healthcheck.{compose_key}",
                f"healthcheck {compose_key} {shown} is outside ECS's range ({low} to {high}{unit}): "
                f"{ecs_key} {used} is used",
                f"healthcheck {compose_key} is {shown}; ECS allows {low} to {high}{unit}",
                f"write a value from {low} to {high}",
            )
        check[ecs_key] = used
    if hc.start_interval is not None:
        ctx.warn("healthcheck start_interval has no ECS equivalent and is ignored")
    return check


def _stop_timeout(ctx: Context, seconds: float) -> int:
    timeout = ceil_seconds(seconds)
    if timeout > MAX_STOP_TIMEOUT:
        # Clamped rather than refused: a generous local grace period should not block a deploy.
        if ctx.strict:
            raise ctx.error(
                f"stop_grace_period is {timeout}s; Fargate allows at most {MAX_STOP_TIMEOUT} seconds",
                key="stop_grace_period",
            )
        ctx.warn(
            f"stop_grace_period {timeout}s is more than Fargate's {MAX_STOP_TIMEOUT}s; "
            f"stopTimeout is {MAX_STOP_TIMEOUT}"
        )
        timeout = MAX_STOP_TIMEOUT
    return timeout


def _linux_parameters(ctx: Context) -> dict[str, Any]:
    raw = ctx.service.raw
    linux: dict[str, Any] = {}
    if ctx.service.init:
        linux["initProcessEnabled"] = True
    capabilities: dict[str, list[str]] = {}
    add = []
    for cap in raw.get("cap_add") or ():
        name = str(cap).upper().removeprefix("CAP_")
        if name == "SYS_PTRACE":  # the only capability Fargate lets a task add
            add.append(name)
        else:
            ctx.not_possible("cap_add", name)
    if add:
        capabilities["add"] = add
    drop = [str(cap).upper().removeprefix("CAP_") for cap in raw.get("cap_drop") or ()]
    if drop:
        capabilities["drop"] = drop
    if capabilities:
        linux["capabilities"] = capabilities
    return linux


def _ulimits(ctx: Context) -> list[dict[str, Any]]:
    result = []
    for name, value in ctx.service.ulimits.items():
        if name not in ULIMIT_NAMES:
            ctx.not_possible("ulimits", name)
            continue
        if isinstance(value, Mapping):
            soft, hard = value.get("soft", value.get("hard")), value.get("hard", value.get("soft"))
        else:
            soft = hard = value
        soft, hard = int(soft), int(hard)
        for number in (soft, hard):
            if not -ECS_INTEGER_MAX - 1 <= number <= ECS_INTEGER_MAX:
                raise ctx.error(f"ulimit {name} {number} is out of ECS's range (a 32-bit integer, at most "
                                f"{ECS_INTEGER_MAX})", key=f"ulimits.{name}")
        if hard >= 0 and not 0 <= soft <= hard:  # -1: unlimited
            raise ctx.error(f"ulimit {name}: the soft limit {soft} is above the hard limit {hard}, and Docker "
                            "refuses to start such a container", key=f"ulimits.{name}",
                            hint="make soft at most hard")
        result.append({"name": name, "softLimit": soft, "hardLimit": hard})
    return result


def _log_configuration(ctx: Context) -> dict[str, Any] | None:
    logging = ctx.service.logging
    if logging and logging.driver == "none":
        # Docker's `none` keeps no output; on ECS a container without a logConfiguration does the same.
        return None
    options = {"awslogs-group": ctx.pattern("log_group")}
    if ctx.settings.region:
        options["awslogs-region"] = ctx.settings.region
    options.update({"awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"})
    if logging and logging.driver == "awslogs":
        options.update({str(k): str(v) for k, v in logging.options.items()})
    elif logging and logging.driver:
        # The group's pattern, not this service's group: one warning for every service that says the same.
        group = ctx.settings.log_group.format(project=ctx.project.name, service="{service}")
        ctx.warn(f"logging driver '{logging.driver}' is not used on ECS; logs go to CloudWatch Logs group {group} "
                 "(awslogs)")
    return {"logDriver": "awslogs", "options": options}


def _check_other_keys(ctx: Context) -> None:
    """Every compose key not mapped above: quiet, warned, or not possible (docs/design.md section 5)."""
    for key, value in ctx.service.raw.items():
        # Compose omits empty values itself; `privileged: false` and the like ask for nothing.
        if key.startswith("x-") or key in _MAPPED or key in _QUIET or value in (None, False, "", [], {}):
            continue
        if key == "network_mode" and str(value).startswith("service:"):
            continue  # a sidecar: its container is in that service's task (compose/sidecars.py)
        if key in _NOT_POSSIBLE:
            ctx.not_possible(key)
        elif key in _NOT_CARRIED:
            ctx.warn(f"key '{key}' is ignored: {_NOT_CARRIED[key]}")
        else:
            ctx.warn(f"key '{key}' is not known to ecsflow and is ignored")
    resources = (ctx.service.raw.get("deploy") or {}).get("resources") or {}
    reservations = resources.get("reservations") or {}
    if reservations.get("devices") or reservations.get("generic_resources"):
        ctx.not_possible("deploy.resources.reservations.devices", "GPUs and devices")
