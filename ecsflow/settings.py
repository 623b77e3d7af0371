"""Platform settings (cluster, roles, network, registry, ...) resolved from one precedence chain.

Precedence, lowest first: built-in defaults < Consul KV < top-level `x-ecsflow` in the compose file
< ECSFLOW_* environment variables < command-line flags. Every resolved value remembers its origin.

This module is pure: it never talks to Consul itself. `ecsflow.operations` finds the prefix
(`consul_prefix_of`), has `ecsflow.consul` read it, and hands the raw keys (relative to the prefix) to
`resolve_settings`.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import yaml

from ecsflow.errors import SettingsError

if TYPE_CHECKING:  # compose.extension imports SETTING_NAMES from here
    from ecsflow.compose.extension import ProjectExtension


@dataclass(frozen=True)
class Settings:
    cluster: str = "default"
    execution_role: str | None = None
    task_role: str | None = None
    launch_type: str = "FARGATE"
    subnets: tuple[str, ...] = ()
    security_groups: tuple[str, ...] = ()
    assign_public_ip: bool = False
    region: str | None = None
    account: str | None = None
    registry: str | None = None
    family: str = "{project}-{service}"
    log_group: str = "/ecs/{project}/{service}"
    tags: Mapping[str, str] = field(default_factory=dict)


SETTING_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Settings))
# Flags whose name is not `--` + the setting name with dashes (they are repeatable, one item each).
FLAG_NAMES: Mapping[str, str] = {
    "subnets": "--subnet",
    "security_groups": "--security-group",
    "tags": "--tag",
}
ENV_PREFIX = "ECSFLOW_"


@dataclass(frozen=True)
class ResolvedSettings:
    """The settings, where each came from, and the per-job values/secret references found in Consul."""

    settings: Settings
    # setting name -> "default", "consul:P/cluster", "compose:FILE", "env:ECSFLOW_X" or "flag:--x"
    origins: Mapping[str, str]
    values: Mapping[str, str] = field(default_factory=dict)  # Consul PREFIX/values/NAME
    secrets: Mapping[str, str] = field(default_factory=dict)  # Consul PREFIX/secrets/NAME: references only
    consul_prefix: str | None = None
    consul_prefix_origin: str = "default"
    # Things worth telling the user that are not errors (e.g. a Consul key that is not a setting).
    warnings: tuple[str, ...] = ()


# --- parsing: every source may give a typed value (YAML, flags) or a string (Consul, environment) ---


class _Bad(ValueError):
    """A value a parser rejects; the resolver adds which source it came from."""


_TRUE = {"true", "1", "yes", "enabled"}
_FALSE = {"false", "0", "no", "disabled"}
_LAUNCH_TYPES = ("FARGATE", "EC2", "EXTERNAL")  # ECS's LaunchType enum
# What ecsflow's task definitions are registered for (requiresCompatibilities), so the only launch type they run on.
_SUPPORTED_LAUNCH_TYPE = "FARGATE"
_PATTERN_FIELDS = ("project", "service")


def _is_unset(value: Any) -> bool:
    # One rule for every source: null, "", [] and {} mean "not given here", so typer's empty repeatable
    # flags and a Terraform output published as "" fall through to the layer below.
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | Mapping) and len(value) == 0


def _text(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(f"expected a string, got {_describe(value)}")
    return str(value).strip()


def _describe(value: Any) -> str:
    return {list: "a list", tuple: "a list", dict: "a mapping", bool: "a boolean"}.get(
        type(value), f"{type(value).__name__} {value!r}"
    )


def _word(value: Any) -> str:
    text = _text(value)
    if re.search(r"\s", text):
        raise _Bad(f"{text!r} contains whitespace")
    return text


def _cluster(value: Any) -> str:
    text = _word(value)
    if not (text.startswith("arn:") or re.fullmatch(r"[A-Za-z0-9_-]{1,255}", text)):
        raise _Bad(f"{text!r} is not a cluster name (letters, digits, - and _) or ARN")
    return text


def _launch_type(value: Any) -> str:
    text = _text(value).upper()
    if text not in _LAUNCH_TYPES:
        raise _Bad(f"{value!r} is not one of {', '.join(_LAUNCH_TYPES)}")
    if text != _SUPPORTED_LAUNCH_TYPE:
        raise _Bad(f"{text} is not supported: ecsflow registers Fargate task definitions (requiresCompatibilities "
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
    raise _Bad(f"{value!r} is not a boolean (true/false, 1/0, yes/no, ENABLED/DISABLED)")


def _structured(text: str, kind: type, what: str) -> Any:
    """A list or map written as JSON or YAML in a string (YAML is a superset of JSON: one parser for both)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise _Bad(f"{text!r} is not a valid JSON/YAML {what}") from err
    if not isinstance(value, kind):
        raise _Bad(f"{text!r} is not a {what}")
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
        raise _Bad(f"expected a list or a comma-separated string, got {_describe(value)}")
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
                raise _Bad(f"{item!r} is not a {what} ID ({prefix}-...)")
        return tuple(items)

    return parse


