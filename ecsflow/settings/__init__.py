"""Platform settings (cluster, roles, network, registry, ...) resolved from one precedence chain.

Precedence, lowest first: built-in defaults < Consul KV < top-level `x-ecsflow` in the compose file
< ECSFLOW_* environment variables < command-line flags. Every resolved value remembers its origin.

This module is pure: it never talks to Consul itself. `ecsflow.operations` finds the prefix
(`consul_prefix_of`), has `ecsflow.consul` read it, and hands the raw keys (relative to the prefix) to
`resolve_settings`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ecsflow.errors import SettingsError
from ecsflow.settings.values import PARSERS
from ecsflow.validators import InvalidValue, is_unset, one_word, variables_in


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
    # The tag of images built from source (`build:` and no `image:`); None: the git commit of the compose file's
    # checkout, looked up when a service needs it (ecsflow.operations.core).
    image_tag: str | None = None
    family: str = "{project}-{service}"
    log_group: str = "/ecs/{project}/{service}"
    tags: Mapping[str, str] = field(default_factory=dict)
    service_name: str = "{project}-{service}"  # the ECS service's name (`deploy`)
    namespace: str | None = None  # the Service Connect namespace (Cloud Map name or ARN) the services join
    log_retention: int | None = None  # days the log groups keep events (ecsflow.retention); None: forever


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


assert set(PARSERS) == set(SETTING_NAMES), "every Settings field needs a parser"


# --- the sources ---


@dataclass(frozen=True)
class _Layer:
    """One source's raw values, and how to name that source in origins and errors."""

    raw: Mapping[str, Any]
    origin: Callable[[str], str]  # setting name -> origin string
    error: Callable[[str, InvalidValue], SettingsError]  # (setting name, refusal) -> error naming the source


def _consul_layer(raw: Mapping[str, str], prefix: str | None) -> _Layer:
    label = f"{prefix}/" if prefix else ""
    return _Layer(
        raw=raw,
        origin=lambda name: f"consul:{label}{name}",
        error=lambda name, bad: SettingsError(
            f"Consul key '{label}{name}' must be {bad.message()}",
            hint=f"fix it with `consul kv put {label}{name} ...`, or override it in x-ecsflow, "
            f"{ENV_PREFIX}{name.upper()} or a flag",
        ),
    )


def _compose_layer(raw: Mapping[str, Any], compose_file: str | None,
                   interpolated: Mapping[str, Mapping[str, str]] | None) -> _Layer:
    shown = compose_file or "compose file"
    return _Layer(
        raw=raw,
        origin=lambda name: f"compose:{shown}",
        # A value that came from interpolation (.env, --env-file) is named by its variables, never shown.
        error=lambda name, bad: SettingsError(
            f"x-ecsflow.{name} must be {bad.message(variables_in(raw.get(name), interpolated))}",
            **written_at(raw, name, compose_file)),
    )


def written_at(block: Mapping[str, Any], name: str, compose_file: str | None) -> dict[str, Any]:
    """The file and line of a setting in the top-level x-ecsflow block, when the loader kept them (a
    PositionedMap), else the name of the compose file."""
    file_of, line_of = getattr(block, "file_of", None), getattr(block, "line_of", None)
    if file_of is None or line_of is None:
        return {"file": compose_file}
    return {"file": file_of(name) or compose_file, "line": line_of(name) if name in block else None}


def _env_layer(environ: Mapping[str, str]) -> _Layer:
    raw = {
        name: environ[ENV_PREFIX + name.upper()]
        for name in SETTING_NAMES
        if ENV_PREFIX + name.upper() in environ
    }
    return _Layer(
        raw=raw,
        origin=lambda name: f"env:{ENV_PREFIX}{name.upper()}",
        error=lambda name, bad: SettingsError(
            f"environment variable {ENV_PREFIX}{name.upper()} must be {bad.message()}"),
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
        error=lambda name, bad: SettingsError(f"flag {flag_name(name)} must be {bad.message()}"),
    )


def _prefix(value: Any) -> str:
    return one_word(value).strip("/")


def consul_prefix_of(
    *,
    compose: Mapping[str, Any] | None = None,
    compose_file: str | None = None,
    compose_interpolated: Mapping[str, Mapping[str, str]] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> tuple[str | None, str]:
    """Where to read Consul from, and the origin of that: x-ecsflow < ECSFLOW_CONSUL_PREFIX < --consul-prefix.
    ``compose`` and ``compose_interpolated`` as for `resolve_settings`.

    Needed before the resolver runs, since the Consul layer depends on it.
    """
    found: tuple[str | None, str] = (None, "default")
    candidates = [
        (
            (compose or {}).get("consul_prefix"),
            f"compose:{compose_file or 'compose file'}",
            "x-ecsflow.consul_prefix",
        ),
        ((environ or {}).get("ECSFLOW_CONSUL_PREFIX"), "env:ECSFLOW_CONSUL_PREFIX", "ECSFLOW_CONSUL_PREFIX"),
        ((flags or {}).get("consul_prefix"), "flag:--consul-prefix", "flag --consul-prefix"),
    ]
    for value, origin, label in candidates:
        if not is_unset(value):
            try:
                found = (_prefix(value), origin)
            except InvalidValue as bad:
                variables = variables_in(value, compose_interpolated) if "x-ecsflow" in label else None
                where = written_at(compose or {}, "consul_prefix", compose_file) if "x-ecsflow" in label else {}
                raise SettingsError(f"{label} must be {bad.message(variables)}", **where) from None
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
    compose: Mapping[str, Any] | None = None,
    compose_file: str | None = None,
    compose_interpolated: Mapping[str, Mapping[str, str]] | None = None,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
) -> ResolvedSettings:
    """Resolve every setting: defaults < Consul < x-ecsflow < ECSFLOW_* < flags.

    `consul` holds the keys read under `consul_prefix`, relative to it (`cluster`, `values/DB_HOST`, ...).
    `compose` holds the settings and `consul_prefix` of the top-level `x-ecsflow` block as written
    (`project.x_ecsflow.settings`), `compose_file` the name origins show for it, and `compose_interpolated` the
    texts of that block that interpolation made -> the variables read for each (`project.x_ecsflow.interpolated`:
    errors name those variables instead of showing the values). `flags` maps setting names (and `consul_prefix`) to what
    the command line gave, None or [] meaning "not given". Every source is validated, even where a higher
    one overrides it, so a bad value is reported where it lives.
    """
    environ = environ if environ is not None else {}
    flags = flags or {}
    prefix, prefix_origin = consul_prefix_of(
        compose=compose, compose_file=compose_file, compose_interpolated=compose_interpolated, environ=environ,
        flags=flags)
    if consul_prefix is not None and consul_prefix.strip("/") != prefix:
        # The caller read `consul` from a prefix of its own choosing: trust it, and say so.
        prefix, prefix_origin = consul_prefix.strip("/"), "argument"
    consul_settings, values, secrets, warnings = split_consul_kv(consul or {}, prefix)

    layers = [
        _consul_layer(consul_settings, prefix),
        _compose_layer(compose or {}, compose_file, compose_interpolated),
        _env_layer(environ),
        _flags_layer(flags),
    ]
    resolved = {name: getattr(defaults, name) for name in SETTING_NAMES}
    origins = dict.fromkeys(SETTING_NAMES, "default")
    for layer in layers:
        for name in SETTING_NAMES:
            raw = layer.raw.get(name)
            if is_unset(raw):
                continue
            try:
                resolved[name] = PARSERS[name](raw)
            except InvalidValue as bad:
                raise layer.error(name, bad) from None
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
