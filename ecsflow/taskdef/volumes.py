"""A service's `volumes` on Fargate: named volumes become task volumes (EFS when their x-ecsflow block names a file
system, task storage otherwise) mounted in the container; what Fargate has no place for (a host folder, a tmpfs)
is left out with a warning that says what to do instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecsflow.compose.model import Mount
from ecsflow.compose.named_volumes import Efs
from ecsflow.taskdef.context import Context
from ecsflow.taskdef.names import ecs_name

BIND_INSTEAD = ("copy the files into the image (COPY in the Dockerfile), or keep them on EFS: a named volume "
                "with x-ecsflow: {efs: {file_system_id: fs-...}}")


def task_volumes(ctx: Context) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the task's `volumes`, the container's `mountPoints`)."""
    volumes: dict[str, dict[str, Any]] = {}
    mounts: list[dict[str, Any]] = []
    task_storage: list[str] = []
    binds: list[str] = []
    written: dict[str, str] = {}  # ECS volume name -> the compose volume it came from
    for mount in ctx.service.volumes:
        if mount.type == "volume" and mount.source:
            name = _named(ctx, mount, written)
            if name not in volumes:
                definition = ctx.project.volumes.get(mount.source)
                efs = definition.efs if definition else None
                volumes[name] = {"name": name, **({"efsVolumeConfiguration": efs_configuration(efs)} if efs else {})}
                if not efs:
                    task_storage.append(mount.source)
            mounts.append({"sourceVolume": name, "containerPath": mount.target, "readOnly": mount.read_only})
        elif mount.type == "volume":
            ctx.note(f"the anonymous volume at {mount.target} is left out: on Fargate that path is in the "
                     "container's own storage, which lasts as long as the task")
        elif mount.type == "bind":
            binds.append(f"{_shown_path(ctx, mount.source or '')}:{mount.target}")
        else:
            ctx.not_possible("volumes", f"a {mount.type} mount at {mount.target}")
    if binds:  # one warning for a service's bind mounts (the official Airflow file has four in each service)
        shown = ", ".join(binds)
        mounts_are = "mounts " + shown + " are" if len(binds) > 1 else "mount " + shown + " is"
        ctx.adapted("volumes", f"the bind {mounts_are} left out: Fargate has no host folders to mount; "
                    f"{BIND_INSTEAD}", f"the bind {mounts_are} not possible on Fargate", BIND_INSTEAD)
    if task_storage:
        names = ", ".join(f"'{n}'" for n in task_storage)
        ctx.adapted("volumes", f"named volume {names} is task storage on Fargate: shared by the task's "
                    "containers and gone when the task stops (Docker keeps a named volume between runs); give it "
                    "x-ecsflow.efs to keep its data",
                    f"named volume {names} would not outlive the task on Fargate",
                    "give it x-ecsflow: {efs: {file_system_id: fs-...}} (EFS keeps the data)")
    return list(volumes.values()), mounts


def efs_configuration(efs: Efs) -> dict[str, Any]:
    """ECS's efsVolumeConfiguration: transit encryption always on (ECS requires it for IAM authorization, and
    nothing is lost by it); the access point's authorization when there is one."""
    config: dict[str, Any] = {"fileSystemId": efs.file_system_id}
    if efs.root_directory:
        config["rootDirectory"] = efs.root_directory
    config["transitEncryption"] = "ENABLED"
    if efs.access_point or efs.iam:
        authorization: dict[str, Any] = {"accessPointId": efs.access_point} if efs.access_point else {}
        authorization["iam"] = "ENABLED" if efs.iam else "DISABLED"
        config["authorizationConfig"] = authorization
    return config


def _named(ctx: Context, mount: Mount, written: dict[str, str]) -> str:
    """The ECS name of a mount's named volume; checks what ECS and Fargate need of the mount."""
    source = mount.source or ""
    if source not in ctx.project.volumes:  # the loader refuses it first; a project built another way
        raise ctx.error(f"volume '{source}' is not declared in the top-level volumes", key="volumes",
                        hint=f"add `volumes: {{{source}: {{}}}}` at the top level")
    if not mount.target.startswith("/"):
        raise ctx.error(f"the volume target {ctx.shown(mount.target)} is not an absolute path (Docker and ECS "
                        "mount at absolute paths only)", key="volumes")
    if mount.subpath:
        raise ctx.error(f"volume '{source}' is mounted with a subpath ({ctx.shown(mount.subpath)}), which ECS "
                        "cannot do: a mount point takes the whole volume", key="volumes",
                        hint="mount the volume without volume.subpath, or declare another volume for that folder "
                        "(with EFS: x-ecsflow.efs.root_directory)")
    name = ecs_name(source)
    if written.setdefault(name, source) != source:
        raise ctx.error(f"volumes '{written[name]}' and '{source}' are both '{name}' on ECS, which allows only "
                        "letters, digits, '-' and '_' in a volume name", key="volumes", hint="rename one of them")
    if name != source:
        ctx.note(f"volume '{source}' is named '{name}' on ECS (letters, digits, '-' and '_')")
    return name


def _shown_path(ctx: Context, source: str) -> str:
    """A host path as the user wrote it, near enough: relative to the project's folder when it is inside."""
    try:
        inside = Path(source).relative_to(ctx.project.working_dir).as_posix()
    except ValueError:
        return source
    return "." if inside == "." else f"./{inside}"
