"""Interpolate a compose document, then read text as the type Compose expects at its typed paths.

Compose interpolates every string value of a file (keys are left alone), and where its schema wants a number
or a boolean it converts the text, interpolated or not, with Go's rules: `cpu_count: "2"` is the integer 2,
`init: "yes"` is true (with a warning), `cpus: "abc"` is an error. It does this before it validates the file,
so the schema sees the converted values. Errors name the path and position, never the value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ecsflow.compose.interpolate import InterpolationError, interpolate
from ecsflow.compose.scalars import go_parse_int
from ecsflow.compose.units import CastError, go_parse_float, parse_size, to_float32
from ecsflow.compose.yamlfile import Override, PositionedList, PositionedMap
from ecsflow.errors import ComposeError

Warn = Callable[[str], None]


def _to_int(text: str) -> int:
    """strconv.Atoi / ParseInt(text, 10, 64): an optional sign and decimal digits."""
    value = None if "_" in text else go_parse_int(text, 10, unsigned=False)
    if value is None:
        raise CastError("not an integer")
    return value


def _to_float32(text: str) -> float:
    return to_float32(go_parse_float(text))


def _to_bool(text: str, warn: Warn | None) -> bool:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("y", "yes", "on", "n", "no", "off"):
        value = lowered in ("y", "yes", "on")
        if warn:
            warn(f"{text!r} for boolean is not supported by YAML 1.2, please use `{'true' if value else 'false'}`")
        return value
    raise CastError("not a boolean (true or false)")


def _to_bytes(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError:
        raise CastError("not a size (a number with an optional unit b, k, m, g)") from None


_INT, _INT64, _FLOAT, _FLOAT32, _BOOL, _BYTES = "int", "int64", "float", "float32", "bool", "bytes"
# Compose's typed paths (compose-go's interpolateTypeCastMapping). "*" is any key, "[]" any list item.
_SERVICE_CASTS = {
    "configs.[].mode": _INT, "secrets.[].mode": _INT, "cpu_count": _INT64, "cpu_percent": _FLOAT,
    "cpu_period": _INT64, "cpu_quota": _INT64, "cpu_rt_period": _INT64, "cpu_rt_runtime": _INT64, "cpus": _FLOAT32,
    "cpu_shares": _INT64, "init": _BOOL, "deploy.replicas": _INT, "deploy.update_config.parallelism": _INT,
    "deploy.update_config.max_failure_ratio": _FLOAT, "deploy.rollback_config.parallelism": _INT,
    "deploy.rollback_config.max_failure_ratio": _FLOAT, "deploy.restart_policy.max_attempts": _INT,
    "deploy.placement.max_replicas_per_node": _INT, "healthcheck.retries": _INT, "healthcheck.disable": _BOOL,
    "oom_kill_disable": _BOOL, "oom_score_adj": _INT64, "pids_limit": _INT64, "ports.[].target": _INT,
    "privileged": _BOOL, "read_only": _BOOL, "scale": _INT, "stdin_open": _BOOL, "tty": _BOOL, "ulimits.*": _INT,
    "ulimits.*.hard": _INT, "ulimits.*.soft": _INT, "volumes.[].read_only": _BOOL, "volumes.[].volume.nocopy": _BOOL,
    "volumes.[].tmpfs.size": _BYTES,
}
_TOP_CASTS = {
    **{f"networks.*.{flag}": _BOOL for flag in ("external", "internal", "attachable", "enable_ipv4", "enable_ipv6")},
    **{f"{kind}.*.external": _BOOL for kind in ("volumes", "secrets", "configs")},
}
# By (first part, length, last part): most strings (environment values, command words) have no candidate.
_CASTS: dict[tuple[str, int, str], list[tuple[tuple[str, ...], str]]] = {}
for _pattern, _kind in [
    *((("services", "*", *path.split(".")), kind) for path, kind in _SERVICE_CASTS.items()),
    *((tuple(path.split(".")), kind) for path, kind in _TOP_CASTS.items()),
]:
    _CASTS.setdefault((_pattern[0], len(_pattern), _pattern[-1]), []).append((_pattern, _kind))


def _cast_for(path: tuple[Any, ...]) -> str | None:
    if not path:
        return None
    last = path[-1]
    candidates = _CASTS.get((path[0], len(path), "[]" if isinstance(last, int) else last), [])
    if isinstance(last, str):
        candidates = candidates + _CASTS.get((path[0], len(path), "*"), [])
    for pattern, kind in candidates:
        if all(
            want == "*" and isinstance(got, str) or want == "[]" and isinstance(got, int) or want == got
            for want, got in zip(pattern, path, strict=True)
        ):
            return kind
    return None


def _cast(kind: str, text: str, warn: Warn | None) -> Any:
    if kind in (_INT, _INT64):
        return _to_int(text)
    if kind == _FLOAT:
        return go_parse_float(text)
    if kind == _FLOAT32:
        return _to_float32(text)
    if kind == _BOOL:
        return _to_bool(text, warn)
    return _to_bytes(text)


# What interpolation made: each text it produced -> the variables (name -> value) it read to produce it.
Interpolated = dict[str, dict[str, str]]


def interpolate_document(document: Any, environment: Mapping[str, str], file: str, warn: Warn | None,
                         interpolated: Interpolated | None = None) -> Any:
    """A copy of `document` with every string value interpolated and typed paths converted. Each text made
    from variables is recorded in `interpolated`, so that an error about it later can name them."""
    return _walk(document, environment, file, (), warn, None, interpolated)


def _walk(value: Any, environment: Mapping[str, str], file: str, path: tuple[Any, ...], warn: Warn | None,
          line: int | None, interpolated: Interpolated | None) -> Any:
    if isinstance(value, dict):
        out = PositionedMap().copy_positions(value)
        for key, item in value.items():
            key_line = value.line_of(key) if isinstance(value, PositionedMap) else line
            out[key] = _walk(item, environment, file, (*path, key), warn, key_line, interpolated)
        return out
    if isinstance(value, list):
        out_list = PositionedList(
            _walk(item, environment, file, (*path, index), warn,
                  value.line_of(index) if isinstance(value, PositionedList) else line, interpolated)
            for index, item in enumerate(value))
        if isinstance(value, PositionedList):
            out_list.file, out_list.item_lines = value.file, value.item_lines
        return out_list
    if isinstance(value, Override):
        return Override(_walk(value.value, environment, file, path, warn, line, interpolated))
    if not isinstance(value, str):
        return value
    if "$" in value:
        read: dict[str, str] = {}
        try:
            value = interpolate(value, environment, warn, read)
        except InterpolationError as exc:
            raise ComposeError(f"error while interpolating {_dotted(path)}: {exc}", **_where(path, file, line),
                               hint=None if exc.required else "write a literal $ as $$") from None
        if read and interpolated is not None:
            interpolated.setdefault(value, {}).update(read)
    kind = _cast_for(path)
    if kind is None:
        return value
    try:
        return _cast(kind, value, warn)
    except CastError as exc:
        raise ComposeError(f"error while interpolating {_dotted(path)}: failed to cast to expected type: {exc}",
                           **_where(path, file, line)) from None


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in path)


def _where(path: tuple[Any, ...], file: str, line: int | None) -> dict[str, Any]:
    """Where an error of the value at ``path`` is: made only for an error (a render walks ~20,000 values)."""
    service = path[1] if len(path) > 1 and path[0] == "services" else None
    return {"file": file, "line": line, "service": service,
            "key": _dotted(path[2:]) if service else _dotted(path)}
