"""Several compose services in one ECS task: a main service and its sidecars (docs/design.md section 5). Pure.

A service joins the task of another, X, with `network_mode: "service:X"` (Compose runs it in X's network
namespace; on ECS the containers of one task share one, so that is what the task gives) or with
`x-ecsflow.task: X`. It is then one more container of X's task definition (X's family): never a family, an ECS
service or a DAG task of its own. Every command addresses the task by X.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields

from ecsflow.compose.extension import ServiceExtension
from ecsflow.compose.model import Dependency, Service
from ecsflow.errors import BuildError, ComposeError

TASK_KEY = "x-ecsflow.task"
NETWORK_KEY = "network_mode"
# The x-ecsflow keys a sidecar may have: what is its own container's. The others speak for the whole task
# (family, size, roles, tags, schedule, kind...), which its main service says.
SIDECAR_KEYS = ("skip", "secrets", "environment_values", "secret_values", "task", "essential")
_DEFAULTS = ServiceExtension()


@dataclass(frozen=True)
class TaskLayout:
    """Which services are sidecars, of which main service (``main_of``, in compose order), and how each said so
    (``how``: "network_mode: service:app" or "x-ecsflow.task: app")."""

    main_of: Mapping[str, str] = field(default_factory=dict)
    how: Mapping[str, str] = field(default_factory=dict)
    key: Mapping[str, str] = field(default_factory=dict)  # the key that says it: network_mode or x-ecsflow.task

    def sidecars(self, main: str) -> tuple[str, ...]:
        return tuple(name for name, of in self.main_of.items() if of == main)

    def task_of(self, name: str) -> str:
        """The main service of the task a service runs in (itself when it is not a sidecar)."""
        return self.main_of.get(name, name)

    def sidecar_error(self, service: Service) -> ComposeError:
        """What naming a sidecar on the command line answers: its task is addressed by its main service."""
        name, main = service.name, self.main_of[service.name]
        return _error(service, f"service '{name}' is a container of the task of '{main}' ({self.how[name]}): it "
                      f"runs only with '{main}', which is how every command names that task", self.key[name],
                      f"name '{main}' instead (its task holds {', '.join((main, *self.sidecars(main)))})")


def joined_task(service: Service) -> tuple[str, str, str] | None:
    """(X, the key that says so, how) when the service asks to run in X's task; None otherwise."""
    mode = service.raw.get(NETWORK_KEY)
    via_network = mode[len("service:"):] if isinstance(mode, str) and mode.startswith("service:") else None
    written = service.x_ecsflow.task
    if written is not None and via_network is not None and written != via_network:
        raise _error(service, f"{TASK_KEY} '{written}' and network_mode 'service:{via_network}' name two tasks",
                     TASK_KEY, "a container runs in one task: keep one of them")
    if written is not None:
        return written, TASK_KEY, f"{TASK_KEY}: {written}"
    if via_network is not None:
        return via_network, NETWORK_KEY, f"network_mode: service:{via_network}"
    return None


def task_layout(services: Sequence[Service], left_out: Mapping[str, str] | None = None) -> TaskLayout:
    """The sidecars among the project's enabled ``services``. ``left_out``: the services left out of ECS -> why
    ("it has x-ecsflow.skip: true", ...); a sidecar left out is simply not in its task.

    A sidecar whose X is not an enabled service, is left out, or is itself a sidecar, and task-level x-ecsflow
    keys on a sidecar, are a ComposeError naming the file, line, service and key; `network_mode: host` (which
    Fargate cannot give) a BuildError."""
    left_out = left_out or {}
    by_name = {s.name: s for s in services}
    asked = {}
    for service in services:
        if service.name in left_out:
            continue
        if service.raw.get(NETWORK_KEY) == "host":
            raise BuildError("network_mode: host is not possible on Fargate: each task has its own network "
                             "interface (awsvpc), and the host's is not reachable", **service.where(NETWORK_KEY),
                             service=service.name, key=NETWORK_KEY,
                             hint="remove network_mode (a task's containers reach each other on localhost, and "
                             'network_mode: "service:X" puts this one in the task of X), or leave the service out '
                             "of ECS with `x-ecsflow: {skip: true}`")
        joined = joined_task(service)
        if joined is not None:
            asked[service.name] = joined
    main_of, how, keys = {}, {}, {}
    for name, (main, key, said) in asked.items():
        service = by_name[name]
        if main == name:
            raise _error(service, f"{said} names the service itself", key, "name the main service of the task")
        if main not in by_name:
            raise _error(service, f"{said}: '{main}' is not a service of this project (or its profiles leave it "
                         "out)", key, f"name one of: {', '.join(n for n in by_name if n != name)}"
                         if len(by_name) > 1 else "define the main service")
        if main in left_out:
            raise _error(service, f"{said}: '{main}' is left out of ECS ({left_out[main]}), and a sidecar runs "
                         "only in its task", key, f"put '{main}' on ECS, or leave '{name}' out too "
                         "(`x-ecsflow: {skip: true}`)")
        if main in asked:
            raise _error(service, f"{said}: '{main}' is itself a container of the task of '{asked[main][0]}' "
                         f"({asked[main][2]})", key, f"name '{asked[main][0]}', the main service of that task")
        extra = [f.name for f in fields(ServiceExtension) if f.name not in SIDECAR_KEYS
                 and getattr(service.x_ecsflow, f.name) != getattr(_DEFAULTS, f.name)]
        if extra:
            raise _error(service, f"x-ecsflow.{extra[0]} speaks for the whole task, and this service is a "
                         f"container of the task of '{main}' ({said})", f"x-ecsflow.{extra[0]}",
                         f"set it on '{main}'; a sidecar's own x-ecsflow keys are {', '.join(SIDECAR_KEYS)}")
        main_of[name], how[name], keys[name] = main, said, key
    for service in services:
        if service.name not in main_of and service.x_ecsflow.essential is not None and service.name not in left_out:
            raise _error(service, "x-ecsflow.essential is a sidecar's: the main service of a task is always "
                         "essential (the task runs as long as it does)", "x-ecsflow.essential",
                         f'remove it, or make this service a sidecar (network_mode: "service:X" or {TASK_KEY})')
    return TaskLayout(main_of, how, keys)


def outside_dependencies(containers: Iterable[Service], task_of: Mapping[str, str]) -> dict[str, Dependency]:
    """What one task depends on outside itself: its containers' depends_on on other tasks, each named by that
    task's main service (``task_of``: sidecar -> main); the first written wins, the main service's first."""
    containers = list(containers)
    own = {c.name for c in containers}
    result: dict[str, Dependency] = {}
    for container in containers:
        for name, spec in container.depends_on.items():
            if name not in own:
                result.setdefault(task_of.get(name, name), spec)
    return result


def _error(service: Service, message: str, key: str, hint: str) -> ComposeError:
    return ComposeError(message, **service.where(key), service=service.name, key=key, hint=hint)
