"""Typed, resolved compose values: what the loader hands to the rest of ecsflow.

Everything here is already interpolated, merged, extended and normalised: durations are seconds,
sizes are bytes, commands are lists, ports are in long form. Nothing here knows about ECS.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsflow.compose.extension import ProjectExtension, ServiceExtension, parse_service_extension
from ecsflow.compose.named_volumes import NamedVolume
from ecsflow.compose.positions import Positions
from ecsflow.compose.units import parse_duration
from ecsflow.errors import ComposeError


@dataclass(frozen=True)
class Port:
    """One port in Compose's long form. `published` is a string ("8080", "8000-8010") or None."""

    target: int
    published: str | None = None
    protocol: str = "tcp"
    host_ip: str | None = None
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None


@dataclass(frozen=True)
class Healthcheck:
    """A compose healthcheck. `test` is None when only timings were given (the image's test applies)."""

    test: tuple[str, ...] | None = None
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    start_interval: float | None = None
    disable: bool = False


@dataclass(frozen=True)
class Mount:
    """One entry of a service's `volumes`, in the long form: `type` is volume, bind, tmpfs, image, npipe or
    cluster; `source` a named volume, an absolute host path, or None (an anonymous volume, a tmpfs)."""

    type: str
    target: str
    source: str | None = None
    read_only: bool = False
    subpath: str | None = None  # volume.subpath: a folder of the volume, mounted instead of all of it


@dataclass(frozen=True)
class Dependency:
    condition: str = "service_started"
    required: bool = True
    restart: bool = False


@dataclass(frozen=True)
class Logging:
    driver: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Service:
    """One compose service after loading. `raw` is the whole normalised mapping, for keys not modelled here."""

    name: str
    image: str | None = None
    has_build: bool = False
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    # Ordered as Compose orders it; a value of None means "bare KEY with no value anywhere".
    environment: Mapping[str, str | None] = field(default_factory=dict)
    healthcheck: Healthcheck | None = None
    ports: tuple[Port, ...] = ()
    expose: tuple[str, ...] = ()
    cpus: float | None = None  # deploy.resources.limits.cpus, else cpus
    mem_limit: int | None = None  # bytes: deploy.resources.limits.memory, else mem_limit
    mem_reservation: int | None = None  # bytes: deploy.resources.reservations.memory, else mem_reservation
    working_dir: str | None = None
    user: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_grace_period: float | None = None
    init: bool | None = None
    read_only: bool | None = None
    ulimits: Mapping[str, Any] = field(default_factory=dict)  # name -> int or {"soft": n, "hard": m}
    platform: str | None = None
    logging: Logging | None = None
    depends_on: Mapping[str, Dependency] = field(default_factory=dict)
    volumes: tuple[Mount, ...] = ()
    profiles: tuple[str, ...] = ()
    x_ecsflow: ServiceExtension = field(default_factory=ServiceExtension)
    raw: Mapping[str, Any] = field(default_factory=dict)
    source_file: str | None = None  # where the service is written: its name under `services:`
    source_line: int | None = None
    positions: Positions = field(default_factory=Positions, compare=False, repr=False)

    def where(self, key: str | None = None) -> dict[str, Any]:
        """``file``, ``line`` and ``column`` for an error about ``key`` (dotted), as ``EcsflowError`` takes them:
        where the key was written, else where the service was (``compose/positions.py``)."""
        if not self.positions.keys and self.positions.service == (None, None, None):
            return {"file": self.source_file, "line": self.source_line, "column": None}
        return self.positions.of(key)


@dataclass(frozen=True)
class ComposeProject:
    name: str
    working_dir: Path
    files: tuple[Path, ...]
    services: tuple[Service, ...]
    volumes: Mapping[str, NamedVolume] = field(default_factory=dict)  # the top-level `volumes:`
    # Top-level `x-*` keys, `x-ecsflow` among them (as written).
    extensions: Mapping[str, Any] = field(default_factory=dict)
    x_ecsflow: ProjectExtension = field(default_factory=ProjectExtension)
    # The variables interpolation used (shell environment over .env / --env-file).
    environment: Mapping[str, str] = field(default_factory=dict)
    # Each text interpolation made -> the variables (name -> value) it read for it: errors about a value name
    # those variables instead of showing it.
    interpolated: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    # The services left out because none of their profiles is enabled -> those profiles.
    profiled_out: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    def select(self, names: Iterable[str] | None = None) -> tuple[Service, ...]:
        """The named services in compose order (every service when None). A name that is not a service is
        an error that suggests the nearest one and lists them all."""
        if names is None:
            return self.services
        wanted = list(dict.fromkeys(names))
        known = [s.name for s in self.services]
        unknown = [n for n in wanted if n not in known]
        if unknown:
            close = difflib.get_close_matches(unknown[0], known, n=1)
            raise ComposeError(
                f"no such service: {', '.join(repr(n) for n in unknown)}"
                + (f" (did you mean '{close[0]}'?)" if close else ""),
                hint=f"services in this project: {', '.join(known) or '(none)'}",
            )
        return tuple(s for s in self.services if s.name in set(wanted))


