"""Which services become task definitions: all that are selected, less those left out of ECS."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ecsflow.compose.model import ComposeProject, Service
from ecsflow.compose.sidecars import TaskLayout, task_layout
from ecsflow.errors import BuildError
from ecsflow.messages import Message


@dataclass(frozen=True)
class Selection:
    """The services that become task definitions, and what is said once about those left out (as warnings:
    diff, sync and gen-dag print warnings only, and a service missing from ECS should be seen)."""

    services: tuple[Service, ...]
    warnings: tuple[Message, ...] = ()
    # main service -> its sidecars (compose/sidecars.py), the other containers of its task, in compose order
    sidecars: Mapping[str, tuple[Service, ...]] = field(default_factory=dict)
    layout: TaskLayout = field(default_factory=TaskLayout)


def select_services(project: ComposeProject, service_names: Iterable[str] | None = None, *,
                    strict: bool = False) -> Selection:
    """The named services (all when None) in compose order, less those left out of ECS: `x-ecsflow.skip`
    and `provider:` services, which have no image (an error with strict, unless skipped explicitly).

    A sidecar (compose/sidecars.py) is not a task of its own: it comes with its main service, and naming it is an
    error that names that service. A left-out service named explicitly is an error: the command asked for
    something it will not do."""
    named = service_names is not None
    warnings: list[Message] = []
    kept = []
    left_out = {s.name: reason for s in project.services if (reason := left_out_reason(s)) is not None}
    layout = task_layout(project.services, {name: why for name, (why, _, _) in left_out.items()})
    for service in project.select(None if service_names is None else list(service_names)):
        if service.name in layout.main_of:
            if named:
                raise layout.sidecar_error(service)
            continue
        if service.name not in left_out:
            kept.append(service)
            continue
        why, key, hint = left_out[service.name]
        where = {**service.where(key), "service": service.name, "key": key}
        if named:
            raise BuildError(f"service '{service.name}' is left out of ECS: {why}", **where,
                             hint=f"{hint}, or do not name it")
        if key == "x-ecsflow.skip":
            warnings.append(Message("left out of ECS and Airflow (x-ecsflow.skip: true)", (service.name,)))
        elif strict:
            raise BuildError(f"service '{service.name}' cannot run on ECS: {why}", **where, hint=hint)
        else:
            warnings.append(Message(f"left out of ECS and Airflow: {why}; {hint}", (service.name,)))
    by_name = {s.name: s for s in project.services}
    sidecars: dict[str, list[Service]] = {}
    for sidecar, main in layout.main_of.items():  # in compose order
        sidecars.setdefault(main, []).append(by_name[sidecar])
    kept_names = {s.name for s in kept}
    return Selection(tuple(kept), tuple(warnings),
                     {main: tuple(them) for main, them in sidecars.items() if main in kept_names}, layout)


def left_out_reason(service: Service) -> tuple[str, str, str] | None:
    """Why a service is left out of ECS (`x-ecsflow.skip`, or a `provider:` without an image), the key that says
    so and how to put it on ECS; None if it is not."""
    if service.x_ecsflow.skip:
        return "it has x-ecsflow.skip: true", "x-ecsflow.skip", "remove skip to put it on ECS"
    if service.raw.get("provider") is not None and not service.image:
        return ("it is a provider service (no image: Compose delegates it to a provider plugin)", "provider",
                "run what it provides outside ECS, and say so with `x-ecsflow: {skip: true}`")
    return None
