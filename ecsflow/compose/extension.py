"""The `x-ecsflow` blocks of a compose file, checked once at load into small frozen dataclasses.

Per service (`services.NAME.x-ecsflow`): how the service becomes a task definition and an Airflow task.
At the top level (`x-ecsflow`): the settings (resolved later with their other sources by
`ecsflow.settings`), the project's own keys (consul_prefix, schedule, dag_id), the Airflow pools' sizes,
the project-wide environment and the DAG-wide Airflow defaults (retries, retry_delay, execution_timeout).

This module checks shape only (known keys, types, ranges that need no other value). Rules that need more
(a Fargate size, a cron expression, a secret reference's ARN) live with the code that applies them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ecsflow.compose.scalars import go_text
from ecsflow.errors import ComposeError, SettingsError
from ecsflow.settings import SETTING_NAMES

EPHEMERAL_STORAGE_GIB = (21, 200)  # ECS's EphemeralStorage.sizeInGiB


@dataclass(frozen=True)
class ServiceExtension:
    """A service's `x-ecsflow` block. Empty collections and None mean "not set"."""

    skip: bool = False  # leave the service out of ECS and Airflow (a local-only postgres, localstack, ...)
    family: str | None = None
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
    schedule: str | None = None
    ephemeral_storage: int | None = None  # GiB
    tags: Mapping[str, str] = field(default_factory=dict)


SERVICE_KEYS: tuple[str, ...] = tuple(f.name for f in fields(ServiceExtension))


@dataclass(frozen=True)
class ProjectExtension:
    """The top-level `x-ecsflow` block. `settings` holds the setting values as written (setting name ->
    value); `ecsflow.settings` parses them together with the other sources, so errors name their source."""

    settings: Mapping[str, Any] = field(default_factory=dict)
    # As written: each is checked where its rule lives, with the flag that may override it (the settings
    # resolver for consul_prefix, gen-dag for the schedule and the DAG id).
    consul_prefix: Any = None
    schedule: Any = None
    dag_id: Any = None
    pools: Mapping[str, int] = field(default_factory=dict)  # Airflow pool name -> size (slots)
    environment: Mapping[str, str] = field(default_factory=dict)  # every service's, under its own values
    environment_values: tuple[str, ...] = ()  # every service's, from Consul PREFIX/values/NAME
    retries: int | None = None  # the DAG's tasks' defaults, under a service's own
    retry_delay: float | None = None  # seconds
    execution_timeout: float | None = None  # seconds


PROJECT_KEYS: tuple[str, ...] = ("consul_prefix", "schedule", "dag_id")
# Checked here, at load (see _PROJECT_PARSERS).
PROJECT_TYPED_KEYS: tuple[str, ...] = ("pools", "environment", "environment_values", "retries", "retry_delay",
                                       "execution_timeout")


class _Bad(ValueError):
    """A value of the wrong shape: the message says what was expected."""


def _describe(value: Any) -> str:
    return {list: "a list", tuple: "a list", dict: "a mapping", bool: "a boolean"}.get(type(value), repr(value))


