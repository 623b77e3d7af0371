"""Read one compose file with PyYAML the way Docker Compose (go-yaml) reads it, keeping line numbers.

- Plain scalars resolve as go-yaml resolves them (`compose/scalars.py`): `22:22` and `yes` stay text.
- Several documents (`---`) are all returned, for the loader to merge as Compose does; an anchor from one
  document may be used in a later one, and an anchor may be defined again (the later one counts).
- Two equal keys in one mapping are an error (PyYAML would keep the last silently); so is a key that is not
  text (`1:`, `true:`, `~:`), as in Compose.
- Bounded work: nesting deeper than `MAX_DEPTH` and aliases that expand to more than `MAX_ALIAS_NODES` nodes
  (an alias bomb) are refused before anything walks the tree.
- Mappings come back as `PositionedMap` and sequences as `PositionedList`, which remember the file and line of
  each key or item, so later errors can name them. `!reset` and `!override` are kept as markers for merging.
- Fast: libyaml's C parser (in PyYAML's wheels) makes the events where it reads the text as PyYAML's own
  pure-Python parser does; that parser reads the rest, and every file libyaml refuses, so the documents and the
  errors are the same either way (tests/test_yaml_paths.py).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ecsflow.compose.files import COMPOSE_FILE_LIMIT, read_text
from ecsflow.compose.scalars import ScalarError, resolve_plain, resolve_tagged
from ecsflow.errors import ComposeError

# go-yaml stops at 10000 levels; ecsflow's tree walks are recursive, and no compose file nests past ~10.
MAX_DEPTH = 100
# Nodes that aliases add to a file, counted as if each alias were written out in full. Docker Compose accepts a
# six-level bomb of nine aliases each (531,441 nodes; it takes 16 s, ecsflow 2 s and 90 MB), so the bound is above
# it; a seventh level (4.8 million) takes Compose minutes, and is refused here at once.
MAX_ALIAS_NODES = 1_000_000

_PLAIN = "tag:ecsflow:plain-scalar"
_MERGE = "tag:yaml.org,2002:merge"


class PositionedMap(dict):
    """A dict that also knows the file and the 1-based line of itself and of each of its keys, with the key's
    column and, when it differs from the map's (a key merged in from another file), its file."""

    file: str | None = None
    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_lines: dict[str, int] = {}
        self.key_columns: dict[str, int] = {}
        self.key_files: dict[str, str] = {}  # only the keys written in another file than `file`

    def copy_positions(self, other: Any) -> PositionedMap:
        """Take the positions of ``other`` for what this map does not know yet."""
        if isinstance(other, PositionedMap):
            self.file = self.file or other.file
            self.line = self.line or other.line
            for key in other.key_lines:
                if key not in self.key_lines:
                    self.take_position(key, other)
        return self

    def take_position(self, key: str, other: PositionedMap) -> None:
        """``key`` was written where ``other`` says (a later file's key overrides an earlier one's)."""
        self.key_lines[key] = other.key_lines[key]
        if key in other.key_columns:
            self.key_columns[key] = other.key_columns[key]
        else:
            self.key_columns.pop(key, None)
        file = other.file_of(key)
        if file is not None and file != self.file:
            self.key_files[key] = file
        else:
            self.key_files.pop(key, None)

    def line_of(self, key: str) -> int | None:
        return self.key_lines.get(key, self.line)

    def file_of(self, key: str) -> str | None:
        return self.key_files.get(key, self.file)

    def position_of(self, key: str) -> tuple[str | None, int | None, int | None] | None:
        """(file, line, column) where ``key`` was written; None when not known."""
        if key not in self.key_lines:
            return None
        return self.file_of(key), self.key_lines[key], self.key_columns.get(key)


class PositionedList(list):
    """A list that also knows the file and the 1-based line of each item."""

    file: str | None = None

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int | None:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else None


@dataclass(frozen=True)
class Reset:
    """`!reset`: remove the value inherited from earlier files or from `extends`."""


@dataclass(frozen=True)
class Override:
    """`!override VALUE`: replace the inherited value instead of merging with it."""

    value: Any


_ATOMS = (str, int, float, bool, type(None), Reset)


