"""The compiled request checks (ecs/request_check.py) pass a request exactly when botocore's validator does.

They decide alone that a RegisterTaskDefinition or RunTask request fits the ECS API (botocore is asked only to
word the problems of one that does not), so any difference would let `render` pass a request botocore refuses,
or refuse one it accepts. Both are asked about every request the builder makes of the corpus, the example and
the benchmark's project, requests generated from the service model itself (mostly fitting, with wrong kinds,
unknown members and missing ones mixed in, at every depth), and each rule's corners.
"""

from __future__ import annotations

import decimal
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest
from botocore.validate import ParamValidator
from corpus_support import built_requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.compose.loader import load_project
from ecsflow.ecs import request_check
from ecsflow.ecs.request_check import Unsure, compile_shape, operation_check, service_model
from ecsflow.ecs.validate import check_register_request
from ecsflow.errors import BuildError
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import project  # noqa: E402  (the benchmark's generated project)

BOTOCORE = botocore.session.get_session().get_service_model("ecs")
OPERATIONS = ("RegisterTaskDefinition", "RunTask", "CreateService")
MODEL = service_model("ecs")


def botocore_passes(operation: str, request) -> bool:
    return not ParamValidator().validate(request, BOTOCORE.operation_model(operation).input_shape).has_errors()


def agree(operation: str, request) -> None:
    try:
        ours = operation_check(operation)(request)
    except Unsure:
        return  # botocore decides these: nothing to compare
    assert ours == botocore_passes(operation, request), request


def test_the_model_read_is_the_one_botocore_loads():
    loaded = botocore.session.get_session().get_component("data_loader").load_service_model("ecs", "service-2")
    assert MODEL == loaded


@pytest.mark.parametrize("setting", ["AWS_DATA_PATH", "config file", "models folder"])
def test_botocore_finds_the_model_where_something_could_change_it(setting, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("AWS_DATA_PATH", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    assert request_check._builtin_model_file("ecs") is not None
    if setting == "AWS_DATA_PATH":
        monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path / "models"))
    elif setting == "config file":
        (tmp_path / "config").write_text("[default]\ndata_path = /somewhere\n")
    else:
        (tmp_path / ".aws" / "models").mkdir(parents=True)
    assert request_check._builtin_model_file("ecs") is None


def _example_and_generated_requests(tmp_path) -> list[dict]:
    requests = []
    for compose in (ROOT / "examples" / "etl" / "docker-compose.yml", project.generate(30, tmp_path)):
        loaded = load_project([compose], environ={})
        resolved = resolve_settings(compose=loaded.x_ecsflow.settings,
                                    compose_interpolated=loaded.x_ecsflow.interpolated, environ={}, flags={})
        requests += [build.request for build in build_task_definitions(loaded, resolved.settings)]
    return requests


def test_every_built_request_passes_both(tmp_path):
    requests = [request for _, request in built_requests()] + _example_and_generated_requests(tmp_path)
    assert len(requests) > 180
    for request in requests:
        assert operation_check("RegisterTaskDefinition")(request) and botocore_passes("RegisterTaskDefinition", request)


# Corners of each rule, on RegisterTaskDefinition: (request, botocore passes it).
_BASE = {"family": "f", "containerDefinitions": [{"name": "a", "image": "x"}]}
CORNERS = [
    {**_BASE, "memory": "512"}, {**_BASE, "family": ""}, {**_BASE, "family": 1}, {**_BASE, "family": None},
    {**_BASE, "containerDefinitions": ({"name": "a"},)}, {**_BASE, "containerDefinitions": {"name": "a"}},
    {**_BASE, "containerDefinitions": [{"name": "a", "cpu": True}]},  # a bool is an int to botocore
    {**_BASE, "containerDefinitions": [{"name": "a", "cpu": 1.0}]},
    {**_BASE, "containerDefinitions": [{"name": "a", "cpu": -5}]},
    {**_BASE, "containerDefinitions": [{"name": "a", "essential": 1}]},
    {**_BASE, "containerDefinitions": [{"name": "a", "dockerLabels": {"k": 1}}]},
    {**_BASE, "containerDefinitions": [{"name": "a", "dockerLabels": {1: "v"}}]},
    {**_BASE, "containerDefinitions": [{"name": "a", "command": ["a", 1]}]},
    {**_BASE, "containerDefinitions": [{"name": "a", "command": ("a", "b")}]},
    {**_BASE, "containerDefinitions": [{"name": "a", "portMappings": [{}]}]},
    {**_BASE, "containerDefinitions": [{"name": "a", "ulimits": [{"name": "nofile", "softLimit": 1}]}]},
    {**_BASE, "containerDefinitions": [{"name": "a", "bogus": 1}]}, {**_BASE, "bogus": 1},
    {"family": "f"}, {"containerDefinitions": []}, {**_BASE, "containerDefinitions": []}, [], "x", None,
    {**_BASE, "volumes": [{"name": "v", "efsVolumeConfiguration": {"fileSystemId": "f", "rootDirectory": 2.5}}]},
    {**_BASE, "tags": [{"key": ""}]}, {**_BASE, "tags": [{"key": "k", "value": ""}]},
    {**_BASE, "ephemeralStorage": {"sizeInGiB": decimal.Decimal(21)}},
]


@pytest.mark.parametrize("request_", CORNERS)
def test_each_rule_answers_as_botocore_does(request_):
    agree("RegisterTaskDefinition", request_)


