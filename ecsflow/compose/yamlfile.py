"""Read one compose file with PyYAML, rejecting duplicate keys and keeping line numbers.

PyYAML's safe loader silently keeps the last of two equal keys; Compose rejects them, and so do we.
Mappings come back as `PositionedMap`, a dict that remembers where each key was written, so later
errors can name the file and line. Compose's `!reset` and `!override` tags are kept as markers for merging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ecsflow.errors import ComposeError


class PositionedMap(dict):
    """A dict that also knows the file and the 1-based line of itself and of each of its keys."""

    file: str | None = None
    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[str, int] = {}

    def copy_positions(self, other: Any) -> PositionedMap:
        if isinstance(other, PositionedMap):
            self.file = self.file or other.file
            self.line = self.line or other.line
            for key, line in other.key_lines.items():
                self.key_lines.setdefault(key, line)
        return self

    def line_of(self, key: str) -> int | None:
        return self.key_lines.get(key, self.line)


@dataclass(frozen=True)
class Reset:
    """`!reset`: remove the value inherited from earlier files or from `extends`."""


@dataclass(frozen=True)
class Override:
    """`!override VALUE`: replace the inherited value instead of merging with it."""

    value: Any


class _ComposeYamlLoader(yaml.SafeLoader):
    pass


# Compose reads YAML 1.2: only true/false are booleans; `yes`, `no`, `on`, `off` stay strings.
_ComposeYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ComposeYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _construct_mapping(loader: _ComposeYamlLoader, node: yaml.MappingNode) -> PositionedMap:
    loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys the way YAML 1.1 defines them
    result = PositionedMap()
    result.file = loader.name
    result.line = node.start_mark.line + 1
    # Keys that came from a `<<` merge may be overridden by explicit keys; only explicit repeats are errors.
    merged_count = getattr(node, "_merged_count", 0)
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise ComposeError(
                "a mapping key must be a plain scalar",
                file=loader.name,
                line=key_node.start_mark.line + 1,
                column=key_node.start_mark.column + 1,
            )
        key = str(key) if not isinstance(key, str) else key
        from_merge = index < merged_count
        if key in result and not from_merge and key in result.key_lines and result.key_lines[key] > 0:
            raise ComposeError(
                f"duplicate key '{key}' (first written on line {result.key_lines[key]})",
                file=loader.name,
                line=key_node.start_mark.line + 1,
                column=key_node.start_mark.column + 1,
                key=key,
                hint="YAML keeps only one of them; Docker Compose rejects the file. Remove one.",
            )
        result[key] = loader.construct_object(value_node, deep=True)
        # Negative line marks a key inherited through `<<`, which an explicit key may override.
        line = key_node.start_mark.line + 1
        result.key_lines[key] = -line if from_merge else line
    for key, line in result.key_lines.items():
        result.key_lines[key] = abs(line)
    return result


def _flatten_mapping(self: _ComposeYamlLoader, node: yaml.MappingNode) -> None:
    """PyYAML's flatten_mapping, remembering how many leading pairs came from `<<` merges."""
    before = [pair for pair in node.value if pair[0].tag != "tag:yaml.org,2002:merge"]
    explicit = len(before)
    yaml.SafeLoader.flatten_mapping(self, node)
    node._merged_count = len(node.value) - explicit  # type: ignore[attr-defined]


_ComposeYamlLoader.flatten_mapping = _flatten_mapping  # type: ignore[method-assign]
_ComposeYamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_ComposeYamlLoader.add_constructor("!reset", lambda loader, node: Reset())


def _construct_override(loader: _ComposeYamlLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(_construct_mapping(loader, node))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))


_ComposeYamlLoader.add_constructor("!override", _construct_override)


def _construct_timestamp_as_text(loader: _ComposeYamlLoader, node: yaml.ScalarNode) -> str:
    # Compose reads YAML 1.2-ish: a date-looking scalar is a string, not a datetime.
    return loader.construct_scalar(node)


_ComposeYamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


def parse_yaml(text: str, file: str) -> Any:
    """Parse compose YAML text; errors name the file, line and column."""
    loader = _ComposeYamlLoader(text)
    loader.name = file
    try:
        return loader.get_single_data()
    except ComposeError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise ComposeError(
            f"YAML syntax error: {problem}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"YAML error: {exc}", file=file) from None
    finally:
        loader.dispose()


def read_yaml_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ComposeError("compose file not found", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ComposeError(f"not UTF-8 text (byte {exc.start})", file=str(path),
                           hint="save the file as UTF-8, as Docker Compose expects") from None
    except OSError as exc:
        raise ComposeError(f"cannot read compose file: {exc.strerror}", file=str(path)) from None
    return parse_yaml(text, str(path))
