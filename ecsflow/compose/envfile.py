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

from ecsflow.compose.files import ENV_FILE_LIMIT, read_text
from ecsflow.compose.interpolate import InterpolationError, interpolate
from ecsflow.errors import ComposeError

_KEY = re.compile(r"[A-Za-z0-9_.\-\[\]]+")
_BLANK = re.compile(r"[ \t\r\n]*")
_SPACES = re.compile(r"[ \t]*")
_EXPORT = re.compile(r"export [ \t]*")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'", "$": "$$", "f": "\f", "b": "\b",
            "v": "\v", "a": "\a"}


def parse_env_text(
    text: str,
    file: str,
    lookup: Mapping[str, str],
    warn: Callable[[str], None] | None = None,
) -> dict[str, str]:
    """Parse dotenv text. `lookup` supplies variables (the shell) for bare keys and interpolation.

    One pass over the text: every step moves forward with a regex or `str.find`, and line numbers are
    counted as the position advances, so the work is linear in the size of the file."""
    result: dict[str, str] = {}
    scope = _Scope(lookup, result)
    pos, length = 0, len(text)
    line_no, counted = 1, 0  # line_no is the line of position `counted`

    def line_at(position: int) -> int:
        nonlocal line_no, counted
        line_no += text.count("\n", counted, position)
        counted = position
        return line_no

    while pos < length:
        pos = _BLANK.match(text, pos).end()
        if pos >= length:
            break
        line = line_at(pos)
        if text[pos] == "#":
            pos = _end_of_line(text, pos)
            continue
        export = _EXPORT.match(text, pos)
        if export:
            pos = export.end()
        match = _KEY.match(text, pos)
        if not match:
            raise ComposeError("unexpected character at the start of a variable name", file=file, line=line)
        key = match.group(0)
        pos = _SPACES.match(text, match.end()).end()
        if pos >= length or text[pos] in "\r\n#":
            # A bare KEY: its value comes from the environment, else it is left out.
            if key in lookup:
                result[key] = lookup[key]
            pos = _end_of_line(text, pos)
            continue
        if text[pos] not in "=:":
            raise ComposeError(f"unexpected character after the variable name {key!r}", file=file, line=line)
        pos = _SPACES.match(text, pos + 1).end()
        quote = text[pos] if pos < length else ""
        try:
            if quote in ("'", '"'):
                end = _closing_quote(text, pos + 1, quote)
                if end < 0:
                    raise ComposeError(f"unterminated {quote} quote in the value of {key!r}", file=file, line=line)
                raw = text[pos + 1 : end]
                pos = _end_of_line(text, end + 1)
                value = raw if quote == "'" else interpolate(_unescape(raw), scope, warn)
            else:
                end = _end_of_line(text, pos)
                raw = _strip_inline_comment(text[pos:end]).strip()
                pos = end
                value = interpolate(raw, scope, warn)
        except InterpolationError as exc:
            raise ComposeError(str(exc), file=file, line=line, key=key) from None
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
    """The index of the quote that closes a value starting at `pos`; in double quotes `\\"` does not close."""
    if quote == "'":
        return text.find("'", pos)
    while True:
        end = text.find('"', pos)
        if end < 0:
            return -1
        start = end
        while start > pos and text[start - 1] == "\\":
            start -= 1
        if (end - start) % 2 == 0:  # an even run of backslashes escapes itself, not the quote
            return end
        pos = end + 1


def _unescape(raw: str) -> str:
    # `\$` must survive interpolation as a literal `$`, hence `$$`.
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), raw)


def _strip_inline_comment(value: str) -> str:
    match = re.search(r"[ \t]#", value)
    value = value[: match.start()] if match else value
    return value.rstrip("\r\n")


def read_env_file(path: Path, lookup: Mapping[str, str], warn: Callable[[str], None] | None = None,
                  *, what: str = "env file") -> dict[str, str]:
    """A dotenv file (a regular file of at most ENV_FILE_LIMIT bytes), parsed. `what` names it in errors
    (a `label_file` is a dotenv file too)."""
    return parse_env_text(read_text(path, what, ENV_FILE_LIMIT), str(path), lookup, warn)


def read_raw_env_file(path: Path) -> dict[str, str]:
    """`format: raw`: KEY=VALUE lines taken literally, quotes and all."""
    result = {}
    for line in read_text(path, "env file", ENV_FILE_LIMIT).splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        result[key.strip()] = value
    return result
