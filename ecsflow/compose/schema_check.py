"""The Compose Specification's schema compiled into plain Python checks: does a document pass, yes or no.

jsonschema validates a 1,000-service file in about 0.25 s (and takes 0.08 s to import and set up); these checks
answer the same question in a fraction of that, without importing it. They only say whether the document passes:
when it does not, `schema.py` asks jsonschema, which finds and words the errors as before. So the checks must
answer exactly as jsonschema's Draft 7 validator does, keyword by keyword (tests/test_compose_schema_check.py
compares them); where they cannot be sure (a NaN in a list whose items must be unique), they raise `Unsure` and
jsonschema decides. Only the keywords the vendored schema uses are compiled: a schema with another one is
refused when compiled, so a new schema cannot be checked by halves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

# Keywords that only annotate: they never change whether a document passes.
_ANNOTATIONS = {"$schema", "$id", "title", "description", "default", "deprecated"}
_TYPES: dict[str, Check] = {  # jsonschema's Draft 7 type checker
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "string": lambda v: isinstance(v, str),
}


class Unsure(Exception):
    """The checks cannot answer exactly as jsonschema would: let it decide."""


def compile_schema(schema: dict[str, Any]) -> Check:
    """One check for the whole schema; `$ref`s point into its `definitions`."""
    definitions: dict[str, Check] = {}

    def ref(pointer: str) -> Check:
        name = pointer.removeprefix("#/definitions/")
        if name == pointer or name not in schema.get("definitions", {}):
            raise ValueError(f"unsupported $ref {pointer!r}")
        return lambda value: definitions[name](value)

    for name, node in schema.get("definitions", {}).items():
        definitions[name] = _compile(node, ref)
    return _compile({key: value for key, value in schema.items() if key != "definitions"}, ref)


def _compile(node: Any, ref: Callable[[str], Check]) -> Check:
    if node is True or node == {}:
        return lambda value: True
    if node is False:
        return lambda value: False
    unknown = set(node) - _ANNOTATIONS - {"type", "enum", "pattern", "minimum", "maximum", "required", "items",
                                          "uniqueItems", "oneOf", "$ref", "properties", "patternProperties",
                                          "additionalProperties"}
    if unknown:
        raise ValueError(f"unsupported schema keywords {sorted(unknown)}")
    checks: list[Check] = []
    if "$ref" in node:  # Draft 7: beside $ref, every other keyword is ignored
        return ref(node["$ref"])
    if "type" in node:
        wanted = [_TYPES[name] for name in ([node["type"]] if isinstance(node["type"], str) else node["type"])]
        checks.append(wanted[0] if len(wanted) == 1 else lambda v: any(check(v) for check in wanted))
    if "enum" in node:
        allowed = node["enum"]
        checks.append(lambda v: any(_equal(choice, v) for choice in allowed))
    if "pattern" in node:
        search = re.compile(node["pattern"]).search
        checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
    for keyword, passes in (("minimum", lambda v, bound: v >= bound), ("maximum", lambda v, bound: v <= bound)):
        if keyword in node:
            checks.append(_bounded(node[keyword], passes))
    if any(key in node for key in ("properties", "patternProperties", "additionalProperties", "required")):
        checks.append(_object(node, ref))
    if "items" in node or node.get("uniqueItems"):
        checks.append(_array(node, ref))
    if "oneOf" in node:
        branches = [_compile(branch, ref) for branch in node["oneOf"]]
        checks.append(lambda v: sum(1 for branch in branches if branch(v)) == 1)
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _bounded(bound: float, passes: Callable[[Any, float], bool]) -> Check:
    return lambda v: not _TYPES["number"](v) or passes(v, bound)


def _object(node: dict[str, Any], ref: Callable[[str], Check]) -> Check:
    properties = {name: _compile(sub, ref) for name, sub in (node.get("properties") or {}).items()}
    patterns = [(re.compile(pattern).search, _compile(sub, ref))
                for pattern, sub in (node.get("patternProperties") or {}).items()]
    additional = node.get("additionalProperties", True)
    other = None if additional is True else _compile(additional, ref)
    required = list(node.get("required") or ())

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return True
        for name in required:
            if name not in value:
                return False
        for key, item in value.items():
            known = key in properties
            if known and not properties[key](item):
                return False
            for search, sub in patterns:
                if search(key) is not None:
                    known = True
                    if not sub(item):
                        return False
            if not known and other is not None and not other(item):
                return False
        return True

    return check


def _array(node: dict[str, Any], ref: Callable[[str], Check]) -> Check:
    items = node.get("items")
    if items is not None and not isinstance(items, dict | bool):
        raise ValueError("unsupported `items` form")
    each = _compile(items, ref) if items is not None else None
    unique = bool(node.get("uniqueItems"))

    def check(value: Any) -> bool:
        if not isinstance(value, list):
            return True
        if each is not None and not all(each(item) for item in value):
            return False
        return not unique or len({_frozen(item) for item in value}) == len(value)

    return check


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's equality, for the scalars an `enum` lists: text equals only text, True is not 1, 1 is 1.0."""
    if isinstance(one, str) or isinstance(two, str):
        return one == two
    if isinstance(one, dict | list) and isinstance(two, dict | list):
        raise Unsure  # no enum of the schema lists a collection
    if isinstance(one, bool) or isinstance(two, bool):
        return one is two
    return one == two


def _frozen(value: Any) -> Any:
    """A hashable stand-in equal to another's exactly when jsonschema's uniqueItems finds the two equal."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            raise Unsure
        return ("number", value)
    if value is None:
        return ("null",)
    if isinstance(value, list):
        return ("list", tuple(_frozen(item) for item in value))
    if isinstance(value, dict):
        return ("map", frozenset((key, _frozen(item)) for key, item in value.items()))
    raise Unsure
