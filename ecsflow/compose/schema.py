"""Compose's structural validation: the Compose Specification's JSON Schema, checked with `jsonschema`.

Docker Compose validates each file, after interpolation, against the schema it embeds; `compose-spec.json`
here is that schema (vendored from check-jsonschema 0.37.4, which ships the same file Docker Compose 2.40.3
embeds; Apache-2.0, see LICENSE.compose-spec; a test compares it with the binary's). Errors are one line in
Compose's words (`services.web.ports.0 must be a number, string or mapping`) with the file and line of the
offending key, and never show the value. A document is first checked by the schema compiled into plain Python
checks (`schema_check.py`), which says only whether it passes; jsonschema, imported then, finds and words the
errors of one that does not. A valid project never imports jsonschema.

Checks the schema cannot make live elsewhere: references between services, networks, volumes, secrets and
configs (`references.py`), sizes, durations and port syntax (`normalise.py`, `model.py`), and here the shape of
ecsflow's own `x-ecsflow` block, which the schema leaves free like every `x-` key.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ecsflow.compose.schema_check import Check, Unsure, compile_schema
from ecsflow.compose.yamlfile import Override, PositionedList, PositionedMap, Reset
from ecsflow.errors import ComposeError

SCHEMA_FILE = Path(__file__).with_name("compose-spec.json")
_TYPE_NAMES = {"object": "mapping", "array": "list"}
_ERRORS_CONSIDERED = 20  # of these, the one written first in the file is reported


@functools.cache
def _schema() -> dict[str, Any]:
    return _whole_text_patterns(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


@functools.cache
def _passes() -> Check:
    return compile_schema(_schema())


@functools.cache
def _validator() -> Any:
    import jsonschema  # ~0.1 s: only when a document does not pass `_passes`, to find and word its errors

    return jsonschema.Draft7Validator(_schema())  # the schema's "$schema" names draft 7


def _whole_text_patterns(node: Any) -> Any:
    """Go's regexp `$` matches only at the end of the text; Python's also before a final newline. Use `\\Z`."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "patternProperties":
                value = {_end_anchor(pattern): _whole_text_patterns(sub) for pattern, sub in value.items()}
            elif key == "pattern":
                value = _end_anchor(value)
            else:
                value = _whole_text_patterns(value)
            out[key] = value
        return out
    if isinstance(node, list):
        return [_whole_text_patterns(item) for item in node]
    return node


def _end_anchor(pattern: str) -> str:
    return pattern[:-1] + r"\Z" if pattern.endswith("$") else pattern


def validate_document(document: Mapping[str, Any], file: str) -> None:
    """Raise a ComposeError for the first part of `document` (one interpolated compose file or document,
    `extends` resolved) that Compose's schema refuses."""
    plain = _plain(document)
    try:
        passes = _passes()(plain)
    except Unsure:
        passes = False
    errors = []
    for error in () if passes else _validator().iter_errors(plain):
        errors.append(error)
        if len(errors) >= _ERRORS_CONSIDERED:
            break
    if errors:
        described = [_describe(error) for error in errors]
        located = [(_locate(document, file, path), message, path) for path, message in described]
        (where_file, line), message, path = min(located, key=lambda found: found[0][1] or 0)
        service = path[1] if len(path) > 1 and path[0] == "services" else None
        raise ComposeError(message, file=where_file, line=line, service=service,
                           key=(".".join(str(p) for p in path[2:]) or None) if service else None,
                           hint="Docker Compose refuses this file: see the Compose Specification")
    _check_extensions(document, file)


def _plain(value: Any, path: tuple[str, ...] = ()) -> Any:
    """What Compose's schema sees: `!reset` keys gone, `!override` values unwrapped, and repeated items gone
    from the lists Compose de-duplicates before it validates (its EnforceUnicity), so `ports: ["80", "80"]`
    passes while `depends_on: [db, db]` does not."""
    if isinstance(value, Override):
        return _plain(value.value, path)
    if isinstance(value, dict):
        return {key: _plain(item, (*path, str(key))) for key, item in value.items() if not isinstance(item, Reset)}
    if isinstance(value, list):
        items = [_plain(item, (*path, "[]")) for item in value if not isinstance(item, Reset)]
        if _is_deduplicated(path):
            items = [item for index, item in enumerate(items) if item not in items[:index]]
        return items
    return value


# Lists Compose de-duplicates before validation (checked against the binary: tests/test_compose_schema.py).
_DEDUPLICATED = {
    *(("services", "*", key) for key in (
        "annotations", "cap_add", "cap_drop", "configs", "devices", "dns", "dns_opt", "dns_search", "env_file",
        "environment", "expose", "labels", "links", "ports", "profiles", "secrets", "sysctls", "tmpfs", "volumes")),
    *(("services", "*", "build", key) for key in ("args", "additional_contexts", "labels", "platforms", "tags")),
    ("services", "*", "deploy", "labels"), ("services", "*", "networks", "*", "aliases"),
    ("services", "*", "networks", "*", "link_local_ips"), ("networks", "*", "labels"),
}


