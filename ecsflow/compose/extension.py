"""The `x-ecsflow` blocks of a compose file, checked once at load into small frozen dataclasses.

Per service (`services.NAME.x-ecsflow`): how the service becomes a task definition and an Airflow task.
At the top level (`x-ecsflow`): the settings (resolved later with their other sources by
`ecsflow.settings`) and the project's own keys (consul_prefix, schedule, dag_id).

This module checks shape only (known keys, types, ranges that need no other value). Rules that need more
(a Fargate size, a cron expression, a secret reference's ARN) live with the code that applies them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

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
    runtime_env: tuple[str, ...] = ()  # names given when the task runs (DAG params, `run -e`)
    pool: str | None = None
    pool_slots: int | None = None
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


PROJECT_KEYS: tuple[str, ...] = ("consul_prefix", "schedule", "dag_id")


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
    "runtime_env": _names,
    "pool": _text,
    "pool_slots": _pool_slots,
    "schedule": _text,
    "ephemeral_storage": _ephemeral_storage,
    "tags": _tags,
}
assert set(_SERVICE_PARSERS) == set(SERVICE_KEYS), "every ServiceExtension field needs a parser"


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
    valid = SETTING_NAMES + PROJECT_KEYS
    for key in block:
        if key not in valid:
            raise SettingsError(f"unknown key '{key}' in the top-level x-ecsflow", file=file, key=f"x-ecsflow.{key}",
                                hint=_suggestion(key, valid))
    return ProjectExtension(settings={k: v for k, v in block.items() if k in SETTING_NAMES},
                            consul_prefix=block.get("consul_prefix"), schedule=block.get("schedule"),
                            dag_id=block.get("dag_id"))
