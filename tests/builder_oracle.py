"""What docs/reference/mapping.md says a service's container definition should be, computed from Docker Compose's own
normalised output (`docker compose config --format json`) alone, and the same fields read from a request
ecsflow built. Tests compare the two: a builder that drops, reorders or mistranslates a field disagrees.
"""

from __future__ import annotations

import math
import re
from typing import Any

from compose_oracle import unescape_dollars

from ecsflow.fargate import FARGATE_SIZES
from ecsflow.settings import Settings

SETTINGS = Settings(region="eu-west-1", account="123456789012",
                    execution_role="arn:aws:iam::123456789012:role/exec")
# For the services Compose builds (`build:` and no `image:`): where CI pushed them, and the tag.
BUILT_SETTINGS = Settings(region="eu-west-1", account="123456789012",
                          execution_role="arn:aws:iam::123456789012:role/exec",
                          registry="123456789012.dkr.ecr.eu-west-1.amazonaws.com", image_tag="0123456789ab")


def expected_image(project: str, name: str, service: dict) -> str:
    """The service's image, or for one that Compose builds, the name Compose gives it in the registry."""
    if service.get("image"):
        return service["image"]
    return f"{BUILT_SETTINGS.registry}/{project}-{name}:{BUILT_SETTINGS.image_tag}"


def expected_mounts(service: dict) -> dict[str, dict]:
    """The mount points of the named volumes (binds, tmpfs and anonymous volumes have no place on Fargate),
    keyed by the path in the container; ECS's volume name is the compose name with what ECS does not allow
    in a name made '-'."""
    return {volume["target"]: {"sourceVolume": re.sub(r"[^A-Za-z0-9_-]", "-", volume["source"]),
                               "containerPath": volume["target"], "readOnly": bool(volume.get("read_only"))}
            for volume in service.get("volumes") or []
            if volume.get("type") == "volume" and volume.get("source")}
MIB = 1024 * 1024

# ECS's HealthCheck ranges and app protocols, as docs/reference/mapping.md states them.
RANGES = {"interval": (5, 300), "timeout": (2, 60), "retries": (1, 10), "startPeriod": (0, 300)}
APP_PROTOCOLS = ("http", "http2", "grpc")

_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)")
_UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def seconds(duration: str) -> float:
    """A Go duration as Compose prints it ("1m30s", "500ms") in seconds."""
    if duration in ("0", "0s"):
        return 0.0
    parts = _GO_DURATION.findall(duration)
    assert "".join(n + u for n, u in parts) == duration, duration
    return sum(float(n) * _UNITS[u] for n, u in parts)


def whole(value: float) -> int:
    return math.ceil(value - 1e-9)


def expected_health_check(hc: dict | None) -> dict | None:
    if not hc or hc.get("disable") or not hc.get("test") or hc["test"][0] == "NONE":
        return None
    check: dict[str, Any] = {"command": hc["test"]}
    for compose_key, ecs_key in (("interval", "interval"), ("timeout", "timeout"), ("retries", "retries"),
                                 ("start_period", "startPeriod")):
        if compose_key not in hc:
            continue
        number = hc[compose_key] if compose_key == "retries" else whole(seconds(hc[compose_key]))
        if number == 0 and ecs_key != "startPeriod":
            continue  # Docker's "not set"
        low, high = RANGES[ecs_key]
        check[ecs_key] = min(max(number, low), high)  # clamped into ECS's range
    return check


def expected_ports(service: dict) -> dict:
    mappings: dict[str, dict] = {}
    for port in service.get("ports") or []:
        mapping = {"containerPort": port["target"], "hostPort": port["target"], "protocol": port["protocol"]}
        if port.get("name"):
            mapping["name"] = port["name"]
        if port.get("app_protocol") in APP_PROTOCOLS:
            mapping["appProtocol"] = port["app_protocol"]
        mappings.setdefault(f"{port['target']}/{port['protocol']}", mapping)
    for entry in service.get("expose") or []:
        port, _, protocol = str(entry).partition("/")
        protocol = protocol or "tcp"
        mappings.setdefault(f"{port}/{protocol}",
                            {"containerPort": int(port), "hostPort": int(port), "protocol": protocol})
    return mappings


