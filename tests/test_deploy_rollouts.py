"""`ecsflow deploy` follows the deployment it started, by id, against the test endpoint (tests/ecs_server.py) with
DescribeServices, CreateService and UpdateService answered as real ECS answers them (tests/service_answers.py,
from tests/fixtures/real_shape/): moto alone never completes a deployment after an update, never fails one and
never rolls one back (design/services.md section 3), so those answers are scripted, in order; the requests are
ecsflow's own, through botocore, and are checked as the endpoint received them."""

from __future__ import annotations

import pytest
from cli_runner import ecsflow
from deploy_support import RecordingEndpoint, create_request, deploy_json, fresh, project, writes
from project_files import edit
from service_answers import answered, deployment, described, event, service_item

TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-api:{}"
BREAKER = "ECS deployment circuit breaker: tasks failed to start."


@pytest.fixture(scope="module")
def endpoint():
    with RecordingEndpoint() as running:
        yield running


@pytest.fixture
def ecs(endpoint):
    return fresh(endpoint)


@pytest.fixture
def folder(tmp_path):
    return project(tmp_path)


def live_then_new_image(ecs, folder):
    """shop-api runs revision 1 (registered by sync, deployed: ecs-svc/1 completed); then the image changes, so
    deploy registers revision 2 and updates the service to it. The answers up to the UpdateService are
    scripted: (the live item, the request for revision 2)."""
    ecsflow("sync", file=folder / "compose.yaml", endpoint=ecs)
    live = service_item(create_request(folder), [deployment("ecs-svc/1", TD.format(1), rollout="COMPLETED",
                                                            running=1)],
                        events=[event("e0", "(service shop-api) has reached a steady state.")])
    edit(folder / "compose.yaml", "acme/api:1", "acme/api:2")
    new = create_request(folder, task_definition=TD.format(2))
    ecs.respond("DescribeServices", described(live), times=1)
    ecs.respond("UpdateService", answered(service_item(new, [
        deployment("ecs-svc/2", TD.format(2)),
        deployment("ecs-svc/1", TD.format(1), status="ACTIVE", rollout="COMPLETED", running=1)])), times=1)
    ecs.reset_counts()
    ecs.requests.clear()
    return live, new


def poll(ecs, new, *deployments, events=(), times=1):
    ecs.respond("DescribeServices", described(service_item(new, list(deployments), events=list(events))),
                times=times)


def stopped_tasks(ecs, deployment_id):
    task = "arn:aws:ecs:us-east-1:123456789012:task/default/0a1b2c3d4e5f"
    ecs.respond("ListTasks", {"taskArns": [task]})
    ecs.respond("DescribeTasks", {"failures": [], "tasks": [{
        "taskArn": task, "startedBy": deployment_id, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
        "stoppedReason": "Essential container in task exited", "stopCode": "EssentialContainerExited",
        "containers": [{"name": "api", "exitCode": 1, "lastStatus": "STOPPED"}]}]})


