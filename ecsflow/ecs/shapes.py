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
    if value is None or getattr(shape, "is_document_type", False):
        return None
    kind = shape.type_name
    expected, ok = _CHECKS[kind](value) if kind in _CHECKS else ("", True)  # another kind: not checked
    if not ok:
        return f"{path or 'the answer'}: {_describe(value)} where {expected} belongs"
    if kind == "structure":
        for name, member in shape.members.items():
            if member.serialization.get("location"):  # a header, not the body's
                continue
            key = member.serialization.get("name", name)
            if key in value:
                found = first_mismatch(member, value[key], f"{path}.{key}" if path else key)
                if found:
                    return found
    elif kind == "list":
        for index, item in enumerate(value):
            found = first_mismatch(shape.member, item, f"{path}[{index}]")
            if found:
                return found
    elif kind == "map":
        for key, item in value.items():
            found = first_mismatch(shape.value, item, f"{path}.{key}" if path else str(key))
            if found:
                return found
    return None


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


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "a string"
    if _is_number(value):
        return "a number"
    return "a list" if isinstance(value, list) else "an object" if isinstance(value, dict) else type(value).__name__
