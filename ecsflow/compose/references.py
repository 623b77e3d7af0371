"""Compose's consistency checks on the enabled services of a loaded project.

A service may only name networks, volumes, secrets, configs and models that the project defines, and only
services that are enabled: through `depends_on` and, as Compose counts them, `links`, `volumes_from` and
`network_mode`/`ipc`/`pid`/`uts: service:NAME` (these become `depends_on` entries in Compose's output too).
Dependencies must not form a cycle. Values that would contradict each other on ECS (`cpus` and
`deploy.resources.limits.cpus`, ...) must agree. Errors name the service and key, as Compose words them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ecsflow.compose.consistency import check_top_level
from ecsflow.compose.positions import position_in
from ecsflow.compose.units import ignored_size, parse_size
from ecsflow.compose.volumes import parse_volume_spec
from ecsflow.errors import ComposeError

_NAMESPACE_KEYS = ("network_mode", "ipc", "pid", "uts")
# (service key, deploy.resources path, Compose's name for the latter)
_SAME_VALUES = (
    ("cpus", ("limits", "cpus"), "deploy.resources.limits.cpus"),
    ("mem_limit", ("limits", "memory"), "deploy.resources.limits.memory"),
    ("mem_reservation", ("reservations", "memory"), "deploy.resources.reservations.memory"),
)


def dependencies(service: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """`depends_on` in its long form, plus what `links`, `volumes_from` and `service:` namespaces imply."""
    declared = service.get("depends_on") or {}
    result: dict[str, dict[str, Any]] = {}
    for name in declared:
        spec = dict(declared[name] or {}) if isinstance(declared, Mapping) else {}
        spec.setdefault("condition", "service_started")
        spec.setdefault("required", True)
        result[str(name)] = spec
    implied = [str(link).split(":")[0] for link in service.get("links") or []]
    implied += [str(service[key])[len("service:"):] for key in _NAMESPACE_KEYS
                if str(service.get(key) or "").startswith("service:")]
    for name in implied:
        result.setdefault(name, {"condition": "service_started", "restart": True, "required": True})
    for source in service.get("volumes_from") or []:
        if not str(source).startswith("container:"):
            result.setdefault(str(source).split(":")[0], {"condition": "service_started", "required": True})
    return result


def check_project(enabled: Mapping[str, Any], every: Mapping[str, Any], top: Mapping[str, Any],
                  first_file: Path) -> None:
    """Raise a ComposeError for the first inconsistency among the `enabled` services (`every` holds the
    services of all profiles, `top` the merged top-level mapping)."""
    check_top_level(top, first_file)
    for name, service in enabled.items():
        _check_references(name, service, top, first_file)
        _check_same_values(name, service, first_file)
    _check_dependencies(enabled, every, first_file)


def _error(message: str, name: str, service: Any, key: str, first_file: Path, hint: str | None = None) -> ComposeError:
    file, line, column = position_in(service, key) or (getattr(service, "file", None), None, None)
    return ComposeError(message, service=name, key=key, file=file or str(first_file), line=line, column=column,
                        hint=hint)


def _check_references(name: str, service: Mapping[str, Any], top: Mapping[str, Any], first_file: Path) -> None:
    if service.get("network_mode") and service.get("networks"):
        raise _error(f"service {name} declares mutually exclusive `network_mode` and `networks`", name, service,
                     "networks", first_file)
    for network in _names(service.get("networks")):
        if network != "default" and (network not in (top.get("networks") or {}) or network.startswith("x-")):
            error = _undefined(name, service, "network", network, "networks", first_file)
            if network.startswith("x-"):  # Compose reads `networks: {x-...: }` as an extension, not a network
                error.hint = "Compose reads a top-level network whose name starts with x- as an extension: rename it"
            raise error
    build = service.get("build")
    if isinstance(build, Mapping) and build.get("dockerfile") and build.get("dockerfile_inline"):
        raise _error(f'service "{name}" declares mutualy exclusive dockerfile and dockerfile_inline', name, service,
                     "build", first_file, hint="keep one of them")
    for volume in service.get("volumes") or []:
        source = _named_volume(volume)
        if source is not None and source not in (top.get("volumes") or {}):
            raise _undefined(name, service, "volume", source, "volumes", first_file)
    for kind, singular in (("secrets", "secret"), ("configs", "config"), ("models", "model")):
        for entry in _names(service.get(kind)) if kind == "models" else service.get(kind) or []:
            source = entry.get("source") if isinstance(entry, Mapping) else entry
            if source not in (top.get(kind) or {}):
                raise _undefined(name, service, singular, source, kind, first_file)
    test = (service.get("healthcheck") or {}).get("test") if isinstance(service.get("healthcheck"), Mapping) else None
    if isinstance(test, list) and test and test[0] not in ("CMD", "CMD-SHELL", "NONE"):
        raise _error('healthcheck.test must start either by "CMD", "CMD-SHELL" or "NONE"', name, service,
                     "healthcheck.test", first_file, hint='a list runs a program ("CMD", ...); a string runs a shell')


def _undefined(name: str, service: Any, singular: str, target: Any, key: str, first_file: Path) -> ComposeError:
    return _error(f'service "{name}" refers to undefined {singular} {target}', name, service, key, first_file,
                  hint=f"define it under the top-level `{key}:` key")


def _names(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [str(key) for key in value]
    return [str(item) for item in value or []]


def _named_volume(volume: Any) -> str | None:
    """The named volume a service's volume entry uses, if it uses one (not a bind mount, tmpfs or anonymous)."""
    if isinstance(volume, Mapping):
        if volume.get("type", "volume") != "volume":
            return None
        source = volume.get("source")
        return str(source) if source else None
    try:
        parsed = parse_volume_spec(str(volume))
    except ValueError:
        return None  # reported where the volumes are read
    return parsed.get("source") if parsed["type"] == "volume" else None


