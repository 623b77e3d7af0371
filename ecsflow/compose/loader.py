"""Load compose files the way `docker compose` does: discovery, .env, interpolation, include, extends,
merging several files, profiles, project name; then normalise into typed services.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ecsflow.compose.envfile import read_env_file
from ecsflow.compose.extension import parse_project_extension
from ecsflow.compose.interpolate import InterpolationError, interpolate
from ecsflow.compose.merge import merge_services, strip_tags
from ecsflow.compose.model import ComposeProject, service_from_config
from ecsflow.compose.normalise import normalise_service
from ecsflow.compose.schema import check_service
from ecsflow.compose.yamlfile import Override, PositionedMap, Reset, read_yaml_file
from ecsflow.errors import ComposeError

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = {
    "compose.yaml": ("compose.override.yaml", "compose.override.yml"),
    "compose.yml": ("compose.override.yml", "compose.override.yaml"),
    "docker-compose.yaml": ("docker-compose.override.yaml", "docker-compose.override.yml"),
    "docker-compose.yml": ("docker-compose.override.yml", "docker-compose.override.yaml"),
}
TOP_LEVEL_KEYS = {"version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models"}
SERVICE_KEYS = {
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent", "command",
    "configs", "container_name", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period",
    "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset", "credential_spec", "depends_on", "deploy", "develop",
    "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname", "entrypoint", "env_file",
    "environment", "expose", "extends", "external_links", "extra_hosts", "gpus", "group_add", "healthcheck",
    "hostname", "image", "init", "ipc", "isolation", "label_file", "labels", "links", "logging", "mac_address",
    "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit", "models", "network_mode", "networks",
    "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports", "post_start", "pre_stop",
    "privileged", "profiles", "provider", "pull_policy", "pull_refresh_after", "read_only", "restart", "runtime",
    "scale", "secrets", "security_opt", "shm_size", "stdin_open", "stop_grace_period", "stop_signal",
    "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "use_api_socket", "user", "userns_mode", "uts",
    "volumes", "volumes_from", "working_dir",
}
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

Warn = Callable[[str], None]


def find_default_files(start: Path) -> list[Path]:
    """compose.yaml (or its siblings) in `start` or the nearest parent, plus its override file."""
    for directory in (start, *start.parents):
        for name in DEFAULT_FILES:
            candidate = directory / name
            if candidate.is_file():
                files = [candidate]
                for override in OVERRIDE_FILES[name]:
                    if (directory / override).is_file():
                        files.append(directory / override)
                        break
                return files
    raise ComposeError(
        f"no compose file found in {start} or its parents",
        hint=f"pass -f FILE, or create one of {', '.join(DEFAULT_FILES)}",
    )


def normalise_project_name(name: str) -> str:
    """The folder-name rule of Compose: lowercase, keep [a-z0-9_-], no leading '_' or '-'."""
    return re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")


def load_project(
    files: Sequence[str | Path] = (),
    *,
    project_name: str | None = None,
    env_files: Sequence[str | Path] = (),
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    warn: Warn | None = None,
    services: Sequence[str] = (),
) -> ComposeProject:
    """Load compose files into a `ComposeProject`, as `docker compose config` would read them.

    `services` named explicitly are enabled whatever their profiles, as `docker compose up SERVICE` does."""
    config = load_config(files, project_name=project_name, env_files=env_files, profiles=profiles,
                         environ=environ, cwd=cwd, warn=warn, services=services)
    services = tuple(
        service_from_config(name, svc) for name, svc in config["services"].items()
    )
    return ComposeProject(
        name=config["name"],
        working_dir=Path(config["working_dir"]),
        files=tuple(Path(f) for f in config["files"]),
        services=services,
        extensions={k: v for k, v in config.items() if k.startswith("x-")},
        x_ecsflow=parse_project_extension(config.get("x-ecsflow"), Path(config["files"][0]).name),
        environment=config["environment"],
    )


def load_config(
    files: Sequence[str | Path] = (),
    *,
    project_name: str | None = None,
    env_files: Sequence[str | Path] = (),
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    warn: Warn | None = None,
    services: Sequence[str] = (),
) -> dict[str, Any]:
    """The normalised project as a mapping shaped like `docker compose config --format json` output
    (with literal `$`, not `$$`), plus `files`, `working_dir` and `environment`."""
    shell = dict(os.environ if environ is None else environ)
    cwd = Path(cwd or os.getcwd()).resolve()
    if files:
        paths = [(cwd / Path(f)).resolve() if not Path(f).is_absolute() else Path(f) for f in files]
    elif shell.get("COMPOSE_FILE"):
        separator = shell.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        paths = [(cwd / f).resolve() for f in shell["COMPOSE_FILE"].split(separator) if f]
    else:
        paths = find_default_files(cwd)
    working_dir = paths[0].parent

    # The interpolation environment: .env (or --env-file) under the shell's own variables.
    dotenv: dict[str, str] = {}
    env_paths = [(cwd / Path(f)) if not Path(f).is_absolute() else Path(f) for f in env_files]
    if not env_files and (working_dir / ".env").is_file():
        env_paths = [working_dir / ".env"]
    for env_path in env_paths:
        if not env_path.is_file():
            raise ComposeError("env file not found", file=str(env_path), hint="check the --env-file path")
        dotenv.update(read_env_file(env_path, {**shell, **dotenv}, warn))
    environment = {**dotenv, **shell}

    merged: dict[str, Any] | None = None
    for path in paths:
        document = _load_file(path, environment, working_dir, warn)
        merged = document if merged is None else _merge_documents(merged, document)
    if not merged:
        raise ComposeError("empty compose file", file=str(paths[0]), hint="add a `services:` mapping")
    merged = strip_tags(merged)

    name = _project_name(project_name, environment, merged, working_dir, paths[0])
    enabled = set(profiles) or {p for p in environment.get("COMPOSE_PROFILES", "").split(",") if p}
    named = set(services)
    services = {}
    for service_name, service in (merged.get("services") or {}).items():
        service_profiles = service.get("profiles") or []
        enabled_here = "*" in enabled or enabled.intersection(service_profiles) or service_name in named
        if service_profiles and not enabled_here:
            continue
        services[service_name] = service
    _check_dependencies(services, merged.get("services") or {}, paths[0])
    _check_references(services, merged, paths[0])

    normalised = {}
    for service_name, service in services.items():
        if not service.get("image") and not service.get("build") and not service.get("provider"):
            raise ComposeError(
                "service has neither an image nor a build context specified",
                service=service_name, file=service.file if isinstance(service, PositionedMap) else None,
                line=service.line if isinstance(service, PositionedMap) else None,
                hint="add `image:` (ECS runs images; a build-only service cannot run on Fargate)",
            )
        normalised[service_name] = normalise_service(service_name, service, working_dir, environment, warn)
        if isinstance(service, PositionedMap):
            normalised[service_name]["__source__"] = (service.file, service.line)

    result = {k: v for k, v in merged.items() if k not in ("services", "include", "version", "name")}
    result.update(name=name, services=normalised, files=[str(p) for p in paths], working_dir=str(working_dir),
                  environment=environment)
    return result


def _project_name(flag: str | None, environment: Mapping[str, str], merged: Mapping[str, Any],
                  working_dir: Path, first_file: Path) -> str:
    explicit = flag or environment.get("COMPOSE_PROJECT_NAME") or merged.get("name")
    if explicit:
        name = str(explicit)
        if not _PROJECT_NAME.match(name):
            raise ComposeError(
                f"invalid project name {name!r}: it must contain only lowercase letters, digits, dashes and "
                "underscores, and start with a letter or digit",
                file=None if flag else str(first_file), key=None if flag else "name",
            )
        return name
    name = normalise_project_name(working_dir.name)
    if not name:
        raise ComposeError(f"cannot derive a project name from folder {working_dir.name!r}",
                           hint="pass -p NAME or set `name:` in the compose file")
    return name


def _load_file(path: Path, environment: Mapping[str, str], project_dir: Path, warn: Warn | None,
               seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Parse, check, interpolate one file, then resolve its `include` and `extends`."""
    document = read_yaml_file(path)
    if document is None:
        return PositionedMap()  # an empty file is fine beside others; alone it is an error (load_config)
    if not isinstance(document, dict):
        raise ComposeError("a compose file must be a mapping at the top level", file=str(path), line=1)
    _check_keys(document, path)
    document = _interpolate_tree(document, environment, str(path), (), warn)
    services = document.get("services") or PositionedMap()
    if not isinstance(services, dict):
        raise ComposeError("`services` must be a mapping", file=str(path), line=document.line_of("services"))
    for service_name, service in services.items():
        if not isinstance(service, dict):
            raise ComposeError(f"services.{service_name} must be a mapping", file=str(path),
                               line=services.line_of(service_name), service=service_name)
        check_service(service_name, service, str(path), getattr(service, "line_of", lambda key: None))
    # Relative paths in the files given with -f are relative to the project directory, as in Compose.
    _absolutise_paths(services, project_dir)
    document["services"] = _resolve_extends(services, path, environment, warn)
    for included in document.pop("include", None) or []:
        document = _merge_include(document, included, path, environment, warn, seen + (path,))
    return document


