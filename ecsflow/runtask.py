"""RunTask arguments that `ecsflow run` and the generated Airflow tasks share. Pure: no AWS call.

Both run a family's task on Fargate in the configured network, so the network configuration and the
launch-type rule live here once.
"""

from __future__ import annotations

from typing import Any

from ecsflow.errors import SettingsError
from ecsflow.settings import Settings

LAUNCH_TYPE = "FARGATE"  # what ecsflow's task definitions are registered for


def network_configuration(settings: Settings) -> dict[str, Any] | None:
    """The awsvpc network configuration from the settings; None when no subnets are set (Fargate needs them:
    `ecsflow run` refuses to start, `gen-dag` warns, see `require_network`)."""
    if not settings.subnets:
        return None
    vpc: dict[str, Any] = {"subnets": list(settings.subnets)}
    if settings.security_groups:
        vpc["securityGroups"] = list(settings.security_groups)
    vpc["assignPublicIp"] = "ENABLED" if settings.assign_public_ip else "DISABLED"
    return {"awsvpcConfiguration": vpc}


NO_SUBNETS = "no subnets to run the task in: a Fargate task needs at least one"
NO_SUBNETS_HINT = ("set `subnets` in the compose file's top-level x-ecsflow, ECSFLOW_SUBNETS or Consul, or pass "
                   "--subnet (repeatable); `ecsflow config` shows what is resolved")


def require_network(settings: Settings) -> dict[str, Any]:
    """`network_configuration`, or a SettingsError when there are no subnets."""
    network = network_configuration(settings)
    if network is None:
        raise SettingsError(NO_SUBNETS, key="subnets", hint=NO_SUBNETS_HINT)
    return network


def launch_type_warning(settings: Settings, runner: str) -> str | None:
    """A warning when the launch_type setting asks for something other than the FARGATE that ecsflow's task
    definitions are registered for. `runner` says what runs them ("the task runs", "the DAG runs them")."""
    if settings.launch_type == LAUNCH_TYPE:
        return None
    return (f"launch_type is {settings.launch_type}, but ecsflow's task definitions are FARGATE-only: "
            f"{runner} with launch type {LAUNCH_TYPE}")
