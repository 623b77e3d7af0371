"""`ecsflow deploy` keeps `depends_on`'s order, against the test endpoint with ecsflow's local task runner (the
jobs' commands run as local processes, tests/ecs_server.py): a job a service waits for
(service_completed_successfully) runs once, to exit 0, before the service is created; a job that fails stops its
dependents; it does not run when nothing after it changed; a service that another one waits for
(service_healthy) completes its rollout before the other is created, even with --no-wait."""

from __future__ import annotations

import pytest
from deploy_support import RecordingEndpoint, create_request, deploy_json, project, writes
from service_answers import deployment, described, service_item

SERVICES = """\
  migrate:
    image: acme/api:1
    command: ["python", "-c", "import os, sys; print('migrated'); sys.exit(int(os.environ.get('EXIT', '0')))"]
    environment: {EXIT: "${MIGRATE_EXIT:-0}"}
  api:
    image: acme/api:1
    ports: ["8000:8000"]
    depends_on:
      migrate: {condition: service_completed_successfully}
  web:
    image: acme/web:1
    ports: ["80:80"]
    depends_on:
      api: {condition: service_healthy}
"""


@pytest.fixture(scope="module")
def endpoint():
    with RecordingEndpoint(run_tasks=True) as running:
        yield running


@pytest.fixture
def ecs(endpoint, monkeypatch, tmp_path):
    endpoint.reset()
    endpoint.runner.workdir = tmp_path
    endpoint.create_cluster("default")
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")  # moto completes a new service's deployment at once
    return endpoint


@pytest.fixture
def folder(ecs, tmp_path):
    subnet, group = ecs.network()
    ecs.reset_counts()
    ecs.requests.clear()
    return project(tmp_path, SERVICES, subnet=subnet, group=group)


def created(ecs) -> list[str]:
    return [body["serviceName"] for body in ecs.sent("CreateService")]


def test_the_job_runs_first_then_each_service_after_what_it_waits_for(ecs, folder):
    result, document = deploy_json(ecs, folder)
    assert [(j["service"], j["status"], j["exit_code"]) for j in document["jobs"]] == [("migrate", "succeeded", 0)]
    assert [(s["service"], s["status"]) for s in document["services"]] == [("api", "created"), ("web", "created")]
    assert "migrate | migrated" in result.stderr  # its log, as `ecsflow run` shows it
    actions = ecs.actions()
    run, api, web = actions.index("RunTask"), *(i for i, a in enumerate(actions) if a == "CreateService")
    assert run < api < web and created(ecs) == ["shop-api", "shop-web"]
    assert "DescribeServices" in actions[api:web]  # web was created once api's rollout was seen complete



def test_the_job_does_not_run_when_nothing_after_it_changes(ecs, folder):
    deploy_json(ecs, folder)
    # ECS keeps what it was given (moto does not: design/services.md section 3): as real ECS answers.
    live = [service_item(create_request(folder, name), [deployment(
        "ecs-svc/1", f"arn:aws:ecs:us-east-1:123456789012:task-definition/shop-{name}:1", rollout="COMPLETED",
        running=1)]) for name in ("api", "web")]
    ecs.respond("DescribeServices", described(*live), times=1)
    ecs.reset_counts()
    again, document = deploy_json(ecs, folder)
    assert [(s["service"], s["status"]) for s in document["services"]] == [("api", "unchanged"), ("web", "unchanged")]
    assert document["jobs"] == [{"service": "migrate", "family": "shop-migrate", "status": "skipped", "revision": 1,
                                 "task_arn": None, "exit_code": None, "error": None,
                                 "note": "nothing that depends on it changes"}]
    assert writes(ecs) == {}


def test_a_job_that_fails_stops_the_services_that_wait_for_it(ecs, folder):
    result, document = deploy_json(ecs, folder, env={"MIGRATE_EXIT": "3"}, expect=1)
    assert [(j["status"], j["exit_code"], j["error"]) for j in document["jobs"]] == [("failed", 3, "exited with 3")]
    assert [(s["service"], s["status"]) for s in document["services"]] == [("api", "not-started"),
                                                                           ("web", "not-started")]
    assert document["services"][0]["error"] == "not deployed: it waits for migrate (failed)"
    assert document["services"][1]["error"] == "not deployed: it waits for api (not-started)"
    assert "CreateService" not in writes(ecs)


def test_no_wait_still_waits_for_a_service_another_one_waits_for(ecs, folder):
    result, document = deploy_json(ecs, folder, "--no-wait")
    assert [(s["service"], s["status"]) for s in document["services"]] == [("api", "created"), ("web", "started")]


SPOT_JOB = """\
  migrate:
    image: acme/api:1
    command: ["python", "-c", "import time; time.sleep(1); print('migrated')"]
    x-ecsflow: {capacity_provider: FARGATE_SPOT, spot_fallback: FALLBACK}
  api:
    image: acme/api:1
    ports: ["8000:8000"]
    depends_on:
      migrate: {condition: service_completed_successfully}
"""


@pytest.mark.parametrize("fallback", [True, False])
def test_a_job_spot_interrupts_runs_again_on_fargate_as_run_does(ecs, tmp_path, fallback):
    """deploy runs a job as `ecsflow run` does (runs.run_current): Spot's interruption starts it again once on
    FARGATE; without the fallback the interruption fails the job, and its error names it."""
    subnet, group = ecs.network()
    folder = project(tmp_path, SPOT_JOB.replace("FALLBACK", str(fallback).lower()), subnet=subnet, group=group)
    ecs.runner.spot_interrupt_after = 0.2
    try:
        result, document = deploy_json(ecs, folder, expect=0 if fallback else 1)
    finally:
        ecs.runner.spot_interrupt_after = None
    client = ecs.client("ecs")
    arns = client.list_tasks(cluster="default", desiredStatus="STOPPED")["taskArns"]
    tasks = sorted(client.describe_tasks(cluster="default", tasks=arns)["tasks"], key=lambda t: t["createdAt"])
    [job] = document["jobs"]
    if fallback:
        assert result.exit_code == 0, result.output
        assert "was interrupted by Spot" in result.stderr
        assert [t["capacityProviderName"] for t in tasks] == ["FARGATE_SPOT", "FARGATE"]
        assert (job["status"], job["exit_code"], job["task_arn"]) == ("succeeded", 0, tasks[1]["taskArn"])
        assert created(ecs) == ["shop-api"]
    else:
        assert result.exit_code == 1
        assert [t["capacityProviderName"] for t in tasks] == ["FARGATE_SPOT"]
        assert job["status"] == "failed" and "SpotInterruption" in job["error"]
        assert created(ecs) == []
