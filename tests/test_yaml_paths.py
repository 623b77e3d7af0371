"""The two ways ecsflow reads YAML give the same documents, positions and errors.

libyaml's C parser reads a compose file when PyYAML has it (about 20 times faster than PyYAML's pure-Python
scanner and parser); ecsflow's own composer and constructors turn its events into documents, as they do for the
pure path. Where the two parsers read the same text differently, or libyaml refuses it, the pure path reads it
again (compose/yamlfile.py), so a user gets the same result either way. Here both paths read the real compose
files of the corpus, the example, the benchmark's project, hostile files and the constructs where libyaml and
PyYAML disagree, and generated mutations of all these: each must give the same outcome.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.compose import yamlfile
from ecsflow.compose.yamlfile import MAX_DEPTH, Override, PositionedList, PositionedMap, parse_yaml
from ecsflow.errors import ComposeError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "compose"
sys.path.insert(0, str(ROOT / "benchmarks"))
import project  # noqa: E402  (the benchmark's generated project)

COMPOSE_FILES = sorted(
    [*CORPUS.rglob("*.yml"), *CORPUS.rglob("*.yaml"), *(ROOT / "examples").rglob("*.yml"),
     *(ROOT / "tests" / "fixtures").rglob("*.yml"), *(ROOT / "tests" / "fixtures").rglob("*.yaml")])


def snapshot(value, seen=None):
    """Everything a later step can see of a document: types, values, order, files, lines, shared parts."""
    seen = {} if seen is None else seen
    if isinstance(value, dict | list):
        if id(value) in seen:  # an alias: the same object, as both paths share it
            return ("same as", seen[id(value)])
        seen[id(value)] = len(seen)
    if isinstance(value, PositionedMap):
        return ("map", value.file, value.line,
                [(key, value.key_lines.get(key), snapshot(item, seen)) for key, item in value.items()])
    if isinstance(value, PositionedList):
        return ("list", value.file, value.item_lines, [snapshot(item, seen) for item in value])
    if isinstance(value, Override):
        return ("override", snapshot(value.value, seen))
    return (type(value).__name__, repr(value))


def outcome(text: str, fast: bool):
    saved = yamlfile.FAST
    yamlfile.FAST = fast
    try:
        return ("documents", [snapshot(document) for document in parse_yaml(text, "compose.yaml")])
    except ComposeError as exc:
        return ("error", str(exc), exc.file, exc.line, exc.column, exc.hint)
    finally:
        yamlfile.FAST = saved


def libyaml_reads_alone(text: str) -> bool:
    """Whether the fast path reads `text` without handing it to the pure path."""
    if yamlfile._PURE_ONLY.search(text):
        return False
    try:
        yamlfile._documents(yamlfile._FastComposeYamlLoader(text, "compose.yaml"))
    except Exception:  # noqa: BLE001 - any refusal or doubt sends the text to the pure path
        return False
    return True


def assert_same(text: str) -> None:
    assert outcome(text, True) == outcome(text, False), repr(text)


def test_pyyaml_here_has_libyaml():
    """The dev environment's PyYAML wheel carries libyaml, so the suite checks the fast path too."""
    assert yamlfile.FAST


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: str(p.relative_to(p.parents[1])))
def test_real_compose_files_read_the_same_and_libyaml_reads_them(path):
    text = path.read_text(encoding="utf-8")
    assert_same(text)
    if outcome(text, False)[0] == "documents" and not yamlfile._PURE_ONLY.search(text):
        assert libyaml_reads_alone(text)


def test_the_benchmark_project_reads_the_same(tmp_path):
    text = project.generate(200, tmp_path).read_text()
    assert_same(text)
    assert libyaml_reads_alone(text)


