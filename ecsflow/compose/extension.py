"""The `x-ecsflow` blocks of a compose file, checked once at load into small frozen dataclasses.

Per service (`services.NAME.x-ecsflow`): how the service becomes a task definition and an Airflow task.
At the top level (`x-ecsflow`): the settings and consul_prefix (resolved later with their other sources by
`ecsflow.settings`), the project's own keys (schedule, dag_id), the Airflow pools' sizes,
the project-wide environment and the DAG-wide Airflow defaults (retries, retry_delay, execution_timeout).

This module checks shape only (known keys, types, ranges that need no other value). Rules that need more
(a Fargate size, a cron expression, a secret reference's ARN) live with the code that applies them.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ecsflow.compose.scalars import go_text
from ecsflow.compose.service_block import SERVICE_BLOCK_KEYS, BlockError, ServiceBlock, one_of, parse_service_block
from ecsflow.compose.units import parse_duration
from ecsflow.compose.yamlfile import PositionedMap
from ecsflow.errors import ComposeError, SettingsError
from ecsflow.retention import retention_days
from ecsflow.settings import SETTING_NAMES, written_at
from ecsflow.validators import InvalidValue, describe, flag, names, role, strings_in, tags, text, variables_in, whole

if TYPE_CHECKING:
    from ecsflow.compose.positions import Positions

EPHEMERAL_STORAGE_GIB = (21, 200)  # ECS's EphemeralStorage.sizeInGiB


@dataclass(frozen=True)
class ServiceExtension:
    """A service's `x-ecsflow` block. Empty collections and None mean "not set"."""

    skip: bool = False  # leave the service out of ECS and Airflow (a local-only postgres, localstack, ...)
    family: str | None = None
    image: str | None = None  # the image on ECS, over `image:` and the name of an image built from source
    cpu: int | None = None
    memory: int | None = None
    task_role: str | None = None
    execution_role: str | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)  # NAME -> reference (ARN, ssm:..., secretsmanager:...)
    environment_values: tuple[str, ...] = ()  # names whose values come from Consul PREFIX/values/NAME
    secret_values: tuple[str, ...] = ()  # names whose secret references come from Consul PREFIX/secrets/NAME
    # Values given when the task runs (DAG params, `run -e`): NAME -> default ("" when none is written); a
    # default may be Jinja ("{{ ds }}") that Airflow renders.
    runtime_env: Mapping[str, str] = field(default_factory=dict)
    pool: str | None = None  # the Airflow pool the task runs in
    pool_slots: int | None = None  # the slots of that pool one task takes (Airflow's pool_slots)
    group: str | None = None  # the Airflow TaskGroup of the task
    retries: int | None = None
    retry_delay: float | None = None  # seconds
    execution_timeout: float | None = None  # seconds
    capacity_provider: str | None = None  # FARGATE or FARGATE_SPOT (RunTask's capacityProviderStrategy)
    # On FARGATE_SPOT: a retry (Airflow) or a second task after a Spot interruption (`run`) runs on FARGATE.
    spot_fallback: bool = True
    schedule: str | None = None
    ephemeral_storage: int | None = None  # GiB
    tags: Mapping[str, str] = field(default_factory=dict)
    kind: str | None = None  # "service" or "job"
    log_retention: int | None = None  # days its log group keeps events (ecsflow.retention), over the setting
    service: ServiceBlock = field(default_factory=ServiceBlock)
    task: str | None = None  # the main service whose task this one joins as a sidecar (compose/sidecars.py)
    essential: bool | None = None  # a sidecar's: whether its exit stops the task (ECS's essential)


SERVICE_KEYS: tuple[str, ...] = tuple(f.name for f in fields(ServiceExtension))


