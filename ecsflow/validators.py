"""The rules for values a user writes, and the one error they raise: shared by the x-ecsflow parser
(`ecsflow.compose.extension`) and the settings parsers (`ecsflow.settings.values`), so that a rule (a tag, a
role) is the same wherever the value is written and cannot drift between the two.

Every refusal is an `InvalidValue`: what was expected, and the value refused. The value is only ever shown
through `describe`, which is told the variables interpolation read for the value being checked (name ->
value): those are named, never shown, since a `.env` value may be a secret (`cpu: ${JOB_API_TOKEN}`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

_NOT_SHOWN = object()


class InvalidValue(ValueError):
    """A value a rule refuses. ``expected`` says what the rule wants and never holds the value; ``value``
    (left out when showing it would say nothing or too much) is shown by `describe`. The caller says where
    (`x-ecsflow.cpu must be ...`, `environment variable ECSFLOW_REGION must be ...`)."""

    def __init__(self, expected: str, value: Any = _NOT_SHOWN) -> None:
        self.expected = expected
        self.value = value
        super().__init__(self.message())

    def message(self, variables: Mapping[str, str] | None = None) -> str:
        """``expected, not VALUE``, with the values of ``variables`` (those interpolation read) named."""
        if self.value is _NOT_SHOWN:
            return self.expected
        return f"{self.expected}, not {describe(self.value, variables)}"


def describe(value: Any, variables: Mapping[str, str] | None = None) -> str:
    """A refused value as a message shows it: its type for a collection or a boolean; else its text, where
    each value of ``variables`` is replaced by the name of its variable (``'acme/job:${TAG}'``)."""
    kind = {list: "a list", tuple: "a list", dict: "a mapping", bool: "a boolean"}.get(type(value))
    if kind or isinstance(value, Mapping):
        return kind or "a mapping"
    text = value if isinstance(value, str) else repr(value)
    found = {name: v for name, v in (variables or {}).items() if v and v in text}
    if not found:
        return repr(value)
    if len(found) == 1 and text.strip() == next(iter(found.values())).strip():
        return f"the value of ${{{next(iter(found))}}} (not shown)"
    for name, secret in sorted(found.items(), key=lambda item: -len(item[1])):
        text = text.replace(secret, f"${{{name}}}")
    return f"{text!r} (the values of variables not shown)"


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a YAML value (mappings' values, lists' items), for finding what interpolation made."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def variables_in(value: Any, interpolated: Mapping[str, Mapping[str, str]] | None) -> dict[str, str]:
    """The variables (name -> value) interpolation read to make the strings of ``value``. ``interpolated``:
    each text interpolation produced -> the variables it read for it (`ecsflow.compose.interpolate`)."""
    found: dict[str, str] = {}
    if interpolated:
        for text in strings_in(value):
            found.update(interpolated.get(text, {}))
    return found


# --- shapes --------------------------------------------------------------------------------------------------


def is_unset(value: Any) -> bool:
    """null, "", [] and {} mean "not given here" (typer's empty repeatable flags, a Terraform output of ""),
    so the layer below applies."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, list | tuple | Mapping) and len(value) == 0


def text(value: Any) -> str:
    """A non-empty string, as written."""
    if not isinstance(value, str) or value == "":
        raise InvalidValue("a non-empty string", value)
    return value


def setting_text(value: Any) -> str:
    """A string (or a number written without quotes, as YAML reads `account: 123456789012`), stripped."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidValue("a string", value)
    return str(value).strip()


def one_word(value: Any) -> str:
    """A setting's text without whitespace inside: a name, an ARN, a path."""
    result = setting_text(value)
    if re.search(r"\s", result):
        raise InvalidValue("one word (no whitespace)", result)
    return result


def role(value: Any) -> str:
    """An IAM role's ARN or name (a name becomes an ARN with the account): the same rule in x-ecsflow and in
    the settings."""
    result = one_word(value)
    if not result:
        raise InvalidValue("an IAM role ARN or name", value)
    return result


def flag(value: Any) -> bool:
    """true or false, as YAML writes them."""
    if not isinstance(value, bool):
        raise InvalidValue("true or false", value)
    return value


_TRUE = {"true", "1", "yes", "enabled"}
_FALSE = {"false", "0", "no", "disabled"}


def boolean(value: Any) -> bool:
    """A boolean from any source: YAML's true/false, or text as environment variables and Consul hold it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise InvalidValue("a boolean (true/false, 1/0, yes/no, ENABLED/DISABLED)", value)


def whole(value: Any) -> int:
    """A whole number, written as one or as a string of digits (YAML `cpu: "1024"`)."""
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise InvalidValue("a whole number", value)
    return int(value)


def names(value: Any) -> tuple[str, ...]:
    """A list of variable names, repeats dropped."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise InvalidValue("a list of variable names", value)
    return tuple(dict.fromkeys(value))


# --- tags ----------------------------------------------------------------------------------------------------

# ECS's Tag (TagResource, RegisterTaskDefinition; botocore's TagKey/TagValue): a key of 1 to 128 characters, a
# value of 0 to 256, both of letters, digits, spaces (Unicode's L, N and Z categories) and `_ . : / = + - @`;
# `aws:` in any case starts no key or value ("reserved for AWS use"); at most 50 tags on a resource.
TAG_KEY_LENGTH = 128
TAG_VALUE_LENGTH = 256
MAX_TAGS = 50
_TAG_SYMBOLS = frozenset("_.:/=+-@")
TAG_RULE = "letters, digits, spaces and _ . : / = + - @"


def _tag_text(text: str) -> bool:
    return all(c in _TAG_SYMBOLS or unicodedata.category(c)[0] in "LNZ" for c in text)


def tags(value: Any) -> dict[str, str]:
    """A mapping of tag key: value, checked against ECS's rules for tags. Numbers and booleans are text as YAML
    writes them (`true`, `3`); null is an empty value."""
    if not isinstance(value, Mapping):
        raise InvalidValue("a mapping of tag key: value", value)
    result: dict[str, str] = {}
    for key, item in value.items():
        key = str(key).strip() if isinstance(key, str | int | float) and not isinstance(key, bool) else key
        if not isinstance(key, str) or not key:
            raise InvalidValue("a mapping whose tag keys are not empty", key)
        if isinstance(item, Mapping | list | tuple):
            raise InvalidValue(f"a mapping of tag key: text (tag {key!r} is not text)", item)
        text_value = "" if item is None else str(item).lower() if isinstance(item, bool) else str(item)
        for what, part, longest in (("key", key, TAG_KEY_LENGTH), ("value", text_value, TAG_VALUE_LENGTH)):
            if part.lower().startswith("aws:"):
                raise InvalidValue(f"tags whose {what}s do not start with aws: (ECS reserves it for AWS's own "
                                   "tags)", part)
            if len(part) > longest:
                raise InvalidValue(f"tags whose {what}s have at most {longest} characters (tag {key[:40]!r}... "
                                   f"has {len(part)})")
            if not _tag_text(part):
                raise InvalidValue(f"tags whose {what}s hold only {TAG_RULE} (ECS's rule)", part)
        result[key] = text_value
    if len(result) > MAX_TAGS:
        raise InvalidValue(f"at most {MAX_TAGS} tags (ECS's limit), not {len(result)}")
    return result
