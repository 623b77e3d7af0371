"""Load compose files the way `docker compose` does: discovery, .env, interpolation, include, extends,
merging several files, profiles, project name; then normalise into typed services.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ecsflow.compose.casts import Interpolated, interpolate_document
from ecsflow.compose.envfile import read_env_file
from ecsflow.compose.extends import absolutise_paths, resolve_extends
from ecsflow.compose.extension import parse_project_extension
from ecsflow.compose.merge import merge_documents, strip_tags
from ecsflow.compose.model import ComposeProject, service_from_config
from ecsflow.compose.named_volumes import parse_named_volumes
from ecsflow.compose.normalise import normalise_service
from ecsflow.compose.positions import service_positions
from ecsflow.compose.references import check_project
from ecsflow.compose.scalars import timestamps_as_text
from ecsflow.compose.schema import check_dependency_conditions, validate_document
from ecsflow.compose.yamlfile import PositionedMap, Reset, read_yaml_file
from ecsflow.errors import ComposeError

# In Compose's order of preference (compose-go's DefaultFileNames and DefaultOverrideFileNames).
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

Warn = Callable[[str], None]


def find_default_files(start: Path, warn: Warn | None = None) -> list[Path]:
    """compose.yaml (or one of its siblings) in `start` or the nearest parent, plus an override file.

    When several candidates sit side by side, Compose uses the first and warns; so does ecsflow."""
    for directory in (start, *start.parents):
        found = [directory / name for name in DEFAULT_FILES if (directory / name).is_file()]
        if not found:
            continue
        overrides = [directory / name for name in OVERRIDE_FILES if (directory / name).is_file()]
        for kind, candidates in (("config", found), ("override", overrides)):
            if len(candidates) > 1 and warn:
                warn(f"Found multiple {kind} files with supported names: {', '.join(map(str, candidates))}")
                warn(f"Using {candidates[0]}")
        return found[:1] + overrides[:1]
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
    interpolated = config["interpolated"]
    services = tuple(
        service_from_config(name, svc, interpolated) for name, svc in config["services"].items()
    )
    return ComposeProject(
        name=config["name"],
        working_dir=Path(config["working_dir"]),
        files=tuple(Path(f) for f in config["files"]),
        services=services,
        volumes=parse_named_volumes(config.get("volumes"), interpolated, config["files"][0], config["services"]),
        extensions={k: v for k, v in config.items() if k.startswith("x-")},
        x_ecsflow=parse_project_extension(config.get("x-ecsflow"), Path(config["files"][0]).name, interpolated),
        environment=config["environment"],
        interpolated=interpolated,
        profiled_out=config["profiled_out"],
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
    (with literal `$`, not `$$`), plus `files`, `working_dir`, `environment`, `interpolated` (each text that
    interpolation made -> the variables it read for it, so that errors about it name them) and `profiled_out`
    (the services of profiles not enabled -> their profiles)."""
    shell = dict(os.environ if environ is None else environ)
    cwd = Path(cwd or os.getcwd()).resolve()
    if files:
        paths = [(cwd / Path(f)).resolve() if not Path(f).is_absolute() else Path(f) for f in files]
    elif shell.get("COMPOSE_FILE"):
        separator = shell.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        paths = [(cwd / f).resolve() for f in shell["COMPOSE_FILE"].split(separator) if f]
    else:
        paths = find_default_files(cwd, warn)
    working_dir = paths[0].parent

    # The interpolation environment: .env (or --env-file) under the shell's own variables.
    dotenv: dict[str, str] = {}
    env_paths = [(cwd / Path(f)) if not Path(f).is_absolute() else Path(f) for f in env_files]
    if not env_files and _dot_env(working_dir):
        env_paths = [working_dir / ".env"]
    for env_path in env_paths:
        try:
            dotenv.update(read_env_file(env_path, {**shell, **dotenv}, warn))
        except ComposeError as exc:
            exc.hint = exc.hint or "check the --env-file path"
            raise
    environment = {**dotenv, **shell}

    merged: dict[str, Any] | None = None
    interpolated: Interpolated = {}
    for path in paths:
        document = _load_file(path, environment, working_dir, warn, interpolated=interpolated)
        merged = document if merged is None else merge_documents(merged, document)
    if not merged:
        raise ComposeError("empty compose file", file=str(paths[0]), hint="add a `services:` mapping")
    merged = strip_tags(merged)

    name = _project_name(project_name, environment, merged, working_dir, paths[0])
    enabled = set(profiles) or {p for p in environment.get("COMPOSE_PROFILES", "").split(",") if p}
    named = set(services)
    every = merged.get("services") or {}
    services = {}
    profiled_out: dict[str, tuple[str, ...]] = {}  # services of profiles not enabled -> their profiles
    for service_name, service in every.items():
        service_profiles = service.get("profiles") or []
        enabled_here = "*" in enabled or enabled.intersection(service_profiles) or service_name in named
        if service_profiles and not enabled_here:
            profiled_out[service_name] = tuple(str(p) for p in service_profiles)
            continue
        services[service_name] = service
    for service_name, service in services.items():
        if not service.get("image") and not service.get("build") and not service.get("provider"):
            raise ComposeError(
                f'service "{service_name}" has neither an image nor a build context specified',
                service=service_name, **service_positions(every, service_name).of(),
                hint="add `image:` (ECS runs images; a build-only service cannot run on Fargate)",
            )
    check_dependency_conditions(every, str(paths[0]))
    check_project(services, every, merged, paths[0])

    normalised = {}
    for service_name, service in every.items():
        enabled_here = service_name in services  # a disabled service's values must read too, as in Compose
        result = normalise_service(service_name, service, working_dir, environment, warn, enabled=enabled_here)
        if enabled_here:
            normalised[service_name] = result
            normalised[service_name]["__positions__"] = service_positions(every, service_name)

    result = {key: timestamps_as_text(value) for key, value in merged.items()
              if key not in ("services", "include", "version", "name")}
    result.update(name=name, services=normalised, files=[str(p) for p in paths], working_dir=str(working_dir),
                  environment=environment, interpolated=interpolated, profiled_out=profiled_out)
    return result


