"""The types Docker Compose's schema demands of the service keys ecsflow reads.

Compose validates every file against the Compose Specification's JSON schema; ecsflow checks the keys it
uses, after interpolation, with messages in Compose's words (`services.web.command must be a string or a
list`), so a wrong type is one clear error rather than a crash further on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ecsflow.compose.yamlfile import Override, Reset
from ecsflow.errors import ComposeError

SERVICE_NAME = re.compile(r"^[a-zA-Z0-9._-]+$")

Scalar = str | int | float | bool


def _is_list_of(kinds: type | tuple[type, ...]) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, list) and all(isinstance(item, kinds) for item in value)


def _string_or_list(value: Any) -> bool:
    return isinstance(value, str) or _is_list_of(Scalar)(value)


def _mapping_or_list(value: Any) -> bool:
    return isinstance(value, Mapping) or _is_list_of(str)(value)


def _env_files(value: Any) -> bool:
    items = value if isinstance(value, list) else [value]
    return all(isinstance(item, str) or (isinstance(item, Mapping) and isinstance(item.get("path"), str))
               for item in items)


def _ports(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, str | int) or (isinstance(item, Mapping) and "target" in item) for item in value
    )


def _ulimits(value: Any) -> bool:
    return isinstance(value, Mapping) and all(
        _integer(item) or (isinstance(item, Mapping) and _integer(item.get("soft")) and _integer(item.get("hard")))
        for item in value.values()
    )


def _integer(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.strip().lstrip("-").isdigit()
    )


def _number_or_string(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _healthcheck(value: Any) -> str | None:
    if not isinstance(value, Mapping):
        return "must be a mapping"
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if key in value and value[key] is not None and not isinstance(value[key], str):
            return f"{key} must be a string (a duration such as 30s)"
    if "retries" in value and value["retries"] is not None and not _integer(value["retries"]):
        return "retries must be an integer"
    if "test" in value and value["test"] is not None and not _string_or_list(value["test"]):
        return "test must be a string or a list"
    return None


# key -> (check, what it must be)
_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "image": (lambda v: isinstance(v, str), "a string"),
    "command": (_string_or_list, "a string or a list"),
    "entrypoint": (_string_or_list, "a string or a list"),
    "environment": (_mapping_or_list, "a mapping or a list of KEY=VALUE strings"),
    "labels": (_mapping_or_list, "a mapping or a list of KEY=VALUE strings"),
    "env_file": (_env_files, "a path, or a list of paths or of mappings with a `path`"),
    "ports": (_ports, "a list of port specs or of mappings with a `target`"),
    "expose": (_is_list_of(str | int), "a list of ports"),
    "ulimits": (_ulimits, "a mapping of limits (a number, or `soft` and `hard` numbers)"),
    "depends_on": (lambda v: isinstance(v, Mapping) or _is_list_of(str)(v), "a list of services or a mapping"),
    "profiles": (_is_list_of(str), "a list of strings"),
    "deploy": (lambda v: isinstance(v, Mapping), "a mapping"),
    "logging": (lambda v: isinstance(v, Mapping), "a mapping"),
    "working_dir": (lambda v: isinstance(v, str), "a string"),
    "platform": (lambda v: isinstance(v, str), "a string"),
    "user": (lambda v: isinstance(v, str | int) and not isinstance(v, bool), "a string"),
    "stop_grace_period": (lambda v: isinstance(v, str), "a string (a duration such as 30s)"),
    "init": (lambda v: isinstance(v, bool | str), "a boolean"),
    "read_only": (lambda v: isinstance(v, bool | str), "a boolean"),
    "cpus": (_number_or_string, "a number"),
    "mem_limit": (_number_or_string, "a size such as 512m"),
    "mem_reservation": (_number_or_string, "a size such as 512m"),
    "x-ecsflow": (lambda v: isinstance(v, Mapping), "a mapping"),
}


def check_service(
    name: str, service: Mapping[str, Any], file: str | None, line_of: Callable[[str], int | None]
) -> None:
    """Raise a ComposeError for the first key of `service` whose value has a type Compose rejects."""
    if not SERVICE_NAME.match(name):
        raise ComposeError(f"invalid service name '{name}': use letters, digits, '.', '_' and '-'", file=file,
                           service=name)
    for key, value in service.items():
        if isinstance(value, Override):
            value = value.value
        if value is None or isinstance(value, Reset) or (key not in _CHECKS and key != "healthcheck"):
            continue
        if key == "healthcheck":
            problem = _healthcheck(value)
            message = f"services.{name}.healthcheck {problem}" if problem else None
        else:
            check, expected = _CHECKS[key]
            message = None if check(value) else f"services.{name}.{key} must be {expected}"
        if message:
            raise ComposeError(message, file=file, line=line_of(key), service=name, key=key)