def tree_copy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """A deep copy of a compose tree, as ``copy.deepcopy`` makes it (positions kept, a node shared by aliases
    copied once), in a fifth of its time: deepcopy rebuilds each PositionedMap through ``__reduce_ex__``."""
    if isinstance(value, _ATOMS):
        return value
    memo = {} if memo is None else memo
    known = memo.get(id(value))
    if known is not None:
        return known
    kind = type(value)
    if kind is PositionedMap or kind is dict:
        copied = kind()
        memo[id(value)] = copied
        if kind is PositionedMap:
            copied.file, copied.line = value.file, value.line
            copied.key_lines, copied.key_columns = dict(value.key_lines), dict(value.key_columns)
            copied.key_files = dict(value.key_files)
        for key, item in value.items():
            copied[key] = item if isinstance(item, _ATOMS) else tree_copy(item, memo)
        return copied
    if kind is PositionedList or kind is list:
        copied = kind()
        memo[id(value)] = copied
        if kind is PositionedList:
            copied.file, copied.item_lines = value.file, list(value.item_lines)
        copied.extend(item if isinstance(item, _ATOMS) else tree_copy(item, memo) for item in value)
        return copied
    if kind is Override:
        return Override(tree_copy(value.value, memo))
    return copy.deepcopy(value, memo)


class _ComposeYamlLoader(yaml.SafeLoader):
    """PyYAML's pure-Python reader, scanner and parser, with ecsflow's composer (bounded work, go-yaml's anchor
    rules) and constructors (go-yaml's scalars, positions, duplicate keys)."""

    def __init__(self, stream: str, name: str) -> None:
        super().__init__(stream)
        self._start(name)

    def _start(self, name: str) -> None:
        self.name = name
        self.depth = 0
        self.aliases: list[tuple[yaml.Mark, yaml.Node]] = []  # (where written, target) in this document
        self.alias_nodes = 0

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0]:
            return _MERGE if value == "<<" else _PLAIN
        return super().resolve(kind, value, implicit)

    def compose_document(self) -> yaml.Node:
        self.get_event()  # DOCUMENT-START
        node = self.compose_node(None, None)
        self.get_event()  # DOCUMENT-END
        self._check_aliases()
        return node  # anchors are kept: go-yaml lets a later document use them

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            if event.anchor not in self.anchors:
                raise ComposeError(f"unknown anchor '{event.anchor}' referenced", file=self.name,
                                   line=event.start_mark.line + 1, column=event.start_mark.column + 1)
            target = self.anchors[event.anchor]
            self.aliases.append((event.start_mark, target))
            return target
        event = self.peek_event()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ComposeError(f"nesting deeper than {MAX_DEPTH} levels", file=self.name,
                               line=event.start_mark.line + 1, column=event.start_mark.column + 1,
                               hint="no compose file needs this; ecsflow refuses it to bound its work")
        self.anchors.pop(event.anchor, None)  # a repeated anchor replaces the earlier one, as in go-yaml
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def _check_aliases(self) -> None:
        """Refuse a document whose aliases expand past MAX_ALIAS_NODES nodes, or that contains itself."""
        sizes: dict[int, int] = {}
        for mark, target in self.aliases:
            self.alias_nodes += _expanded_size(target, sizes, self.name, mark)
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise ComposeError(
                    f"YAML aliases expand to more than {MAX_ALIAS_NODES} nodes", file=self.name,
                    line=mark.line + 1, column=mark.column + 1,
                    hint="an anchor used many times inside other anchors (an alias bomb?); write it out plainly",
                )
        self.aliases = []


try:  # libyaml's C scanner and parser, when PyYAML was built with it (its wheels are)
    from yaml.cyaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None


# Whether parse_yaml tries libyaml first (tests turn it off to check the pure path alone).
FAST = _CParser is not None


class _Unsure(Exception):
    """The fast path met a construct on which libyaml and PyYAML's own parser may disagree."""


# Where libyaml 0.2 and PyYAML's pure-Python parser read the same text differently (tests/test_yaml_paths.py
# compares them): tabs, the line breaks NEL, LS and PS, a byte-order mark after the start and a comment right
# after a block scalar's indicator (`|#`) are left to the pure path; so are tags inside flow collections, the
# non-specific tag `!`, and `?` in a flow plain scalar.
_PURE_ONLY = re.compile("[\t\x85\u2028\u2029]|.\ufeff|[|>][-+0-9]*#", re.DOTALL)
_STR, _SEQ, _MAP = (f"tag:yaml.org,2002:{name}" for name in ("str", "seq", "map"))


