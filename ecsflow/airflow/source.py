"""The generated Python source: a tiny expression tree laid out as black would lay it out, and the rules that
keep every value from a compose file or a setting a value in that source.

Safety rules for the generated source:
- every value from a compose file or a setting reaches the source as a string literal made by `repr()`
  (quotes normalised as black does), never pasted into code; in comments it appears as such a literal too,
  so it cannot end a comment line;
- a value placed in one of the operator's templated fields that Jinja would change (it holds `{`, or a
  line break that Jinja would normalise or strip) is wrapped in `literal()` (Airflow 3's `airflow.sdk.literal`,
  Airflow 2's `airflow.utils.template.literal`), so it reaches ECS unchanged;
- runtime values (`x-ecsflow.runtime_env`, see runtime.py) are the only templates Airflow renders, with their
  names (and plain defaults) as Jinja string literals in which every character but a plain few is a hex
  escape; only a default the compose file writes as Jinja is Jinja.

`py_str` makes the literals (the `Str` node prints with it), `tpl` / `tpl_tree` the values of templated fields
and `jinja_str` the string literals inside templates.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PY_LINE = 88  # black's default line length: the generated file is laid out as black would lay it out


# --- the expression tree: a string literal, code as written, a call, a list, a dict ---


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class Raw:
    code: str


@dataclass(frozen=True)
class Call:
    func: str
    args: list[Any]
    kwargs: list[tuple[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class List:
    items: list[Any]


@dataclass(frozen=True)
class Dict:
    items: list[tuple[Any, Any]]


def py_str(value: str) -> str:
    """A Python string literal for `value`, made by repr() with black's quote preference applied."""
    return _black_quotes(repr(value))


def _black_quotes(literal: str) -> str:
    # black's normalize_string_quotes (black/strings.py) for a plain, non-triple-quoted literal.
    if literal[0] == '"':
        orig, new = '"', "'"
    else:
        orig, new = "'", '"'
    unescaped_new = re.compile(rf"(([^\\]|^)(\\\\)*){new}")
    escaped_new = re.compile(rf"([^\\]|^)\\((?:\\\\)*){new}")
    escaped_orig = re.compile(rf"([^\\]|^)\\((?:\\\\)*){orig}")
    body = literal[1:-1]

    def sub_twice(regex: re.Pattern[str], replacement: str, text: str) -> str:
        return regex.sub(replacement, regex.sub(replacement, text))

    new_body = sub_twice(escaped_new, rf"\1\2{new}", body)
    if body != new_body:
        body = new_body
        literal = f"{orig}{body}{orig}"
    new_body = sub_twice(escaped_orig, rf"\1\2{orig}", new_body)
    new_body = sub_twice(unescaped_new, rf"\1\\{new}", new_body)
    if new_body.count("\\") > body.count("\\"):
        return literal
    if new_body.count("\\") == body.count("\\") and orig == '"':
        return literal
    return f"{new}{new_body}{new}"


def flat(node: Any) -> str:
    """The node's source on one line."""
    return _flat(node)


def _flat(node: Any) -> str:
    if isinstance(node, Str):
        return py_str(node.value)
    if isinstance(node, Raw):
        return node.code
    if isinstance(node, Call):
        parts = [_flat(a) for a in node.args] + [f"{_keyword(k)}{_flat(v)}" for k, v in node.kwargs]
        return f"{node.func}({', '.join(parts)})"
    if isinstance(node, List):
        return "[" + ", ".join(_flat(i) for i in node.items) + "]"
    if isinstance(node, Dict):
        return "{" + ", ".join(f"{_flat(k)}: {_flat(v)}" for k, v in node.items) + "}"
    raise TypeError(node)


def _keyword(key: str) -> str:
    """A call's keyword as written before its value: `key=`, or `**` for a keyword "**" (`f(**kwargs)`)."""
    return "**" if key == "**" else f"{key}="


def lay_out_def(name: str, parameters: list[str], returns: str) -> list[str]:
    """A function's first lines: on one line when it fits, else one parameter a line with a trailing comma."""
    line = f"def {name}({', '.join(parameters)}) -> {returns}:"
    if len(line) <= PY_LINE:
        return [line]
    return [f"def {name}(", *(f"    {parameter}," for parameter in parameters), f") -> {returns}:"]


def lay_out(node: Any, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
    """Lines for `prefix + node + suffix` at `indent`: one line when it fits in black's 88 columns, else the
    brackets exploded one item a line with a trailing comma (black keeps that: the magic trailing comma)."""
    pad = " " * indent
    flat = f"{pad}{prefix}{_flat(node)}{suffix}"
    if len(flat) <= PY_LINE:
        return [flat]
    if isinstance(node, Call):
        opening, closing = f"{node.func}(", ")"
        items = [(None, a) for a in node.args] + [(_keyword(k), v) for k, v in node.kwargs]
    elif isinstance(node, List):
        opening, closing = "[", "]"
        items = [(None, i) for i in node.items]
    elif isinstance(node, Dict):
        opening, closing = "{", "}"
        items = [(f"{_flat(k)}: ", v) for k, v in node.items]
    else:
        return [flat]  # a string or name: nothing to split
    if not items:
        return [flat]
    lines = [f"{pad}{prefix}{opening}"]
    for item_prefix, item in items:
        lines.extend(lay_out(item, indent + 4, item_prefix or "", ","))
    lines.append(f"{pad}{closing}{suffix}")
    return lines


# --- one file for Airflow 2 and 3 ---

# Where Airflow 2.10+ keeps what Airflow 3 exports from airflow.sdk (the names the generated modules use).
_AIRFLOW2_MODULES = {
    "DAG": "airflow.models.dag",
    "TaskGroup": "airflow.utils.task_group",
    "Param": "airflow.models.param",
    "literal": "airflow.utils.template",
}


def airflow_imports(names: list[str]) -> list[str]:
    """Lines that import `names` from airflow.sdk on Airflow 3, else from Airflow 2's modules (none: [])."""
    if not names:
        return []
    return [
        "try:  # Airflow 3",
        f"    from airflow.sdk import {', '.join(names)}",
        "except ImportError:  # Airflow 2.10+",
        *(f"    from {_AIRFLOW2_MODULES[name]} import {name}" for name in names),
        "",
    ]


# --- values in the operator's templated fields ---


def _needs_literal(value: str) -> bool:
    # Jinja reads {{ {% {# as syntax, turns \r\n and \r into \n, and Airflow's environment drops one trailing
    # newline: a value with any of these would not arrive as written.
    return "{" in value or "\r" in value or "\n" in value


def tpl(value: str) -> Any:
    """A string for a templated operator field: kept literal when Jinja would change it."""
    return Call("literal", [Str(value)]) if _needs_literal(value) else Str(value)


def tpl_tree(value: Any) -> Any:
    if isinstance(value, str):
        return tpl(value)
    if isinstance(value, Mapping):
        return Dict([(Str(k), tpl_tree(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return List([tpl_tree(v) for v in value])
    return Raw(repr(value))


_JINJA_PLAIN = re.compile(r"[A-Za-z0-9_.-]")


def jinja_str(value: str) -> str:
    """A Jinja string literal for any text: characters other than letters, digits and _.- as \\x / \\u
    escapes (Jinja decodes string literals with Python's unicode-escape), so no quote, brace or line break
    of the value ever appears in the template."""
    out = []
    for char in value:
        if _JINJA_PLAIN.fullmatch(char):
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "'" + "".join(out) + "'"

