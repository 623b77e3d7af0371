"""Variable interpolation as the Compose Specification defines it and Docker Compose v2 implements it.

Forms: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
`${VAR:+replacement}`, `${VAR+replacement}`, with nested expressions in the default/replacement/error
text, and `$$` for a literal `$`. An unset `${VAR}` becomes "" with a warning, as Compose does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A template that cannot be interpolated: a required variable is missing, or the syntax is wrong."""

    def __init__(self, message: str, *, required: bool = False) -> None:
        super().__init__(message)
        self.required = required


def interpolate(
    text: str,
    env: Mapping[str, str],
    warn: Callable[[str], None] | None = None,
) -> str:
    """Interpolate `text` with `env`. `$$` becomes a single `$` in the result."""
    value, end = _interpolate(text, 0, env, warn, stop_at_brace=False)
    assert end == len(text)
    return value


def _interpolate(
    text: str, pos: int, env: Mapping[str, str], warn: Callable[[str], None] | None, *, stop_at_brace: bool
) -> tuple[str, int]:
    """Interpolate from `pos` until the end (or an unmatched `}` when inside `${...}`)."""
    out: list[str] = []
    length = len(text)
    while pos < length:
        char = text[pos]
        if stop_at_brace and char == "}":
            return "".join(out), pos
        if char != "$":
            out.append(char)
            pos += 1
            continue
        nxt = text[pos + 1] if pos + 1 < length else ""
        if nxt == "$":
            out.append("$")
            pos += 2
        elif nxt == "{":
            value, pos = _braced(text, pos + 2, env, warn)
            out.append(value)
        else:
            match = _NAME.match(text, pos + 1)
            if not match:
                # Compose keeps a `$` that starts no variable (`$`, `$1`, `a $ b`) as a literal.
                out.append("$")
                pos += 1
                continue
            out.append(_lookup(match.group(0), env, warn))
            pos = match.end()
    if stop_at_brace:
        raise InterpolationError(f"invalid interpolation format for {text!r}: missing closing '}}'")
    return "".join(out), pos


def _lookup(name: str, env: Mapping[str, str], warn: Callable[[str], None] | None) -> str:
    if name in env:
        return env[name]
    if warn:
        warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
    return ""


def _braced(text: str, pos: int, env: Mapping[str, str], warn: Callable[[str], None] | None) -> tuple[str, int]:
    """Interpolate the inside of `${...}` starting just after `${`; return the value and the position after `}`."""
    match = _NAME.match(text, pos)
    if not match:
        raise InterpolationError(f"invalid interpolation format for {text!r}: '${{' must be followed by a "
                                 "variable name")
    name = match.group(0)
    pos = match.end()
    if pos < len(text) and text[pos] == "}":
        return _lookup(name, env, warn), pos + 1
    operator = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
    if operator is None:
        raise InterpolationError(f"invalid interpolation format for {text!r}: unexpected "
                                 f"{text[pos:pos + 1]!r} after '${{{name}'")
    # The argument is only evaluated when it is used, as in a shell: a nested `${X:?}` must not fire otherwise.
    arg_start = pos + len(operator)
    arg_end = _matching_brace(text, arg_start)
    is_set = name in env
    is_non_empty = is_set and env[name] != ""

    def argument() -> str:
        value, _ = _interpolate(text[:arg_end], arg_start, env, warn, stop_at_brace=False)
        return value

    if operator in (":-", "-"):
        use_default = not is_non_empty if operator == ":-" else not is_set
        value = argument() if use_default else env[name]
    elif operator in (":+", "+"):
        use_alt = is_non_empty if operator == ":+" else is_set
        value = argument() if use_alt else ""
    else:  # ":?" and "?"
        missing = not is_non_empty if operator == ":?" else not is_set
        if missing:
            message = argument()
            raise InterpolationError(
                f"required variable {name} is missing a value: {message}" if message
                else f"required variable {name} is missing a value",
                required=True,
            )
        value = env[name]
    return value, arg_end + 1


def _matching_brace(text: str, pos: int) -> int:
    """Index of the `}` closing the current `${`, skipping nested `${...}`.

    Like Compose, this counts every `${`, even one preceded by another `$`."""
    depth = 0
    while pos < len(text):
        if text.startswith("${", pos):
            depth += 1
            pos += 2
            continue
        if text[pos] == "}":
            if depth == 0:
                return pos
            depth -= 1
        pos += 1
    raise InterpolationError(f"invalid interpolation format for {text!r}: missing closing '}}'")
