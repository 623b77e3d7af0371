"""`ecsflow prune`: plan which old revisions of the project's families to deregister (and delete), then, with
--yes, do exactly that and nothing more.

The plan is made from what ECS holds now (``ecsflow.prune`` decides, ``ecsflow.ecs.prune`` lists). With --yes
it is handed to ``callbacks.planned`` (the CLI prints it), then executed: what the cluster uses is read again
right before acting, and a planned revision that came into use since is skipped, so nothing in use is
deregistered and nothing outside the plan is touched."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ecsflow.operations.core import AwsFlags, ProjectOptions, aws_session, render
from ecsflow.prune import DEFAULT_KEEP, FamilyOutcome, FamilyPlan, OutcomeBuilder, PrunePlan
from ecsflow.tags import is_managed

if TYPE_CHECKING:
    from ecsflow.airflow.pins import Pins
    from ecsflow.ecs.client import Ecs


@dataclass(frozen=True)
class PruneOptions:
    keep: int = DEFAULT_KEEP
    delete: bool = False  # also delete INACTIVE revisions (and those deregistered now)
    include_unmanaged: bool = False  # --all: families whose latest revision lacks ecsflow:managed too
    execute: bool = False  # --yes
    dags: tuple[Path, ...] = ()  # --dags: folders of generated DAGs whose pinned revisions are kept
    orphans: bool = False  # --orphans: also the project's families that no service makes now (ecsflow.prune)


@dataclass(frozen=True)
class OrphanScope:
    """What tells the project's orphaned families (``ecsflow.prune.find_orphans``) from the others."""

    project: str
    prefix: str  # what the family pattern's families start with ("" : any)
    makes: Mapping[str, str]  # service -> the family it makes now
    services: frozenset[str]  # every service of the compose file, with those of profiles not enabled
    main_of: Mapping[str, str]  # sidecar -> its task's main service


@dataclass(frozen=True)
class PruneCallbacks:
    """``phase(label, total)`` when a long step starts and ``advance()`` as it goes (a progress bar);
    ``planned(plan)`` with the plan, before anything is changed."""

    phase: Callable[[str, int], None] = lambda label, total: None
    advance: Callable[..., None] = lambda *_: None
    planned: Callable[[PrunePlan], None] = lambda plan: None


@dataclass(frozen=True)
class PruneResult:
    plan: PrunePlan
    outcomes: Mapping[str, FamilyOutcome] | None = None  # None: not executed (no --yes)
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def failed(self) -> bool:
        """A family that could not be read, or a revision that could not be deregistered or deleted."""
        return bool(self.plan.counts["errors"]) or any(o.failed for o in (self.outcomes or {}).values())


def prune(options: ProjectOptions, aws: AwsFlags, services: tuple[str, ...] = (), how: PruneOptions = PruneOptions(),
          callbacks: PruneCallbacks = PruneCallbacks(), strict: bool = False) -> PruneResult:
    """`ecsflow prune`: every service is rendered first (the families are the project's), and the revisions
    the generated DAGs pin are read (the folders gen-dag recorded, and ``how.dags``), then planned; with
    ``how.execute`` the plan is carried out."""
    from ecsflow.airflow.pins import find_pins, recorded_folders
    from ecsflow.errors import EcsflowError

    if how.orphans and services:
        raise EcsflowError("--orphans looks at the whole project: it cannot be given with services named",
                           key="--orphans", hint="name no service, or leave --orphans out")
    rendered = render(options, services, strict, aws)
    families = [(build.service, build.family) for build in rendered.builds]
    cluster = rendered.resolved.settings.cluster
    pins = find_pins(recorded_folders(rendered.project.working_dir), how.dags)
    scope = None if services else orphan_scope(rendered)
    with aws_session(aws, rendered.project, rendered.region) as ecs:
        plan = make_plan(ecs, families, cluster, how, sandbox=aws.sandbox, callbacks=callbacks, pins=pins,
                         scope=scope)
        callbacks.planned(plan)
        outcomes = execute(ecs, plan, sandbox=aws.sandbox, callbacks=callbacks) if how.execute else None
    return PruneResult(plan, outcomes, rendered.warnings)


def orphan_scope(rendered) -> OrphanScope:
    """The project as the orphans are told by: the family each service makes now, and every service the file has
    (a service it leaves out of this run still has its family)."""
    from ecsflow.taskdef.names import family_prefix

    project = rendered.project
    return OrphanScope(project=project.name,
                       prefix=family_prefix(rendered.resolved.settings.family, project.name),
                       makes={build.service: build.family for build in rendered.builds},
                       services=frozenset({s.name for s in project.services} | set(project.profiled_out)),
                       main_of={sidecar: build.service for build in rendered.builds for sidecar in build.sidecars})


