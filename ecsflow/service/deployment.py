"""A service's `deploymentConfiguration` (design/services.md section 4.3): the rolling update's percentages from
Compose's `deploy.update_config` (only what it writes), the circuit breaker (rollback by default), and what
x-ecsflow.service says over both."""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ecsflow.taskdef.context import Context

_BREAKERS = {  # failure_action / x-ecsflow.service.circuit_breaker -> deploymentCircuitBreaker
    "rollback": {"enable": True, "rollback": True},
    "pause": {"enable": True, "rollback": False},
    "stop": {"enable": True, "rollback": False},
    "continue": {"enable": False, "rollback": False},
    "off": {"enable": False, "rollback": False},
}
_FAILURE_ACTIONS = ("rollback", "pause", "continue")  # the Compose Specification's update_config.failure_action
_ORDERS = ("start-first", "stop-first")
# Keys with no ECS equivalent: ECS rolls back to the last completed deployment, and a service always replaces
# a stopped task.
_IGNORED = ("update_config.delay", "update_config.monitor", "rollback_config", "restart_policy.delay",
            "restart_policy.max_attempts", "restart_policy.window")


@dataclass(frozen=True)
class ApiFeatures:
    """What the installed botocore's ECS model can send (`ecsflow.ecs.validate.api_features` reads it)."""

    failure_threshold: bool = True  # DeploymentCircuitBreaker.thresholdConfiguration (botocore 1.44 has it)


def deployment_configuration(ctx: Context, replicas: int | None, api: ApiFeatures) -> dict[str, Any]:
    """The deploymentConfiguration of a service whose compose `deploy.replicas` is ``replicas``."""
    deploy = ctx.service.raw.get("deploy") or {}
    update = deploy.get("update_config") or {}
    block = ctx.x_ecsflow.service
    low, high = _percentages(ctx, update, replicas)
    if block.minimum_healthy_percent is not None:
        low = block.minimum_healthy_percent
    if block.maximum_percent is not None:
        high = block.maximum_percent
    if (100 if low is None else low) == 100 and (200 if high is None else high) == 100:
        raise ctx.error("a minimum healthy percent of 100 and a maximum percent of 100 leave ECS no way to replace "
                        "a task (it may neither stop an old one nor start a new one)",
                        key="x-ecsflow.service.maximum_percent" if block.maximum_percent is not None
                        else "deploy.update_config",
                        hint="allow one: maximum_percent above 100 (start new tasks first) or "
                        "minimum_healthy_percent below 100 (stop old ones first)")
    config: dict[str, Any] = {"deploymentCircuitBreaker": _circuit_breaker(ctx, update, api)}
    if high is not None:
        config["maximumPercent"] = high
    if low is not None:
        config["minimumHealthyPercent"] = low
    ignored = [f"deploy.{key}" for key in _IGNORED if _written(deploy, key)]
    if ignored:
        ctx.note(f"{', '.join(ignored)} {'has' if len(ignored) == 1 else 'have'} no ECS equivalent and "
                 f"{'is' if len(ignored) == 1 else 'are'} ignored (ECS rolls a failed deployment back to the last "
                 "completed one)")
    return config


def _percentages(ctx: Context, update: Mapping[str, Any], replicas: int | None) -> tuple[int | None, int | None]:
    """(minimumHealthyPercent, maximumPercent) from update_config.order and parallelism; None: not written."""
    order = update.get("order")
    if order is not None and order not in _ORDERS:
        raise ctx.error(f"deploy.update_config.order {order!r} is not one of {', '.join(_ORDERS)}"
                        + _guess(order, _ORDERS), key="deploy.update_config.order")
    stop_first = order == "stop-first"
    low, high = {None: (None, None), "start-first": (100, 200), "stop-first": (0, 100)}[order]
    parallelism = update.get("parallelism")
    if parallelism is None:
        return low, high
    if replicas is None:
        ctx.adapted("deploy.update_config.parallelism", "deploy.update_config.parallelism has no effect without "
                    "deploy.replicas (ECS's percentages are of the desired count): ECS's defaults apply",
                    hint="write deploy.replicas, or x-ecsflow.service.minimum_healthy_percent/maximum_percent")
        return low, high
    if parallelism == 0 or parallelism >= replicas:  # Swarm's 0: all at once
        return (0, 100) if stop_first else (100, 200)
    step = 100 * parallelism / replicas
    return (100 - math.floor(step), 100) if stop_first else (100, min(200, 100 + math.ceil(step)))


def _circuit_breaker(ctx: Context, update: Mapping[str, Any], api: ApiFeatures) -> dict[str, Any]:
    action = update.get("failure_action")
    if action is not None and action not in _FAILURE_ACTIONS:
        raise ctx.error(f"deploy.update_config.failure_action {action!r} is not one of {', '.join(_FAILURE_ACTIONS)}"
                        + _guess(action, _FAILURE_ACTIONS), key="deploy.update_config.failure_action")
    chosen = ctx.x_ecsflow.service.circuit_breaker or action or "rollback"
    breaker = dict(_BREAKERS[chosen])
    ratio = update.get("max_failure_ratio")
    if ratio is not None:
        if not breaker["enable"]:
            ctx.note(f"deploy.update_config.max_failure_ratio is ignored: the circuit breaker is off ({chosen})")
        elif not api.failure_threshold:
            ctx.note("deploy.update_config.max_failure_ratio is ignored: this botocore cannot send the circuit "
                     "breaker's thresholdConfiguration (upgrade boto3)")
        else:
            breaker["thresholdConfiguration"] = {"type": "UNBOUNDED_PERCENT", "value": round(float(ratio) * 100)}
    return breaker


def _written(deploy: Mapping[str, Any], key: str) -> bool:
    head, _, rest = key.partition(".")
    value = deploy.get(head)
    return value is not None if not rest else isinstance(value, Mapping) and value.get(rest) is not None


def _guess(value: Any, valid: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(value), valid, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