@dataclass(frozen=True)
class ProjectExtension:
    """The top-level `x-ecsflow` block. `settings` holds what `ecsflow.settings` resolves, as written (setting
    name or consul_prefix -> value): the resolver parses them together with the other sources, so errors name
    their source."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    # As written: each is checked where its rule lives, with the flag that may override it (gen-dag for the
    # schedule and the DAG id).
    schedule: Any = None
    dag_id: Any = None
    pools: Mapping[str, int] = field(default_factory=dict)  # Airflow pool name -> size (slots)
    environment: Mapping[str, str] = field(default_factory=dict)  # every service's, under its own values
    environment_values: tuple[str, ...] = ()  # every service's, from Consul PREFIX/values/NAME
    retries: int | None = None  # the DAG's tasks' defaults, under a service's own
    retry_delay: float | None = None  # seconds
    execution_timeout: float | None = None  # seconds
    # The texts of this block that interpolation made -> the variables read for each (name -> value): the
    # settings' errors name those variables instead of showing their values.
    interpolated: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)


PROJECT_KEYS: tuple[str, ...] = ("consul_prefix", "schedule", "dag_id")
# Checked here, at load (see _PROJECT_PARSERS).
PROJECT_TYPED_KEYS: tuple[str, ...] = ("pools", "environment", "environment_values", "retries", "retry_delay",
                                       "execution_timeout")


def _secrets(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        # The value is not shown: it may be the secret itself.
        raise InvalidValue("a mapping of NAME: reference (an ARN, ssm:/path or secretsmanager:name)")
    return {str(k): v for k, v in value.items()}


def _pool_slots(value: Any) -> int:
    slots = whole(value)
    if slots < 1:
        raise InvalidValue("a whole number of at least 1", value)
    return slots


def _runtime_env(value: Any) -> dict[str, str]:
    """`[NAME, ...]` (no defaults) or `{NAME: default}`; a default is text (numbers and booleans as Compose
    writes them in `environment`), null means none ("")."""
    if isinstance(value, list):
        return dict.fromkeys(names(value), "")
    if not isinstance(value, Mapping):
        raise InvalidValue("a list of variable names or a mapping of NAME: default", value)
    return {_variable_name(name): "" if default is None else _scalar(default, f"the default of {name}")
            for name, default in value.items()}


def _variable_name(name: Any) -> str:
    if not isinstance(name, str) or not name or "=" in name:
        raise InvalidValue("a mapping whose keys are variable names", name)
    return name


def _scalar(value: Any, what: str) -> str:
    """Text as Compose writes an `environment` value: strings as they are, numbers and booleans as text."""
    if isinstance(value, str | int | float):  # bool is an int
        return go_text(value)
    raise InvalidValue(f"text, a number or a boolean for {what}", value)


def _environment(value: Any) -> dict[str, str]:
    """Compose's two forms: `{NAME: value}` or `[NAME=value, ...]`; every name needs a value here."""
    if isinstance(value, list):
        pairs = []
        for item in value:
            if not isinstance(item, str) or "=" not in item or item.startswith("="):
                # The item is not shown: it may hold a value.
                raise InvalidValue("a list of NAME=value (every project-wide variable needs a name and a value)")
            pairs.append(item.split("=", 1))
        return dict(pairs)
    if not isinstance(value, Mapping):
        raise InvalidValue("a mapping of NAME: value (or a list of NAME=value)", value)
    result = {}
    for name, item in value.items():
        if item is None:
            raise InvalidValue(f"a mapping of NAME: value; {name} has no value (a project-wide variable needs one)")
        result[_variable_name(name)] = _scalar(item, name)
    return result


# Airflow's TaskGroup ids (GROUP_KEY_REGEX, at most 200 characters), kept to ASCII as ecsflow's task ids are.
_GROUP_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def _group(value: Any) -> str:
    if not isinstance(value, str) or not _GROUP_ID.fullmatch(value):
        raise InvalidValue("an Airflow task group id (letters, digits, '_' and '-', at most 200)", value)
    return value


def _retries(value: Any) -> int:
    return whole(value)