def _is_deduplicated(path: tuple[str, ...]) -> bool:
    return any(len(pattern) == len(path) and all(want in ("*", got) for want, got in zip(pattern, path, strict=True))
               for pattern in _DEDUPLICATED)


def _locate(document: Any, file: str, path: list[Any]) -> tuple[str, int | None]:
    """The file and line where `path` was written, as near as the positions the YAML loader kept allow."""
    node: Any = document
    where_file, line = getattr(document, "file", None) or file, getattr(document, "line", None)
    for part in path:
        if isinstance(node, Override):
            node = node.value
        if isinstance(node, dict) and part in node:
            if isinstance(node, PositionedMap):
                where_file, line = node.file or where_file, node.line_of(part) or line
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if isinstance(node, PositionedList):
                where_file, line = node.file or where_file, node.line_of(part) or line
            node = node[part]
        else:
            break
    return where_file, line


def _describe(error: Any) -> tuple[list[Any], str]:
    """(path, one-line message) for a jsonschema error, in Compose's words, without the value."""
    path = list(error.absolute_path)
    dotted = ".".join(str(part) for part in path)
    prefix = f"{dotted} " if dotted else ""
    kind, schema_value = error.validator, error.validator_value
    if kind in ("oneOf", "anyOf") and error.context:
        inner = [sub for sub in error.context if len(sub.relative_path) > 0 or sub.validator != "type"]
        if inner:  # the value has the type of one form but fails inside it: report that
            return _describe(max(inner, key=lambda sub: len(sub.absolute_path)))
        wanted = [sub.validator_value for sub in error.context if sub.validator == "type"]
        if wanted:
            return path, f"{prefix}must be {_types(wanted)}"
        return path, f"{prefix}does not match any allowed form"
    if kind == "type":
        return path, f"{prefix}must be {_types([schema_value])}"
    if kind == "additionalProperties":
        extra = _extra_keys(error)
        if path == ["services"]:
            return [*path, extra[0]], (f"invalid service name '{extra[0]}': use letters, digits, '.', '_' and '-'")
        known = sorted((error.schema.get("properties") or {}).keys())
        close = difflib.get_close_matches(extra[0], known, n=1)
        suggestion = f" (did you mean '{close[0]}'?)" if close else ""
        return [*path, extra[0]], f"{prefix}has an unknown key '{extra[0]}'{suggestion}"
    if kind == "required":
        missing = [name for name in schema_value if name not in error.instance]
        return path, f"{prefix}missing property '{missing[0] if missing else schema_value[0]}'"
    if kind == "enum":
        return path, f"{prefix}value must be one of {', '.join(repr(v) for v in schema_value)}"
    if kind == "const":
        return path, f"{prefix}value must be {schema_value!r}"
    if kind in ("minimum", "maximum"):
        relation = "greater" if kind == "minimum" else "less"
        return path, f"{prefix}must be {relation} than or equal to {schema_value}"
    if kind == "uniqueItems":
        return path, f"{prefix}must not contain the same item twice"
    if kind == "pattern":
        return path, f"{prefix}does not match the pattern {schema_value}"
    return path, f"{prefix}is not valid ({kind})"


def _extra_keys(error: Any) -> list[str]:
    schema = error.schema
    allowed = set(schema.get("properties") or {})
    patterns = list((schema.get("patternProperties") or {}).keys())
    return [key for key in error.instance
            if key not in allowed and not any(re.search(pattern, key) for pattern in patterns)] or ["?"]


def _types(wanted: list[Any]) -> str:
    names = []
    for item in wanted:
        for name in item if isinstance(item, list) else [item]:
            name = _TYPE_NAMES.get(name, name)
            if name not in names:
                names.append(name)
    if len(names) > 1 and "null" in names:
        names.remove("null")  # "must be a string or a list" reads better; null is always the default
    if "number" in names and "integer" in names:
        names.remove("integer")
    worded = [("an " if name[0] in "aeiou" else "a ") + name for name in names]
    return worded[0] if len(worded) == 1 else f"{', '.join(worded[:-1])} or {worded[-1]}"


def _check_extensions(document: Mapping[str, Any], file: str) -> None:
    """ecsflow's own block: `services.NAME.x-ecsflow` must be a mapping (its keys are checked when parsed)."""
    services = document.get("services")
    for name, service in (services.items() if isinstance(services, dict) else ()):
        block = service.get("x-ecsflow") if isinstance(service, dict) else None
        if isinstance(block, Override):
            block = block.value
        if block is not None and not isinstance(block, Reset | Mapping):
            raise ComposeError(f"services.{name}.x-ecsflow must be a mapping", file=getattr(service, "file", file),
                               line=service.line_of("x-ecsflow") if isinstance(service, PositionedMap) else None,
                               service=name, key="x-ecsflow")
