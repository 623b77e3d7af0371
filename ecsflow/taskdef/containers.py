"""The containers of one task of several (a main service and its sidecars, compose/sidecars.py): each one's
limits, which are essential, and their `dependsOn` (docs/reference/mapping.md, several containers in one task)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ecsflow.compose.kind import workload_kind
from ecsflow.errors import ComposeError
from ecsflow.taskdef.container import mib
from ecsflow.taskdef.context import Context

# depends_on's conditions -> ContainerDependency.condition (the ECS API reference).
CONDITIONS = {"service_started": "START", "service_healthy": "HEALTHY", "service_completed_successfully": "SUCCESS"}
COMPLETED = "service_completed_successfully"


def link_containers(contexts: Sequence[Context], containers: list[dict[str, Any]]) -> None:
    """Complete the container definitions of one task, ``contexts[0]`` its main service, in place.

    ECS's rules (ContainerDependency): SUCCESS "can't be set on an essential container", so a container another
    one waits for to complete is not essential, and that cannot be the main service's (the task lives as long as
    it does); HEALTHY "requires that the dependent container has health checks configured"."""
    by_service = {ctx.service.name: (ctx, container) for ctx, container in zip(contexts, containers, strict=True)}
    names: dict[str, str] = {}
    for ctx, container in zip(contexts, containers, strict=True):
        if container["name"] in names:  # ECS refuses two containers of one name in a task
            raise ctx.error(f"its container name '{container['name']}' is also that of '{names[container['name']]}', "
                            "in the same task (ECS allows letters, digits, '-' and '_' in a container name)",
                            hint="rename one of the two services")
        names[container["name"]] = ctx.service.name
    completes = {name for ctx in contexts for name, spec in ctx.service.depends_on.items()
                 if name in by_service and spec.condition == COMPLETED}
    main = contexts[0].service.name
    for ctx, container in zip(contexts, containers, strict=True):
        _limits(ctx, container)
        name = ctx.service.name
        if name == main:
            if name in completes:
                waiter = next(c for c in contexts if (d := c.service.depends_on.get(name)) and d.condition == COMPLETED)
                raise waiter.error(
                    f"depends on '{main}' with {COMPLETED}, but '{main}' is the main service of this task: the "
                    "task runs as long as it does, so it cannot complete first", key=f"depends_on.{main}",
                    hint="use condition: service_started or service_healthy")
            continue
        written = ctx.x_ecsflow.essential
        if name in completes and written:
            raise ctx.error(f"x-ecsflow.essential: true, but a container of this task waits for '{name}' to "
                            f"complete ({COMPLETED}), and ECS refuses that on an essential container",
                            key="x-ecsflow.essential", hint="remove x-ecsflow.essential")
        container["essential"] = False if name in completes else (True if written is None else written)
        if written is None and name not in completes and _runs_once_beside_a_server(contexts[0], ctx):
            ctx.warn(f"a container of the task of '{main}', a server, that nothing marks as long-running (no "
                     "restart: always, ports or expose): it is essential, so when it exits ECS stops the whole task "
                     "and replaces it; `x-ecsflow.essential: false` lets it exit alone, as Compose does (`true` "
                     "says that is meant)")
    for ctx, container in zip(contexts, containers, strict=True):
        depends = []
        for name, spec in ctx.service.depends_on.items():
            if name not in by_service:
                continue  # another task: an order between tasks (gen-dag's edges, deploy's steps), not here
            condition = CONDITIONS.get(spec.condition)
            if condition is None:
                raise ctx.error(f"depends_on condition '{spec.condition}' has no ECS equivalent",
                                key=f"depends_on.{name}", hint=f"write one of {', '.join(CONDITIONS)}")
            target = by_service[name][1]
            if condition == "HEALTHY" and "healthCheck" not in target:
                raise ctx.error(f"depends on '{name}' with service_healthy, but '{name}' has no health check that "
                                "ECS runs, and ECS needs one for the HEALTHY condition", key=f"depends_on.{name}",
                                hint=f"give '{name}' a healthcheck with a test (ECS does not run the image's "
                                "HEALTHCHECK), or use condition: service_started")
            depends.append({"containerName": target["name"], "condition": condition})
        if depends:
            container["dependsOn"] = depends


def _runs_once_beside_a_server(main: Context, sidecar: Context) -> bool:
    try:
        return workload_kind(main.service).is_service and not workload_kind(sidecar.service).is_service
    except ComposeError:  # deploy.mode: global, said where kinds are needed
        return False


def _limits(ctx: Context, container: dict[str, Any]) -> None:
    """A compose limit is one container's: in a task of several it is that container's `cpu` and `memory`."""
    service = ctx.service
    if service.cpus:
        container["cpu"] = math.ceil(service.cpus * 1024 - 1e-9)
    if service.mem_limit:
        container["memory"] = mib(service.mem_limit)
        reservation = container.get("memoryReservation")
        if reservation is not None and reservation > container["memory"]:
            raise ctx.error(f"mem_reservation {reservation} MiB is more than mem_limit {container['memory']} MiB",
                            key="mem_reservation", hint="lower mem_reservation, or raise mem_limit")
        if reservation == container["memory"]:
            del container["memoryReservation"]  # ECS wants memory above it; equal, it reserves nothing more
