"""The order `depends_on` gives a deploy (design/services.md section 4.2). Pure.

- a service that depends on another deployed service (`service_started`, `service_healthy`) waits for that
  service's rollout;
- a job that a deployed service depends on with `service_completed_successfully` runs once before it (and so do
  the jobs that job depends on that way); a job waits for the services it depends on in turn;
- what nothing orders goes together (`waves`).

Compose refuses a dependency cycle when the file is loaded (ecsflow's loader as Docker Compose does), so the
order always exists; it is checked again here, cheaply, since the order is what a deploy relies on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ecsflow.compose.kind import KIND_KEY, Kind
from ecsflow.compose.model import ComposeProject
from ecsflow.compose.sidecars import outside_dependencies
from ecsflow.errors import ComposeError, EcsflowError

COMPLETED = "service_completed_successfully"


@dataclass(frozen=True)
class Step:
    """One service to roll out, or one job to run once; ``after``: the steps done first (a service's rollout
    completed, a job exited 0)."""

    name: str  # the compose service
    kind: Literal["service", "job"]
    after: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeployOrder:
    """The steps in an order that respects every edge (compose order among equals), and the same steps in
    ``waves``: each wave's steps may run at once, after the earlier waves are done."""

    steps: tuple[Step, ...]
    waves: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = ()

    @property
    def jobs(self) -> tuple[str, ...]:
        """The jobs to run once, in order."""
        return tuple(step.name for step in self.steps if step.kind == "job")

    @property
    def job_edges(self) -> tuple[tuple[str, str], ...]:
        """(job, the step that runs after it)."""
        jobs = set(self.jobs)
        return tuple((before, step.name) for step in self.steps for before in step.after if before in jobs)


def deploy_order(project: ComposeProject, deployed: Iterable[str], kinds: Mapping[str, Kind],
                 main_of: Mapping[str, str] | None = None) -> DeployOrder:
    """The order of a deploy of the services ``deployed`` (compose names, kind service). ``kinds``: the kind of
    every service of the project that is on ECS (those left out, x-ecsflow.skip, are missing). ``main_of``: each
    sidecar's main service (compose/sidecars.py); a task is ordered by what all its containers depend on."""
    main_of = main_of or {}
    sidecars: dict[str, list[str]] = {}
    for sidecar, main in main_of.items():
        sidecars.setdefault(main, []).append(sidecar)
    deployed = list(dict.fromkeys(deployed))
    steps: dict[str, list[str]] = {name: [] for name in deployed}
    missing: dict[tuple[str, str], list[str]] = {}  # (dependency, why deploy does not wait for it) -> dependents
    pending = list(deployed)
    while pending:
        name = pending.pop(0)
        service = project.service(name)
        task = (service, *(project.service(n) for n in sidecars.get(name, ())))
        for dependency, spec in outside_dependencies(task, main_of).items():
            kind = kinds.get(dependency)
            if kind is None:
                missing.setdefault((dependency, "which is left out of ECS"), []).append(name)
            elif kind.is_service and spec.condition == COMPLETED:
                raise ComposeError(
                    f"depends on {dependency!r} with {COMPLETED}, but {dependency!r} is a service ({kind.reason}), "
                    "which never completes", **service.where(f"depends_on.{dependency}"), service=name,
                    key=f"depends_on.{dependency}",
                    hint=f"if {dependency} is a job that runs to its end, set {KIND_KEY}: job on it; else use "
                    "condition: service_healthy or service_started")
            elif kind.is_service and dependency in steps:
                steps[name].append(dependency)
            elif kind.is_service:
                missing.setdefault((dependency, "which this deploy does not deploy (it is taken as running)"),
                                   []).append(name)
            elif spec.condition != COMPLETED:
                missing.setdefault((dependency, f"a job, with condition {spec.condition} (only {COMPLETED} runs a "
                                    "job first)"), []).append(name)
            else:
                if dependency not in steps:
                    steps[dependency] = []
                    pending.append(dependency)
                steps[name].append(dependency)
    order = [s.name for s in project.services if s.name in steps]
    waves = _waves(order, steps)
    ranked = [name for wave in waves for name in wave]
    notes = tuple(f"{', '.join(dict.fromkeys(dependents))} {'depends' if len(set(dependents)) == 1 else 'depend'} on "
                  f"{dependency}, {why}: deploy does not wait for it"
                  for (dependency, why), dependents in missing.items())
    return DeployOrder(
        steps=tuple(Step(name, kinds[name].kind, tuple(dict.fromkeys(steps[name]))) for name in ranked),
        waves=waves, notes=notes)


def _waves(order: list[str], after: Mapping[str, list[str]]) -> tuple[tuple[str, ...], ...]:
    """Kahn's levels, each in compose order."""
    done: set[str] = set()
    waves = []
    left = list(order)
    while left:
        ready = [name for name in left if all(before in done for before in after[name])]
        if not ready:
            raise EcsflowError("depends_on has a cycle among " + ", ".join(left), key="depends_on",
                               hint="Docker Compose refuses it too: remove one of these dependencies")
        waves.append(tuple(ready))
        done.update(ready)
        left = [name for name in left if name not in done]
    return tuple(waves)