def _whole(value: Any) -> int:
    """A whole number, written as one or as a string of digits (YAML `cpu: "1024"`)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise _Bad(f"a whole number, not {_describe(value)}")
    return int(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"true or false, not {_describe(value)}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or value == "":
        raise _Bad(f"a non-empty string, not {_describe(value)}")
    return value


def _names(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Bad(f"a list of variable names, not {_describe(value)}")
    return tuple(dict.fromkeys(value))


def _secrets(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        # The value is not shown: it may be the secret itself.
        raise _Bad("a mapping of NAME: reference (an ARN, ssm:/path or secretsmanager:name)")
    return {str(k): v for k, v in value.items()}


def _tags(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(v, str | int | float) and not isinstance(v, bool) for v in value.values()
    ):
        raise _Bad(f"a mapping of key: value, not {_describe(value)}")
    return {str(k): str(v) for k, v in value.items()}


def _pool_slots(value: Any) -> int:
    slots = _whole(value)
    if slots < 1:
        raise _Bad(f"a whole number of at least 1, not {slots}")
    return slots


def _runtime_env(value: Any) -> dict[str, str]:
    """`[NAME, ...]` (no defaults) or `{NAME: default}`; a default is text (numbers and booleans as Compose
    writes them in `environment`), null means none ("")."""
    if isinstance(value, list):
        return dict.fromkeys(_names(value), "")
    if not isinstance(value, Mapping):
        raise _Bad(f"a list of variable names or a mapping of NAME: default, not {_describe(value)}")
    return {_variable_name(name): "" if default is None else _scalar(default, f"the default of {name}")
            for name, default in value.items()}


def _variable_name(name: Any) -> str:
    if not isinstance(name, str) or not name or "=" in name:
        raise _Bad(f"a mapping whose keys are variable names, not {_describe(name)}")
    return name


def _scalar(value: Any, what: str) -> str:
    """Text as Compose writes an `environment` value: strings as they are, numbers and booleans as text."""
    if isinstance(value, str | int | float):  # bool is an int
        return go_text(value)
    raise _Bad(f"text, a number or a boolean for {what}, not {_describe(value)}")


def _environment(value: Any) -> dict[str, str]:
    """Compose's two forms: `{NAME: value}` or `[NAME=value, ...]`; every name needs a value here."""
    if isinstance(value, list):
        pairs = []
        for item in value:
            if not isinstance(item, str) or "=" not in item or item.startswith("="):
                # The item is not shown: it may hold a value.
                raise _Bad("a list of NAME=value (every project-wide variable needs a name and a value)")
            pairs.append(item.split("=", 1))
        return dict(pairs)
    if not isinstance(value, Mapping):
        raise _Bad(f"a mapping of NAME: value (or a list of NAME=value), not {_describe(value)}")
    result = {}
    for name, item in value.items():
        if item is None:
            raise _Bad(f"a mapping of NAME: value; {name} has no value (a project-wide variable needs one)")
        result[_variable_name(name)] = _scalar(item, name)
    return result


# Airflow's TaskGroup ids (GROUP_KEY_REGEX, at most 200 characters), kept to ASCII as ecsflow's task ids are.
_GROUP_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")


def _group(value: Any) -> str:
    if not isinstance(value, str) or not _GROUP_ID.fullmatch(value):
        raise _Bad(f"an Airflow task group id (letters, digits, '_' and '-', at most 200), not {_describe(value)}")
    return value


def _retries(value: Any) -> int:
    return _whole(value)


def _duration(value: Any, *, positive: bool) -> float:
    """Seconds, as a number or a duration with units (`90`, `30s`, `5m`, `1h30m`)."""
    from ecsflow.compose.model import parse_duration  # model imports this module

    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"a duration like 30s, 5m or 2h (or a number of seconds), not {_describe(value)}")
    try:
        seconds = float(value) if isinstance(value, int | float) or _NUMBER.fullmatch(value) else parse_duration(value)
    except ValueError:
        raise _Bad(f"a duration like 30s, 5m or 2h (or a number of seconds), not {value!r}") from None
    if seconds != seconds:  # NaN
        raise _Bad("a duration like 30s, 5m or 2h (or a number of seconds), not NaN")
    if seconds < 0 or (positive and seconds <= 0):
        raise _Bad(f"a duration {'above' if positive else 'of at least'} 0 seconds, not {value!r}")
    if seconds > _LONGEST:
        raise _Bad(f"a duration of at most 366 days (8784h), not {value!r}")
    return seconds


_NUMBER = re.compile(r"\s*\d+(\.\d*)?\s*")
_LONGEST = 366 * 86400  # longer is no Airflow task's timeout or retry delay (and timedelta has its limits)


def _retry_delay(value: Any) -> float:
    return _duration(value, positive=False)


def _execution_timeout(value: Any) -> float:
    return _duration(value, positive=True)


CAPACITY_PROVIDERS = ("FARGATE", "FARGATE_SPOT")  # the capacity providers a FARGATE task definition runs on


def _capacity_provider(value: Any) -> str:
    if value not in CAPACITY_PROVIDERS:
        raise _Bad(f"one of {', '.join(CAPACITY_PROVIDERS)}, not {_describe(value)}")
    return value


# What Airflow 2 accepts as an operator's pool (validate_key: KEY_REGEX, at most 250), kept to ASCII.
_POOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,250}")
_POOL_NAME_RULE = "letters, digits, '_', '-' and '.', at most 250 characters"


def _pool(value: Any) -> str:
    if not isinstance(value, str) or not _POOL_NAME.fullmatch(value):
        raise _Bad(f"an Airflow pool name ({_POOL_NAME_RULE}), not {_describe(value)}")
    return value