def _region(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d+", text):
        raise _Bad(f"{text!r} is not an AWS region (like eu-west-1)")
    return text


def _account(value: Any) -> str:
    text = _text(value)
    if not re.fullmatch(r"\d{12}", text):
        hint = " (quote it in YAML so leading zeros are kept)" if isinstance(value, int) else ""
        raise _Bad(f"{text!r} is not a 12-digit AWS account ID{hint}")
    return text


def _registry(value: Any) -> str:
    text = _word(value)
    if "://" in text:
        raise _Bad(f"{text!r} has a scheme; give the registry host (and path), like ghcr.io/org")
    return text.rstrip("/")


def _pattern(valid: str, what: str, need_service: bool) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = _text(value)
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as err:
            raise _Bad(f"{text!r} is not a valid pattern: {err}") from err
        unknown = names - set(_PATTERN_FIELDS)
        if unknown:
            raise _Bad(
                f"{text!r} uses {{{sorted(unknown)[0]}}}; patterns may use {{project}} and {{service}}"
            )
        try:
            sample = text.format(project="project", service="service")
        except (ValueError, IndexError, AttributeError) as err:  # `{}`, `{service.x}`, `{service:>9z}`
            raise _Bad(f"{text!r} is not a valid pattern: {err}") from err
        if need_service and "service" not in names:
            raise _Bad(f"{text!r} must contain {{service}}, or every service would share one {what}")
        if not re.fullmatch(valid, sample):
            raise _Bad(f"{text!r} gives {sample!r}, which is not a valid {what}")
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
                        raise _Bad(f"{part!r} is not key=value")
                    key, _, val = part.partition("=")
                    pairs[key.strip()] = val.strip()
        value = pairs
    if not isinstance(value, Mapping):
        raise _Bad(f"expected a map or k=v,k2=v2, got {_describe(value)}")
    tags: dict[str, str] = {}
    for key, val in value.items():
        key = str(key).strip()
        if not key or key.lower().startswith("aws:"):
            raise _Bad(f"tag key {key!r} is empty or uses the reserved aws: prefix")
        if isinstance(val, Mapping | list | tuple):
            raise _Bad(f"tag {key!r} has {_describe(val)}; tag values are strings")
        tags[key] = "" if val is None else str(val).lower() if isinstance(val, bool) else str(val)
    return tags


_PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "cluster": _cluster,
    "execution_role": _word,
    "task_role": _word,
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
assert set(_PARSERS) == set(SETTING_NAMES), "every Settings field needs a parser"


# --- the sources ---


@dataclass(frozen=True)
class _Layer:
    """One source's raw values, and how to name that source in origins and errors."""

    raw: Mapping[str, Any]
    origin: Callable[[str], str]  # setting name -> origin string
    error: Callable[[str, str], SettingsError]  # (setting name, problem) -> error naming the source


def _consul_layer(raw: Mapping[str, str], prefix: str | None) -> _Layer:
    label = f"{prefix}/" if prefix else ""
    return _Layer(
        raw=raw,
        origin=lambda name: f"consul:{label}{name}",
        error=lambda name, problem: SettingsError(
            f"Consul key '{label}{name}': {problem}",
            hint=f"fix it with `consul kv put {label}{name} ...`, or override it in x-ecsflow, "
            f"{ENV_PREFIX}{name.upper()} or a flag",
        ),
    )


def _compose_layer(raw: Mapping[str, Any], compose_file: str | None) -> _Layer:
    shown = compose_file or "compose file"
    return _Layer(
        raw=raw,
        origin=lambda name: f"compose:{shown}",
        error=lambda name, problem: SettingsError(f"x-ecsflow.{name}: {problem}", file=compose_file),
    )


def _env_layer(environ: Mapping[str, str]) -> _Layer:
    raw = {
        name: environ[ENV_PREFIX + name.upper()]
        for name in SETTING_NAMES
        if ENV_PREFIX + name.upper() in environ
    }
    return _Layer(
        raw=raw,
        origin=lambda name: f"env:{ENV_PREFIX}{name.upper()}",
        error=lambda name, problem: SettingsError(
            f"environment variable {ENV_PREFIX}{name.upper()}: {problem}"
        ),
    )


def flag_name(name: str) -> str:
    """The command-line flag for a setting (or `consul_prefix`), as origins and errors show it."""
    return FLAG_NAMES.get(name, "--" + name.replace("_", "-"))


def _flags_layer(flags: Mapping[str, Any]) -> _Layer:
    unknown = set(flags) - set(SETTING_NAMES) - {"consul_prefix"}
    if unknown:  # a programming error in the CLI wiring, not a user error
        raise ValueError(f"unknown settings flags: {sorted(unknown)}")
    return _Layer(
        raw={k: v for k, v in flags.items() if k in SETTING_NAMES},
        origin=lambda name: f"flag:{flag_name(name)}",
        error=lambda name, problem: SettingsError(f"flag {flag_name(name)}: {problem}"),
    )


def _prefix(value: Any) -> str:
    return _word(value).strip("/")


def consul_prefix_of(
    *,
    compose: ProjectExtension | None = None,
    compose_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> tuple[str | None, str]:
    """Where to read Consul from, and the origin of that: x-ecsflow < ECSFLOW_CONSUL_PREFIX < --consul-prefix.

    Needed before the resolver runs, since the Consul layer depends on it.
    """
    found: tuple[str | None, str] = (None, "default")
    candidates = [
        (
            compose.consul_prefix if compose else None,
            f"compose:{compose_file or 'compose file'}",
            "x-ecsflow.consul_prefix",
        ),
        ((environ or {}).get("ECSFLOW_CONSUL_PREFIX"), "env:ECSFLOW_CONSUL_PREFIX", "ECSFLOW_CONSUL_PREFIX"),
        ((flags or {}).get("consul_prefix"), "flag:--consul-prefix", "flag --consul-prefix"),
    ]
    for value, origin, label in candidates:
        if not _is_unset(value):
            try:
                found = (_prefix(value), origin)
            except _Bad as err:
                raise SettingsError(
                    f"{label}: {err}", file=compose_file if "x-ecsflow" in label else None
                ) from None
    return found


def split_consul_kv(
    raw: Mapping[str, str], prefix: str | None = None
) -> tuple[dict[str, str], dict[str, str], dict[str, str], list[str]]:
    """Relative Consul keys -> (settings, values/, secrets/, warnings about keys that are none of these)."""
    settings: dict[str, str] = {}
    values: dict[str, str] = {}
    secrets: dict[str, str] = {}
    warnings: list[str] = []
    for key, value in raw.items():
        if key.startswith("values/") and len(key) > len("values/"):
            values[key.removeprefix("values/")] = value
        elif key.startswith("secrets/") and len(key) > len("secrets/"):
            secrets[key.removeprefix("secrets/")] = value
        elif key in SETTING_NAMES:
            settings[key] = value
        else:
            # Not an error: the prefix may be shared with other tools. But a typo deserves a word.
            close = difflib.get_close_matches(key, SETTING_NAMES, n=1)
            guess = f" (did you mean '{close[0]}'?)" if close else ""
            warnings.append(f"Consul key '{prefix}/{key}' is not an ecsflow setting and is ignored{guess}")
    return settings, values, secrets, warnings


def resolve_settings(
    *,
    defaults: Settings = Settings(),  # noqa: B008 - frozen, so sharing one instance is safe
    consul: Mapping[str, str] | None = None,
    consul_prefix: str | None = None,
    compose: ProjectExtension | None = None,
    compose_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> ResolvedSettings:
    """Resolve every setting: defaults < Consul < x-ecsflow < ECSFLOW_* < flags.

    `consul` holds the keys read under `consul_prefix`, relative to it (`cluster`, `values/DB_HOST`, ...).
    `compose` is the top-level `x-ecsflow` block (`project.x_ecsflow`), and
    `compose_file` the name origins show for it. `flags` maps setting names (and `consul_prefix`) to what
    the command line gave, None or [] meaning "not given". Every source is validated, even where a higher
    one overrides it, so a bad value is reported where it lives.
    """
    environ = environ if environ is not None else {}
    flags = flags or {}
    prefix, prefix_origin = consul_prefix_of(
        compose=compose, compose_file=compose_file, environ=environ, flags=flags
    )
    if consul_prefix is not None and consul_prefix.strip("/") != prefix:
        # The caller read `consul` from a prefix of its own choosing: trust it, and say so.
        prefix, prefix_origin = consul_prefix.strip("/"), "argument"
    consul_settings, values, secrets, warnings = split_consul_kv(consul or {}, prefix)

    layers = [
        _consul_layer(consul_settings, prefix),
        _compose_layer(compose.settings if compose else {}, compose_file),
        _env_layer(environ),
        _flags_layer(flags),
    ]
    resolved = {name: getattr(defaults, name) for name in SETTING_NAMES}
    origins = dict.fromkeys(SETTING_NAMES, "default")
    for layer in layers:
        for name in SETTING_NAMES:
            raw = layer.raw.get(name)
            if _is_unset(raw):
                continue
            try:
                resolved[name] = _PARSERS[name](raw)
            except _Bad as err:
                raise layer.error(name, str(err)) from None
            origins[name] = layer.origin(name)
    return ResolvedSettings(
        settings=Settings(**resolved),
        origins=origins,
        values=values,
        secrets=secrets,
        consul_prefix=prefix,
        consul_prefix_origin=prefix_origin,
        warnings=tuple(warnings),
    )


def display_value(value: Any) -> str:
    """A setting as text, in the form the resolver accepts back (lists `a,b`, tags `k=v,k2=v2`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(value)
    if isinstance(value, Mapping):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def settings_to_rows(resolved: ResolvedSettings) -> list[tuple[str, str, str]]:
    """(name, value, origin) for `ecsflow config`: every setting, then `consul_prefix`, then the names (never
    the values) of the per-job keys read from Consul's values/ and secrets/ folders (`consul_values`,
    `consul_secrets`: what x-ecsflow.environment_values and secret_values can name).

    Consul's token is not shown: it is not a setting (it never enters ResolvedSettings).
    """
    rows = [
        (name, display_value(getattr(resolved.settings, name)), resolved.origins[name])
        for name in SETTING_NAMES
    ]
    rows.append(("consul_prefix", display_value(resolved.consul_prefix), resolved.consul_prefix_origin))
    for folder, found in (("values", resolved.values), ("secrets", resolved.secrets)):
        origin = f"consul:{resolved.consul_prefix}/{folder}/" if resolved.consul_prefix else "default"
        rows.append((f"consul_{folder}", display_value(sorted(found)), origin))
    return rows