def _project_name(flag: str | None, environment: Mapping[str, str], merged: Mapping[str, Any],
                  working_dir: Path, first_file: Path) -> str:
    """-p or COMPOSE_PROJECT_NAME must be a valid name; `name:` in a file is normalised as a folder name is."""
    explicit = flag or environment.get("COMPOSE_PROJECT_NAME")
    if explicit:
        if not _PROJECT_NAME.match(explicit):
            raise ComposeError(
                f"invalid project name {explicit!r}: it must contain only lowercase letters, digits, dashes and "
                "underscores, and start with a letter or digit",
                hint="pass -p NAME" if flag else "check COMPOSE_PROJECT_NAME",
            )
        return explicit
    written = merged.get("name")
    if written:
        name = normalise_project_name(str(written))
        if not name:
            raise ComposeError("project name must not be empty", file=str(first_file), key="name",
                               hint="`name:` needs at least one letter or digit")
        return name
    name = normalise_project_name(working_dir.name)
    if not name:
        raise ComposeError(f"cannot derive a project name from folder {working_dir.name!r}",
                           hint="pass -p NAME or set `name:` in the compose file")
    return name


def _load_file(path: Path, environment: Mapping[str, str], project_dir: Path, warn: Warn | None,
               seen: tuple[Path, ...] = (), interpolated: Interpolated | None = None) -> dict[str, Any]:
    """Read one file; each of its documents is interpolated, extended, included and validated, then merged."""
    merged: dict[str, Any] = PositionedMap()
    for document in read_yaml_file(path):
        if not isinstance(document, dict):
            raise ComposeError("top-level object must be a mapping", file=str(path), line=1,
                               hint="a compose file (and each `---` document in it) is a mapping")
        merged = merge_documents(merged, _load_document(document, path, environment, project_dir, warn, seen,
                                                        interpolated))
    return merged


