"""The AWS side of `ecsflow init`: what the account the credentials belong to holds for ECS, read-only.

- sts:GetCallerIdentity: the account (every identity may call it);
- ecs:ListClusters, ecs:DescribeClusters: the ACTIVE clusters of the region;
- iam:GetRole `ecsTaskExecutionRole` (the name the AWS console creates), then iam:ListRoles: the roles that
  ``ecs-tasks.amazonaws.com`` may assume (their trust policy, evaluated by ``ecsflow.verify.trusts_ecs_tasks``);
- ec2:DescribeVpcs (isDefault), ec2:DescribeSubnets, ec2:DescribeSecurityGroups (group-name default): the
  default VPC's subnets and security group.

A part that cannot be read (access denied, throttled after botocore's retries) is left out, and
``AccountFacts.unread`` says which action and why; an error about the session itself (no credentials, an
endpoint that cannot be reached) ends the command with the error every command gives.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

from ecsflow.account_facts import AccountFacts, DefaultVpc, Subnet
from ecsflow.ecs.client import make_client
from ecsflow.ecs.errors import aws_error, code_and_message, is_session_error, translated
from ecsflow.ecs.options import AwsOptions
from ecsflow.verify import trusts_ecs_tasks

CONSOLE_ROLE = "ecsTaskExecutionRole"  # what the AWS console creates for task execution
MAX_PAGES = 20  # pages of ListClusters (100 a page) or ListRoles (100 a page) read at most
T = TypeVar("T")


def read_account(options: AwsOptions, *, sandbox: bool = False) -> AccountFacts:
    """What the account holds for ECS in ``options.region`` (the session's region when None)."""
    ecs = make_client("ecs", options, 1)  # first: no region is an error here, before any call
    region = ecs.meta.region_name
    sts = make_client("sts", AwsOptions(region=region, profile=options.profile, endpoint_url=options.endpoint_url), 1)
    with translated(sts):
        caller = sts.get_caller_identity()
    unread: dict[str, str] = {}

    def part(action: str, client: Any, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except Exception as exc:
            if is_session_error(exc):
                raise aws_error(exc, client=client) from exc
            operation = getattr(exc, "operation_name", None)
            unread[f"{action.split(':')[0]}:{operation}" if operation else action] = \
                code_and_message(exc)[0] or type(exc).__name__
            return None

    iam = make_client("iam", options, 1)
    ec2 = make_client("ec2", options, 1)
    return AccountFacts(
        account=str(caller.get("Account") or ""), caller=str(caller.get("Arn") or ""), region=region,
        clusters=part("ecs:ListClusters", ecs, lambda: _clusters(ecs)),
        execution_roles=part("iam:ListRoles", iam, lambda: _execution_roles(iam)),
        vpc=part("ec2:DescribeVpcs", ec2, lambda: _default_vpc(ec2)), unread=unread, sandbox=sandbox)


def _clusters(ecs: Any) -> tuple[str, ...]:
    arns: list[str] = []
    for page in ecs.get_paginator("list_clusters").paginate(PaginationConfig={"MaxItems": 100 * MAX_PAGES}):
        arns += page.get("clusterArns") or []
    found = []
    for start in range(0, len(arns), 100):  # DescribeClusters takes 100 at most
        answer = ecs.describe_clusters(clusters=arns[start:start + 100])
        found += [c["clusterName"] for c in answer.get("clusters") or [] if c.get("status") == "ACTIVE"]
    return tuple(sorted(found))


def _execution_roles(iam: Any) -> tuple[tuple[str, str], ...]:
    """The roles ecs-tasks.amazonaws.com may assume, ecsTaskExecutionRole first when it is one of them."""
    try:
        role = iam.get_role(RoleName=CONSOLE_ROLE)["Role"]
        if trusts_ecs_tasks(_policy(role.get("AssumeRolePolicyDocument"))):
            return ((role["RoleName"], role["Arn"]),)
    except Exception as exc:  # not there, or GetRole not allowed: ListRoles may still tell
        if is_session_error(exc):
            raise
    found = []
    for page in iam.get_paginator("list_roles").paginate(PaginationConfig={"MaxItems": 100 * MAX_PAGES}):
        found += [(r["RoleName"], r["Arn"]) for r in page.get("Roles") or []
                  if trusts_ecs_tasks(_policy(r.get("AssumeRolePolicyDocument")))]
    # A role whose name says execution is more likely the execution role than a task role.
    return tuple(sorted(found, key=lambda role: ("execution" not in role[0].lower(), role[0].lower())))


def _policy(document: Any) -> Any:
    """A trust policy as a mapping: botocore decodes IAM's URL-encoded JSON; a text one is decoded here."""
    if isinstance(document, str):
        try:
            return json.loads(urllib.parse.unquote(document))
        except ValueError:
            return None
    return document


def _default_vpc(ec2: Any) -> DefaultVpc | None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}]).get("Vpcs") or []
    if not vpcs:
        return None
    vpc = vpcs[0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}]).get("Subnets") or []
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                   {"Name": "group-name", "Values": ["default"]}]).get("SecurityGroups")
    return DefaultVpc(
        id=vpc,
        subnets=tuple(sorted((Subnet(s["SubnetId"], s.get("AvailabilityZone", ""), bool(s.get("MapPublicIpOnLaunch")))
                              for s in subnets if s.get("State", "available") == "available"),
                             key=lambda s: (s.zone, s.id))),
        security_group=(groups or [{}])[0].get("GroupId"))