def expected_size(service: dict) -> tuple[str, str]:
    resources = (service.get("deploy") or {}).get("resources") or {}
    limits, reservations = resources.get("limits") or {}, resources.get("reservations") or {}
    cpus = limits.get("cpus", service.get("cpus"))
    memories = [math.ceil(int(m) / MIB) for m in (limits.get("memory", service.get("mem_limit")),
                                                  reservations.get("memory", service.get("mem_reservation"))) if m]
    cpu = math.ceil(float(cpus) * 1024 - 1e-9) if cpus else 0
    memory = max(memories, default=0)
    # The smallest Fargate size that holds both (cpu first, then memory), 256/512 when nothing is asked.
    return next((str(c), str(m)) for c, ms in sorted(FARGATE_SIZES.items()) for m in ms if c >= cpu and m >= memory)


def expected_container(service: dict, secret_names: tuple[str, ...] = (), image: str | None = None) -> dict[str, Any]:
    """What docs/reference/mapping.md says the container (and task size) should be, from Compose's JSON alone.

    `secret_names`: the service's x-ecsflow secrets (Compose's JSON leaves service `x-` keys out); a variable
    of the same name is left out of the environment, since on ECS the secret supplies it."""
    service = unescape_dollars(service)
    entrypoint, command = service.get("entrypoint"), service.get("command")
    if entrypoint is not None and not any(entrypoint):  # `entrypoint: []`: the command becomes the entryPoint
        entrypoint, command = command, None
    environment = {k: v for k, v in (service.get("environment") or {}).items()
                   if v is not None and k not in secret_names}
    resources = (service.get("deploy") or {}).get("resources") or {}
    reservation = (resources.get("reservations") or {}).get("memory", service.get("mem_reservation"))
    ulimits = {
        name: (value, value) if isinstance(value, int) else (value.get("soft"), value.get("hard"))
        for name, value in (service.get("ulimits") or {}).items()
    }
    stop = service.get("stop_grace_period")
    platform = service.get("platform")
    return {
        "image": image or service["image"],
        "entryPoint": entrypoint or None,
        "command": command or None,
        "environment": environment,
        "healthCheck": expected_health_check(service.get("healthcheck")),
        "portMappings": expected_ports(service),
        "size": expected_size(service),
        "memoryReservation": math.ceil(int(reservation) / MIB) if reservation else None,
        "workingDirectory": service.get("working_dir"),
        "user": service.get("user"),
        "dockerLabels": {k: str(v) for k, v in (service.get("labels") or {}).items()},
        "stopTimeout": min(whole(seconds(stop)), 120) if stop else None,
        "readonlyRootFilesystem": bool(service.get("read_only")),
        "initProcessEnabled": bool(service.get("init")),
        "ulimits": ulimits,
        "cpuArchitecture": ({"arm64": "ARM64", "aarch64": "ARM64"}.get(platform.split("/")[1], "X86_64")
                            if platform else None),
        "mountPoints": expected_mounts(service),
    }


def built_container(request: dict) -> dict[str, Any]:
    """The same fields, read from the RegisterTaskDefinition request the builder made."""
    [c] = request["containerDefinitions"]
    return {
        "image": c["image"],
        "entryPoint": c.get("entryPoint"),
        "command": c.get("command"),
        "environment": {e["name"]: e["value"] for e in c.get("environment", [])},
        "healthCheck": c.get("healthCheck"),
        "portMappings": {f"{p['containerPort']}/{p['protocol']}": p for p in c.get("portMappings", [])},
        "size": (request["cpu"], request["memory"]),
        "memoryReservation": c.get("memoryReservation"),
        "workingDirectory": c.get("workingDirectory"),
        "user": c.get("user"),
        "dockerLabels": c.get("dockerLabels", {}),
        "stopTimeout": c.get("stopTimeout"),
        "readonlyRootFilesystem": bool(c.get("readonlyRootFilesystem")),
        "initProcessEnabled": bool((c.get("linuxParameters") or {}).get("initProcessEnabled")),
        "ulimits": {u["name"]: (u["softLimit"], u["hardLimit"]) for u in c.get("ulimits", [])},
        "cpuArchitecture": (request.get("runtimePlatform") or {}).get("cpuArchitecture"),
        "mountPoints": {m["containerPath"]: m for m in c.get("mountPoints", [])},
    }