def _load_document(document: dict[str, Any], path: Path, environment: Mapping[str, str], project_dir: Path,
                   warn: Warn | None, seen: tuple[Path, ...], interpolated: Interpolated | None) -> dict[str, Any]:
    document = interpolate_document(document, environment, str(path), warn, interpolated)
    services = document.get("services")
    if services is not None and not isinstance(services, dict):
        raise ComposeError("services must be a mapping", file=str(path), line=document.line_of("services"))
    services = services if services is not None else PositionedMap()
    for service_name, service in services.items():
        if not isinstance(service, dict | Reset):
            raise ComposeError(f"services.{service_name} must be a mapping", file=str(path),
                               line=services.line_of(service_name), service=service_name)
    # Relative paths in the files given with -f are relative to the project directory, as in Compose.
    absolutise_paths(services, project_dir, environment.get("HOME"))
    # Compose validates after `extends`; validating the services as written, then those that took parts from
    # another file, finds the same errors without validating an inherited part once per heir.
    validate_document(document, str(path))
    if "services" in document:
        document["services"], from_other_files = resolve_extends(services, path, environment, warn, interpolated)
        for name in from_other_files:
            validate_document({"services": {name: document["services"][name]}}, str(path))
    for included in document.pop("include", None) or []:
        document = _merge_include(document, included, path, environment, warn, (*seen, path), interpolated)
    return document


def _merge_include(document, included, path: Path, environment, warn, seen, interpolated) -> dict[str, Any]:
    """Import the resources of an included file. A name defined twice is a conflict unless both definitions
    are the same (the same file included twice, directly and through another include, is fine)."""
    spec = included if isinstance(included, dict) else {"path": included}
    include_paths = spec["path"] if isinstance(spec["path"], list) else [spec["path"]]
    # Several paths are one model: the later files override the first, as `-f` files do, then it is imported.
    targets = [(path.parent / str(include_path)).resolve() for include_path in include_paths]
    sub: dict[str, Any] | None = None
    for target in targets:
        if target in seen:
            raise ComposeError(f"include cycle: {target} includes itself", file=str(path), key="include")
        include_env = dict(environment)
        env_file = spec.get("env_file")
        for env_path in ([env_file] if isinstance(env_file, str) else env_file or []):
            include_env.update(read_env_file(path.parent / env_path, environment, warn))
        if not env_file and _dot_env(targets[0].parent):
            include_env = {**read_env_file(targets[0].parent / ".env", environment, warn), **environment}
        project_dir = Path(spec.get("project_directory") or targets[0].parent)
        loaded = _load_file(target, include_env, project_dir, warn, seen, interpolated)
        sub = loaded if sub is None else merge_documents(sub, loaded)
    if sub is not None:
        target = targets[0]
        for kind in ("services", "networks", "volumes", "secrets", "configs"):
            entries = sub.get(kind)
            if not isinstance(entries, dict):
                continue
            existing = document.setdefault(kind, PositionedMap())
            for entry_name, entry in entries.items():
                if entry_name in existing and strip_tags(existing[entry_name]) != strip_tags(entry):
                    raise ComposeError(f"{kind}.{entry_name} conflicts with imported resource", file=str(path),
                                       service=entry_name if kind == "services" else None, key="include",
                                       hint=f"{target} defines it too, differently")
                existing.setdefault(entry_name, entry)
    return document


def _dot_env(directory: Path) -> bool:
    """Whether `directory` has a .env to read. Compose passes over a directory of that name; anything else
    named .env is read, so a device or FIFO there is refused rather than read for ever."""
    path = directory / ".env"
    return os.path.lexists(path) and not path.is_dir()


__all__ = ["load_project", "load_config", "find_default_files", "normalise_project_name", "Reset"]
