"""Against an endpoint that answers as real ECS does (tests/ecs_shapes.py: defaults filled, empty lists added, its
own fields and order), what `ecsflow sync` registers, the next `diff` sees as unchanged and the next `sync`
registers nothing: one DescribeTaskDefinition per family and no other call. On the example and on the
benchmark's generated project (every kind of service it makes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from cli_runner import ecsflow
from ecs_shapes import ShapesServer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
import project  # noqa: E402  (the benchmark's generated project)


@pytest.fixture
def shapes():
    with ShapesServer() as server:
        yield server


def run(server, compose: Path, *args: str):
    return ecsflow(*args, file=compose, endpoint=server, env={"ECSFLOW_REGISTER_RATE": "off", "RUN_DATE": ""})


@pytest.mark.parametrize("which", ["example", "generated"])
def test_a_synced_project_is_unchanged_against_real_ecs_shapes(shapes, etl_project, tmp_path, which):
    compose = etl_project / "docker-compose.yml" if which == "example" else project.generate(20, tmp_path / "p")
    first = run(shapes, compose, "sync", "--format", "json")
    families = json.loads(first.stdout)["families"]
    assert {f["status"] for f in families} == {"registered"}
    count = len(families)
    assert shapes.calls == {"DescribeTaskDefinition": count, "RegisterTaskDefinition": count}
    answer = shapes.definitions.describe({"taskDefinition": families[0]["family"]})["taskDefinition"]
    assert {"requiresAttributes", "registeredAt", "compatibilities"} <= set(answer)  # ECS's shape, not an echo

    shapes.calls.clear()
    diff = run(shapes, compose, "diff", "--exit-code", "--no-services")  # task definitions only
    assert "No changes" in diff.stdout, diff.stdout
    again = run(shapes, compose, "sync", "--format", "json")
    assert {f["status"] for f in json.loads(again.stdout)["families"]} == {"unchanged"}
    assert shapes.calls == {"DescribeTaskDefinition": 2 * count}
