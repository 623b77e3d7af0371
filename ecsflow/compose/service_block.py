"""A service's `x-ecsflow.service:` block (how `ecsflow deploy` runs it as an ECS service), checked once at load
into a frozen dataclass, with the rules of the one validator kit (`ecsflow.validators`) and the settings' own
rules for the network keys it overrides. Shape only: what needs other values (a target group without a port,
a grace period without a load balancer) is the builder's (`ecsflow/service/build.py`).

`ecsflow.compose.extension` parses the rest of the service's `x-ecsflow` block and calls `parse_service_block`,
handing it its duration rule (which needs the compose model's `parse_duration`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from ecsflow.settings.values import PARSERS as SETTING_PARSERS
from ecsflow.validators import InvalidValue, flag


@dataclass(frozen=True)
class Autoscaling:
    """`x-ecsflow.service.autoscaling`: Application Auto Scaling owns the service's desiredCount."""

    min: int
    max: int


@dataclass(frozen=True)
class ServiceBlock:
    """A service's `x-ecsflow.service` block. None and () mean "not set": the builder applies the defaults."""

    target_group: str | None = None  # an ELB target group's ARN or name (ecsflow never creates one)
    container_port: int | None = None  # the port the target group sends to, when the service has several
    health_check_grace_period: int | None = None  # whole seconds
    circuit_breaker: str | None = None  # rollback, stop or off
    autoscaling: Autoscaling | None = None
    minimum_healthy_percent: int | None = None
    maximum_percent: int | None = None
    exec: bool | None = None  # enableExecuteCommand
    assign_public_ip: bool | None = None  # over the setting
    subnets: tuple[str, ...] = ()  # over the setting
    security_groups: tuple[str, ...] = ()  # over the setting
    service_name: str | None = None  # the ECS service's name, over the service_name setting's pattern


SERVICE_BLOCK_KEYS: tuple[str, ...] = tuple(f.name for f in fields(ServiceBlock))
CIRCUIT_BREAKERS = ("rollback", "stop", "off")
# ECS's service name: "Up to 255 letters (uppercase and lowercase), numbers, underscores, and hyphens".
SERVICE_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
# An ELB target group: its ARN, or its name (at most 32 letters, digits and hyphens, not at either end).
TARGET_GROUP_ARN = re.compile(r"arn:[a-z-]+:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup/[A-Za-z0-9-]{1,32}/"
                              r"[0-9a-f]+")
_TARGET_GROUP_NAME = re.compile(r"(?!-)[A-Za-z0-9-]{1,32}(?<!-)")
_LONGEST_GRACE = 2**31 - 1  # seconds: ECS's Integer


def one_of(valid: tuple[str, ...]) -> Callable[[Any], str]:
    """A rule for one of ``valid``; the refusal suggests the nearest."""

    def parse(value: Any) -> str:
        if value not in valid:
            close = difflib.get_close_matches(value, valid, n=1) if isinstance(value, str) else []
            guess = f" (did you mean '{close[0]}'?)" if close else ""
            raise InvalidValue(f"one of {', '.join(valid)}{guess}", value)
        return value

    return parse


def _bounded(low: int, high: int, what: str) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidValue(f"{what} from {low} to {high}", value)
        return value

    return parse


def _target_group(value: Any) -> str:
    if not isinstance(value, str) or not (TARGET_GROUP_ARN.fullmatch(value) or _TARGET_GROUP_NAME.fullmatch(value)):
        raise InvalidValue("a target group ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID) or "
                           "name (at most 32 letters, digits and hyphens)", value)
    return value


def _autoscaling(value: Any) -> Autoscaling:
    if not isinstance(value, Mapping) or set(value) != {"min", "max"}:
        raise InvalidValue("a mapping of min and max (whole numbers of tasks), like {min: 2, max: 10}", value)
    low, high = (_bounded(0, 5000, "a whole number of tasks")(value[key]) for key in ("min", "max"))
    if low > high or high < 1:
        raise InvalidValue(f"min at most max, and max at least 1 (here min {low}, max {high})")
    return Autoscaling(min=low, max=high)


def _service_name(value: Any) -> str:
    if not isinstance(value, str) or not SERVICE_NAME.fullmatch(value):
        raise InvalidValue("an ECS service name (up to 255 letters, digits, - and _)", value)
    return value


_PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "target_group": _target_group,
    "container_port": _bounded(1, 65535, "a port number"),
    "circuit_breaker": one_of(CIRCUIT_BREAKERS),
    "autoscaling": _autoscaling,
    "minimum_healthy_percent": _bounded(0, 100, "a whole percentage"),
    "maximum_percent": _bounded(100, 200, "a whole percentage"),
    "exec": flag,
    "assign_public_ip": SETTING_PARSERS["assign_public_ip"],
    "subnets": SETTING_PARSERS["subnets"],
    "security_groups": SETTING_PARSERS["security_groups"],
    "service_name": _service_name,
}
assert set(_PARSERS) | {"health_check_grace_period"} == set(SERVICE_BLOCK_KEYS), "every key needs a parser"


class BlockError(InvalidValue):
    """A key of the block that is unknown (``refusal`` None), or whose value a rule refuses (``refusal``)."""

    def __init__(self, key: str, refusal: InvalidValue | None = None) -> None:
        self.key, self.refusal = key, refusal
        ValueError.__init__(self, key)

    def message(self, variables: Mapping[str, str] | None = None) -> str:
        return self.refusal.message(variables) if self.refusal else f"a known key, not '{self.key}'"


def parse_service_block(value: Any, *, duration: Callable[[Any], int]) -> ServiceBlock:
    """The block (a mapping) as a `ServiceBlock`; ``duration`` reads the grace period into whole seconds.
    A refused key raises `BlockError` naming it."""
    if not isinstance(value, Mapping):
        raise InvalidValue("a mapping of " + ", ".join(SERVICE_BLOCK_KEYS), value)
    parsed: dict[str, Any] = {}
    for key, item in value.items():
        rule = duration if key == "health_check_grace_period" else _PARSERS.get(key)
        if rule is None:
            raise BlockError(str(key))
        try:
            parsed[key] = rule(item)
        except InvalidValue as bad:
            raise BlockError(key, bad) from None
        if key == "health_check_grace_period" and parsed[key] > _LONGEST_GRACE:
            raise BlockError(key, InvalidValue(f"a duration of at most {_LONGEST_GRACE} seconds", item))
    return ServiceBlock(**parsed)
