"""The compiled schema checks (compose/schema_check.py) say a document passes exactly when jsonschema does.

They decide alone whether a compose file is valid (jsonschema is asked only to word the errors of one that is
not), so any difference would let a file through that Compose refuses, or refuse one it accepts. Both are asked
about the corpus's files, the benchmark's project, documents generated from the schema itself (mostly fitting,
with wrong kinds, unknown keys and missing ones mixed in, at every depth), and each keyword's corner cases.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.compose import schema
from ecsflow.compose.schema_check import Unsure, compile_schema
from ecsflow.compose.yamlfile import parse_yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "compose"
sys.path.insert(0, str(ROOT / "benchmarks"))
import project  # noqa: E402  (the benchmark's generated project)

SPEC = schema._schema()
CHECK = compile_schema(SPEC)
VALIDATOR = jsonschema.Draft7Validator(SPEC)


def agree(document, check=CHECK, validator=VALIDATOR) -> None:
    try:
        ours = check(document)
    except Unsure:
        return  # jsonschema decides these: nothing to compare
    assert ours == validator.is_valid(document), document


@pytest.mark.parametrize("path", sorted([*CORPUS.rglob("*.yml"), *CORPUS.rglob("*.yaml")]),
                         ids=lambda p: str(p.relative_to(CORPUS)))
def test_corpus_files_pass_or_fail_as_jsonschema_says(path):
    try:
        documents = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except Exception:  # noqa: BLE001 - a file the YAML loader refuses has no document to check
        pytest.skip("not YAML ecsflow reads")
    for document in documents:
        agree(schema._plain(document))


def test_the_benchmark_project_passes(tmp_path):
    document = schema._plain(parse_yaml(project.generate(100, tmp_path).read_text(), "compose.yaml")[0])
    assert CHECK(document) and VALIDATOR.is_valid(document)


# Corner cases of each keyword, on small schemas: (schema, instances).
CORNERS = [
    ({"type": "integer"}, [1, 1.0, 1.5, True, "1", None, float("inf"), -0.0]),
    ({"type": "number"}, [1, 1.5, True, False, "1", None]),
    ({"type": ["string", "null"]}, ["a", None, 1, [], {}]),
    ({"enum": ["a", 1, None, True]}, ["a", 1, 1.0, True, False, None, 0, "1", [1], {"a": 1}]),
    ({"enum": [0, False]}, [0, 0.0, False, True, 1]),
    ({"enum": [True, "a"]}, [1, 1.0, True, 0]), ({"enum": [1, 0]}, [True, False, 1.0]),
    ({"uniqueItems": True}, [[1, 1.0], [1, True], [0, False], ["a", "a"], ["a", "b"], [{"a": 1}, {"a": 1.0}],
                             [{"a": True}, {"a": 1}], [[1], [1]], [[1], [True]], [None, None], [None, 0],
                             [{"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}], [], ["80", 80]]),
    ({"items": {"type": "string"}, "uniqueItems": True}, [["a", "a"], ["a", 1], "not a list"]),
    ({"items": False}, [[], [1], "x"]),
    ({"pattern": "^a\\Z"}, ["a", "a\n", "ba", 1, None]),
    ({"minimum": 1, "maximum": 3}, [0, 1, 3, 3.5, "0", True, False, None]),
    ({"required": ["a"], "properties": {"a": {"type": "string"}}}, [{"a": "x"}, {"a": 1}, {}, {"b": 1}, [], "x"]),
    ({"properties": {"a": {"type": "string"}}, "patternProperties": {"^x-": {"type": "integer"}},
      "additionalProperties": False},
     [{"a": "x"}, {"x-b": 1}, {"x-b": "1"}, {"b": 1}, {"a": "x", "x-a": 2}, {}, 3]),
    ({"patternProperties": {"a": {"type": "string"}, "^a": {"minimum": 2}}}, [{"ab": "x"}, {"ba": 1}, {"ab": 1}]),
    ({"additionalProperties": {"type": "integer"}, "properties": {"a": {}}}, [{"a": "x", "b": 1}, {"b": "x"}]),
    ({"oneOf": [{"type": "string"}, {"type": "string", "pattern": "^a"}]}, ["a", "b", 1]),
    ({"oneOf": [{"type": "number"}, {"type": "integer"}, {"type": "null"}]}, [1, 1.5, None, "1"]),
    ({"definitions": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/definitions/s", "type": "integer"}}},
     [{"a": "x"}, {"a": 1}]),  # Draft 7 ignores a $ref's siblings
    ({"type": "object", "description": "annotations only", "deprecated": True, "default": {}}, [{}, 1]),
]


@pytest.mark.parametrize(("node", "instances"), CORNERS)
def test_each_keyword_answers_as_jsonschema_does(node, instances):
    check, validator = compile_schema(node), jsonschema.Draft7Validator(node)
    for instance in instances:
        agree(instance, check, validator)


def test_nan_in_a_unique_list_is_left_to_jsonschema():
    with pytest.raises(Unsure):
        compile_schema({"uniqueItems": True})([float("nan"), 1])


@pytest.mark.parametrize("node", [{"not": {}}, {"allOf": [{}]}, {"items": [{}]}, {"$ref": "other.json#/x"},
                                  {"format": "uri"}, {"properties": {"a": {"const": 1}}}])
def test_a_schema_with_a_keyword_not_compiled_is_refused(node):
    with pytest.raises(ValueError, match="unsupported"):
        compile_schema(node)


# Documents generated from the compose schema: at each node a value of one of its forms (so most parts of a
# service are valid), then one or two places changed to anything (a wrong kind, a key gone, an unknown key).
_KEYS = ["web", "db", "x-a", "x-ecsflow", "a.b", "k", "1", "bad key!", "", "bogus", "image", "ports"]
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 70000), st.floats(allow_nan=False), st.just(2.0),
                     st.sampled_from(["", "x", "80:80", "1.5", "10s", "1g", "true", "host", "a\n", "${A}"]))
_OF_TYPE = {"string": st.sampled_from(["", "x", "80:80", "1.5", "10s", "1g", "true", "host", "a\n", "${A}", "rw"]),
            "integer": st.integers(-3, 70000), "number": st.integers(-3, 9) | st.floats(allow_nan=False),
            "boolean": st.booleans(), "null": st.none()}
_ANY = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(_KEYS), inner, max_size=3), max_leaves=6)
_cache: dict = {}


def _values(node, depth: int = 0):
    """Values for one schema node: its own forms (mostly), or any JSON value."""
    key = (id(node), depth)
    if key not in _cache:
        _cache[key] = st.deferred(lambda: _build(node, depth))
    return _cache[key]


def _build(node, depth):
    if not isinstance(node, dict) or depth > 7:
        return _ANY
    if "$ref" in node:
        return _values(SPEC["definitions"][node["$ref"].rsplit("/", 1)[1]], depth + 1)
    forms = [_values(branch, depth + 1) for branch in node.get("oneOf", [])]
    if "enum" in node:
        forms.append(st.sampled_from(node["enum"]))
    types = node.get("type", [])
    for kind in [types] if isinstance(types, str) else types:
        if kind == "object":
            forms.append(_objects(node, depth))
        elif kind == "array":
            forms.append(st.lists(_values(node.get("items", {}), depth + 1), max_size=3))
        else:
            forms.append(_OF_TYPE[kind])
    return st.one_of(*forms) if forms else _ANY


def _objects(node, depth):
    named = {name: _values(sub, depth + 1) for name, sub in (node.get("properties") or {}).items()}
    for pattern, sub in (node.get("patternProperties") or {}).items():
        for name in _KEYS:
            if schema.re.search(pattern, name):
                named.setdefault(name, _values(sub, depth + 1))
    if not named:
        return st.dictionaries(st.sampled_from(_KEYS), _ANY, max_size=2)
    required = [name for name in node.get("required", []) if name in named]
    optional = [name for name in named if name not in required]
    return st.builds(lambda fixed, chosen: {**fixed, **chosen}, st.fixed_dictionaries(
        {name: named[name] for name in required}), st.lists(st.sampled_from(optional), max_size=6, unique=True).flatmap(
            lambda names: st.fixed_dictionaries({name: named[name] for name in names})))


@st.composite
def _documents(draw):
    document = draw(_values(SPEC))
    for _ in range(draw(st.integers(0, 2))):
        places = list(_containers(document))
        if not places:
            break
        container = draw(st.sampled_from(places))
        if isinstance(container, dict):
            key = draw(st.sampled_from([*container, "bogus"]))
            if key in container and draw(st.booleans()):
                del container[key]
            else:
                container[key] = draw(_ANY)
        elif container:
            container[draw(st.integers(0, len(container) - 1))] = draw(_ANY)
    return document


def _containers(value):
    if isinstance(value, dict | list):
        yield value
        for item in value.values() if isinstance(value, dict) else value:
            yield from _containers(item)


@settings(max_examples=examples(300, 20_000), deadline=None, suppress_health_check=list(HealthCheck))
@given(document=_documents())
def test_generated_documents_pass_or_fail_as_jsonschema_says(document):
    agree(document)


def test_a_valid_project_loads_without_jsonschema_and_an_invalid_one_is_worded_by_it(tmp_path):
    """jsonschema (about 80 ms to import and set up) serves only to word the errors of a file that fails."""
    import subprocess

    (tmp_path / "bad.yaml").write_text("services:\n  a:\n    image: x\n    ports: [[1]]\n")
    code = f"""
import sys
from ecsflow.compose.loader import load_project
from ecsflow.errors import ComposeError
load_project([{str(ROOT / "examples" / "etl" / "docker-compose.yml")!r}], environ={{}})
print("jsonschema" in sys.modules)
try:
    load_project([{str(tmp_path / "bad.yaml")!r}], environ={{}})
except ComposeError as exc:
    print("jsonschema" in sys.modules, exc.message)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["False", "True services.a.ports.0 must be a number, a string or a mapping"]