def _check_same_values(name: str, service: Mapping[str, Any], first_file: Path) -> None:
    """Compose refuses two different values for one limit; ECS would have to pick one silently."""
    deploy = service.get("deploy") if isinstance(service.get("deploy"), Mapping) else {}
    replicas = deploy.get("replicas")
    if service.get("scale") is not None and replicas is not None and _number(service["scale"]) != _number(replicas):
        raise _error(f"services.{name}: can't set distinct values on 'scale' and 'deploy.replicas'", name, service,
                     "scale", first_file, hint="keep one of them")
    resources = deploy.get("resources")
    if not isinstance(resources, Mapping):
        return
    for key, (level, field), other in _SAME_VALUES:
        mine, block = service.get(key), resources.get(level)
        if key != "cpus" and ignored_size(mine):
            mine = None  # Compose reads no size from a YAML float: it is not set
        if not mine or not isinstance(block, Mapping):  # Compose compares a value that is set and not zero
            continue
        theirs = block.get(field)
        try:  # a limit block without this value holds zero for it, which differs
            same = theirs is not None and (float(mine) == float(theirs) if key == "cpus"
                                           else parse_size(mine) == parse_size(theirs))
        except (TypeError, ValueError):
            continue  # the value itself is reported when it is read
        if not same:
            raise _error(f"services.{name}: can't set distinct values on '{key}' and '{other}'", name, service, key,
                         first_file, hint="keep one of them")


def _number(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _check_dependencies(enabled: Mapping[str, Any], every: Mapping[str, Any], first_file: Path) -> None:
    """Every required dependency is an enabled service, and there is no cycle (checked without recursion)."""
    graph: dict[str, list[str]] = {}
    for name, service in enabled.items():
        graph[name] = []
        for dep, spec in dependencies(service).items():
            if dep not in enabled:
                if not spec.get("required", True):
                    continue
                key = "depends_on" if dep in (service.get("depends_on") or ()) else _dependency_key(service, dep)
                raise _error(f'service "{name}" depends on undefined service "{dep}"'
                             + (" (it is in a profile that is not enabled)" if dep in every else ""),
                             name, service, key, first_file)
            graph[name].append(dep)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in graph:
        if root in state:
            continue
        path, iterators = [root], [iter(graph[root])]
        state[root] = 1
        while iterators:
            dep = next(iterators[-1], None)
            if dep is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(dep) == 1:
                cycle = path[path.index(dep):] + [dep]
                raise ComposeError(f"dependency cycle detected: {' -> '.join(cycle)}", service=path[-1],
                                   key="depends_on", file=str(first_file))
            elif dep not in state:
                state[dep] = 1
                path.append(dep)
                iterators.append(iter(graph[dep]))


def _dependency_key(service: Mapping[str, Any], dep: str) -> str:
    for key in ("links", "volumes_from", *_NAMESPACE_KEYS):
        if dep in str(service.get(key) or ""):
            return key
    return "depends_on"
