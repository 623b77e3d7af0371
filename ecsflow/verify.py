"""What `ecsflow verify` checks, and what each answer means: pure, no AWS call.

``plan_checks`` reads the desired task definitions and the settings and says which resources must exist:
each container's image (ECR images of this account's registry; others are "not checked"), the execution and
task roles (which must also trust ``ecs-tasks.amazonaws.com``), each secret's ``valueFrom`` (an SSM parameter
or a Secrets Manager secret: its metadata, never its value), each awslogs group (or ``awslogs-create-group``),
and the cluster, subnets and security groups of the settings. Each resource is a ``Target``: the adapter
(``ecsflow.ecs.verify``) looks each one up once, however many families name it, and answers a ``Finding``;
``evaluate`` turns a check and its finding into one ``CheckResult`` line. ``plan_service_checks`` adds, for
each ECS service `deploy` would create or update, that its name is not someone else's service, its target
group, and its capacity provider.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

ECS_TASKS = "ecs-tasks.amazonaws.com"
_ECR_HOST = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")

Status = Literal["ok", "missing", "failed", "error", "not checked"]
FAILING: frozenset[str] = frozenset({"missing", "failed", "error"})  # a line with one of these: exit 1


@dataclass(frozen=True)
class Target:
    """One resource to look up. ``kind``: ``ecr-image`` (``name`` the repository, ``version`` ``tag:T`` or
    ``digest:D``, ``account`` the registry), ``role`` (``name`` the role name), ``ssm-parameter`` (``names``:
    the names an ARN can stand for), ``secret`` (``name`` the SecretId), ``log-group``, ``cluster``, ``subnet``,
    ``security-group``; for ECS services: ``ecs-service`` (``version`` its cluster), ``target-group`` (a name or
    an ARN; ``version`` the container:port it sends to), ``cluster-capacity`` (``name`` the cluster, ``version``
    the capacity provider). ``region`` None: the region of the command."""

    kind: str
    name: str
    region: str | None = None
    version: str = ""
    account: str | None = None
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """What AWS said about a target: ``exists`` (``data``: what evaluating needs, e.g. a role's trust policy
    or a secret's deletion date), ``missing`` or ``error`` (``detail`` says which and why)."""

    state: Literal["exists", "missing", "error"]
    detail: str | None = None
    data: Any = None


@dataclass(frozen=True)
class Check:
    """One line to report: ``family`` None for the settings' checks (cluster, network)."""

    family: str | None
    service: str | None
    check: str
    subject: str
    target: Target | None = None
    not_checked: str | None = None  # why there is no target
    create_group: bool = False  # log groups: awslogs-create-group is "true"
    decided: tuple[Status, str] | None = None  # a check decided without AWS (a service that cannot be built)


@dataclass(frozen=True)
class CheckResult:
    family: str | None
    service: str | None
    check: str
    subject: str
    status: Status
    detail: str | None = None

    @property
    def failing(self) -> bool:
        return self.status in FAILING


# ---------------------------------------------------------------------------------------------------------
# what to check


def plan_checks(definitions: Iterable[tuple[str, str, Mapping[str, Any]]], *, region: str | None,
                cluster: str | None, subnets: Iterable[str] = (), security_groups: Iterable[str] = (),
                account: str | None = None) -> list[Check]:
    """The checks for ``(service, family, RegisterTaskDefinition request)`` triples and the settings, in
    order: per family its images, roles, secrets and log groups; then the cluster and the network.
    ``account``: the account the credentials belong to (None: unknown, everything is looked up)."""
    checks: list[Check] = []
    for service, family, request in definitions:
        def add(check: str, subject: str, target: Target | None, not_checked: str | None = None, *,
                create: bool = False, _service: str = service, _family: str = family) -> None:
            checks.append(Check(_family, _service, check, subject, target, not_checked, create))

        containers = request.get("containerDefinitions") or []
        for container in containers:
            image = str(container.get("image") or "")
            target, why = image_target(image, account)
            add("image", image, target, why)
        for check, key in (("execution role", "executionRoleArn"), ("task role", "taskRoleArn")):
            if request.get(key):
                target, why = role_target(str(request[key]), account)
                add(check, str(request[key]), target, why)
        for container in containers:
            for secret in container.get("secrets") or []:
                target, why = secret_target(str(secret.get("valueFrom") or ""), region, account)
                add("secret", f"{secret.get('name')} ({secret.get('valueFrom')})", target, why)
        for container in containers:
            log = container.get("logConfiguration") or {}
            options = log.get("options") or {}
            if log.get("logDriver") == "awslogs" and options.get("awslogs-group"):
                group = str(options["awslogs-group"])
                add("log group", group, Target("log-group", group, options.get("awslogs-region") or region),
                    create=str(options.get("awslogs-create-group", "")).lower() == "true")
    if cluster:
        checks.append(Check(None, None, "cluster", cluster, Target("cluster", cluster, region)))
    for check, kind, ids, setting in (("subnet", "subnet", tuple(subnets), "subnets"),
                                      ("security group", "security-group", tuple(security_groups),
                                       "security_groups")):
        for resource in ids:
            checks.append(Check(None, None, check, resource, Target(kind, resource, region)))
        if not ids:
            checks.append(Check(None, None, check, "-", None, f"no {setting} in the settings (run and gen-dag "
                                "need them)"))
    return checks


def plan_service_checks(specs: Iterable[Any], *, region: str | None) -> list[Check]:
    """The checks of each ECS service `deploy` would create or update (``ecsflow.service.build.ServiceSpec``):
    that the name is not someone else's service (it exists without ecsflow:managed), the target group (it
    exists and is of type ip; the builder made sure its container and port are in the definition), and the
    capacity provider (it is on the cluster)."""
    checks: list[Check] = []
    for spec in specs:
        def add(check: str, subject: str, target: Target, _spec: Any = spec) -> None:
            checks.append(Check(_spec.family, _spec.service, check, subject, target))

        add("ECS service", spec.ecs_service, Target("ecs-service", spec.ecs_service, region, version=spec.cluster))
        balancer = spec.load_balancer
        if balancer is not None:
            add("target group", balancer.target_group, Target(
                "target-group", balancer.target_group, region,
                version=f"{balancer.container_name}:{balancer.container_port}"))
        for item in spec.request.get("capacityProviderStrategy") or []:
            add("capacity provider", item["capacityProvider"],
                Target("cluster-capacity", spec.cluster, region, version=item["capacityProvider"]))
    return checks


def service_build_failure(family: str | None, service: str | None, message: str) -> Check:
    """A line for a server that cannot become an ECS service as written (deploy stops on it)."""
    return Check(family, service, "ECS service", "definition", decided=("failed", message))


def parse_image(image: str) -> tuple[str | None, str, str | None, str | None]:
    """``(registry host, repository, tag, digest)`` of an image reference, as Docker splits it: the first
    component is a host when it has a ``.`` or ``:`` or is ``localhost``; no tag and no digest means ``latest``."""
    name, _, digest = image.partition("@")
    host = None
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        host, name = first, rest
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        repository, tag = name, ""
    return host, repository, tag or (None if digest else "latest"), digest or None


def image_target(image: str, account: str | None) -> tuple[Target | None, str | None]:
    host, repository, tag, digest = parse_image(image)
    match = _ECR_HOST.match(host or "")
    if not match:
        return None, f"not in ECR ({host or 'Docker Hub'}): only ECR images are checked"
    if account and match["account"] != account:
        return None, f"ECR registry of account {match['account']}, not this account's ({account})"
    version = f"digest:{digest}" if digest else f"tag:{tag}"
    return Target("ecr-image", repository, match["region"], version, match["account"]), None


def _arn_parts(arn: str) -> list[str] | None:
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else None


def role_target(role: str, account: str | None) -> tuple[Target | None, str | None]:
    parts = _arn_parts(role)
    if parts is None:
        return Target("role", role.rsplit("/", 1)[-1]), None
    if parts[2] != "iam" or not parts[5].startswith("role/"):
        return None, "not an IAM role ARN"
    if account and parts[4] and parts[4] != account:
        return None, f"a role of account {parts[4]}, not this account ({account})"
    return Target("role", parts[5].rsplit("/", 1)[-1], account=parts[4]), None


def secret_target(value_from: str, region: str | None, account: str | None) -> tuple[Target | None, str | None]:
    """An SSM parameter (ARN or name) or a Secrets Manager secret (ARN, maybe with a JSON key, stage and
    version after the name: the secret is the first seven fields)."""
    parts = _arn_parts(value_from)
    if parts is None:
        if not value_from:
            return None, "no valueFrom"
        return Target("ssm-parameter", value_from, region, names=(value_from,)), None
    service, arn_region, arn_account, resource = parts[2], parts[3] or region, parts[4], parts[5]
    if account and arn_account and arn_account != account:
        return None, f"in account {arn_account}, not this account ({account})"
    if service == "ssm" and resource.startswith("parameter/"):
        name = resource[len("parameter/"):]
        # The ARN drops a name's leading slash: `parameter/a/b` is `/a/b`; `parameter/x` is `x` or `/x`.
        names = (f"/{name}",) if "/" in name else (name, f"/{name}")
        return Target("ssm-parameter", names[0], arn_region, names=names), None
    if service == "secretsmanager" and resource.startswith("secret:"):
        secret_id = ":".join(value_from.split(":")[:7])
        return Target("secret", secret_id, arn_region), None
    return None, f"not an SSM parameter or Secrets Manager secret ({service})"


# ---------------------------------------------------------------------------------------------------------
# what the answers mean


def trusts_ecs_tasks(policy: Any) -> bool:
    """True when a trust policy lets ``ecs-tasks.amazonaws.com`` call sts:AssumeRole (conditions aside)."""
    if not isinstance(policy, Mapping):
        return False
    statements = policy.get("Statement") or []
    for statement in [statements] if isinstance(statements, Mapping) else statements:
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        actions = _as_list(statement.get("Action"))
        if not any(a.lower() in ("sts:assumerole", "sts:*", "*") for a in actions):
            continue
        principal = statement.get("Principal")
        if principal == "*" or (isinstance(principal, Mapping) and ECS_TASKS in _as_list(principal.get("Service"))):
            return True
    return False


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [] if value is None else [str(value)]


def evaluate(check: Check, finding: Finding | None) -> CheckResult:
    def result(status: Status, detail: str | None = None) -> CheckResult:
        return CheckResult(check.family, check.service, check.check, check.subject, status, detail)

    if check.decided is not None:
        return result(*check.decided)
    if check.target is None or finding is None:
        return result("not checked", check.not_checked)
    if finding.state == "error":
        return result("error", finding.detail)
    if finding.state == "missing":
        if check.target.kind == "ecs-service":
            return result("ok", f"not in cluster {check.target.version} yet: deploy creates it")
        if check.target.kind == "log-group" and check.create_group:
            return result("ok", "not there yet: awslogs-create-group creates it (with logs:CreateLogGroup)")
        if check.target.kind == "log-group":
            return result("missing", f"{finding.detail}, and awslogs-create-group is not set")
        return result("missing", finding.detail)
    if check.target.kind == "role" and not trusts_ecs_tasks(finding.data):
        return result("failed", f"its trust policy does not let {ECS_TASKS} assume it (sts:AssumeRole)")
    if check.target.kind == "secret" and finding.data:
        return result("failed", f"scheduled for deletion on {finding.data}")
    if check.target.kind in _SERVICE_RULES:
        return result(*_SERVICE_RULES[check.target.kind](check.target, finding))
    return result("ok", finding.detail)


def _ecs_service(target: Target, finding: Finding) -> tuple[Status, str]:
    """``finding.data``: why deploy would not touch the live service (None: it is ecsflow's)."""
    if finding.data:
        return "failed", str(finding.data)
    return "ok", f"ecsflow's service in cluster {target.version}: deploy updates it"


def _target_group(target: Target, finding: Finding) -> tuple[Status, str]:
    kind = (finding.data or {}).get("TargetType")
    if kind != "ip":
        return "failed", (f"its target type is {kind or 'unknown'}: Fargate tasks register by IP address "
                          "(awsvpc), so the target group must be of type ip")
    return "ok", f"type ip; it sends to container {target.version} of the task definition"


def _capacity(target: Target, finding: Finding) -> tuple[Status, str]:
    providers = list(finding.data or [])
    if target.version not in providers:
        return "failed", (f"the cluster {target.name} does not have the capacity provider {target.version} "
                          f"(it has {', '.join(providers) or 'none'}; `aws ecs put-cluster-capacity-providers` "
                          "adds it)")
    return "ok", f"on the cluster {target.name}"


_SERVICE_RULES = {"ecs-service": _ecs_service, "target-group": _target_group, "cluster-capacity": _capacity}


def summary(results: Iterable[CheckResult]) -> dict[str, int]:
    counts = {status: 0 for status in ("ok", "missing", "failed", "error", "not checked")}
    for r in results:
        counts[r.status] += 1
    return counts


def summary_text(results: Iterable[CheckResult]) -> str:
    """``2 of 12 checks fail (9 ok, 2 missing, 1 not checked)``, or ``all 12 checks pass (...)``."""
    results = list(results)
    if not results:
        return "nothing to check"
    counts = summary(results)
    failing = sum(counts[status] for status in FAILING)
    head = f"{failing} of {len(results)} checks fail" if failing else f"all {len(results)} checks pass"
    return f"{head} ({', '.join(f'{n} {status}' for status, n in counts.items() if n)})"


def to_json(results: Iterable[CheckResult]) -> dict:
    """The documented JSON of `ecsflow verify` (and of `diff --verify`'s "verify" key)."""
    results = list(results)
    return {"checks": [{"family": r.family, "service": r.service, "check": r.check, "subject": r.subject,
                        "status": r.status, "detail": r.detail} for r in results], "summary": summary(results)}
