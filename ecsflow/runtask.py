"""RunTask arguments that `ecsflow run` and the generated Airflow tasks share, and `run`'s overrides. Pure: no
AWS call.

Both run a family's task on Fargate in the configured network, so the network configuration and the
launch type or capacity provider strategy live here once. `run`'s `-e`, command and `--cpu`/`--memory` become
RunTask's `overrides` here too (`parse_environment`, `run_size`, `run_overrides`), and ECS's limit on overrides
is here once (`oversize`): `run` checks its overrides, gen-dag the runtime values' defaults.

The values known only at run time (`x-ecsflow.runtime_env`) have a default each ("" when none is written),
which the generated DAGs give their params (`ecsflow.airflow.runtime`) and `run` sends when no `-e` gives the
value. A default may hold Jinja (`"{{ ds }}"`), which Airflow renders; `run` has no Airflow: `render_default`
renders it for a manual run now (ds is today, in UTC, as Airflow 3 sets it for a manual run), with the few
context names that make sense outside Airflow, and refuses anything else with a message that says what to pass
instead. jinja2 is imported only to render a Jinja default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ecsflow.errors import EcsflowError, SettingsError
from ecsflow.fargate import SizeError, containers_fit, override_size
from ecsflow.settings import Settings
from ecsflow.validators import describe

LAUNCH_TYPE = "FARGATE"  # what ecsflow's task definitions are registered for
STARTED_BY = "ecsflow-run"  # RunTask's startedBy for the tasks `ecsflow run` starts (without --idempotency-key)
SPOT, ON_DEMAND = "FARGATE_SPOT", "FARGATE"  # the capacity providers of a Fargate task


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


def capacity_provider_strategy(capacity_provider: str) -> list[dict[str, Any]]:
    """RunTask's capacityProviderStrategy for one capacity provider (x-ecsflow.capacity_provider: FARGATE_SPOT).
    RunTask takes it or a launch type, not both."""
    return [{"capacityProvider": capacity_provider, "weight": 1}]


# RunTask's startedBy, as the ECS API reference states it: "Up to 128 letters (uppercase and lowercase), numbers,
# hyphens (-), forward slash (/), and underscores (_)". ecsflow leaves the slash out, so that a key is one word
# in a shell, a file name and a CI variable alike.
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_-]{1,128}")


def idempotency_key_problem(key: str) -> str | None:
    """None when ``key`` can be RunTask's startedBy (`run --idempotency-key`), else what is wrong with it (the
    key is not shown: a CI variable may hold anything)."""
    if _IDEMPOTENCY_KEY.fullmatch(key):
        return None
    if not key:
        return "the key is empty"
    if len(key) > 128:
        return f"the key has {len(key)} characters; ECS's startedBy takes at most 128"
    return "the key may hold only letters, digits, '-' and '_' (ECS's startedBy), at most 128 of them"


def parse_environment(values: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """``-e NAME=VALUE`` (or ``-e NAME``: the value in ``environ``, this shell's) as a mapping; the last of a
    name wins."""
    result: dict[str, str] = {}
    for item in values:
        name, equals, value = item.partition("=")
        if not name or name != name.strip() or any(c.isspace() for c in name):
            raise EcsflowError(f"-e {item!r}: expected NAME=VALUE", key="-e",
                               hint="for example -e RUN_DATE=2026-01-01 (or -e RUN_DATE to pass this shell's value)")
        if not equals:
            if name not in environ:
                raise EcsflowError(f"-e {name}: {name} is not set in this shell", key="-e",
                                   hint=f"give the value: -e {name}=VALUE")
            value = environ[name]
        result[name] = value
    return result


def run_size(cpu: int | None, memory: int | None, current_cpu: int, current_memory: int,
             containers: Sequence[Mapping[str, Any]] = ()) -> tuple[int, int] | None:
    """The task size to run with (see fargate.override_size), as an EcsflowError naming the flag when invalid; a
    size too small for the ``containers``' own limits (a task with sidecars) too, which RunTask would refuse."""
    try:
        size = override_size(cpu, memory, current_cpu, current_memory)
        if size is not None:
            containers_fit(containers, *size, ("--cpu", "--memory"))
        return size
    except SizeError as exc:
        raise EcsflowError(exc.message, key=f"--{exc.key}", hint=exc.hint) from None


def run_overrides(container: str, environment: Mapping[str, str], command: Sequence[str],
                  size: tuple[int, int] | None) -> dict[str, Any]:
    """RunTask's ``overrides``: the container's extra environment and its command (replacing the definition's;
    the entryPoint stays, as with ``docker compose run SERVICE COMMAND``), and the task size. {} when none.
    Overrides ECS would refuse (see MAX_OVERRIDES_CHARACTERS) are an error naming the `-e` values or the
    command that take the room."""
    overrides = container_overrides(container, environment, command)
    if size is not None:
        overrides.update(cpu=str(size[0]), memory=str(size[1]))
    parts = [(f"-e {k}", v) for k, v in environment.items()]
    if command:
        parts.append(("the command after --", list(command)))
    if too_long := oversize(overrides, parts):
        problem, largest = too_long
        raise EcsflowError(f"the run's overrides {problem}", key="-e" if largest.startswith("-e") else "COMMAND",
                           hint="pass large values another way: set them in the service's environment (they become "
                           "part of the task definition), or have the job read them from S3 or SSM Parameter Store")
    return overrides


def container_overrides(container: str, environment: Mapping[str, str], command: Sequence[str]) -> dict[str, Any]:
    """RunTask's ``overrides`` of one container's environment and command, as `run` and the generated DAGs'
    tasks send them ({} when there is neither)."""
    container_override: dict[str, Any] = {"name": container}
    if environment:
        container_override["environment"] = [{"name": k, "value": v} for k, v in environment.items()]
    if command:
        container_override["command"] = list(command)
    return {"containerOverrides": [container_override]} if len(container_override) > 1 else {}


# RunTask's `overrides`, in the ECS API reference: "A total of 8192 characters are allowed for overrides. This limit
# includes the JSON formatting characters of the override structure." ECS's refusal reads "Container Overrides
# length must be at most 8192" (InvalidParameterException). Which JSON ECS measures is not documented (the
# containerOverrides or the whole overrides; its own serialisation, with or without spaces; characters or bytes),
# so this measures the largest reading: the whole `overrides` object as compact JSON with non-ASCII escaped as
# botocore sends it (`é` is `\u00e9`, 6 characters; that is at least its UTF-8 bytes). It never lets through what
# ECS refuses; near the limit it may refuse a run ECS would take.
MAX_OVERRIDES_CHARACTERS = 8192


def overrides_size(overrides: Any) -> int:
    """How long RunTask's ``overrides`` (or a part of them) are, as ECS's limit counts them (see
    MAX_OVERRIDES_CHARACTERS)."""
    return len(json.dumps(overrides, separators=(",", ":"), ensure_ascii=True))


def oversize(overrides: Mapping[str, Any], parts: Sequence[tuple[str, Any]]) -> tuple[str, str] | None:
    """None when ``overrides`` are within ECS's limit. Else (what to say after "the overrides": their size, the
    limit and the three largest of ``parts`` (label, value) by name and JSON length, never their values since
    they may be secrets; the label of the largest)."""
    size = overrides_size(overrides)
    if size <= MAX_OVERRIDES_CHARACTERS:
        return None
    lengths = sorted(((overrides_size(value), label) for label, value in parts), reverse=True)
    largest = ", ".join(f"{label} ({length} characters)" for length, label in lengths[:3])
    return (f"come to {size} characters of JSON, and ECS refuses more than {MAX_OVERRIDES_CHARACTERS} (RunTask: "
            f"\"Container Overrides length must be at most {MAX_OVERRIDES_CHARACTERS}\"); the largest: {largest}",
            lengths[0][1] if lengths else "")


def run_request(cluster: str, task_definition: str, network: Mapping[str, Any], overrides: Mapping[str, Any],
                capacity_provider: str | None = None, started_by: str = STARTED_BY) -> dict[str, Any]:
    """RunTask's kwargs for one task of `ecsflow run` (`overrides` from `run_overrides`): on FARGATE, or on the
    service's capacity provider; ``started_by``: the run's idempotency key, when it has one."""
    placement: dict[str, Any] = (
        {"capacityProviderStrategy": capacity_provider_strategy(capacity_provider)} if capacity_provider
        else {"launchType": LAUNCH_TYPE}
    )
    request: dict[str, Any] = {
        "cluster": cluster,
        "taskDefinition": task_definition,
        **placement,
        "count": 1,
        "networkConfiguration": network,
        "startedBy": started_by,
    }
    if overrides:
        request["overrides"] = overrides
    return request


# --- the runtime values of `run` (x-ecsflow.runtime_env): the defaults the generated DAGs give them too ---

_JINJA_MARKS = ("{{", "{%", "{#")
# What `render_default` knows of Airflow's template context (the rest needs a DAG run).
KNOWN_CONTEXT = ("ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "logical_date", "data_interval_start",
                 "data_interval_end", "macros.ds_add", "macros.ds_format", "macros.datetime", "macros.timedelta")


def is_template(default: str) -> bool:
    """True when Jinja would read the default as a template (it holds `{{`, `{%` or `{#`)."""
    return any(mark in default for mark in _JINJA_MARKS)


def render_default(name: str, default: str, service: str, now: datetime | None = None,
                   variables: Mapping[str, str] | None = None) -> str:
    """The default of a runtime value as `ecsflow run` sends it: as written, or rendered for a run now.
    ``variables``: those interpolation read for the service's values, which an error names, never shows."""
    if not is_template(default):
        return default
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    now = (now or datetime.now(UTC)).astimezone(UTC)
    environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters.update(_FILTERS)
    hint = f"pass the value: -e {name}=VALUE (outside Airflow, ecsflow knows {', '.join(KNOWN_CONTEXT)})"
    try:
        return environment.from_string(default).render(_context(now))
    except jinja2.UndefinedError as error:
        problem, outside = error.message, " outside Airflow"
    except Exception as error:  # a syntax error, a bad filter argument, the sandbox refusing an attribute...
        problem, outside = str(error), ""
    shown = describe(default, variables)
    if shown != repr(default):  # Jinja's message quotes the template's words: here, part of a variable's value
        problem = "what is wrong is not said (it would show the value)"
    raise EcsflowError(f"the default of {name} ({shown}) cannot be rendered{outside}: {problem}",
                       service=service, key=f"x-ecsflow.runtime_env.{name}", hint=hint)


def runtime_environment(runtime_env: Mapping[str, str], given: Mapping[str, str], service: str,
                        now: datetime | None = None, variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """The runtime values `ecsflow run` sends: those given (`-e`), else each default (rendered); ``variables``
    as `render_default` takes them."""
    return {name: given[name] if name in given else render_default(name, default, service, now, variables)
            for name, default in runtime_env.items()}


# --- the little of Airflow's template context that a run outside Airflow can know ---


def _ds_add(ds: str, days: int) -> str:
    return (datetime.strptime(ds, "%Y-%m-%d") + timedelta(days=days)).strftime("%Y-%m-%d")


def _ds_format(ds: str, input_format: str, output_format: str) -> str:
    return datetime.strptime(ds, input_format).strftime(output_format)


class _Macros:
    ds_add = staticmethod(_ds_add)
    ds_format = staticmethod(_ds_format)
    datetime = datetime
    timedelta = timedelta


_FILTERS = {
    "ds": lambda value: value.strftime("%Y-%m-%d"),
    "ds_nodash": lambda value: value.strftime("%Y%m%d"),
    "ts": lambda value: value.isoformat(),
    "ts_nodash": lambda value: value.strftime("%Y%m%dT%H%M%S"),
    "ts_nodash_with_tz": lambda value: value.isoformat().replace("-", "").replace(":", ""),
}


def _context(now: datetime) -> dict[str, Any]:
    """As Airflow 3 sets them for a manual run: the logical date and the data interval are the run's time."""
    return {
        "ds": now.strftime("%Y-%m-%d"),
        "ds_nodash": now.strftime("%Y%m%d"),
        "ts": now.isoformat(),
        "ts_nodash": now.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": now.isoformat().replace("-", "").replace(":", ""),
        "logical_date": now,
        "data_interval_start": now,
        "data_interval_end": now,
        "macros": _Macros,
    }