def _merge_include(document, included, path: Path, environment, warn, seen) -> dict[str, Any]:
    spec = included if isinstance(included, dict) else {"path": included}
    include_paths = spec["path"] if isinstance(spec["path"], list) else [spec["path"]]
    for include_path in include_paths:
        target = (path.parent / str(include_path)).resolve()
        if target in seen:
            raise ComposeError(f"include cycle: {target} includes itself", file=str(path), key="include")
        include_env = dict(environment)
        env_file = spec.get("env_file")
        for env_path in ([env_file] if isinstance(env_file, str) else env_file or []):
            include_env.update(read_env_file(path.parent / env_path, environment, warn))
        if not env_file and (target.parent / ".env").is_file():
            include_env = {**read_env_file(target.parent / ".env", environment, warn), **environment}
        project_dir = Path(spec.get("project_directory") or target.parent)
        sub = _load_file(target, include_env, project_dir, warn, seen)
        for kind, entries in sub.items():
            if kind == "services" or kind in ("networks", "volumes", "secrets", "configs"):
                existing = document.setdefault(kind, PositionedMap())
                for entry_name, entry in (entries or {}).items():
                    if kind == "services" and entry_name in existing:
                        raise ComposeError(f"services.{entry_name} conflicts with imported resource",
                                           file=str(path), service=entry_name, key="include")
                    existing.setdefault(entry_name, entry)
    return document


