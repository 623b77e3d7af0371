"""The AWS side of `ecsflow verify`: look each resource up once, read-only, never a secret's value.

``ResourceChecks`` holds one client per service and region (ECR, IAM, SSM, Secrets Manager, CloudWatch Logs,
ECS, EC2, all at ``--endpoint-url`` when one is given) and answers a ``Finding`` per ``Target``
(``ecsflow.verify``) through the bounded pool:

- an ECR image: DescribeImages for its tag or digest;
- a role: GetRole (its trust policy is evaluated by ``ecsflow.verify``);
- an SSM parameter: DescribeParameters filtered on its name (metadata only: never GetParameter);
- a Secrets Manager secret: DescribeSecret (metadata only: never GetSecretValue);
- a log group: DescribeLogGroups by prefix, then the exact name;
- a cluster: DescribeClusters; a subnet: DescribeSubnets; a security group: DescribeSecurityGroups;
- an ECS service: DescribeServices (with its tags: someone else's is one without ecsflow:managed); a target
  group: DescribeTargetGroups by name or ARN; a cluster's capacity providers: DescribeClusters.

An answer that the resource does not exist is ``missing``; any other error (access denied, throttling after
botocore's retries) is that check's ``error``, and the other checks go on. An error about the session
itself (no credentials, an endpoint that cannot be reached) would fail every check alike: it is raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from ecsflow.ecs.client import make_client
from ecsflow.ecs.errors import aws_error, code_and_message, is_session_error, one_line
from ecsflow.ecs.options import AwsOptions
from ecsflow.ecs.pool import DEFAULT_CONCURRENCY, bounded
from ecsflow.verify import Finding, Target

_SERVICE_OF = {"ecr-image": "ecr", "role": "iam", "ssm-parameter": "ssm", "secret": "secretsmanager",
               "log-group": "logs", "cluster": "ecs", "subnet": "ec2", "security-group": "ec2",
               "ecs-service": "ecs", "target-group": "elbv2", "cluster-capacity": "ecs"}
_NOT_FOUND = {
    "RepositoryNotFoundException", "ImageNotFoundException",  # ECR
    "NoSuchEntity", "NoSuchEntityException",  # IAM
    "ResourceNotFoundException",  # Secrets Manager, CloudWatch Logs
    "InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed", "InvalidSubnetId.NotFound",  # EC2
    "InvalidGroup.NotFound", "InvalidGroupId.NotFound", "InvalidGroupId.Malformed",
    "TargetGroupNotFound", "TargetGroupNotFoundException", "ClusterNotFoundException",  # ELB, ECS
}
LOG_GROUP_PAGES = 20  # DescribeLogGroups pages read for one prefix before giving up (50 groups a page)


class ResourceChecks:
    def __init__(self, options: AwsOptions, concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.options, self.concurrency = options, concurrency
        self._clients: dict[tuple[str, str | None], Any] = {}

    def _client(self, service: str, region: str | None) -> Any:
        key = (service, region or self.options.region)
        if key not in self._clients:
            self._clients[key] = make_client(service, replace(self.options, region=key[1]), self.concurrency)
        return self._clients[key]

    def account(self) -> str | None:
        """The account the credentials belong to (STS GetCallerIdentity, which needs no permission); None
        when STS does not answer."""
        client = self._client("sts", None)
        try:
            return client.get_caller_identity().get("Account")
        except Exception as exc:
            if is_session_error(exc):
                raise aws_error(exc, client=client) from exc
            return None

    def look_up(self, targets: Iterable[Target],
                on_done: Callable[[Finding], None] | None = None) -> dict[Target, Finding]:
        """A ``Finding`` per distinct target."""
        unique = list(dict.fromkeys(targets))
        for target in unique:  # clients are made here, on the calling thread (botocore sessions are not thread-safe)
            self._client(_SERVICE_OF[target.kind], target.region)
        findings: dict[Target, Finding] = {}
        for target, finding in bounded(self._find, unique, self.concurrency):
            findings[target] = finding
            if on_done is not None:
                on_done(finding)
        return findings

    def _find(self, target: Target) -> Finding:
        client = self._client(_SERVICE_OF[target.kind], target.region)
        region = client.meta.region_name
        try:
            return _LOOK_UP[target.kind](client, target, region)
        except Exception as exc:
            if is_session_error(exc):
                raise aws_error(exc, client=client) from exc
            code, message = code_and_message(exc)
            if code in _NOT_FOUND:
                return Finding("missing", _missing(target, region, code))
            return Finding("error", one_line(aws_error(exc, client=client)))


def _missing(target: Target, region: str, code: str = "") -> str:
    if target.kind == "ecr-image":
        if code == "RepositoryNotFoundException":
            return f"the ECR repository {target.name} does not exist (registry {target.account}, {region})"
        kind, _, value = target.version.partition(":")
        return f"the ECR repository {target.name} has no image with {kind} {value}"
    what = {"role": "the IAM role", "ssm-parameter": "the SSM parameter", "secret": "the Secrets Manager secret",
            "log-group": "the CloudWatch Logs group", "cluster": "the ECS cluster", "subnet": "the subnet",
            "security-group": "the security group", "ecs-service": "the ECS service",
            "target-group": "the target group", "cluster-capacity": "the ECS cluster"}[target.kind]
    where = "" if target.kind == "role" else f" in {region}"
    active = " (or is not ACTIVE)" if target.kind in ("cluster", "cluster-capacity") else ""
    return f"{what} {target.name} does not exist{where}{active}"


def _image(client: Any, target: Target, region: str) -> Finding:
    kind, _, value = target.version.partition(":")
    image_id = {"imageDigest": value} if kind == "digest" else {"imageTag": value}
    kwargs = {"registryId": target.account} if target.account else {}
    answer = client.describe_images(repositoryName=target.name, imageIds=[image_id], **kwargs)
    details = answer.get("imageDetails") or []
    return Finding("exists") if details else Finding("missing", _missing(target, region))


def _role(client: Any, target: Target, region: str) -> Finding:
    role = client.get_role(RoleName=target.name)["Role"]
    return Finding("exists", data=role.get("AssumeRolePolicyDocument"))


def _parameter(client: Any, target: Target, region: str) -> Finding:
    answer = client.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": list(target.names or (target.name,))}])
    return Finding("exists") if answer.get("Parameters") else Finding("missing", _missing(target, region))


def _secret(client: Any, target: Target, region: str) -> Finding:
    deleted = client.describe_secret(SecretId=target.name).get("DeletedDate")
    return Finding("exists", data=str(deleted.date() if hasattr(deleted, "date") else deleted) if deleted else None)


def _log_group(client: Any, target: Target, region: str) -> Finding:
    pages = client.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=target.name, PaginationConfig={"MaxItems": 50 * LOG_GROUP_PAGES})
    for page in pages:
        if any(group.get("logGroupName") == target.name for group in page.get("logGroups") or []):
            return Finding("exists")
    return Finding("missing", _missing(target, region))


def _cluster(client: Any, target: Target, region: str) -> Finding:
    clusters = client.describe_clusters(clusters=[target.name]).get("clusters") or []
    active = any(c.get("status") == "ACTIVE" for c in clusters)
    return Finding("exists") if active else Finding("missing", _missing(target, region))


def _subnet(client: Any, target: Target, region: str) -> Finding:
    found = client.describe_subnets(SubnetIds=[target.name]).get("Subnets")
    return Finding("exists") if found else Finding("missing", _missing(target, region))


def _security_group(client: Any, target: Target, region: str) -> Finding:
    found = client.describe_security_groups(GroupIds=[target.name]).get("SecurityGroups")
    return Finding("exists") if found else Finding("missing", _missing(target, region))


def _ecs_service(client: Any, target: Target, region: str) -> Finding:
    from ecsflow.service.compare import refusal
    from ecsflow.tags import MANAGED_TAG, is_managed

    answer = client.describe_services(cluster=target.version, services=[target.name], include=["TAGS"])
    live = next((s for s in answer.get("services") or [] if s.get("status") == "ACTIVE"), None)
    if live is None:
        return Finding("missing", _missing(target, region))
    tags = {t.get("key"): t.get("value") for t in live.get("tags") or []}
    why = refusal(live) or (None if is_managed(tags) else
                            f"it exists without the {MANAGED_TAG} tag: someone else's service, which deploy refuses "
                            "to change (give the compose service another name: x-ecsflow.service.service_name)")
    return Finding("exists", data=why)


def _target_group(client: Any, target: Target, region: str) -> Finding:
    key = "TargetGroupArns" if target.name.startswith("arn:") else "Names"
    groups = client.describe_target_groups(**{key: [target.name]}).get("TargetGroups") or []
    return Finding("exists", data=groups[0]) if groups else Finding("missing", _missing(target, region))


def _capacity_providers(client: Any, target: Target, region: str) -> Finding:
    clusters = client.describe_clusters(clusters=[target.name]).get("clusters") or []
    active = [c for c in clusters if c.get("status") == "ACTIVE"]
    if not active:
        return Finding("missing", _missing(target, region))
    return Finding("exists", data=list(active[0].get("capacityProviders") or []))


_LOOK_UP: dict[str, Callable[[Any, Target, str], Finding]] = {
    "ecr-image": _image, "role": _role, "ssm-parameter": _parameter, "secret": _secret, "log-group": _log_group,
    "cluster": _cluster, "subnet": _subnet, "security-group": _security_group,
    "ecs-service": _ecs_service, "target-group": _target_group, "cluster-capacity": _capacity_providers,
}