def _duration(value: Any, *, positive: bool) -> float:
    """Seconds, as a number or a duration with units (`90`, `30s`, `5m`, `1h30m`)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidValue(_DURATION_FORMS, value)
    try:
        seconds = float(value) if isinstance(value, int | float) or _NUMBER.fullmatch(value) else parse_duration(value)
    except ValueError:
        raise InvalidValue(_DURATION_FORMS, value) from None
    if seconds != seconds:  # NaN
        raise InvalidValue(_DURATION_FORMS, value)
    if seconds < 0 or (positive and seconds <= 0):
        raise InvalidValue(f"a duration {'above' if positive else 'of at least'} 0 seconds", value)
    if seconds > _LONGEST:
        raise InvalidValue("a duration of at most 366 days (8784h)", value)
    return seconds


_DURATION_FORMS = "a duration like 30s, 5m or 2h (or a number of seconds)"
_NUMBER = re.compile(r"\s*\d+(\.\d*)?\s*")
_LONGEST = 366 * 86400  # longer is no Airflow task's timeout or retry delay (and timedelta has its limits)


def _retry_delay(value: Any) -> float:
    return _duration(value, positive=False)


def _execution_timeout(value: Any) -> float:
    return _duration(value, positive=True)


CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")  # the capacity providers a FARGATE task definition runs on


def _capacity_provider(value: Any) -> str:
    if value not in CAPACITY_PROVIDERS:
        raise InvalidValue(f"one of {', '.join(CAPACITY_PROVIDERS)}", value)
    return value


# What Airflow 2 accepts as an operator's pool (validate_key: KEY_REGEX, at most 250), kept to ASCII.
_POOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_POOL_NAME_RULE = "letters, digits, '_', '-' and '.', at most 250 characters"


def _pool(value: Any) -> str:
    if not isinstance(value, str) or not _POOL_NAME.fullmatch(value):
        raise InvalidValue(f"an Airflow pool name ({_POOL_NAME_RULE})", value)
    return value


def _pools(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise InvalidValue("a mapping of pool name: size, like {warehouse: 4}", value)
    result = {}
    for name, size in value.items():
        if not isinstance(name, str) or not _POOL_NAME.fullmatch(name):
            raise InvalidValue(f"a mapping whose keys are Airflow pool names ({_POOL_NAME_RULE})", name)
        if name == DEFAULT_POOL:
            raise InvalidValue(f"a mapping of ecsflow's own pools: {DEFAULT_POOL} is Airflow's, sized in Airflow "
                       f"(airflow pools set {DEFAULT_POOL} SLOTS ...), not in the pools file")
        try:
            slots = whole(size)
        except InvalidValue:
            slots = 0
        if slots < 1:
            raise InvalidValue(f"a mapping of pool name: size; the size of {name} must be a whole number of at "
                               "least 1", size)
        result[name] = slots
    return result


DEFAULT_POOL = "default_pool"  # Airflow's own pool: it exists already, and importing it would resize it


def _ephemeral_storage(value: Any) -> int:
    low, high = EPHEMERAL_STORAGE_GIB
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(f"a whole number of GiB from {low} to {high}", value)
    return value


KINDS = ("service", "job")  # x-ecsflow.kind (ecsflow/compose/kind.py: the rule when it is not written)


def _grace_period(value: Any) -> int:
    """x-ecsflow.service.health_check_grace_period: whole seconds, rounded up."""
    return math.ceil(_duration(value, positive=False) - 1e-9)


_SERVICE_PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "skip": flag,
    "family": text,
    "image": text,
    "cpu": whole,
    "memory": whole,
    "task_role": role,
    "execution_role": role,
    "secrets": _secrets,
    "environment_values": names,
    "secret_values": names,
    "runtime_env": _runtime_env,
    "pool": _pool,
    "pool_slots": _pool_slots,
    "group": _group,
    "retries": _retries,
    "retry_delay": _retry_delay,
    "execution_timeout": _execution_timeout,
    "capacity_provider": _capacity_provider,
    "spot_fallback": flag,
    "schedule": text,
    "ephemeral_storage": _ephemeral_storage,
    "tags": tags,
    "kind": one_of(KINDS),
    "log_retention": retention_days,
    "service": lambda value: parse_service_block(value, duration=_grace_period),
    "task": text,
    "essential": flag,
}
assert set(_SERVICE_PARSERS) == set(SERVICE_KEYS), "every ServiceExtension field needs a parser"

_PROJECT_PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "pools": _pools,
    "environment": _environment,
    "environment_values": names,
    "retries": _retries,
    "retry_delay": _retry_delay,
    "execution_timeout": _execution_timeout,
}
assert set(_PROJECT_PARSERS) == set(PROJECT_TYPED_KEYS)


def _suggestion(key: Any, valid: tuple[str, ...]) -> str:
    """The hint for a key that is not one of `valid`: the nearest one, if any, and all of them."""
    close = difflib.get_close_matches(str(key), valid, n=1)
    return (f"did you mean '{close[0]}'? " if close else "") + f"valid keys: {', '.join(valid)}"


def parse_service_extension(block: Any, *, service: str | None = None, positions: Positions | None = None,
                            interpolated: Mapping[str, Mapping[str, str]] | None = None) -> ServiceExtension:
    """A service's `x-ecsflow` block (None: not there). Errors name the service and the key, where it was written
    (``positions``: the service's); a value that interpolation made (``interpolated``: text -> the variables read
    for it) is named by its variables."""
    if block is None:
        return ServiceExtension()

    def error(message: str, key: str, hint: str | None = None) -> ComposeError:
        where = positions.of(key) if positions is not None else {}
        return ComposeError(message, **where, service=service, key=key, hint=hint)

    if not isinstance(block, Mapping):
        raise error("x-ecsflow must be a mapping", "x-ecsflow")
    values: dict[str, Any] = {}
    for key, value in block.items():
        if key not in _SERVICE_PARSERS:
            hint = _suggestion(key, SERVICE_KEYS)
            close = f"; {hint.split('? ')[0]}?" if hint.startswith("did you mean") else ""
            raise error(f"unknown x-ecsflow key '{key}'{close}", f"x-ecsflow.{key}", hint)
        try:
            values[key] = _SERVICE_PARSERS[key](value)
        except BlockError as bad:
            where = f"x-ecsflow.{key}.{bad.key}"
            if bad.refusal is None:
                hint = _suggestion(bad.key, SERVICE_BLOCK_KEYS)
                close = f"; {hint.split('? ')[0]}?" if hint.startswith("did you mean") else ""
                raise error(f"unknown x-ecsflow.{key} key '{bad.key}'{close}", where, hint) from None
            shown = bad.message(variables_in(value.get(bad.key), interpolated))
            raise error(f"{where} must be {shown}", where) from None
        except InvalidValue as bad:
            shown = bad.message(variables_in(value, interpolated))
            raise error(f"x-ecsflow.{key} must be {shown}", f"x-ecsflow.{key}") from None
    return ServiceExtension(**values)


def parse_project_extension(block: Any, file: str | None = None,
                            interpolated: Mapping[str, Mapping[str, str]] | None = None) -> ProjectExtension:
    """The top-level `x-ecsflow` block (None: not there): settings and PROJECT_KEYS only. ``interpolated`` as
    for `parse_service_extension`; what of it the block holds is kept for the settings' errors."""
    if block is None:
        return ProjectExtension()
    if not isinstance(block, Mapping):
        raise SettingsError(f"top-level x-ecsflow must be a mapping, not {describe(block)}", file=file)
    valid = SETTING_NAMES + PROJECT_KEYS + PROJECT_TYPED_KEYS
    typed: dict[str, Any] = {}
    for key, value in block.items():
        where = written_at(block, key, file)
        if key not in valid:
            raise SettingsError(f"unknown key '{key}' in the top-level x-ecsflow", **where, key=f"x-ecsflow.{key}",
                                hint=_suggestion(key, valid))
        if key in _PROJECT_PARSERS:
            try:
                typed[key] = _PROJECT_PARSERS[key](value)
            except InvalidValue as bad:
                shown = bad.message(variables_in(value, interpolated))
                raise SettingsError(f"top-level x-ecsflow.{key} must be {shown}", **where,
                                    key=f"x-ecsflow.{key}") from None
    # Positioned (where each was written), for the settings' errors.
    settings = PositionedMap({k: v for k, v in block.items() if k in SETTING_NAMES or k == "consul_prefix"})
    return ProjectExtension(settings=settings.copy_positions(block),
                            schedule=block.get("schedule"),
                            dag_id=block.get("dag_id"), interpolated={
                                text: interpolated[text] for text in strings_in(block) if text in interpolated
                            } if interpolated else {}, **typed)
