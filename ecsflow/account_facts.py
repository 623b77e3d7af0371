"""What `ecsflow init` read of an AWS account: plain facts, from the ECS adapter (``ecs/discover.py``) to the
proposal (``proposal.py``), which decides what to propose and says why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Subnet:
    id: str
    zone: str = ""
    public: bool = False  # MapPublicIpOnLaunch: a task there reaches the internet through a public IP only


@dataclass(frozen=True)
class DefaultVpc:
    id: str
    subnets: tuple[Subnet, ...] = ()
    security_group: str | None = None  # the VPC's security group named `default`


@dataclass(frozen=True)
class AccountFacts:
    """``None`` for what could not be read (``unread`` says why: the action and AWS's error code)."""

    account: str
    caller: str  # the caller's ARN
    region: str
    clusters: tuple[str, ...] | None = ()  # ACTIVE clusters of the region
    execution_roles: tuple[tuple[str, str], ...] | None = ()  # (name, ARN) of roles ecs-tasks.amazonaws.com may assume
    vpc: DefaultVpc | None = None  # the region's default VPC; None when there is none (or it could not be read)
    unread: Mapping[str, str] = field(default_factory=dict)  # "iam:ListRoles" -> "AccessDenied"
    sandbox: bool = False  # read from the sandbox (moto), not AWS