def service_from_config(name: str, config: Mapping[str, Any],
                        interpolated: Mapping[str, Mapping[str, str]] | None = None) -> Service:
    """A service mapping in `docker compose config` shape → `Service`. Errors name the service and key, and the
    variables of a value that interpolation made (``interpolated``: text -> the variables read for it)."""
    key = ""
    try:
        key = "healthcheck"
        healthcheck = None
        if isinstance(config.get("healthcheck"), Mapping):
            hc = config["healthcheck"]
            test = hc.get("test")
            healthcheck = Healthcheck(
                test=tuple(test) if test is not None else None,
                interval=_optional(parse_duration, hc.get("interval")),
                timeout=_optional(parse_duration, hc.get("timeout")),
                retries=_optional(int, hc.get("retries")),
                start_period=_optional(parse_duration, hc.get("start_period")),
                start_interval=_optional(parse_duration, hc.get("start_interval")),
                disable=bool(hc.get("disable", False)),
            )
        key = "deploy.resources"
        resources = (config.get("deploy") or {}).get("resources") or {}
        limits = resources.get("limits") or {}
        reservations = resources.get("reservations") or {}
        cpus = limits.get("cpus", config.get("cpus"))
        mem_limit = limits.get("memory", config.get("mem_limit"))
        mem_reservation = reservations.get("memory", config.get("mem_reservation"))
        key = "stop_grace_period"
        stop_grace = _optional(parse_duration, config.get("stop_grace_period"))
    except (TypeError, ValueError) as exc:
        where = (config.get("__positions__") or Positions()).of(key)
        raise ComposeError(str(exc), service=name, key=key, **where) from None
    logging = None
    if isinstance(config.get("logging"), Mapping):
        logging = Logging(
            driver=config["logging"].get("driver"),
            options={k: str(v) for k, v in (config["logging"].get("options") or {}).items()},
        )
    positions = config.get("__positions__") or Positions()
    source_file, source_line, _ = positions.service
    raw = {k: v for k, v in config.items() if k != "__positions__"}
    return Service(
        name=name,
        image=config.get("image"),
        has_build=config.get("build") is not None,
        command=_optional(tuple, config.get("command")),
        entrypoint=_optional(tuple, config.get("entrypoint")),
        environment=dict(config.get("environment") or {}),
        healthcheck=healthcheck,
        ports=tuple(
            Port(target=int(p.get("target", 0)), published=p.get("published"),
                 protocol=p.get("protocol", "tcp"),
                 host_ip=p.get("host_ip"), mode=p.get("mode", "ingress"), name=p.get("name"),
                 app_protocol=p.get("app_protocol"))
            for p in config.get("ports") or []
        ),
        expose=tuple(str(e) for e in config.get("expose") or []),
        cpus=_optional(float, cpus),
        mem_limit=_optional(int, mem_limit),
        mem_reservation=_optional(int, mem_reservation),
        working_dir=config.get("working_dir"),
        user=config.get("user"),
        labels=dict(config.get("labels") or {}),
        stop_grace_period=stop_grace,
        init=config.get("init"),
        read_only=config.get("read_only"),
        ulimits={str(k): _ulimit(v) for k, v in (config.get("ulimits") or {}).items()},
        platform=config.get("platform"),
        logging=logging,
        depends_on={
            dep: Dependency(condition=spec.get("condition", "service_started"),
                            required=spec.get("required", True), restart=spec.get("restart", False))
            for dep, spec in (config.get("depends_on") or {}).items()
        },
        volumes=tuple(
            Mount(type=str(v.get("type", "volume")), target=str(v.get("target")), source=v.get("source") or None,
                  read_only=bool(v.get("read_only")), subpath=(v.get("volume") or {}).get("subpath") or None)
            for v in config.get("volumes") or [] if isinstance(v, Mapping)
        ),
        profiles=tuple(config.get("profiles") or ()),
        x_ecsflow=parse_service_extension(config.get("x-ecsflow"), service=name, positions=positions,
                                          interpolated=interpolated),
        raw=raw,
        source_file=source_file,
        source_line=source_line,
        positions=positions,
    )


def _ulimit(value: Any) -> Any:
    """A limit as a number, or as {"soft", "hard"} when they differ (Compose prints a zero limit as {})."""
    if isinstance(value, Mapping):
        soft, hard = int(value.get("soft", 0)), int(value.get("hard", 0))
        return soft if soft == hard else {"soft": soft, "hard": hard}
    return int(value)


def _optional(convert, value):
    return None if value is None else convert(value)