def _merge_documents(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = PositionedMap(base).copy_positions(base)
    for key, value in override.items():
        if key == "services":
            services = PositionedMap(merged.get("services") or {}).copy_positions(merged.get("services"))
            for name, service in (value or {}).items():
                if name in services:
                    services[name] = merge_services(services[name], service)
                else:
                    services[name] = service
            merged["services"] = services
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            combined = PositionedMap(merged[key]).copy_positions(merged[key])
            for name, entry in value.items():
                if isinstance(entry, dict) and isinstance(combined.get(name), dict):
                    combined[name] = merge_services(combined[name], entry)
                else:
                    combined[name] = entry
            merged[key] = combined
        else:
            merged[key] = value
    return merged


def _resolve_extends(services: dict[str, Any], path: Path, environment, warn) -> dict[str, Any]:
    cache: dict[Path, dict[str, Any]] = {path: services}
    resolved = PositionedMap().copy_positions(services)
    for name in services:
        resolved[name] = _extend_one(name, path, cache, environment, warn, ())
    return resolved


def _extend_one(name: str, path: Path, cache: dict[Path, dict[str, Any]], environment, warn,
                chain: tuple[tuple[Path, str], ...]) -> dict[str, Any]:
    services = cache[path]
    if name not in services:
        where = chain[-1] if chain else (path, name)
        raise ComposeError(f"cannot extend service '{name}': no such service in {path}",
                           file=str(where[0]), service=where[1], key="extends")
    if (path, name) in chain:
        cycle = " -> ".join(f"{svc}" for _, svc in (*chain, (path, name)))
        raise ComposeError(f"extends cycle: {cycle}", file=str(path), service=name, key="extends")
    service = services[name]
    extends = service.get("extends")
    if extends is None:
        return copy.deepcopy(service)
    spec = {"service": extends} if isinstance(extends, str) else dict(extends)
    base_path = path
    if spec.get("file"):
        base_path = (path.parent / str(spec["file"])).resolve()
        if base_path not in cache:
            document = read_yaml_file(base_path)
            document = _interpolate_tree(document or PositionedMap(), environment, str(base_path), (), warn)
            base_services = document.get("services") or {}
            for base_name, base_service in base_services.items():
                if not isinstance(base_service, dict):
                    raise ComposeError(f"services.{base_name} must be a mapping", file=str(base_path),
                                       service=base_name)
            # Paths in a file reached through `extends` are relative to that file.
            _absolutise_paths(base_services, base_path.parent)
            cache[base_path] = base_services
    base = _extend_one(str(spec["service"]), base_path, cache, environment, warn, (*chain, (path, name)))
    own = PositionedMap({k: v for k, v in service.items() if k != "extends"}).copy_positions(service)
    return merge_services(base, own)


def _absolutise_paths(services: Mapping[str, Any], base_dir: Path) -> None:
    """Make env_file paths absolute now, while we still know which file they were written in."""
    for service in services.values():
        entries = service.get("env_file")
        if entries is None or isinstance(entries, Reset):
            continue
        wrapped = isinstance(entries, Override)
        items = entries.value if wrapped else entries
        items = items if isinstance(items, list) else [items]
        fixed = []
        for item in items:
            if isinstance(item, dict):
                item = dict(item, path=str(base_dir / str(item["path"])))
            else:
                item = str(base_dir / str(item))
            fixed.append(item)
        service["env_file"] = Override(fixed) if wrapped else fixed


def _check_keys(document: Mapping[str, Any], path: Path) -> None:
    for key in document:
        if key not in TOP_LEVEL_KEYS and not key.startswith("x-"):
            _unknown_key(key, TOP_LEVEL_KEYS, path, document.line_of(key), None)
    services = document.get("services")
    if isinstance(services, dict):
        for service_name, service in services.items():
            if isinstance(service, dict):
                for key in service:
                    if key not in SERVICE_KEYS and not key.startswith("x-"):
                        _unknown_key(key, SERVICE_KEYS, path, service.line_of(key), service_name)


def _unknown_key(key: str, valid: set[str], path: Path, line: int | None, service: str | None) -> None:
    close = difflib.get_close_matches(key, sorted(valid), n=1)
    raise ComposeError(
        f"unknown key '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""),
        file=str(path), line=line, service=service, key=key,
        hint="Docker Compose rejects keys outside the Compose Specification; extensions start with 'x-'",
    )


def _interpolate_tree(value: Any, environment: Mapping[str, str], file: str, path: tuple[str, ...],
                      warn: Warn | None, line: int | None = None) -> Any:
    if isinstance(value, dict):
        out = PositionedMap().copy_positions(value)
        for key, item in value.items():
            key_line = value.line_of(key) if isinstance(value, PositionedMap) else line
            out[key] = _interpolate_tree(item, environment, file, (*path, str(key)), warn, key_line)
        return out
    if isinstance(value, list):
        return [_interpolate_tree(item, environment, file, (*path, str(i)), warn, line)
                for i, item in enumerate(value)]
    if isinstance(value, Override):
        return Override(_interpolate_tree(value.value, environment, file, path, warn, line))
    if isinstance(value, str) and "$" in value:
        try:
            return interpolate(value, environment, warn)
        except InterpolationError as exc:
            service = path[1] if len(path) > 1 and path[0] == "services" else None
            raise ComposeError(f"error while interpolating {'.'.join(path)}: {exc}", file=file, line=line,
                               service=service, key=".".join(path[2:]) if service else ".".join(path)) from None
    return value


def _check_references(services: Mapping[str, Any], merged: Mapping[str, Any], first_file: Path) -> None:
    """A service's secrets and configs must be defined at the top level, as Compose checks."""
    for kind, singular in (("secrets", "secret"), ("configs", "config")):
        defined = merged.get(kind) or {}
        for name, service in services.items():
            for entry in service.get(kind) or []:
                source = entry.get("source") if isinstance(entry, dict) else entry
                if source not in defined:
                    raise ComposeError(
                        f"service '{name}' refers to undefined {singular} {source}",
                        service=name, key=kind, file=getattr(service, "file", str(first_file)),
                        line=service.line_of(kind) if isinstance(service, PositionedMap) else None,
                        hint=f"define it under the top-level `{kind}:` key",
                    )


def _check_dependencies(enabled: Mapping[str, Any], every: Mapping[str, Any], first_file: Path) -> None:
    """depends_on must name a defined, enabled service (unless `required: false`), with no cycle."""
    graph: dict[str, list[str]] = {}
    for name, service in enabled.items():
        depends = service.get("depends_on") or {}
        names = depends if isinstance(depends, list) else list(depends)
        graph[name] = []
        for dep in names:
            required = True if isinstance(depends, list) else (depends.get(dep) or {}).get("required", True)
            if dep not in enabled:
                if not required:
                    continue
                raise ComposeError(
                    f"service '{name}' depends on undefined service '{dep}'"
                    + (" (it is in a profile that is not enabled)" if dep in every else ""),
                    service=name, key="depends_on", file=getattr(service, "file", str(first_file)),
                    line=service.line_of("depends_on") if isinstance(service, PositionedMap) else None,
                )
            graph[name].append(dep)
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                cycle = trail[trail.index(dep):] + [dep] if dep in trail else [node, dep]
                raise ComposeError(f"dependency cycle detected: {' -> '.join(cycle)}", service=node,
                                   key="depends_on")
            if state.get(dep) is None:
                visit(dep, trail + [dep])
        state[node] = 2

    for node in graph:
        if state.get(node) is None:
            visit(node, [node])


__all__ = ["load_project", "load_config", "find_default_files", "normalise_project_name", "Reset"]
