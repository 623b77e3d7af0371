"""The project's named volumes (the top-level `volumes:`), with what their `x-ecsflow` block says they are on ECS:
`x-ecsflow: {efs: {file_system_id, access_point, root_directory, iam}}` names an EFS file system; a named volume
without one is task storage. Shapes and ECS's own rules for an EFS volume are checked here, at load, so that a
bad block is an error naming the file, line and key before anything is built."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecsflow.compose.positions import position_in
from ecsflow.errors import ComposeError
from ecsflow.validators import describe, variables_in

# EFS's ids: `fs-` and `fsap-` followed by hexadecimal digits (8 for the oldest file systems, 17 today).
_FILE_SYSTEM_ID = re.compile(r"fs-[0-9a-f]{8,40}")
_ACCESS_POINT_ID = re.compile(r"fsap-[0-9a-f]{8,40}")
_EFS_KEYS = ("file_system_id", "access_point", "root_directory", "iam")
_BLOCK_KEYS = ("efs",)


@dataclass(frozen=True)
class Efs:
    """An EFS file system as an ECS volume (`efsVolumeConfiguration`). ``iam``: None when not written (no
    access point), else whether the task role authorizes the mount."""

    file_system_id: str
    access_point: str | None = None
    root_directory: str | None = None
    iam: bool | None = None


@dataclass(frozen=True)
class NamedVolume:
    name: str
    efs: Efs | None = None
    source_file: str | None = None
    source_line: int | None = None


def parse_named_volumes(volumes: Any, interpolated: Mapping[str, Mapping[str, str]] | None = None,
                        default_file: str | None = None,
                        services: Mapping[str, Any] | None = None) -> dict[str, NamedVolume]:
    """The top-level `volumes` mapping (as loaded, schema-checked) -> name -> NamedVolume. ``services`` (the
    normalised ones) name, in an error about a volume, the first service that mounts it."""
    if not isinstance(volumes, Mapping):
        return {}
    file_of, line_of = getattr(volumes, "file_of", None), getattr(volumes, "line_of", None)
    mounted_by: dict[str, str] = {}
    for service_name, service in (services or {}).items():
        mounts = service.get("volumes") if isinstance(service, Mapping) else None
        for mount in mounts if isinstance(mounts, list) else []:
            if isinstance(mount, Mapping) and mount.get("type") == "volume" and mount.get("source"):
                mounted_by.setdefault(str(mount["source"]), service_name)
    result = {}
    for name, definition in volumes.items():
        file = (file_of(name) if file_of else None) or default_file
        line = line_of(name) if line_of else None
        block = definition.get("x-ecsflow") if isinstance(definition, Mapping) else None
        efs = _efs(str(name), block, (file, line, mounted_by.get(str(name))), interpolated, volumes)
        result[str(name)] = NamedVolume(str(name), efs, file, line)
    return result


def _efs(name: str, block: Any, at: tuple[str | None, int | None, str | None],
         interpolated: Mapping[str, Mapping[str, str]] | None, volumes: Any = None) -> Efs | None:
    """The EFS file system of the volume ``name`` from its x-ecsflow ``block``; ``at``: the file and line of
    the volume's name, and the first service that mounts it (None: no service does); ``volumes``: the mapping
    as read, whose positions say where each key of the block was written (a later -f file's own)."""
    where = f"volumes.{name}.x-ecsflow"
    file, line, service = at

    def error(message: str, key: str, hint: str | None = None) -> ComposeError:
        found = position_in(volumes, f"{name}.x-ecsflow" + (f".{key}" if key else ""))
        key_file, key_line, column = found if found else (file, line, None)
        return ComposeError(message, file=key_file or file, line=key_line, column=column, service=service,
                            key=f"{where}.{key}" if key else where, hint=hint)

    def shown(value: Any) -> str:
        return describe(value, variables_in(value, interpolated))

    if block is None:
        return None
    if not isinstance(block, Mapping):
        raise error(f"{where} must be a mapping, like {{efs: {{file_system_id: fs-...}}}}", "")
    for key in block:
        if key not in _BLOCK_KEYS:
            raise error(f"unknown key '{key}' in {where}", str(key), hint=_suggestion(key, _BLOCK_KEYS))
    efs = block.get("efs")
    if efs is None:
        return None
    if not isinstance(efs, Mapping):
        raise error(f"{where}.efs must be a mapping of {', '.join(_EFS_KEYS)}", "efs")
    for key in efs:
        if key not in _EFS_KEYS:
            raise error(f"unknown key '{key}' in {where}.efs", f"efs.{key}", hint=_suggestion(key, _EFS_KEYS))
    file_system = efs.get("file_system_id")
    if file_system is None:
        raise error(f"{where}.efs has no file_system_id: ECS mounts an EFS file system by its id", "efs",
                    hint="add `file_system_id: fs-...` (the id `aws efs describe-file-systems` shows)")
    if not isinstance(file_system, str) or not _FILE_SYSTEM_ID.fullmatch(file_system):
        raise error(f"{where}.efs.file_system_id must be an EFS file system id (fs- and hexadecimal digits), not "
                    f"{shown(file_system)}", "efs.file_system_id")
    access_point, iam, root = efs.get("access_point"), efs.get("iam"), efs.get("root_directory")
    if access_point is not None and (not isinstance(access_point, str)
                                     or not _ACCESS_POINT_ID.fullmatch(access_point)):
        raise error(f"{where}.efs.access_point must be an EFS access point id (fsap- and hexadecimal digits), not "
                    f"{shown(access_point)}", "efs.access_point")
    if iam is not None and not isinstance(iam, bool):
        raise error(f"{where}.efs.iam must be true or false, not {shown(iam)}", "efs.iam")
    if access_point is not None and iam is None:
        raise error(f"{where}.efs.access_point needs iam: true or false, whether the task role must be allowed "
                    "to mount through it", "efs.iam",
                    hint="iam: true checks the task role against the file system's policy (ECS's "
                    "authorizationConfig.iam ENABLED); iam: false does not")
    if root is not None:
        if not isinstance(root, str) or not root.startswith("/") or len(root) > 255:
            raise error(f"{where}.efs.root_directory must be an absolute path in the file system (at most 255 "
                        f"characters), not {shown(root)}", "efs.root_directory")
        if access_point is not None and root != "/":
            # ECS: "If an EFS access point is specified in the authorizationConfig, the root directory
            # parameter must either be omitted or set to /".
            raise error(f"{where}.efs.root_directory must be left out (or /) with an access point: the access "
                        "point sets the directory", "efs.root_directory",
                        hint="set the directory on the access point, or drop access_point")
    return Efs(file_system, access_point, root, iam)


def _suggestion(key: Any, valid: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(key), valid, n=1)
    return (f"did you mean '{close[0]}'? " if close else "") + f"valid keys: {', '.join(valid)}"