def test_an_update_rolled_back_by_the_circuit_breaker_is_rolled_back_with_ecs_reason(ecs, folder):
    _, new = live_then_new_image(ecs, folder)
    poll(ecs, new, deployment("ecs-svc/2", TD.format(2), failed=1),
         deployment("ecs-svc/1", TD.format(1), status="ACTIVE", rollout="COMPLETED", running=1),
         events=[event("e1", "(service shop-api) has started 1 tasks: (task 0a1b2c3d4e5f).")])
    poll(ecs, new, deployment("ecs-svc/3", TD.format(1), running=0),
         deployment("ecs-svc/2", TD.format(2), status="ACTIVE", rollout="FAILED", failed=3, reason=BREAKER),
         events=[event("e2", "(service shop-api) deployment ecs-svc/2 deployment failed: tasks failed to start."),
                 event("e1", "(service shop-api) has started 1 tasks: (task 0a1b2c3d4e5f).")])
    poll(ecs, new, deployment("ecs-svc/3", TD.format(1), rollout="COMPLETED", running=1),
         events=[event("e3", "(service shop-api) has reached a steady state."),
                 event("e2", "(service shop-api) deployment ecs-svc/2 deployment failed: tasks failed to start.")])
    stopped_tasks(ecs, "ecs-svc/2")
    result, document = deploy_json(ecs, folder, expect=1)
    [api] = document["services"]
    assert (api["status"], api["deployment_id"]) == ("rolled-back", "ecs-svc/2")
    assert api["error"] == f"ECS rolled shop-api back to shop-api:1: {BREAKER}"
    assert (api["task_definition"], api["previous_task_definition"]) == (TD.format(2), TD.format(1))
    assert api["events"] == ["(service shop-api) deployment ecs-svc/2 deployment failed: tasks failed to start.",
                             "task 0a1b2c3d4e5f: Essential container in task exited; api exited with 1"]
    # Each new event shown once, as it came; the one from before the deploy not at all.
    assert result.stderr.count("has started 1 tasks") == 1 and "steady state" in result.stderr
    assert result.stderr.count("reached a steady state") == 1
    [update] = ecs.sent("UpdateService")
    assert update == {"cluster": "default", "service": "shop-api", "taskDefinition": TD.format(2)}


def test_a_deployment_someone_else_started_is_superseded(ecs, folder):
    _, new = live_then_new_image(ecs, folder)
    poll(ecs, new, deployment("ecs-svc/9", TD.format(3)),
         deployment("ecs-svc/2", TD.format(2), status="ACTIVE"))
    result, document = deploy_json(ecs, folder, expect=1)
    [api] = document["services"]
    assert api["status"] == "superseded" and "ecs-svc/9" in api["error"] and "another deploy" in api["error"]


def test_a_rollout_that_does_not_end_is_timeout_with_the_stopped_tasks_reasons(ecs, folder):
    _, new = live_then_new_image(ecs, folder)
    poll(ecs, new, deployment("ecs-svc/2", TD.format(2), failed=2),
         deployment("ecs-svc/1", TD.format(1), status="ACTIVE", rollout="COMPLETED", running=1),
         events=[event("e1", "(service shop-api) is unable to consistently start tasks successfully.")], times=None)
    stopped_tasks(ecs, "ecs-svc/2")
    result, document = deploy_json(ecs, folder, "--timeout", "0.3s", expect=1)
    [api] = document["services"]
    assert api["status"] == "timeout"
    assert "did not complete within 0.3 s (0/1 running, 1 pending, 2 failed (IN_PROGRESS))" in api["error"]
    assert api["events"] == ["(service shop-api) is unable to consistently start tasks successfully.",
                             "task 0a1b2c3d4e5f: Essential container in task exited; api exited with 1"]


def test_a_completed_rollout_is_updated_and_the_update_sends_only_what_changed(ecs, folder):
    _, new = live_then_new_image(ecs, folder)
    poll(ecs, new, deployment("ecs-svc/2", TD.format(2), rollout="COMPLETED", running=1))
    result, document = deploy_json(ecs, folder)
    [api] = document["services"]
    assert (api["status"], api["deployment_id"]) == ("updated", "ecs-svc/2")
    assert [c["path"] for c in api["changes"]] == ["taskDefinition"]
    assert ecs.sent("UpdateService") == [{"cluster": "default", "service": "shop-api",
                                          "taskDefinition": TD.format(2)}]
    assert writes(ecs) == {"RegisterTaskDefinition": 1, "UpdateService": 1}


def test_no_wait_is_started_once_ecs_accepted_the_update(ecs, folder):
    live_then_new_image(ecs, folder)
    result, document = deploy_json(ecs, folder, "--no-wait")
    assert document["services"][0]["status"] == "started"
    assert ecs.calls["DescribeServices"] == 1  # the plan's: no poll