def _pools(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise _Bad(f"a mapping of pool name: size, like {{warehouse: 4}}, not {_describe(value)}")
    result = {}
    for name, size in value.items():
        if not isinstance(name, str) or not _POOL_NAME.fullmatch(name):
            raise _Bad(f"a mapping whose keys are Airflow pool names ({_POOL_NAME_RULE}), not {_describe(name)}")
        if name == DEFAULT_POOL:
            raise _Bad(f"a mapping of ecsflow's own pools: {DEFAULT_POOL} is Airflow's, sized in Airflow "
                       f"(airflow pools set {DEFAULT_POOL} SLOTS ...), not in the pools file")
        try:
            slots = _whole(size)
        except _Bad:
            slots = 0
        if slots < 1:
            raise _Bad(f"a mapping of pool name: size; the size of {name} must be a whole number of at least 1, "
                       f"not {_describe(size)}")
        result[name] = slots
    return result


DEFAULT_POOL = "default_pool"  # Airflow's own pool: it exists already, and importing it would resize it


def _ephemeral_storage(value: Any) -> int:
    low, high = EPHEMERAL_STORAGE_GIB
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Bad(f"a whole number of GiB from {low} to {high}, not {_describe(value)}")
    return value


_SERVICE_PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "skip": _flag,
    "family": _text,
    "cpu": _whole,
    "memory": _whole,
    "task_role": _text,
    "execution_role": _text,
    "secrets": _secrets,
    "environment_values": _names,
    "secret_values": _names,
    "runtime_env": _runtime_env,
    "pool": _pool,
    "pool_slots": _pool_slots,
    "group": _group,
    "retries": _retries,
    "retry_delay": _retry_delay,
    "execution_timeout": _execution_timeout,
    "capacity_provider": _capacity_provider,
    "schedule": _text,
    "ephemeral_storage": _ephemeral_storage,
    "tags": _tags,
}
assert set(_SERVICE_PARSERS) == set(SERVICE_KEYS), "every ServiceExtension field needs a parser"

_PROJECT_PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "pools": _pools,
    "environment": _environment,
    "environment_values": _names,
    "retries": _retries,
    "retry_delay": _retry_delay,
    "execution_timeout": _execution_timeout,
}
assert set(_PROJECT_PARSERS) == set(PROJECT_TYPED_KEYS)


def _suggestion(key: Any, valid: tuple[str, ...]) -> str:
    """The hint for a key that is not one of `valid`: the nearest one, if any, and all of them."""
    close = difflib.get_close_matches(str(key), valid, n=1)
    return (f"did you mean '{close[0]}'? " if close else "") + f"valid keys: {', '.join(valid)}"


def parse_service_extension(block: Any, *, service: str | None = None, file: str | None = None,
                            line: int | None = None) -> ServiceExtension:
    """A service's `x-ecsflow` block (None: not there). Errors name the service and the key."""
    if block is None:
        return ServiceExtension()

    def error(message: str, key: str, hint: str | None = None) -> ComposeError:
        return ComposeError(message, file=file, line=line, service=service, key=key, hint=hint)

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
        except _Bad as bad:
            raise error(f"x-ecsflow.{key} must be {bad}", f"x-ecsflow.{key}") from None
    return ServiceExtension(**values)


def parse_project_extension(block: Any, file: str | None = None) -> ProjectExtension:
    """The top-level `x-ecsflow` block (None: not there): settings and PROJECT_KEYS only."""
    if block is None:
        return ProjectExtension()
    if not isinstance(block, Mapping):
        raise SettingsError(f"top-level x-ecsflow must be a mapping, not {_describe(block)}", file=file)
    valid = SETTING_NAMES + PROJECT_KEYS + PROJECT_TYPED_KEYS
    typed: dict[str, Any] = {}
    for key, value in block.items():
        if key not in valid:
            raise SettingsError(f"unknown key '{key}' in the top-level x-ecsflow", file=file, key=f"x-ecsflow.{key}",
                                hint=_suggestion(key, valid))
        if key in _PROJECT_PARSERS:
            try:
                typed[key] = _PROJECT_PARSERS[key](value)
            except _Bad as bad:
                raise SettingsError(f"top-level x-ecsflow.{key} must be {bad}", file=file,
                                    key=f"x-ecsflow.{key}") from None
    return ProjectExtension(settings={k: v for k, v in block.items() if k in SETTING_NAMES},
                            consul_prefix=block.get("consul_prefix"), schedule=block.get("schedule"),
                            dag_id=block.get("dag_id"), **typed)
