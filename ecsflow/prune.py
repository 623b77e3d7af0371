"""Which revisions `ecsflow prune` keeps, deregisters and deletes: pure planning, no AWS call.

The plan is the list of actions, as chalice's deployer plans: ``plan_family`` decides from what ECS holds (the
ACTIVE and INACTIVE revision numbers of a family) and what uses them (services and tasks of the cluster);
the adapter (``ecsflow.ecs.prune``) lists and executes, and executes nothing the plan does not hold.

The rules, for one family:

- the newest ``keep`` ACTIVE revisions are kept whatever else (so the latest always is: ``keep`` >= 1);
- a revision that a service (its task definition, or one of its deployments or task sets) or a running or
  pending task of the cluster uses is kept, ACTIVE or INACTIVE;
- so is a revision that a generated DAG pins (`gen-dag --pin`; ``ecsflow.airflow.pins`` finds them), whatever
  its age: the DAG could not start a task from it otherwise;
- every other ACTIVE revision is deregistered;
- with ``delete``, every INACTIVE revision not in use, and every revision deregistered now, is then deleted
  (DeleteTaskDefinitions: ECS deletes only INACTIVE revisions).

An orphan (``find_orphans``) is a family of the project that no service of the compose file makes now: its
latest revision's tags say ecsflow made it for this project and for a service that was removed, renamed its
family, or became a container of another service's task. A service the file still has but leaves out (a
profile not enabled, ``x-ecsflow.skip``, ``provider:``) keeps its family: it may come back. With ``--orphans``
an orphan is planned with no newest revision kept (``plan_family(..., orphan=...)``): only what is in use or
pinned stays.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from ecsflow.tags import PROJECT_TAG, SERVICE_TAG, is_managed

DEFAULT_KEEP = 5

Users = Mapping[int, tuple[str, ...]]  # revision -> what uses it ("service api", "task 1a2b...")
FamilyStatus = Literal["planned", "unmanaged", "missing", "error"]


@dataclass(frozen=True)
class Kept:
    """A revision that stays, and why: "newest 5", "in use by service api", ..."""

    revision: int
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class FamilyPlan:
    """What prune does to one family. ``status``: ``planned`` (the actions below, maybe none), ``unmanaged``
    (its latest revision has no ``ecsflow:managed`` tag and ``--all`` was not given: left alone), ``missing``
    (no ACTIVE revision in ECS), ``error`` (ECS could not be read: ``detail`` says why)."""

    service: str
    family: str
    status: FamilyStatus = "planned"
    active: tuple[int, ...] = ()
    inactive: tuple[int, ...] = ()
    kept: tuple[Kept, ...] = ()
    deregister: tuple[int, ...] = ()
    delete: tuple[int, ...] = ()
    detail: str | None = None
    orphan: str | None = None  # an orphan: why no service makes this family now

    @property
    def has_actions(self) -> bool:
        return bool(self.deregister or self.delete)


@dataclass(frozen=True)
class PrunePlan:
    keep: int
    delete: bool
    cluster: str
    families: tuple[FamilyPlan, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def counts(self) -> dict[str, int]:
        return {
            "deregister": sum(len(f.deregister) for f in self.families),
            "delete": sum(len(f.delete) for f in self.families),
            "families": sum(1 for f in self.families if f.has_actions),
            "errors": sum(1 for f in self.families if f.status == "error"),
        }


def plan_family(service: str, family: str, active: Iterable[int], inactive: Iterable[int], users: Users,
                *, keep: int = DEFAULT_KEEP, delete: bool = False, pinned: Users | None = None,
                orphan: str | None = None) -> FamilyPlan:
    """The plan for one family that has at least one ACTIVE revision (see the module's rules); ``pinned``:
    revision -> the DAG files that pin it. ``orphan``: why no service makes the family now; then no newest
    revision is kept (no service will run it again), only those in use or pinned."""
    if keep < 1:
        raise ValueError("keep must be at least 1: the latest revision is never pruned")
    active = tuple(sorted(set(active)))
    inactive = tuple(sorted(set(inactive) - set(active)))
    if not active:
        return FamilyPlan(service, family, "missing", inactive=inactive, detail="no ACTIVE revision in ECS",
                          orphan=orphan)
    newest = set() if orphan else set(active[-keep:])
    reasons: dict[int, list[str]] = {}
    for revision in active:
        if revision in newest:
            reasons.setdefault(revision, []).append(f"newest {keep}" if keep > 1 else "latest")
    for revision in (*active, *inactive):
        for user in users.get(revision, ()):
            reasons.setdefault(revision, []).append(f"in use by {user}")
        for dag_file in (pinned or {}).get(revision, ()):
            reasons.setdefault(revision, []).append(f"pinned by {dag_file}")
    deregister = tuple(r for r in active if r not in reasons)
    to_delete = tuple(sorted(r for r in (*inactive, *deregister) if r not in reasons)) if delete else ()
    kept = tuple(Kept(r, tuple(reasons[r])) for r in sorted(reasons, reverse=True))
    return FamilyPlan(service, family, "planned", active, inactive, kept, deregister, to_delete, orphan=orphan)


@dataclass(frozen=True)
class Orphan:
    service: str  # the service its tags name
    family: str
    why: str  # why no service makes it now


def find_orphans(latest_tags: Mapping[str, Mapping[str, str]], project: str, makes: Mapping[str, str],
                 services: Collection[str], main_of: Mapping[str, str]) -> list[Orphan]:
    """The families among ``latest_tags`` (family -> its latest ACTIVE revision's tags) that ecsflow made for
    ``project`` and no service makes now. ``makes``: service -> the family it makes now; ``services``: every
    service of the compose file, those it leaves out included (profiles not enabled, skip, provider);
    ``main_of``: a sidecar -> the service whose task it is a container of."""
    current = set(makes.values())
    orphans = []
    for family, tags in sorted(latest_tags.items()):
        service = tags.get(SERVICE_TAG)
        if family in current or not is_managed(tags) or tags.get(PROJECT_TAG) != project or not service:
            continue
        if service not in services:
            why = f"service '{service}' is no longer in the compose file"
        elif service in main_of:
            why = f"service '{service}' is now a container of the task of '{main_of[service]}'"
        elif service in makes:
            why = f"service '{service}' makes family '{makes[service]}' now"
        else:
            continue  # in the file but left out of this run (a profile, skip, provider:): it may come back
        orphans.append(Orphan(service, family, why))
    return orphans


def without_newly_used(plan: FamilyPlan, users: Users) -> tuple[FamilyPlan, tuple[Kept, ...]]:
    """The plan less the revisions that came into use since it was made (checked again right before acting),
    and those revisions with their users: nothing in use is deregistered or deleted, even if ECS changed."""
    now_used = {r: users[r] for r in (*plan.deregister, *plan.delete) if users.get(r)}
    if not now_used:
        return plan, ()
    kept = tuple(Kept(r, tuple(f"in use by {u} (since the plan)" for u in now_used[r])) for r in sorted(now_used))
    return replace(
        plan,
        deregister=tuple(r for r in plan.deregister if r not in now_used),
        delete=tuple(r for r in plan.delete if r not in now_used),
        kept=tuple(sorted((*plan.kept, *kept), key=lambda k: k.revision, reverse=True)),
    ), kept


def revision_ranges(revisions: Iterable[int]) -> str:
    """``1-36, 38, 40-1995``: revision numbers as runs, for one line of text however many there are."""
    runs: list[list[int]] = []
    for revision in sorted(set(revisions)):
        if runs and revision == runs[-1][1] + 1:
            runs[-1][1] = revision
        else:
            runs.append([revision, revision])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


@dataclass(frozen=True)
class FamilyOutcome:
    """What was done to one family with ``--yes``: revisions deregistered and deleted, revisions skipped
    (revision, why: in use since the plan, not deregistered), revisions that failed (revision, error)."""

    family: str
    deregistered: tuple[int, ...] = ()
    deleted: tuple[int, ...] = ()
    skipped: tuple[tuple[int, str], ...] = ()
    failed: tuple[tuple[int, str], ...] = ()


@dataclass
class OutcomeBuilder:
    """Collects a family's outcome while the executor runs (one thread: the caller's)."""

    family: str
    deregistered: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    def build(self) -> FamilyOutcome:
        return FamilyOutcome(self.family, tuple(sorted(self.deregistered)), tuple(sorted(self.deleted)),
                             tuple(sorted(self.skipped)), tuple(sorted(self.failed)))


def plan_to_json(plan: PrunePlan, outcomes: Mapping[str, FamilyOutcome] | None = None) -> dict:
    """The documented JSON of `ecsflow prune` (README): the plan, and with ``--yes`` what was done."""
    families = []
    for f in plan.families:
        entry = {
            "service": f.service, "family": f.family, "status": f.status,
            "active": len(f.active), "inactive": len(f.inactive),
            "keep": [{"revision": k.revision, "reasons": list(k.reasons)} for k in f.kept],
            "deregister": list(f.deregister), "delete": list(f.delete), "detail": f.detail,
            "orphan": f.orphan,
        }
        if outcomes is not None and f.family in outcomes:
            o = outcomes[f.family]
            entry["outcome"] = {
                "deregistered": list(o.deregistered), "deleted": list(o.deleted),
                "skipped": [{"revision": r, "reason": why} for r, why in o.skipped],
                "failed": [{"revision": r, "error": error} for r, error in o.failed],
            }
        families.append(entry)
    return {"keep": plan.keep, "delete": plan.delete, "cluster": plan.cluster, "executed": outcomes is not None,
            "families": families, "counts": plan.counts, "notes": list(plan.notes)}


# ---------------------------------------------------------------------------------------------------------
# the plan and the outcomes as lines of text: (kind, text); the printer styles by kind and masks


def plan_lines(plan: PrunePlan) -> list[tuple[str, str]]:
    """Per family: a head line, then ``keep`` lines grouped by reason, then what is deregistered and deleted;
    a last ``summary`` line. Revision numbers as runs (``revision_ranges``)."""
    lines: list[tuple[str, str]] = []
    for f in plan.families:
        head = f"{f.family} (service {f.service})" if not f.orphan else f"{f.family} (orphan: {f.orphan})"
        if f.status != "planned":
            lines.append(("error" if f.status == "error" else "skip", f"{head}: {f.detail or f.status}"))
            continue
        held = f"{len(f.active)} ACTIVE" + (f", {len(f.inactive)} INACTIVE" if plan.delete else "")
        if not f.has_actions:
            lines.append(("skip", f"{head}: {held}, nothing to prune"))
            continue
        lines.append(("head", f"{head}: {held}"))
        by_reason: dict[tuple[str, ...], list[int]] = {}
        for kept in f.kept:
            by_reason.setdefault(kept.reasons, []).append(kept.revision)
        lines += [("keep", f"    keep {revision_ranges(revs)}: {'; '.join(why)}") for why, revs in by_reason.items()]
        lines += [("remove", f"    {verb} {len(revs)}: {revision_ranges(revs)}")
                  for verb, revs in (("deregister", f.deregister), ("delete", f.delete)) if revs]
    counts = plan.counts
    what = f"deregister {counts['deregister']}" + (f" and delete {counts['delete']}" if plan.delete else "")
    lines.append(("summary", f"Plan: {what} revision(s) of {counts['families']} family(ies) (in use: cluster "
                  f"{plan.cluster})." if counts["families"] else _nothing_to_prune(plan)))
    return lines


def _nothing_to_prune(plan: PrunePlan) -> str:
    """What was checked when nothing is to be pruned: how many families, and what each keeps."""
    checked = sum(f.status == "planned" for f in plan.families)
    others = len(plan.families) - checked
    inactive = " and has no INACTIVE revision to delete" if plan.delete else ""
    return (f"Nothing to prune: {checked} family(ies) checked{f', {others} not (see above)' if others else ''}; each "
            f"keeps its newest {plan.keep} ACTIVE revision(s) and those in use in cluster {plan.cluster} or pinned "
            f"by a generated DAG{inactive}.")


def outcome_lines(outcomes: Mapping[str, FamilyOutcome]) -> list[tuple[str, str]]:
    """What ``--yes`` did, per family, and a last ``summary`` line with the totals."""
    lines: list[tuple[str, str]] = []
    totals = {"deregistered": 0, "deleted": 0, "skipped": 0, "failed": 0}
    for family, o in outcomes.items():
        lines += [("done", f"{family}: {verb} {len(revs)}: {revision_ranges(revs)}")
                  for verb, revs in (("deregistered", o.deregistered), ("deleted", o.deleted)) if revs]
        lines += [(kind, f"{family}: {kind} {revision}: {why}")
                  for kind, items in (("skipped", o.skipped), ("failed", o.failed)) for revision, why in items]
        for key in totals:
            totals[key] += len(getattr(o, key))
    lines.append(("summary", "Done: " + ", ".join(f"{n} {key}" for key, n in totals.items()) + "."))
    return lines
