"""Where and as whom to call AWS: the one value every client of the ECS adapter is made from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ecsflow.ecs.limits import Rate


@dataclass(frozen=True)
class AwsOptions:
    """Where and as whom to call AWS. ``None`` means "boto3's usual chain decides"."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    retry_mode: Literal["adaptive", "standard", "legacy"] = "adaptive"
    max_attempts: int = 10  # all attempts, the first one included
    register_rate: Rate | None = None  # RegisterTaskDefinition paced to this rate (ecsflow.ecs.pacing)
    # Called before any client is made from these options: the sandbox starts moto then (sandbox/session.py).
    before_connect: Callable[[], object] | None = field(default=None, compare=False, repr=False)