class _FastComposeYamlLoader(*((_CParser,) if _CParser is not None else ()), _ComposeYamlLoader):  # type: ignore[misc]
    """The same composer and constructors over libyaml's events. A construct the pure path might read
    differently raises `_Unsure`; so does anything unexpected: `parse_yaml` then reads the text again with the
    pure path, whose documents and errors are the ones ecsflow gives."""

    def __init__(self, stream: str, name: str) -> None:
        _CParser.__init__(self, stream)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        self._start(name)
        self.flow = 0

    check_node = yaml.composer.Composer.check_node
    get_node = yaml.composer.Composer.get_node

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        """Composer.compose_node with ecsflow's rules, as the pure loader's, in one method: the same nodes."""
        event = self.get_event()
        kind = type(event)
        if kind is yaml.AliasEvent:
            if event.anchor not in self.anchors:
                raise _Unsure  # an error: the pure path words it
            target = self.anchors[event.anchor]
            self.aliases.append((event.start_mark, target))
            return target
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Unsure
        anchor, tag = event.anchor, event.tag
        self.anchors.pop(anchor, None)
        if tag is not None and (self.flow or tag == "!"):
            raise _Unsure
        if kind is yaml.ScalarEvent:
            value, style = event.value, event.style or None  # libyaml writes the plain style as ''
            if tag is None and event.implicit[0]:
                if self.flow and "?" in value:
                    raise _Unsure
                tag = _MERGE if value == "<<" else _PLAIN
            node: yaml.Node = yaml.ScalarNode(tag or _STR, value, event.start_mark, event.end_mark, style=style)
            if anchor is not None:
                self.anchors[anchor] = node
        else:
            flow = 1 if event.flow_style else 0
            self.flow += flow
            if kind is yaml.SequenceStartEvent:
                node = yaml.SequenceNode(tag or _SEQ, [], event.start_mark, None)
                if anchor is not None:
                    self.anchors[anchor] = node
                items = node.value
                while type(self.peek_event()) is not yaml.SequenceEndEvent:
                    items.append(self.compose_node(node, None))
            else:
                node = yaml.MappingNode(tag or _MAP, [], event.start_mark, None)
                if anchor is not None:
                    self.anchors[anchor] = node
                pairs = node.value
                while type(self.peek_event()) is not yaml.MappingEndEvent:
                    key = self.compose_node(node, None)
                    pairs.append((key, self.compose_node(node, key)))
            node.end_mark = self.get_event().end_mark
            self.flow -= flow
        self.depth -= 1
        return node


