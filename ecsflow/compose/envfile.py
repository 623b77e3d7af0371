"""`.env` and `env_file` parsing with Docker Compose's dotenv rules.

`KEY=VALUE`, `export KEY=VALUE`, `KEY: VALUE`; single quotes are literal; double quotes understand
escapes (`\\n`, `\\t`, `\\"`, `\\$`, ...) and span lines; unquoted values end at the line, lose a ` # comment`
and are trimmed; double-quoted and unquoted values are interpolated; a bare `KEY` takes its value
from the lookup (the shell) or is left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ecsflow.compose.interpolate import InterpolationError, interpolate
from ecsflow.errors import ComposeError

_KEY = re.compile(r"[A-Za-z0-9_.\-\[\]]+")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "$": "$$", "f": "\f", "b": "\b",
            "v": "\v", "a": "\a"}


def parse_env_text(
    text: str,
    file: str,
    lookup: Mapping[str, str],
    warn: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Parse dotenv text. `lookup` supplies variables (the shell) for bare keys and interpolation."""
    result: dict[str, str] = {}
    scope = _Scope(lookup, result)
    pos, length = 0, len(text)
    while pos < length:
        line_no = text.count("\n", 0, pos) + 1
        # Skip blank lines and comments.
        stripped = text[pos:].lstrip(" \t\r\n")
        pos = length - len(stripped)
        if pos >= length:
            break
        line_no = text.count("\n", 0, pos) + 1
        if text[pos] == "#":
            pos = _end_of_line(text, pos)
            continue
        if text.startswith("export ", pos):
            pos += len("export ")
            while pos < length and text[pos] in " \t":
                pos += 1
        match = _KEY.match(text, pos)
        if not match:
            raise ComposeError(f"unexpected character {text[pos]!r} at the start of a variable name",
                               file=file, line=line_no)
        key = match.group(0)
        pos = match.end()
        while pos < length and text[pos] in " \t":
            pos += 1
        if pos >= length or text[pos] in "\r\n#":
            # A bare KEY: its value comes from the environment, else it is left out.
            if key in lookup:
                result[key] = lookup[key]
            pos = _end_of_line(text, pos)
            continue
        if text[pos] not in "=:":
            raise ComposeError(f"unexpected character {text[pos]!r} in variable name {key!r}",
                               file=file, line=line_no)
        pos += 1
        while pos < length and text[pos] in " \t":
            pos += 1
        quote = text[pos] if pos < length else ""
        try:
            if quote in ("'", '"'):
                end = _closing_quote(text, pos + 1, quote)
                if end < 0:
                    raise ComposeError(f"unterminated {quote} quote in the value of {key!r}", file=file,
                                       line=line_no)
                raw = text[pos + 1 : end]
                pos = _end_of_line(text, end + 1)
                if quote == "'":
                    value = raw
                else:
                    value = interpolate(_unescape(raw), scope, warn)
            else:
                end = _end_of_line(text, pos)
                raw = _strip_inline_comment(text[pos:end]).strip()
                pos = end
                value = interpolate(raw, scope, warn)
        except InterpolationError as exc:
            raise ComposeError(str(exc), file=file, line=line_no, key=key) from None
        result[key] = value
    return result


class _Scope(Mapping[str, str]):
    """Variables visible while reading a dotenv file: the lookup (shell) first, then keys read so far."""

    def __init__(self, lookup: Mapping[str, str], so_far: Mapping[str, str]) -> None:
        self.lookup, self.so_far = lookup, so_far

    def __getitem__(self, key: str) -> str:
        if key in self.lookup:
            return self.lookup[key]
        return self.so_far[key]

    def __iter__(self):
        return iter({**self.so_far, **self.lookup})

    def __len__(self) -> int:
        return len({**self.so_far, **self.lookup})

    def __contains__(self, key: object) -> bool:
        return key in self.lookup or key in self.so_far


def _end_of_line(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end < 0 else end + 1


def _closing_quote(text: str, pos: int, quote: str) -> int:
    while pos < len(text):
        if text[pos] == "\\" and quote == '"':
            pos += 2
            continue
        if text[pos] == quote:
            return pos
        pos += 1
    return -1


def _unescape(raw: str) -> str:
    # `\$` must survive interpolation as a literal `$`, hence `$$`.
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw)


def _strip_inline_comment(value: str) -> str:
    match = re.search(r"[ \t]#", value)
    value = value[: match.start()] if match else value
    return value.rstrip("\r\n")


def read_env_file(path: Path, lookup: Mapping[str, str], warn: Callable[[str], None] | None = None) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ComposeError("env file not found", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ComposeError(f"not UTF-8 text (byte {exc.start})", file=str(path),
                           hint="save the file as UTF-8, as Docker Compose expects") from None
    except OSError as exc:
        raise ComposeError(f"cannot read env file: {exc.strerror}", file=str(path)) from None
    return parse_env_text(text, str(path), lookup, warn)
