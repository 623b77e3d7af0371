"""Go's readers of numbers, sizes and durations, as Compose and Docker read a value written as text.

`go_parse_float` is strconv.ParseFloat, `to_float32` a float32 as Go prints it, `parse_size` Docker's
units.RAMInBytes, `parse_duration` Go's time.ParseDuration. One home for them: the typed paths of a compose
file (`casts`), its normalisation (`normalise`), its checks across services (`references`), the model and the
x-ecsflow blocks (`extension`) all read values the same way.
"""

from __future__ import annotations

import math
import re
import struct
from typing import Any


class CastError(ValueError):
    """Text at a typed path that Go cannot read as that type."""


_GO_DECIMAL = re.compile(r"[+-]?(?=\.?[0-9])([0-9](_?[0-9])*)?(\.([0-9](_?[0-9])*)?)?([eE][+-]?[0-9](_?[0-9])*)?")
_GO_HEX = re.compile(r"[+-]?0[xX](?=\.?[0-9a-fA-F])([0-9a-fA-F](_?[0-9a-fA-F])*)?(\.([0-9a-fA-F](_?[0-9a-fA-F])*)?)?"
                     r"[pP][+-]?[0-9](_?[0-9])*")
_GO_SPECIAL = re.compile(r"[+-]?(inf|infinity)|nan", re.IGNORECASE)
FLOAT32_MAX = struct.unpack("f", b"\xff\xff\x7f\x7f")[0]


def go_parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64): decimal or hex syntax with `_` between digits, `inf`, `nan`."""
    if _GO_SPECIAL.fullmatch(text):
        return float(text)
    if _GO_DECIMAL.fullmatch(text):
        value = float(text.replace("_", ""))
    elif _GO_HEX.fullmatch(text):
        sign = -1.0 if text.startswith("-") else 1.0
        value = sign * float.fromhex(text.lstrip("+-").replace("_", ""))
    else:
        raise CastError("not a number")
    if math.isinf(value):
        raise CastError("number out of range")
    return value


def to_float32(value: float) -> float:
    """A float32 as Go prints it (shortest digits that read back as the same float32), as a Python float."""
    if math.isnan(value) or math.isinf(value):
        return value
    if abs(value) > FLOAT32_MAX:
        raise CastError("number out of range")
    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        text = f"{single:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            return float(text)
    return single


_SIZE_MULTIPLIERS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_SIZE_ERROR = "invalid size: expected a number of bytes, or a number with a unit such as 512m or 1.5g"


def parse_size(value: Any) -> int:
    """`512m`, `1.5g`, `1024`, `2 GiB`, 1024 → bytes, as Docker's units.RAMInBytes reads them (powers of 1024)."""
    if isinstance(value, bool):
        raise ValueError(_SIZE_ERROR)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(_SIZE_ERROR)
        return int(value)
    text = str(value)
    # The number runs to the last digit, '.' or space; a space before the unit is dropped.
    split = max(text.rfind(char) for char in "0123456789. ")
    if split < 0:
        raise ValueError(_SIZE_ERROR)
    number, unit = (text[:split], text[split + 1:]) if text[split] == " " else (text[:split + 1], text[split + 1:])
    try:
        size = go_parse_float(number)
    except CastError:
        raise ValueError(_SIZE_ERROR) from None
    unit = unit.lower()
    if size < 0 or len(unit) > 3 or (unit[:1] == "b" and len(unit) > 1):
        raise ValueError(_SIZE_ERROR)
    if unit and unit[0] != "b":
        if unit[0] not in _SIZE_MULTIPLIERS or unit[1:] not in ("", "b", "ib"):
            raise ValueError(_SIZE_ERROR)
        size *= _SIZE_MULTIPLIERS[unit[0]]
    if size >= 2**63:
        raise ValueError("invalid size: the size is too large")
    return int(size)


def ignored_size(value: Any) -> bool:
    """Compose reads a size from text or a whole number (an int64); any other YAML number it drops unread."""
    return isinstance(value, float) or (isinstance(value, int) and not -(2**63) <= value < 2**63)


_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6,
                   "ns": 1e-9}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(h|ms|m|s|us|\u00b5s|\u03bcs|ns)")


def parse_duration(value: Any) -> float:
    """A Go/Compose duration (`1m30s`, `500ms`, `1h`, `0`) → seconds, as Go's time.ParseDuration reads it."""
    if isinstance(value, bool) or value is None:
        raise ValueError("invalid duration: expected text such as 30s, 1m30s or 500ms")
    text = str(value)
    sign, text = (text[0], text[1:]) if text[:1] in ("+", "-") else ("", text)
    if text == "0":
        return 0.0
    if sign == "-":
        raise ValueError("invalid duration: a duration must not be negative")
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError("invalid duration: expected a number with a unit, like 30s, 1m30s or 500ms")
    return total


