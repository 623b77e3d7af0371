"""Variable interpolation as the Compose Specification defines it and Docker Compose v2 implements it.

Forms: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
`${VAR:+replacement}`, `${VAR+replacement}`, with nested expressions in the default/replacement/error
text, and `$$` for a literal `$`. An unset `${VAR}` becomes "" with a warning, as Compose does.

The work is linear in the text and uses no recursion, so any nesting depth Compose accepts is accepted here.
Errors about the syntax name the character position, never the text: a value that is not a valid template is
often a password with a `$` in it, and what follows an unclosed `${` is then part of the password.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_OPERATORS = (":-", ":?", ":+", "-", "?", "+")


class InterpolationError(ValueError):
    """A template that cannot be interpolated: a required variable is missing, or the syntax is wrong."""

    def __init__(self, message: str, *, required: bool = False) -> None:
        super().__init__(message)
        self.required = required


@dataclass
class _Segment:
    """A stretch of the template being interpolated: the whole text, or the argument of `${NAME<op>...}`."""

    pos: int
    end: int
    parts: list[str] = field(default_factory=list)
    # For an argument: the variable and operator whose argument this is.
    owner: tuple[str, str] | None = None


def interpolate(
    text: str,
    env: Mapping[str, str],
    warn: Callable[[str], None] | None = None,
    read: dict[str, str] | None = None,
) -> str:
    """Interpolate `text` with `env`. `$$` becomes a single `$` in the result. `read`, when given, gets the
    variables that were set and read (name -> value): errors about the result name them instead of showing it."""
    if "$" not in text:
        return text
    closers = _closing_braces(text)
    stack = [_Segment(0, len(text))]
    while True:
        segment = stack[-1]
        if segment.pos >= segment.end:
            stack.pop()
            value = "".join(segment.parts)
            if segment.owner is None:
                return value
            name, operator = segment.owner
            if operator in (":?", "?"):
                raise InterpolationError(
                    f"required variable {name} is missing a value" + (f": {value}" if value else ""), required=True)
            stack[-1].parts.append(value)
            continue
        pos, end = segment.pos, segment.end
        dollar = text.find("$", pos, end)
        if dollar != pos:
            stop = end if dollar < 0 else dollar
            segment.parts.append(text[pos:stop])
            segment.pos = stop
            continue
        following = text[pos + 1] if pos + 1 < end else ""
        if following == "$":
            segment.parts.append("$")
            segment.pos = pos + 2
        elif following == "{":
            argument = _braced(text, pos, segment, closers, env, warn, read)
            if argument is not None:
                stack.append(argument)
        else:
            match = _NAME.match(text, pos + 1, end)
            if match:
                segment.parts.append(_lookup(match.group(0), env, warn, read))
                segment.pos = match.end()
            else:
                # Compose keeps a `$` that starts no variable (`$`, `$1`, `a $ b`) as a literal.
                segment.parts.append("$")
                segment.pos = pos + 1


def _braced(text: str, pos: int, segment: _Segment, closers: dict[int, int], env: Mapping[str, str],
            warn: Callable[[str], None] | None, read: dict[str, str] | None) -> _Segment | None:
    """Handle the `${...}` at `pos`: append its value to `segment`, or return its argument to interpolate first."""
    end = segment.end
    match = _NAME.match(text, pos + 2, end)
    if not match:
        raise InterpolationError(f"invalid interpolation format: the '${{' at character {pos + 1} is not followed "
                                 "by a variable name")
    name, after = match.group(0), match.end()
    if after < end and text[after] == "}":
        segment.parts.append(_lookup(name, env, warn, read))
        segment.pos = after + 1
        return None
    operator = next((op for op in _OPERATORS if text.startswith(op, after, end)), None)
    if after >= end:
        raise _unclosed(pos)
    if operator is None:
        raise InterpolationError(f"invalid interpolation format: the character at position {after + 1}, in the "
                                 f"'${{' at character {pos + 1}, is neither '}}' nor one of "
                                 f"{', '.join(_OPERATORS)}")
    close = closers.get(pos)
    if close is None or close >= end:
        raise _unclosed(pos)
    segment.pos = close + 1
    is_set = name in env
    if is_set and read is not None:
        read[name] = env[name]
    is_non_empty = is_set and env[name] != ""
    if operator in (":-", "-"):
        use_argument = not is_non_empty if operator == ":-" else not is_set
        fallback = env.get(name, "")
    elif operator in (":+", "+"):
        use_argument = is_non_empty if operator == ":+" else is_set
        fallback = ""
    else:  # ":?" and "?": the argument is the error message
        use_argument = not is_non_empty if operator == ":?" else not is_set
        fallback = env.get(name, "")
    # The argument is only interpolated when it is used, as in a shell: a nested `${X:?}` must not fire otherwise.
    if use_argument:
        return _Segment(after + len(operator), close, owner=(name, operator))
    segment.parts.append(fallback)
    return None


def _unclosed(pos: int) -> InterpolationError:
    return InterpolationError(f"invalid interpolation format: the '${{' at character {pos + 1} has no closing '}}'")


def _closing_braces(text: str) -> dict[int, int]:
    """For each `${`, the index of the `}` that closes it. Like Compose, this counts every `${`, even one
    preceded by another `$`."""
    closers: dict[int, int] = {}
    opened: list[int] = []
    pos, length = 0, len(text)
    while pos < length:
        if text.startswith("${", pos):
            opened.append(pos)
            pos += 2
            continue
        if text[pos] == "}" and opened:
            closers[opened.pop()] = pos
        pos += 1
    return closers


def _lookup(name: str, env: Mapping[str, str], warn: Callable[[str], None] | None,
            read: dict[str, str] | None = None) -> str:
    if name in env:
        if read is not None:
            read[name] = env[name]
        return env[name]
    if warn:
        warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
    return ""