def test_nothing_changed_sends_nothing_and_force_new_deployment_sends_only_that(ecs, folder):
    ecsflow("sync", file=folder / "compose.yaml", endpoint=ecs)
    live = service_item(create_request(folder), [deployment("ecs-svc/1", TD.format(1), rollout="COMPLETED",
                                                            running=1)])
    ecs.respond("DescribeServices", described(live), times=1)
    ecs.reset_counts()
    result, document = deploy_json(ecs, folder)
    assert document["services"][0]["status"] == "unchanged"
    assert writes(ecs) == {}
    ecs.respond("DescribeServices", described(live), times=1)
    ecs.respond("UpdateService", answered(service_item(create_request(folder), [
        deployment("ecs-svc/4", TD.format(1))])), times=1)
    poll(ecs, create_request(folder), deployment("ecs-svc/4", TD.format(1), rollout="COMPLETED", running=1))
    forced, document = deploy_json(ecs, folder, "--force-new-deployment")
    assert document["services"][0]["status"] == "updated"
    assert ecs.sent("UpdateService") == [{"cluster": "default", "service": "shop-api", "forceNewDeployment": True}]


def test_a_service_that_is_not_ecsflows_is_never_touched(ecs, folder):
    request = create_request(folder)
    theirs = service_item({**request, "tags": [{"key": "team", "value": "web"}]},
                          [deployment("ecs-svc/1", TD.format(7), rollout="COMPLETED", running=1)])
    ecs.respond("DescribeServices", described(theirs))
    result, _ = deploy_json(ecs, folder, expect=1)
    assert "exists without the ecsflow:managed tag" in result.stderr and "nothing was written" in result.stderr
    assert writes(ecs) == {} and "Traceback" not in result.output


def test_tags_that_differ_are_tagged_and_untagged_without_an_update(ecs, folder):
    ecsflow("sync", file=folder / "compose.yaml", endpoint=ecs)
    request = create_request(folder)
    live = service_item({**request, "tags": request["tags"] + [{"key": "old", "value": "x"}]},
                        [deployment("ecs-svc/1", TD.format(1), rollout="COMPLETED", running=1)])
    edit(folder / "compose.yaml", "  subnets:", "  tags: {team: data}\n  subnets:")
    ecs.respond("DescribeServices", described(live), times=1)
    ecs.respond("TagResource", {}, times=1)  # moto holds no such service: it only answers what ECS does
    ecs.respond("UntagResource", {}, times=1)
    ecs.requests.clear()
    result, document = deploy_json(ecs, folder)
    assert document["services"][0]["status"] == "updated"
    [tag], [untag] = ecs.sent("TagResource"), ecs.sent("UntagResource")
    assert tag == {"resourceArn": live["serviceArn"], "tags": [{"key": "team", "value": "data"}]}
    assert untag == {"resourceArn": live["serviceArn"], "tagKeys": ["old"]}
    assert ecs.sent("UpdateService") == []


def test_a_capacity_provider_change_is_sent_with_a_forced_deployment(ecs, folder):
    """UpdateService's reference: the capacity provider strategy "doesn't trigger a new service deployment", and
    moving a service from a launch type to a strategy needs forceNewDeployment."""
    ecsflow("sync", file=folder / "compose.yaml", endpoint=ecs)
    live = service_item(create_request(folder), [deployment("ecs-svc/1", TD.format(1), rollout="COMPLETED",
                                                            running=1)])
    (folder / "compose.yaml").write_text((folder / "compose.yaml").read_text()
                                         + "    x-ecsflow: {capacity_provider: FARGATE_SPOT}\n")
    spot = create_request(folder)
    ecs.respond("DescribeServices", described(live), times=1)
    ecs.respond("UpdateService", answered(service_item(spot, [deployment("ecs-svc/2", TD.format(1))])), times=1)
    poll(ecs, spot, deployment("ecs-svc/2", TD.format(1), rollout="COMPLETED", running=1))
    ecs.requests.clear()
    result, document = deploy_json(ecs, folder)
    assert document["services"][0]["status"] == "updated"
    assert "may refuse that change" in document["services"][0]["note"]
    assert ecs.sent("UpdateService") == [{"cluster": "default", "service": "shop-api", "forceNewDeployment": True,
                                          "capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT",
                                                                        "weight": 1}]}]