def test_unions_documents_and_timestamps_answer_as_botocore_does():
    shapes = {"U": {"type": "structure", "union": True, "members": {"a": {"shape": "S"}, "b": {"shape": "S"}}},
              "S": {"type": "string", "min": 2}, "D": {"type": "structure", "document": True},
              "L": {"type": "list", "member": {"shape": "D"}, "min": 1}, "T": {"type": "timestamp"},
              "R": {"type": "structure", "members": {"l": {"shape": "L"}, "r": {"shape": "R"}}}}
    assert [compile_shape(shapes, "U")(v) for v in ({}, {"a": "xy"}, {"a": "xy", "b": "zz"}, {"a": "x"})] == [
        False, True, False, False]
    check = compile_shape(shapes, "L")
    assert [check(v) for v in ([], [None, "x", 1, 1.5, True, {"a": [1]}], [(1,)], [{1, 2}], [object()])] == [
        False, True, False, False, False]
    assert compile_shape(shapes, "R")({"r": {"r": {"l": [{}]}}})  # a shape that contains itself
    with pytest.raises(Unsure):
        compile_shape(shapes, "T")("2026-01-01")


# Requests generated from the service model: each member of one of its shape's forms (so most of a request
# fits), then one or two places changed to anything (a wrong kind, a member gone, an unknown member).
_ANY = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2, 70000), st.floats(allow_nan=False),
                              st.sampled_from(["", "x", "512", "awsvpc", decimal.Decimal(1)])),
                    lambda inner: st.lists(inner, max_size=2) | st.tuples(inner) | st.dictionaries(
                        st.sampled_from(["name", "value", "bogus", "family", ""]), inner, max_size=2), max_leaves=5)
_TEXT = st.sampled_from(["", "x", "xy", "512", "awsvpc", "FARGATE", "arn:aws:iam::123456789012:role/r", "a" * 300])
_cache: dict = {}


def _values(name: str, depth: int = 0):
    key = (name, min(depth, 6))
    if key not in _cache:
        _cache[key] = st.deferred(lambda: _build(MODEL["shapes"][name], depth))
    return _cache[key]


def _build(node, depth):
    kind = node["type"]
    if depth > 6 or kind in ("timestamp", "blob"):
        return _ANY
    if kind == "structure":
        if node.get("document"):
            return _ANY
        members = {name: _values(ref["shape"], depth + 1) for name, ref in node.get("members", {}).items()}
        if node.get("union"):
            return st.sampled_from(sorted(members)).flatmap(lambda n: st.fixed_dictionaries({n: members[n]}))
        required = [name for name in node.get("required", []) if name in members]
        optional = sorted(set(members) - set(required))
        return st.builds(lambda fixed, chosen: {**fixed, **chosen},
                         st.fixed_dictionaries({name: members[name] for name in required}),
                         st.lists(st.sampled_from(optional), max_size=5, unique=True).flatmap(
                             lambda names: st.fixed_dictionaries({name: members[name] for name in names}))
                         ) if optional else st.fixed_dictionaries({name: members[name] for name in required})
    if kind == "list":
        return st.lists(_values(node["member"]["shape"], depth + 1), min_size=node.get("min", 0), max_size=3)
    if kind == "map":
        return st.dictionaries(_values(node["key"]["shape"], depth + 1), _values(node["value"]["shape"], depth + 1),
                               max_size=2)
    if kind == "string":
        return st.sampled_from(node["enum"]) if "enum" in node else _TEXT
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "long"):
        return st.integers(-1, 70000)
    return st.integers(0, 9) | st.floats(0, 1e6)


@st.composite
def _requests(draw):
    operation = draw(st.sampled_from(OPERATIONS))
    request = draw(_values(MODEL["operations"][operation]["input"]["shape"]))
    for _ in range(draw(st.integers(0, 2))):
        places = list(_containers(request))
        container = draw(st.sampled_from(places))
        if isinstance(container, dict):
            key = draw(st.sampled_from([*container, "bogus"]))
            if key in container and draw(st.booleans()):
                del container[key]
            else:
                container[key] = draw(_ANY)
        elif container:
            container[draw(st.integers(0, len(container) - 1))] = draw(_ANY)
    return operation, request


def _containers(value):
    if isinstance(value, dict | list):
        yield value
        for item in value.values() if isinstance(value, dict) else value:
            yield from _containers(item)


@settings(max_examples=examples(300, 20_000), deadline=None, suppress_health_check=list(HealthCheck))
@given(case=_requests())
def test_generated_requests_pass_or_fail_as_botocore_says(case):
    agree(*case)


def test_render_checks_without_importing_botocore_and_botocore_words_a_problem():
    code = f"""
import sys
from ecsflow.compose.loader import load_project
from ecsflow.ecs.validate import check_register_request
from ecsflow.errors import BuildError
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions
project = load_project([{str(ROOT / "examples" / "etl" / "docker-compose.yml")!r}], environ={{}})
settings = resolve_settings(compose=project.x_ecsflow.settings, environ={{}}, flags={{}}).settings
builds = build_task_definitions(project, settings)
for build in builds:
    check_register_request(build.request, build.service)
print(len(builds), "botocore" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["4", "False"]
    with pytest.raises(BuildError, match="Invalid type for parameter containerDefinitions\\[0\\].cpu"):
        check_register_request({**_BASE, "containerDefinitions": [{"name": "a", "cpu": "1"}]}, "web")
