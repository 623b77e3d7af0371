"""YAML scalars as Docker Compose reads them, and Go's text for them.

Compose is written in Go and reads YAML with go-yaml's resolver: YAML 1.2 core names (`true`/`false` in three
spellings, `null`/`~`, `.inf`/`.nan`), Go's integer syntax (`0x1F`, `0o17`, the old octal `017`, `0b101`, `_`
separators), decimal floats (`1e3`, `3.`, `.5`), and timestamps (`2001-12-14`), which Compose's schema then
refuses wherever it expects text. No base-60 numbers (`22:22` stays text), no `yes`/`on` booleans. PyYAML's own
resolver reads YAML 1.1, so ecsflow resolves plain scalars here instead. `go_text` prints a scalar as Go's
`fmt.Sprint` does, the way Compose turns a number into an environment value or a label.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

INT64 = (-(2**63), 2**63 - 1)
UINT64_MAX = 2**64 - 1

_NAMED = {
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
_TIMESTAMP = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{1,2})-(?P<d>[0-9]{1,2})"
    r"(?:(?P<sep>[Tt ])(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{1,2}):(?P<s>[0-9]{1,2})(?:[.,][0-9]+)?"
    r"(?P<tz>Z|[-+][0-9]{2}:[0-9]{2})?)?"
)


@dataclass(frozen=True)
class YamlTimestamp:
    """A plain scalar go-yaml reads as a time (`2001-12-14`). Compose's schema refuses it where it wants text;
    in free-form places (`x-` keys) Compose prints it in RFC 3339, as `text` holds it."""

    source: str
    text: str


class ScalarError(ValueError):
    """An explicitly tagged scalar that cannot be read as its tag (`!!int abc`)."""


def resolve_plain(text: str) -> Any:
    """The value go-yaml gives an untagged plain scalar."""
    return _resolve(text, timestamps=True)


def resolve_tagged(tag: str, text: str) -> Any:
    """The value of a scalar with an explicit `!!int`/`!!float`/`!!bool`/`!!null`/`!!timestamp` tag."""
    value = _resolve(text, timestamps=tag == "timestamp")
    if tag == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    wanted = {"int": int, "float": float, "bool": bool, "timestamp": YamlTimestamp}.get(tag)
    ok = value is None if tag == "null" else (
        isinstance(value, wanted) and (tag != "int" or not isinstance(value, bool)))
    if not ok:
        raise ScalarError(f"cannot read this scalar as a !!{tag}")
    return value


def _resolve(text: str, *, timestamps: bool) -> Any:
    if text in _NAMED:
        return _NAMED[text]
    first = text[0]
    if first == ".":
        value = float(text) if _DOT_FLOAT.fullmatch(text) else math.inf
        return text if math.isinf(value) else value
    if not (first.isascii() and (first.isdigit() or first in "+-")):
        return text
    if timestamps:
        stamp = _timestamp(text)
        if stamp is not None:
            return stamp
    plain = text.replace("_", "")
    number = go_parse_int(plain, 0)
    if number is not None:
        return number
    if _YAML_STYLE_FLOAT.fullmatch(plain):
        value = float(plain)
        if not math.isinf(value):  # Go's ParseFloat refuses an overflow; the scalar stays text
            return value
    for prefix, base in (("0b", 2), ("0o", 8)):
        if plain.startswith(prefix):
            number = go_parse_int(plain[2:], base)
            if number is not None:
                return number
        elif plain.startswith("-" + prefix):
            number = go_parse_int("-" + plain[3:], base, unsigned=False)
            if number is not None:
                return number
    return text


def go_parse_int(text: str, base: int, *, unsigned: bool = True) -> int | None:
    """strconv.ParseInt(text, base, 64), then ParseUint when allowed; None when Go refuses it."""
    sign, body = 1, text
    if body[:1] in ("+", "-"):
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    if base == 0:
        base = 10
        if body[:2].lower() in ("0x", "0o", "0b"):
            base, body = {"x": 16, "o": 8, "b": 2}[body[1].lower()], body[2:]
        elif body.startswith("0") and len(body) > 1:
            base, body = 8, body[1:]
    if not body or any(char not in _DIGITS[base] for char in body):
        return None
    value = sign * int(body, base)
    if INT64[0] <= value <= INT64[1]:
        return value
    if unsigned and text[:1] not in ("+", "-") and value <= UINT64_MAX:
        return value
    return None


def _timestamp(text: str) -> YamlTimestamp | None:
    """go-yaml's timestamp forms: `2006-1-2`, `2006-1-2T15:4:5.999999999Z07:00` (or `t`), `2006-1-2 15:4:5.9`."""
    match = _TIMESTAMP.fullmatch(text)
    if not match:
        return None
    has_time, sep, tz = match["h"] is not None, match["sep"], match["tz"]
    if has_time and ((sep in "Tt") != (tz is not None)):
        return None  # the T form needs a zone; the space form takes none
    year, month, day = int(match["y"]), int(match["mo"]), int(match["d"])
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        return None
    if has_time and not (int(match["h"]) < 24 and int(match["mi"]) < 60 and int(match["s"]) < 60):
        return None
    if tz and tz != "Z" and (int(tz[1:3]) > 24 or int(tz[4:6]) > 60):
        return None
    return YamlTimestamp(source=text, text=_rfc3339(match, text))


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28  # Go: year 0 is a leap year
    return 30 if month in (4, 6, 9, 11) else 31


def _rfc3339(match: re.Match, text: str) -> str:
    date = f"{int(match['y']):04d}-{int(match['mo']):02d}-{int(match['d']):02d}"
    if match["h"] is None:
        return f"{date}T00:00:00Z"
    fraction = re.search(r"[.,]([0-9]+)", text[match.start("s"):])
    digits = fraction.group(1)[:9].rstrip("0") if fraction else ""
    zone = match["tz"] or "Z"
    clock = f"{int(match['h']):02d}:{int(match['mi']):02d}:{int(match['s']):02d}" + (f".{digits}" if digits else "")
    return f"{date}T{clock}{'Z' if zone in ('Z', '+00:00', '-00:00') else zone}"


def timestamps_as_text(value: Any) -> Any:
    """A copy of `value` with each timestamp as the RFC 3339 text Compose prints for it (in `x-` keys, where the
    schema lets one stay)."""
    if isinstance(value, YamlTimestamp):
        return value.text
    if isinstance(value, dict):
        copied = {key: timestamps_as_text(item) for key, item in value.items()}
        # A PositionedMap (duck-typed: yamlfile imports this module) keeps where each key was written, so that
        # an error about a named volume or a setting names its own file, line and column.
        if hasattr(value, "copy_positions"):
            return type(value)(copied).copy_positions(value)
        return copied
    if isinstance(value, list):
        return [timestamps_as_text(item) for item in value]
    return value


def go_text(value: Any) -> str:
    """A scalar as Go's fmt.Sprint prints it: `true`, `1000`, `1e+06`, `0.5`, `+Inf`, `NaN`; `""` for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return go_float_text(value)
    if isinstance(value, YamlTimestamp):
        return value.text
    return str(value)


def go_float_text(value: float) -> str:
    """strconv.FormatFloat(value, 'g', -1, 64): the shortest digits, %e form when the exponent is < -4 or >= 6
    (`0.0001`, `1e-05`, `123456.7`, `1.234567e+06`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0"
    decimal = Decimal(repr(abs(value))).normalize()
    _, digit_tuple, exponent = decimal.as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    point = len(digits) + exponent  # digits before the decimal point
    power = point - 1
    if power < -4 or power >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"