def _expanded_size(root: yaml.Node, sizes: dict[int, int], file: str, mark: yaml.Mark) -> int:
    """How many nodes `root` is once every alias in it is written out; memoised, so linear in distinct nodes."""
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            continue
        if id(node) in open_nodes:
            raise ComposeError("an anchor's value contains an alias to itself", file=file, line=mark.line + 1,
                               column=mark.column + 1)
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise ComposeError("an anchor's value contains an alias to itself", file=file,
                                   line=mark.line + 1, column=mark.column + 1)
            stack.append((child, False))
    return sizes[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _where(loader: _ComposeYamlLoader, node: yaml.Node) -> dict[str, Any]:
    return {"file": loader.name, "line": node.start_mark.line + 1, "column": node.start_mark.column + 1}


def _construct_plain(loader: _ComposeYamlLoader, node: yaml.ScalarNode) -> Any:
    return resolve_plain(node.value)


def _tagged(tag: str):
    def construct(loader: _ComposeYamlLoader, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise ComposeError(f"!!{tag} needs a scalar", **_where(loader, node))
        try:
            return resolve_tagged(tag, node.value)
        except ScalarError as exc:
            raise ComposeError(str(exc), **_where(loader, node)) from None
    return construct


def _construct_mapping(loader: _ComposeYamlLoader, node: yaml.MappingNode) -> PositionedMap:
    if not isinstance(node, yaml.MappingNode):  # `!!map` written on a scalar or a list
        raise ComposeError("!!map needs a mapping", **_where(loader, node))
    loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
    result = PositionedMap()
    result.file = loader.name
    result.line = node.start_mark.line + 1
    # Keys that came from a `<<` merge may be overridden by explicit keys; only explicit repeats are errors.
    merged_count = getattr(node, "_merged_count", 0)
    for index, (key_node, value_node) in enumerate(node.value):
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
            raise ComposeError(f"non-string key {shown!r}: mapping keys must be text", **_where(loader, key_node),
                               hint=f'quote it ("{shown}":), as Docker Compose requires'
                               if isinstance(key_node, yaml.ScalarNode) else None)
        from_merge = index < merged_count
        if key in result and not from_merge and result.key_lines.get(key, 0) > 0:
            raise ComposeError(
                f"duplicate key '{key}' (first written on line {result.key_lines[key]})",
                **_where(loader, key_node), key=key,
                hint="YAML keeps only one of them; Docker Compose rejects the file. Remove one.",
            )
        result[key] = loader.construct_object(value_node, deep=True)
        # Negative line marks a key inherited through `<<`, which an explicit key may override.
        line = key_node.start_mark.line + 1
        result.key_lines[key] = -line if from_merge else line
        result.key_columns[key] = key_node.start_mark.column + 1
    for key, line in result.key_lines.items():
        result.key_lines[key] = abs(line)
    return result


def _construct_sequence(loader: _ComposeYamlLoader, node: yaml.SequenceNode) -> PositionedList:
    if not isinstance(node, yaml.SequenceNode):  # `!!seq` written on a scalar or a mapping
        raise ComposeError("!!seq needs a list", **_where(loader, node))
    result = PositionedList(loader.construct_object(child, deep=True) for child in node.value)
    result.file = loader.name
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _flatten_mapping(self: _ComposeYamlLoader, node: yaml.MappingNode) -> None:
    """PyYAML's flatten_mapping, remembering how many leading pairs came from `<<` merges."""
    explicit = len([pair for pair in node.value if pair[0].tag != _MERGE])
    yaml.SafeLoader.flatten_mapping(self, node)
    node._merged_count = len(node.value) - explicit  # type: ignore[attr-defined]


def _construct_override(loader: _ComposeYamlLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(_construct_mapping(loader, node))
    if isinstance(node, yaml.SequenceNode):
        return Override(_construct_sequence(loader, node))
    return Override(resolve_plain(node.value) if node.style is None else node.value)


def _construct_binary(loader: _ComposeYamlLoader, node: yaml.Node) -> str:
    # go-yaml decodes !!binary into a string
    return loader.construct_yaml_binary(node).decode("utf-8", "replace")


_ComposeYamlLoader.flatten_mapping = _flatten_mapping  # type: ignore[method-assign]
for _tag, _constructor in {
    _PLAIN: _construct_plain,
    "tag:yaml.org,2002:map": _construct_mapping,
    "tag:yaml.org,2002:seq": _construct_sequence,
    "tag:yaml.org,2002:binary": _construct_binary,
    "!reset": lambda loader, node: Reset(),
    "!override": _construct_override,
    **{f"tag:yaml.org,2002:{name}": _tagged(name) for name in ("int", "float", "bool", "null", "timestamp")},
}.items():
    _ComposeYamlLoader.add_constructor(_tag, _constructor)


def parse_yaml(text: str, file: str) -> list[Any]:
    """Parse compose YAML text into its documents (none for an empty file); errors name the file, line and column.

    libyaml's parser reads it when PyYAML has it and the text has none of the constructs where the two parsers
    may differ; anything it refuses or is unsure of is read again by the pure path, so errors are always that
    path's (same message, line and column), and so are the documents."""
    if FAST and not _PURE_ONLY.search(text):
        try:
            return _documents(_FastComposeYamlLoader(text, file))
        except Exception:  # noqa: BLE001, S110 - an error or a doubt: the pure path reads it and decides
            pass
    try:
        return _documents(_ComposeYamlLoader(text, file))  # reads the text at once: may refuse a control character
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


def _documents(loader: _ComposeYamlLoader) -> list[Any]:
    try:
        documents = []
        while loader.check_node():
            documents.append(loader.construct_document(loader.get_node()))
        return documents
    finally:
        loader.dispose()


def read_yaml_file(path: Path) -> list[Any]:
    """The documents of one compose file (a regular file of at most COMPOSE_FILE_LIMIT bytes)."""
    return parse_yaml(read_text(path, "compose file", COMPOSE_FILE_LIMIT), str(path))
