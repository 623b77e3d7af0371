"""The ECS services against what ECS holds: the plan `diff` shows in its services section and `deploy` acts on.

For the specs of a project (``ecsflow.operations.services``) and the families' plan (``plan_with``), in one ECS
session:

- DescribeServices, ten names a call, with the tags, in the same bounded pool as the families' describes
  (``Ecs.read_with_services``: their round trips overlap);
- a live service that ecsflow must not touch: without ``ecsflow:managed`` (someone else's), or one
  ``ecsflow.service.compare.refusal`` names (CODE_DEPLOY, EC2, DAEMON): ``refusal``;
- one DescribeScalableTargets call for the services, in the same pool (asked before it is known which exist,
  so that it costs no round trip of its own); where Application Auto Scaling scales a live service that does
  not say x-ecsflow.service.autoscaling, it owns the desired count (never sent, never compared); when the lookup
  fails the count is left alone as well, and a note says so. The sandbox holds no scalable target (ecsflow never
  registers one), so there it is not asked;
- the task definition a service runs is compared by content: the family's latest revision when that is the one
  it runs (already described), else DescribeTaskDefinition of that revision (once per revision).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ecsflow.tags import MANAGED_TAG, is_managed

if TYPE_CHECKING:
    from ecsflow.ecs.client import Ecs


@dataclass(frozen=True)
class ServicePlan:
    """One service: its spec (its count's owner as found), what ECS holds (``live``: the DescribeServices item,
    None when there is no ACTIVE one), the comparison, its family's status (new, changed, unchanged: whether
    deploy registers first), the family's latest ACTIVE revision (``latest``: its ARN, None when new), and why it
    must not be touched (``refusal``)."""

    spec: Any  # ecsflow.service.build.ServiceSpec
    live: dict | None
    diff: Any  # ecsflow.service.compare.ServiceDiff
    family_status: str
    latest: str | None = None
    refusal: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """new, changed (fields or tags), unchanged, or refused."""
        if self.refusal:
            return "refused"
        if self.diff.status == "unchanged" and self.diff.tags_changed:
            return "changed"
        return self.diff.status


@dataclass(frozen=True)
class ServicesPlan:
    services: tuple[ServicePlan, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def has_changes(self) -> bool:
        return any(plan.status in ("new", "changed") for plan in self.services)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"new": 0, "changed": 0, "unchanged": 0, "refused": 0}
        for plan in self.services:
            counts[plan.status] += 1
        return counts


def plan_services(ecs: Ecs, specs, builds, planned, read, *, project: str | None = None) -> ServicesPlan:
    """``specs``: the ServiceSpecs; ``builds``: family -> TaskDefinitionBuild; ``planned``: the families'
    PlanResult (``live`` and ``changeset``); ``read``: what ``Ecs.read_with_services`` read (the services, the
    scalable targets). ``project``: also look for the cluster's services of this project that no spec has (a
    note each)."""
    from ecsflow.diff import diff_family
    from ecsflow.service.compare import compare_service

    specs = list(specs)
    if not specs:
        return ServicesPlan()
    live = {spec.ecs_service: read.services.get((spec.cluster, spec.ecs_service)) for spec in specs}
    specs, notes = _owners(specs, live, read.scaled)
    families = {f.family: f for f in planned.changeset.families}
    latest = {family: (answer or {}).get("taskDefinition", {}).get("taskDefinitionArn")
              for family, answer in planned.live.items()}
    running = _running_definitions(ecs, specs, live, families, latest)
    plans = []
    for spec in specs:
        item = live.get(spec.ecs_service)
        active = item if item is not None and item.get("status", "ACTIVE") == "ACTIVE" else None
        family = families[spec.family]
        refused = refusal_of(active) if active is not None else None
        same, wanted = True, None
        if active is not None:
            arn = active.get("taskDefinition")
            if arn == latest.get(spec.family):  # the family's latest revision: the families' plan compared it
                same = family.status == "unchanged"
            else:
                answer = running.get(arn)
                same = family.status != "new" and answer is not None and diff_family(
                    spec.service, spec.family, dict(builds[spec.family].request), answer).status == "unchanged"
            wanted = "new revision" if family.status != "unchanged" else short_revision(latest.get(spec.family))
        diff = compare_service(spec, item, task_definition_same=same, wanted_task_definition=wanted)
        plans.append(ServicePlan(spec, active, diff, family.status, latest.get(spec.family), refused))
    if project is not None:
        api = ecs.services()
        for cluster in dict.fromkeys(spec.cluster for spec in specs if spec.cluster not in read.missing_clusters):
            for name in api.project_services(cluster, project, [s.ecs_service for s in specs]):
                notes.append(f"ECS service {name} carries ecsflow:project={project} but no compose service has it "
                             "(ecsflow deletes no service: `aws ecs delete-service` does, once it is not needed)")
    return ServicesPlan(tuple(plans), tuple(notes))


def short_revision(arn: str | None) -> str | None:
    """``etl-api:7`` for a task definition ARN (or as it is, when it is not one)."""
    if not arn:
        return arn
    return arn.rsplit("/", 1)[-1] if ":task-definition/" in arn else arn


def refusal_of(live: dict) -> str | None:
    """Why ecsflow must not touch this live service: someone else's (no ecsflow:managed), or one
    ``ecsflow.service.compare.refusal`` names; None when it may."""
    from ecsflow.service.compare import refusal

    why = refusal(live)
    if why:
        return why
    tags = {t.get("key"): t.get("value") for t in live.get("tags") or []}
    if not is_managed(tags):
        return (f"ECS service {live.get('serviceName')} exists without the {MANAGED_TAG} tag: it was not created by "
                "ecsflow, and ecsflow never changes it (delete it, or give the compose service another name with "
                "the service_name setting or x-ecsflow.service.service_name)")
    return None


def _owners(specs: list, live: dict, scaled) -> tuple[list, list[str]]:
    """The specs with Application Auto Scaling as their count's owner where it scales the live service, or
    where it could not be asked (``scaled`` an AwsError: the count is left alone, and a note says so)."""
    from ecsflow.errors import AwsError

    asked = [s for s in specs if s.desired_count_owner != "autoscaling" and live.get(s.ecs_service)
             and live[s.ecs_service].get("status") == "ACTIVE"]
    if not asked or scaled is None:
        return specs, []
    if isinstance(scaled, AwsError):
        names = ", ".join(s.ecs_service for s in asked)
        note = (f"cannot ask Application Auto Scaling whether it scales {names} ({scaled.message}): their desired "
                "count is left as it is (application-autoscaling:DescribeScalableTargets allows the lookup)")
        return [s.with_autoscaling_owner() if s in asked else s for s in specs], [note]
    return [s.with_autoscaling_owner() if s in asked and (s.cluster, s.ecs_service) in scaled else s
            for s in specs], []


def _running_definitions(ecs: Ecs, specs: list, live: dict, families: dict, latest: dict) -> dict[str, Any]:
    """DescribeTaskDefinition of each revision a live service runs that is not its family's latest."""
    wanted = []
    for spec in specs:
        item = live.get(spec.ecs_service)
        arn = (item or {}).get("taskDefinition")
        if arn and item.get("status") == "ACTIVE" and arn != latest.get(spec.family) \
                and families[spec.family].status != "new":
            wanted.append(arn)
    return ecs.describe_revisions(wanted) if wanted else {}
