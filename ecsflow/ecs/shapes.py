"""Whether a JSON answer has the shape the service model says, before botocore parses it.

botocore's JSON parser trusts the answer's shape: a string where the model has an object (a proxy's rewrite, an
ECS-compatible endpoint's bug) ends in ``AttributeError: 'str' object has no attribute 'get'`` deep inside it, and
a string where a number belongs comes through as it is, to break whatever reads it. ``first_mismatch`` walks the
answer along the operation's output shape (botocore's own model) and names the first place that differs, so that
``ecsflow.ecs.client`` can report one clear error naming the endpoint and the operation, for every operation of
every JSON service ecsflow calls (ECS, CloudWatch Logs, ECR, SSM, Secrets Manager). Members the answer lacks,
``null`` values and members the model does not know are left alone, as botocore leaves them.
"""

from __future__ import annotations

from typing import Any

_NUMBER = (int, float)


def first_mismatch(shape: Any, value: Any, path: str = "") -> str | None:
    """``"taskDefinition.containerDefinitions[0]: a string where an object belongs"`` for the first value that
    does not have its shape's type; None when the whole answer matches."""
    found = _walk(shape, value)
    if found is None:
        return None
    parts, bad, expected = found
    where = path
    for part in reversed(parts):
        where = f"{where}[{part}]" if isinstance(part, int) else f"{where}.{part}" if where else str(part)
    return f"{where or 'the answer'}: {_describe(bad)} where {expected} belongs"


def _walk(shape: Any, value: Any) -> tuple[list, Any, str] | None:
    """(the path to the first mismatch, innermost first; the value; what belongs there), or None. The path is
    built only for a mismatch, and a scalar is checked where it stands, without a call of its own: a
    DescribeServices answer holds tens of thousands of values."""
    if value is None or getattr(shape, "is_document_type", False):
        return None
    kind = shape.type_name
    check = _CHECKS.get(kind)
    if check is not None:
        expected, ok = check(value)
        if not ok:
            return [], value, expected
    if kind == "structure":
        members = _members(shape)
        items: Any = value.items()
    elif kind in ("list", "map"):
        member = shape.member if kind == "list" else shape.value
        items = enumerate(value) if kind == "list" else value.items()
        members = None
    else:
        return None
    for key, item in items:
        if item is None:
            continue
        member = members.get(key) if members is not None else member
        if member is None:
            continue
        scalar = _SCALARS.get(member.type_name)
        if scalar is not None:
            if not scalar(item):
                return [key], item, _CHECKS[member.type_name](item)[0]
            continue
        found = _walk(member, item)
        if found:
            found[0].append(key)
            return found
    return None


_MEMBERS: dict[int, tuple[Any, dict[str, Any]]] = {}


def _members(shape: Any) -> dict[str, Any]:
    """A structure's body members by their name in the answer (a header's are not the body's), once per shape."""
    cached = _MEMBERS.get(id(shape))
    if cached is None or cached[0] is not shape:
        members = {member.serialization.get("name", name): member for name, member in shape.members.items()
                   if not member.serialization.get("location")}
        cached = _MEMBERS[id(shape)] = (shape, members)
    return cached[1]


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


_CHECKS = {
    "structure": lambda v: ("an object", isinstance(v, dict)),
    "map": lambda v: ("an object", isinstance(v, dict)),
    "list": lambda v: ("a list", isinstance(v, list)),
    "string": lambda v: ("a string", isinstance(v, str)),
    "blob": lambda v: ("a string", isinstance(v, str)),
    "boolean": lambda v: ("true or false", isinstance(v, bool)),
    "integer": lambda v: ("a whole number", isinstance(v, int) and not isinstance(v, bool)),
    "long": lambda v: ("a whole number", isinstance(v, int) and not isinstance(v, bool)),
    "float": lambda v: ("a number", _is_number(v)),
    "double": lambda v: ("a number", _is_number(v)),
    "timestamp": lambda v: ("a time", _is_number(v) or isinstance(v, str)),
}


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# The scalar kinds' checks as plain predicates, the same as _CHECKS' (the structure, list and map kinds recurse).
_SCALARS = {
    "string": lambda v: isinstance(v, str), "blob": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool), "integer": _whole, "long": _whole, "float": _is_number,
    "double": _is_number, "timestamp": lambda v: _is_number(v) or isinstance(v, str),
}
assert set(_SCALARS) == set(_CHECKS) - {"structure", "map", "list"}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "a string"
    if _is_number(value):
        return "a number"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__
