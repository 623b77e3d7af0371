"""The builder agrees with Docker Compose on the real compose files of the shared corpus.

For every service with an image, the container definition ecsflow builds (from its own loader) is compared,
field by field, with what the documented mapping (docs/reference/mapping.md) makes of Docker Compose's own normalised
output (`expected.config.json`, printed by Compose 2.40.3). The expected side is computed here from Compose's
JSON alone, so a builder that drops, reorders or mistranslates a field disagrees. Skipped when
../shared/corpus/compose is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builder_oracle import BUILT_SETTINGS, SETTINGS, built_container, expected_container, expected_image
from compose_oracle import CORPUS, case_inputs, parse_global_args
from corpus_support import CASES, built_requests
from ecs_shapes import as_real_ecs_answers_it

from ecsflow.compose.loader import load_project
from ecsflow.errors import BuildError
from ecsflow.taskdef import build_task_definition

pytestmark = pytest.mark.skipif(not CASES, reason="shared compose corpus not present")
FLOOR = 0.99


def compare_case(case: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """(services that agree, [(service, deviation)]) for one corpus case."""
    args, env = case_inputs(case)
    project = load_project(cwd=case, environ={"PATH": "/usr/bin:/bin", **env}, **parse_global_args(args))
    compose = json.loads((case / "expected.config.json").read_text())["services"]
    agree, deviations = [], []
    project_name = json.loads((case / "expected.config.json").read_text())["name"]
    for name, theirs in compose.items():
        if not theirs.get("image") and not theirs.get("build"):
            continue  # a provider service: not a container
        label = f"{case.name}/{name}"
        try:
            build = build_task_definition(project, project.service(name),
                                          SETTINGS if theirs.get("image") else BUILT_SETTINGS)
        except BuildError as error:
            deviations.append((label, f"refused: {error.message}"))
            continue
        ours = built_container(build.request)
        expected = expected_container(theirs, image=expected_image(project_name, name, theirs))
        differing = [f"{field}: built {ours[field]!r}, expected {expected[field]!r}"
                     for field in expected if ours[field] != expected[field]]
        if differing:
            deviations.extend((label, d) for d in differing)
        else:
            agree.append(label)
    return agree, deviations


def test_corpus_services_agree_with_compose(capsys):
    agree: list[str] = []
    deviations: list[tuple[str, str]] = []
    for case in CASES:
        a, d = compare_case(case)
        agree += a
        deviations += d
    deviating = sorted({service for service, _ in deviations})
    built = sum(1 for case in CASES for service in json.loads((case / "expected.config.json").read_text())[
        "services"].values() if service.get("build") and not service.get("image"))
    total = len(agree) + len(deviating)
    # What cannot run on Fargate at all is refused, with a hint to leave the service out (x-ecsflow.skip), and
    # so is what ECS refuses to register (Airflow's template image `apache/airflow:|version|`): counted, listed,
    # and kept out of the floor, which is about the services ECS can run.
    refused = sorted({s for s, d in deviations if d.startswith("refused: platform") and "cannot run on Fargate" in d
                      or d.startswith("refused: image") and "is not an image ECS accepts" in d})
    runnable = total - len(refused)
    with capsys.disabled():
        print(f"\ncorpus: {total} services with an image or built from source ({built} built); {len(agree)} agree "
              "with Docker Compose on every field "
              f"ECS uses ({len(agree) / total:.1%}); {len(agree)}/{runnable} of those Fargate can run "
              f"({len(agree) / runnable:.1%})")
        for service, deviation in deviations:
            print(f"  deviation: {service}: {deviation}")
    airflow = [f"airflow-official/airflow-{name}"
               for name in ("apiserver", "dag-processor", "init", "scheduler", "triggerer", "worker")]
    assert refused == [*airflow, "awesome-wasmedge-kafka-mysql/etl", "awesome-wasmedge-mysql-nginx/backend"]
    assert set(deviating) == set(refused), deviations
    assert len(agree) / runnable >= FLOOR


def test_the_comparison_notices_a_difference():
    """The differential check itself must be able to fail: a changed Compose value shows as a deviation."""
    case = CORPUS / "otel-demo-full"
    compose = json.loads((case / "expected.config.json").read_text())["services"]
    ad = compose["ad"]
    assert expected_container(ad)["healthCheck"]["retries"] == 10  # 20 written, clamped
    args, env = case_inputs(case)
    project = load_project(cwd=case, environ={"PATH": "/usr/bin:/bin", **env}, **parse_global_args(args))
    ours = built_container(build_task_definition(project, project.service("ad"), SETTINGS).request)
    assert ours == expected_container(ad)
    for field, value in (("image", "other:1"), ("user", "root"), ("environment", {"EXTRA": "1"}),
                         ("command", ["sh"]), ("labels", {"a": "b"})):
        changed = expected_container({**ad, field: value})
        assert changed != ours, field


def test_every_corpus_definition_is_unchanged_after_sync_against_moto_and_real_shapes(monkeypatch):
    """DESIGN section 5's rule on real compose files: what sync registers, an immediate diff sees as unchanged,
    whether ECS answers as moto does (an echo) or as real ECS does (defaults filled, empty lists, its order)."""
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    from ecsflow.diff import diff_family

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    requests = built_requests()
    assert len(requests) >= 150
    with moto.mock_aws():
        ecs = boto3.client("ecs", region_name="eu-west-1")
        for label, request in requests:
            ecs.register_task_definition(**request)
            answer = ecs.describe_task_definition(taskDefinition=request["family"], include=["TAGS"])
            assert diff_family(label, request["family"], request, answer).changes == (), label
            real = as_real_ecs_answers_it(request)
            assert diff_family(label, request["family"], request, real).changes == (), label
