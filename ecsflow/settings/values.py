"""How each setting is read from any source: a typed value (YAML, flags) or a string (Consul, environment).

One parser per setting (`PARSERS`); each returns the value in its canonical form or raises `Bad` with what is
wrong, and the resolver (`ecsflow.settings`) adds which source it came from.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any

import yaml


class Bad(ValueError):
    """A value a parser rejects; the resolver adds which source it came from."""


_TRUE = {"true", "1", "yes", "enabled"}
_FALSE = {"false", "0", "no", "disabled"}
_LAUNCH_TYPES = ("FARGATE", "EC2", "EXTERNAL")  # ECS's LaunchType enum
# What ecsflow's task definitions are registered for (requiresCompatibilities), so the only launch type they run on.
_SUPPORTED_LAUNCH_TYPE = "FARGATE"
_PATTERN_FIELDS = ("project", "service")


def is_unset(value: Any) -> bool:
    # One rule for every source: null, "", [] and {} mean "not given here", so typer's empty repeatable
    # flags and a Terraform output published as "" fall through to the layer below.
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | Mapping) and len(value) == 0


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Bad(f"expected a string, got {describe(value)}")
    return str(value).strip()


def describe(value: Any) -> str:
    return {list: "a list", tuple: "a list", dict: "a mapping", bool: "a boolean"}.get(
        type(value), f"{type(value).__name__} {value!r}"
    )


def word(value: Any) -> str:
    text = _text(value)
    if re.search(r"\s", text):
        raise Bad(f"{text!r} contains whitespace")
    return text


def _cluster(value: Any) -> str:
    text = word(value)
    if not (text.startswith("arn:") or re.fullmatch(r"[A-Za-z0-9_-]{1,255}", text)):
        raise Bad(f"{text!r} is not a cluster name (letters, digits, - and _) or ARN")
    return text


def _launch_type(value: Any) -> str:
    text = _text(value).upper()
    if text not in _LAUNCH_TYPES:
        raise Bad(f"{value!r} is not one of {', '.join(_LAUNCH_TYPES)}")
    if text != _SUPPORTED_LAUNCH_TYPE:
        raise Bad(f"{text} is not supported: ecsflow registers Fargate task definitions (requiresCompatibilities "
                   "FARGATE, networkMode awsvpc), which run on Fargate only; leave launch_type at FARGATE (for "
                   "cheaper capacity that may be interrupted, set x-ecsflow.capacity_provider: FARGATE_SPOT on a "
                   "service)")
    return text


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Bad(f"{value!r} is not a boolean (true/false, 1/0, yes/no, ENABLED/DISABLED)")


def _structured(text: str, kind: type, what: str) -> Any:
    """A list or map written as JSON or YAML in a string (YAML is a superset of JSON: one parser for both)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise Bad(f"{text!r} is not a valid JSON/YAML {what}") from err
    if not isinstance(value, kind):
        raise Bad(f"{text!r} is not a {what}")
    return value


def _items(value: Any) -> list[str]:
    """A YAML list, a JSON (or YAML) list in a string, or a comma-separated string -> stripped items."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") or re.match(r"-(\s|$)", text):
            value = _structured(text, list, "list")
        else:
            value = [text]
    if not isinstance(value, list | tuple):
        raise Bad(f"expected a list or a comma-separated string, got {describe(value)}")
    out: list[str] = []
    for item in value:
        # Items are split on commas too, so `--subnet a,b --subnet c` and ["a,b"] mean what they say.
        out.extend(part.strip() for part in _text(item).split(",") if part.strip())
    return list(dict.fromkeys(out))  # keep order, drop repeats (ECS rejects duplicate subnets)


def _ids(prefix: str, what: str) -> Callable[[Any], tuple[str, ...]]:
    def parse(value: Any) -> tuple[str, ...]:
        items = _items(value)
        for item in items:
            # Catches the classic swap of subnets and security groups, and stray spaces or quotes.
            if not re.fullmatch(rf"{prefix}-[A-Za-z0-9]+", item):
                raise Bad(f"{item!r} is not a {what} ID ({prefix}-...)")
        return tuple(items)

    return parse


def _region(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", text):
        raise Bad(f"{text!r} is not an AWS region (like eu-west-1)")
    return text


def _account(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"\d{12}", text):
        hint = " (quote it in YAML so leading zeros are kept)" if isinstance(value, int) else ""
        raise Bad(f"{text!r} is not a 12-digit AWS account ID{hint}")
    return text


def _registry(value: Any) -> str:
    text = word(value)
    if "://" in text:
        raise Bad(f"{text!r} has a scheme; give the registry host (and path), like ghcr.io/org")
    return text.rstrip("/")


def _pattern(valid: str, what: str, need_service: bool) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value)
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as err:
            raise Bad(f"{text!r} is not a valid pattern: {err}") from err
        unknown = names - set(_PATTERN_FIELDS)
        if unknown:
            raise Bad(
                f"{text!r} uses {{{sorted(unknown)[0]}}}; patterns may use {{project}} and {{service}}"
            )
        try:
            sample = text.format(project="project", service="service")
        except (ValueError, IndexError, AttributeError) as err:  # `{}`, `{service.x}`, `{service:>9z}`
            raise Bad(f"{text!r} is not a valid pattern: {err}") from err
        if need_service and "service" not in names:
            raise Bad(f"{text!r} must contain {{service}}, or every service would share one {what}")
        if not re.fullmatch(valid, sample):
            raise Bad(f"{text!r} gives {sample!r}, which is not a valid {what}")
        return text

    return parse


def _tags(value: Any) -> dict[str, str]:
    """A mapping, a JSON/YAML map in a string, or `k=v,k2=v2` (string, or a list of `k=v` items)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") or ("=" not in text and ":" in text):
            value = _structured(text, Mapping, "map")
        else:
            value = [text]
    if isinstance(value, list | tuple):
        pairs: dict[str, Any] = {}
        for item in value:
            for part in (p.strip() for p in _text(item).split(",")):
                if part:
                    if "=" not in part:
                        raise Bad(f"{part!r} is not key=value")
                    key, _, val = part.partition("=")
                    pairs[key.strip()] = val.strip()
        value = pairs
    if not isinstance(value, Mapping):
        raise Bad(f"expected a map or k=v,k2=v2, got {describe(value)}")
    tags: dict[str, str] = {}
    for key, val in value.items():
        key = str(key).strip()
        if not key or key.lower().startswith("aws:"):
            raise Bad(f"tag key {key!r} is empty or uses the reserved aws: prefix")
        if isinstance(val, Mapping | list | tuple):
            raise Bad(f"tag {key!r} has {describe(val)}; tag values are strings")
        tags[key] = "" if val is None else str(val).lower() if isinstance(val, bool) else str(val)
    return tags


PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "cluster": _cluster,
    "execution_role": word,
    "task_role": word,
    "launch_type": _launch_type,
    "subnets": _ids("subnet", "subnet"),
    "security_groups": _ids("sg", "security group"),
    "assign_public_ip": _bool,
    "region": _region,
    "account": _account,
    "registry": _registry,
    "family": _pattern(r"[A-Za-z0-9_-]{1,255}", "task definition family", need_service=True),
    "log_group": _pattern(r"[.\-_/#A-Za-z0-9]{1,512}", "CloudWatch log group name", need_service=False),
    "tags": _tags,
}