def make_plan(ecs: Ecs, families: list[tuple[str, str]], cluster: str, how: PruneOptions, *, sandbox: bool = False,
              callbacks: PruneCallbacks = PruneCallbacks(), pins: Pins | None = None,
              scope: OrphanScope | None = None) -> PrunePlan:
    from ecsflow.airflow.pins import Pins
    from ecsflow.prune import plan_family

    pins = pins or Pins({})
    notes = list(pins.notes)

    callbacks.phase("listing revisions", len(families))
    listed = ecs.list_revisions([family for _, family in families], inactive=how.delete,
                                managed_only=None if how.include_unmanaged else is_managed,
                                on_done=callbacks.advance)
    users = ecs.revisions_in_use(cluster, missing_cluster_ok=sandbox)
    plans = []
    for service, family in families:
        found = listed[family]
        if found.error:
            plans.append(FamilyPlan(service, family, "error", detail=found.error))
        elif found.tags is None:
            plans.append(FamilyPlan(service, family, "missing", detail="not in ECS (no ACTIVE revision): nothing "
                                    "to prune"))
        elif not how.include_unmanaged and not is_managed(found.tags):
            plans.append(FamilyPlan(service, family, "unmanaged", detail="left alone: its latest revision has no "
                                    "ecsflow:managed tag (sync it with ecsflow first, or pass --all)"))
        else:
            pinned = pins.of(family)
            plans.append(plan_family(service, family, found.active, found.inactive, _users_of(users, family),
                                     keep=how.keep, delete=how.delete, pinned=pinned))
            notes += [f"{', '.join(files)} pins {family}:{revision}, which is not ACTIVE in ECS: the DAG cannot start "
                      "it (sync, then gen-dag --pin again)"
                      for revision, files in sorted(pinned.items()) if revision not in found.active]
    if scope is not None and (scope.prefix or how.orphans):
        plans += _orphan_plans(ecs, scope, how, users, pins, notes, callbacks)
    if sandbox:
        notes.append("the sandbox keeps no task between commands, only services (`deploy --sandbox`): "
                     + ("only the revisions they run are in use there" if users else "no revision is in use there"))
    return PrunePlan(how.keep, how.delete, cluster, tuple(plans), tuple(notes))


def _orphan_plans(ecs: Ecs, scope: OrphanScope, how: PruneOptions, users, pins: Pins, notes: list[str],
                  callbacks: PruneCallbacks) -> list[FamilyPlan]:
    """The project's orphaned families (``ecsflow.prune.find_orphans``): planned with ``--orphans``, else said
    in a note. Only the families the pattern's prefix names are read (any family with --orphans and no prefix)."""
    from ecsflow.errors import AwsError
    from ecsflow.prune import find_orphans, plan_family

    current = set(scope.makes.values())
    try:
        names = ecs.family_names(scope.prefix or None)
    except AwsError as error:
        if how.orphans:
            raise
        # A role made for prune before it looked for orphans may lack ListTaskDefinitionFamilies: prune goes on.
        notes.append(f"orphaned families were not looked for: {error.message}")
        return []
    candidates = [name for name in names if name not in current]
    callbacks.phase("looking for orphaned families", len(candidates))
    latest = ecs.list_revisions(candidates, managed_only=lambda tags: False, on_done=callbacks.advance)
    unread = [f"{family} ({found.error})" for family, found in latest.items() if found.error]
    if unread:
        notes.append(f"cannot tell whether these families are orphans: {', '.join(unread)}")
    found = find_orphans({family: r.tags for family, r in latest.items() if r.tags is not None}, scope.project,
                         scope.makes, scope.services, scope.main_of)
    if not how.orphans:
        if found:
            notes.append(f"{len(found)} family(ies) of project '{scope.project}' that no service makes now: "
                         + "; ".join(f"{o.family} ({o.why})" for o in found)
                         + ": `ecsflow prune --orphans` deregisters their revisions that nothing uses")
        return []
    listed = ecs.list_revisions([o.family for o in found], inactive=how.delete)
    plans = []
    for orphan in found:
        revisions = listed[orphan.family]
        if revisions.error:
            plans.append(FamilyPlan(orphan.service, orphan.family, "error", detail=revisions.error, orphan=orphan.why))
        elif revisions.tags is not None:  # None: deregistered since it was read
            plans.append(plan_family(orphan.service, orphan.family, revisions.active, revisions.inactive,
                                     _users_of(users, orphan.family), keep=how.keep, delete=how.delete,
                                     pinned=pins.of(orphan.family), orphan=orphan.why))
    return plans


def _users_of(users: Mapping[tuple[str, int], tuple[str, ...]], family: str) -> dict[int, tuple[str, ...]]:
    return {revision: names for (name, revision), names in users.items() if name == family}


def execute(ecs: Ecs, plan: PrunePlan, *, sandbox: bool = False,
            callbacks: PruneCallbacks = PruneCallbacks()) -> dict[str, FamilyOutcome]:
    """Carry out ``plan``'s actions, less the revisions in use right now; every revision's result."""
    from ecsflow.prune import without_newly_used

    acting = [f for f in plan.families if f.has_actions]
    if not acting:
        return {}
    users = ecs.revisions_in_use(plan.cluster, missing_cluster_ok=sandbox)
    outcomes = {f.family: OutcomeBuilder(f.family) for f in acting}
    todo: list[FamilyPlan] = []
    for family_plan in acting:
        trimmed, newly_used = without_newly_used(family_plan, _users_of(users, family_plan.family))
        outcomes[family_plan.family].skipped.extend((k.revision, "; ".join(k.reasons)) for k in newly_used)
        todo.append(trimmed)

    failed: set[tuple[str, int]] = set()
    deregister = [(f.family, revision) for f in todo for revision in f.deregister]
    if deregister:
        callbacks.phase("deregistering", len(deregister))
        for result in ecs.deregister_revisions(deregister, on_done=callbacks.advance):
            if result.error:
                failed.add((result.family, result.revision))
                outcomes[result.family].failed.append((result.revision, result.error))
            else:
                outcomes[result.family].deregistered.append(result.revision)
    # A revision whose deregistration failed is still ACTIVE: ECS would refuse to delete it (its failure is
    # already reported).
    delete = [(f.family, revision) for f in todo for revision in f.delete if (f.family, revision) not in failed]
    if delete:
        callbacks.phase("deleting", len(delete))
        for result in ecs.delete_revisions(delete, on_done=callbacks.advance):
            if result.error:
                outcomes[result.family].failed.append((result.revision, result.error))
            else:
                outcomes[result.family].deleted.append(result.revision)
    return {family: builder.build() for family, builder in outcomes.items()}
