"""How each setting is read from any source: a typed value (YAML, flags) or a string (Consul, environment).

One parser per setting (`PARSERS`), built on the rules shared with the x-ecsflow parser (`ecsflow.validators`);
each returns the value in its canonical form or raises `InvalidValue` with what is wrong, and the resolver
(`ecsflow.settings`) adds which source it came from.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping
from typing import Any

import yaml

from ecsflow.retention import retention_days
from ecsflow.validators import InvalidValue, boolean, one_word, role, setting_text, tags

_LAUNCH_TYPES = ("FARGATE", "EC2", "EXTERNAL")  # ECS's LaunchType enum
# What ecsflow's task definitions are registered for (requiresCompatibilities), so the only launch type they run on.
_SUPPORTED_LAUNCH_TYPE = "FARGATE"
_PATTERN_FIELDS = ("project", "service")


def _cluster(value: Any) -> str:
    text = one_word(value)
    if not (text.startswith("arn:") or re.fullmatch(r"[A-Za-z0-9_-]{1,255}", text)):
        raise InvalidValue("a cluster name (letters, digits, - and _) or ARN", text)
    return text


def _launch_type(value: Any) -> str:
    text = setting_text(value).upper()
    if text not in _LAUNCH_TYPES:
        raise InvalidValue(f"one of {', '.join(_LAUNCH_TYPES)}", value)
    if text != _SUPPORTED_LAUNCH_TYPE:
        raise InvalidValue(f"{_SUPPORTED_LAUNCH_TYPE}: ecsflow registers Fargate task definitions "
                           "(requiresCompatibilities FARGATE, networkMode awsvpc), which run on Fargate only; for "
                           "cheaper capacity that may be interrupted, set x-ecsflow.capacity_provider: FARGATE_SPOT "
                           "on a service", text)
    return text


def _structured(text: str, kind: type, what: str) -> Any:
    """A list or map written as JSON or YAML in a string (YAML is a superset of JSON: one parser for both)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise InvalidValue(f"a valid JSON/YAML {what}", text) from None
    if not isinstance(value, kind):
        raise InvalidValue(f"a JSON/YAML {what}", text)
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
        raise InvalidValue("a list or a comma-separated string", value)
    out: list[str] = []
    for item in value:
        # Items are split on commas too, so `--subnet a,b --subnet c` and ["a,b"] mean what they say.
        out.extend(part.strip() for part in setting_text(item).split(",") if part.strip())
    return list(dict.fromkeys(out))  # keep order, drop repeats (ECS rejects duplicate subnets)


def _ids(prefix: str, what: str) -> Callable[[Any], tuple[str, ...]]:
    def parse(value: Any) -> tuple[str, ...]:
        items = _items(value)
        for item in items:
            # Catches the classic swap of subnets and security groups, and stray spaces or quotes.
            if not re.fullmatch(rf"{prefix}-[A-Za-z0-9]+", item):
                raise InvalidValue(f"{what} IDs ({prefix}-...)", item)
        return tuple(items)

    return parse


def _region(value: Any) -> str:
    text = setting_text(value)
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", text):
        raise InvalidValue("an AWS region (like eu-west-1)", text)
    return text


def _account(value: Any) -> str:
    text = setting_text(value)
    if not re.fullmatch(r"\d{12}", text):
        quote = " (quote it in YAML so leading zeros are kept)" if isinstance(value, int) else ""
        raise InvalidValue(f"a 12-digit AWS account ID{quote}", text)
    return text


def _registry(value: Any) -> str:
    text = one_word(value)
    if "://" in text:
        raise InvalidValue("a registry host (and path) without a scheme, like ghcr.io/org", text)
    return text.rstrip("/")


# Docker's grammar for a tag (distribution/reference): a word character, then up to 127 of them, '.' and '-'.
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def image_tag(value: Any) -> str:
    text = setting_text(value)
    if not IMAGE_TAG.fullmatch(text):
        raise InvalidValue("an image tag: letters, digits, '_', '.' and '-', not starting with '.' or '-', at most "
                           "128", text)
    return text


def _pattern(valid: str, what: str, need_service: bool) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = setting_text(value)
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as err:
            raise InvalidValue(f"a valid pattern ({err})", text) from None
        unknown = names - set(_PATTERN_FIELDS)
        if unknown:
            raise InvalidValue(f"a pattern that uses only {{project}} and {{service}} (this one uses "
                               f"{{{sorted(unknown)[0]}}})", text)
        try:
            sample = text.format(project="project", service="service")
        except (ValueError, IndexError, AttributeError) as err:  # `{}`, `{service.x}`, `{service:>9z}`
            raise InvalidValue(f"a valid pattern ({err})", text) from None
        if need_service and "service" not in names:
            raise InvalidValue(f"a pattern that contains {{service}}, or every service would share one {what}",
                               text)
        if not re.fullmatch(valid, sample):
            raise InvalidValue(f"a pattern that gives a valid {what} (this one gives {sample!r})", text)
        return text

    return parse


def _tags(value: Any) -> dict[str, str]:
    """A mapping, a JSON/YAML map in a string, or `k=v,k2=v2` (string, or a list of `k=v` items); then ECS's
    rules for tags, the same as for a service's x-ecsflow.tags."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") or ("=" not in text and ":" in text):
            value = _structured(text, Mapping, "map")
        else:
            value = [text]
    if isinstance(value, list | tuple):
        pairs: dict[str, Any] = {}
        for item in value:
            for part in (p.strip() for p in setting_text(item).split(",")):
                if part:
                    if "=" not in part:
                        raise InvalidValue("tags written key=value", part)
                    key, _, val = part.partition("=")
                    pairs[key.strip()] = val.strip()
        value = pairs
    if not isinstance(value, Mapping):
        raise InvalidValue("a map or k=v,k2=v2", value)
    return tags(value)


# A Cloud Map namespace's ARN, or its name (Cloud Map's rule for HTTP namespace names: 1 to 1024 printable
# ASCII characters, no spaces).
_NAMESPACE_ARN = re.compile(r"arn:[a-z-]+:servicediscovery:[a-z0-9-]+:\d{12}:namespace/ns-[a-z0-9]+")


def _namespace(value: Any) -> str:
    text = one_word(value)
    if not (_NAMESPACE_ARN.fullmatch(text) or (not text.startswith("arn:") and re.fullmatch(r"[!-~]{1,1024}", text))):
        raise InvalidValue("a Cloud Map namespace name or ARN (arn:aws:servicediscovery:REGION:ACCOUNT:namespace/"
                           "ns-...)", text)
    return text


PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "cluster": _cluster,
    "execution_role": role,
    "task_role": role,
    "launch_type": _launch_type,
    "subnets": _ids("subnet", "subnet"),
    "security_groups": _ids("sg", "security group"),
    "assign_public_ip": boolean,
    "region": _region,
    "account": _account,
    "registry": _registry,
    "image_tag": image_tag,
    "family": _pattern(r"[A-Za-z0-9_-]{1,255}", "task definition family", need_service=True),
    "log_group": _pattern(r"[.\-_/#A-Za-z0-9]{1,512}", "CloudWatch log group name", need_service=False),
    "tags": _tags,
    "service_name": _pattern(r"[A-Za-z0-9_-]{1,255}", "ECS service name", need_service=True),
    "namespace": _namespace,
    "log_retention": retention_days,
}
