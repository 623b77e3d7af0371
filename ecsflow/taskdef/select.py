"""Which services become task definitions: all that are selected, less those left out of ECS."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ecsflow.compose.model import ComposeProject, Service
from ecsflow.errors import BuildError
from ecsflow.messages import Message


@dataclass(frozen=True)
class Selection:
    """The services that become task definitions, and what is said once about those left out (as warnings:
    diff, sync and gen-dag print warnings only, and a service missing from ECS should be seen)."""

    services: tuple[Service, ...]
    warnings: tuple[Message, ...] = ()


def select_services(project: ComposeProject, service_names: Iterable[str] | None = None, *,
                    strict: bool = False) -> Selection:
    """The named services (all when None) in compose order, less those left out of ECS: `x-ecsflow.skip`
    and `provider:` services, which have no image (an error with strict, unless skipped explicitly).

    A left-out service named explicitly is an error: the command asked for something it will not do."""
    named = service_names is not None
    warnings: list[Message] = []
    kept = []
    for service in project.select(None if service_names is None else list(service_names)):
        reason = left_out_reason(service)
        if reason is None:
            kept.append(service)
            continue
        why, key, hint = reason
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
    return Selection(tuple(kept), tuple(warnings))


def left_out_reason(service: Service) -> tuple[str, str, str] | None:
    """Why a service is left out of ECS, the key that says so and how to put it on ECS; None if it is not."""
    if service.x_ecsflow.skip:
        return "it has x-ecsflow.skip: true", "x-ecsflow.skip", "remove skip to put it on ECS"
    if service.raw.get("provider") is not None and not service.image:
        return ("it is a provider service (no image: Compose delegates it to a provider plugin)", "provider",
                "run what it provides outside ECS, and say so with `x-ecsflow: {skip: true}`")
    return None