# Where libyaml 0.2 and PyYAML's parser differ (found by comparing their events on every short text over
# YAML's indicators in a dozen contexts, and on mutated corpus files): the pure path reads these.
HANDED_OVER = [
    "a: [b?c]\n", "a: {b?c: d}\n", "k: [x, a?]\n",  # `?` in a flow plain scalar: libyaml accepts it
    "k: |#\n", "k: >-#\n  x\n", "- |#\n",  # a comment right after a block indicator: libyaml accepts it
    "a: [!reset, b]\n", "a: [!, b]\n", "a: {!!str b: c}\n", "a: [!reset]\n",  # tags in flow collections
    "a: !\nb: 1\n", "- !\n- x\n",  # an empty node with the non-specific tag: PyYAML resolves it as plain
    "a:\tb\n", "a: b\t\n", "a:\n  - b\t# c\n",  # tabs
    "a: b\ufeff\n", "a:\n\ufeff  b: c\n",  # a byte-order mark after the start
    "# a\x85b\na: 1\n", "a: b\u2028c\n", "a: b\u2029\n",  # NEL, LS and PS
]
# Where they differ in what no later step sees (an empty value's column) or both refuse, and hostile files.
OTHERS = [
    "a: { service: }\n", "a: {b: , c: d}\n", "? a\n", "x:\n  ? b: c\n  d: x\n", "[? ]\n",  # empty scalars
    "%YAML 1.3\n---\na: 1\n", "%YAML 2.0\n---\na: 1\n", "%TAG !e! tag:e.com,2000:\n---\na: !e!x 1\n",
    "a: !<tag:yaml.org,2002:str> 1\n", "a: !!binary aGVsbG8=\n", "a: !!timestamp 2001-12-14\n",
    "\ufeffa: 1\n", "a: 1\r\nb: [2, 3]\r\n", "a: 1\rb: 2\r",  # a leading BOM and CR line ends read alike
    "a: \ud800\n", "a: \x00\n", "a: \x1b\n", "a: \U0001f600 \xe9\n",
]
HOSTILE = [
    "a: &a [*a]\n", "a: *nope\n", "a: &a 1\nb: &a 2\nc: *a\n", "x: &a 1\n---\ny: *a\n",
    "a: 1\na: 2\n", "? [a]\n: 1\n", "1: x\n", "true: x\n", "~: x\n", "a: {b: 1, b: 2}\n",
    "x: &b {k: 1}\ny:\n  <<: *b\n  k: 2\n", "x: &b {k: 1}\ny:\n  <<: [*b, *b]\n", "y:\n  <<: 1\n",
    "a: !reset\nb: !override [1]\nc: !override {d: 1}\nd: !override x\n", "a: !!int abc\n", "a: !!map [1]\n",
    "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "[" * MAX_DEPTH + "]" * MAX_DEPTH,
    "".join(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10 if i else ["x"] * 10) + "]\n" for i in range(8)),
    "a: 'unterminated\n", 'a: "bad \\q escape"\n', "- a\nb: c\n", "a:\n- b\n -c\n", "", "---\n", "--- 1\n--- 2\n",
    "a: 22:22\nb: 0x1F\nc: 017\nd: 1_000\ne: .inf\nf: -.NaN\ng: yes\nh: 2001-12-14T21:59:43.10-05:00\n",
]


@pytest.mark.parametrize("text", HANDED_OVER + OTHERS + HOSTILE)
def test_disagreements_and_hostile_files_read_the_same(text):
    assert_same(text)


@pytest.mark.parametrize("text", HANDED_OVER)
def test_libyaml_does_not_read_what_it_reads_differently(text):
    """Where libyaml would give another answer than the pure path, the fast path hands the text over."""
    assert not libyaml_reads_alone(text)


_PIECES = st.sampled_from([
    ":", "- ", "? ", ": ", "[", "]", "{", "}", ", ", "#", "&a ", "*a", "&b ", "*b", "<<: *a\n", "!!str ", "!!int ",
    "!reset ", "!override ", "!", "|", "|-\n", ">+\n", "'", '"', "\\", "%", "@", "`", "\n", "  ", "\t", "\r\n",
    "---\n", "...\n", "%YAML 1.2\n", "\ufeff", "\x85", "~", "0x1F", "1e3", "yes", "2001-12-14", "=", "$", "é",
])


@st.composite
def _mutated(draw):
    seeds = [path.read_text(encoding="utf-8") for path in COMPOSE_FILES[:: max(1, len(COMPOSE_FILES) // 40)]]
    text = draw(st.sampled_from(seeds))
    if len(text) > 1200:
        start = draw(st.integers(0, len(text) - 1200))
        text = text[start:start + 1200]
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(_PIECES) + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 8)):]
    return text


@settings(max_examples=examples(150, 5000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_mutated())
def test_mutated_compose_files_read_the_same(text):
    assert_same(text)
