"""`extends`: a service built on another one, in the same file or in another file.

As in Compose, a file reached only through `extends` is interpolated but not validated: a broken service in it
that nobody extends does not matter; what is extended is validated as part of the file that extends it. Each
service is resolved once (memoised) by walking its chain of bases without recursion, so a chain of thousands of
`extends` (Compose accepts them) costs linear work. Relative `env_file` paths are made absolute while it is still
known which file they were written in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ecsflow.compose.casts import Interpolated, interpolate_document
from ecsflow.compose.merge import merge_documents, merge_services
from ecsflow.compose.volumes import resolve_volume_paths
from ecsflow.compose.yamlfile import Override, PositionedMap, Reset, read_yaml_file, tree_copy
from ecsflow.errors import ComposeError

Warn = Callable[[str], None]
Key = tuple[Path, str]  # (file, service name)


def resolve_extends(services: Mapping[str, Any], path: Path, environment: Mapping[str, str],
                    warn: Warn | None, interpolated: Interpolated | None = None) -> tuple[PositionedMap, set[str]]:
    """`services` of the file `path` with every `extends` resolved, and the names of those that took something
    from another file (the only ones whose result holds parts not yet validated with this file)."""
    files: dict[Path, Mapping[str, Any]] = {path: services}
    resolved: dict[Key, dict[str, Any]] = {}
    foreign: dict[Key, bool] = {}  # whether a resolved service holds parts of a file other than `path`
    result = PositionedMap().copy_positions(services)
    for name, service in services.items():
        reset = isinstance(service, Reset)  # `NAME: !reset`, for a later document or file to remove it
        result[name] = service if reset else _resolve(path, name, files, resolved, foreign, environment, warn,
                                                      interpolated)
    return result, {name for name in services if foreign.get((path, name))}


def _resolve(path: Path, name: str, files: dict[Path, Mapping[str, Any]], resolved: dict[Key, dict[str, Any]],
             foreign: dict[Key, bool], environment: Mapping[str, str], warn: Warn | None,
             interpolated: Interpolated | None) -> dict[str, Any]:
    chain: list[tuple[Key, Mapping[str, Any]]] = []  # from the service asked for down to its first base
    key: Key = (path, name)
    while key not in resolved:
        file, service_name = key
        services = files[file]
        if service_name not in services:
            where_file, where_service = chain[-1][0] if chain else key
            raise ComposeError(f"cannot extend service '{service_name}': no such service in {file}",
                               file=str(where_file), service=where_service, key="extends")
        if any(key == seen for seen, _ in chain):
            cycle = " -> ".join(seen[1] for seen, _ in [*chain, (key, None)])
            raise ComposeError(f"extends cycle: {cycle}", file=str(file), service=service_name, key="extends")
        service = services[service_name]
        if service is None and file != path:
            # An empty entry of a file reached through `extends` (`nil:`): Compose extends it as an empty service
            # (the file is not validated); the main files' own entries are checked before this.
            service = PositionedMap()
        if not isinstance(service, Mapping):
            raise ComposeError(f"services.{service_name} must be a mapping", file=str(file), service=service_name)
        chain.append((key, service))
        extends = service.get("extends")
        if extends is None or isinstance(extends, Reset):
            break
        key = _base_of(extends, file, service_name, files, environment, warn, interpolated)
    base, base_foreign = resolved.get(key), foreign.get(key, False)
    for key, service in reversed(chain):
        if base is None or service.get("extends") is None or isinstance(service.get("extends"), Reset):
            value, is_foreign = tree_copy(service), key[0] != path
        else:
            own = PositionedMap({k: v for k, v in service.items() if k != "extends"}).copy_positions(service)
            value, is_foreign = merge_services(base, own), key[0] != path or base_foreign
        resolved[key], foreign[key] = value, is_foreign
        base, base_foreign = value, is_foreign
    return resolved[(path, name)]


def _base_of(extends: Any, file: Path, service_name: str, files: dict[Path, Mapping[str, Any]],
             environment: Mapping[str, str], warn: Warn | None, interpolated: Interpolated | None) -> Key:
    """The (file, service) that `extends` names; a file named for the first time is read, interpolated and cached."""
    if isinstance(extends, Override):
        extends = extends.value
    spec = {"service": extends} if isinstance(extends, str) else extends
    if not isinstance(spec, Mapping) or not isinstance(spec.get("service"), str):
        raise ComposeError(f"services.{service_name}.extends must be a service name, or a mapping with `service` "
                           "and an optional `file`", file=str(file), service=service_name, key="extends")
    if not spec.get("file"):
        return file, spec["service"]
    base_path = (file.parent / str(spec["file"])).resolve()
    if base_path not in files:
        files[base_path] = _load_base_file(base_path, environment, warn, interpolated)
    return base_path, spec["service"]


def _load_base_file(path: Path, environment: Mapping[str, str], warn: Warn | None,
                    interpolated: Interpolated | None) -> Mapping[str, Any]:
    """The services of a file reached through `extends`: interpolated, documents merged, not validated."""
    merged: dict[str, Any] = PositionedMap()
    for document in read_yaml_file(path):
        if not isinstance(document, dict):
            raise ComposeError("top-level object must be a mapping", file=str(path), line=1)
        merged = merge_documents(merged, interpolate_document(document, environment, str(path), warn, interpolated))
    services = merged.get("services") or PositionedMap()
    if not isinstance(services, dict):
        raise ComposeError("services must be a mapping", file=str(path))
    # Paths in a file reached through `extends` are relative to that file.
    absolutise_paths(services, path.parent, environment.get("HOME"))
    return services


def absolutise_paths(services: Mapping[str, Any], base_dir: Path, home: str | None = None) -> None:
    """Make env_file and label_file paths, and bind-mount sources (`~` with ``home``), absolute now, while we
    still know which file they were written in."""
    for service in services.values():
        if not isinstance(service, dict):
            continue
        volumes = service.get("volumes")
        if isinstance(volumes, Override):
            service["volumes"] = Override(resolve_volume_paths(volumes.value, base_dir, home))
        elif volumes is not None and not isinstance(volumes, Reset):
            service["volumes"] = resolve_volume_paths(volumes, base_dir, home)
        for key in ("env_file", "label_file"):
            entries = service.get(key)
            if entries is None or isinstance(entries, Reset):
                continue
            wrapped = isinstance(entries, Override)
            items = entries.value if wrapped else entries
            items = items if isinstance(items, list) else [items]
            fixed = []
            for item in items:
                if isinstance(item, dict) and "path" in item:
                    item = PositionedMap(item, path=str(base_dir / str(item["path"]))).copy_positions(item)
                elif isinstance(item, str):
                    item = str(base_dir / item)
                fixed.append(item)
            service[key] = Override(fixed) if wrapped else fixed
