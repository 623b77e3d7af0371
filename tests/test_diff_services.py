"""`ecsflow diff`'s services section (text, markdown, JSON "services"), against the test endpoint: a service ECS
answers for ecsflow's own request (real answers' shape, tests/service_answers.py) is no change, what would be
created or updated is shown field by field and counted by --exit-code, --no-services leaves the section out,
one DescribeServices asks for ten services, and a service of the project that no compose service has is a note."""

from __future__ import annotations

import json

import pytest
from cli_runner import ecsflow
from deploy_support import API, PLAIN, RecordingEndpoint, create_request, fresh, project
from project_files import edit
from service_answers import deployment, described, service_item

TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-api:{}"


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


def diff(ecs, folder, *args: str, expect: int = 0):
    return ecsflow("diff", *args, file=folder / "compose.yaml", endpoint=ecs, env=PLAIN, expect=expect)


def deployed(ecs, folder) -> dict:
    """shop-api as ECS answers for the request deploy sent (revision 1, registered by sync)."""
    ecsflow("sync", file=folder / "compose.yaml", endpoint=ecs)
    return service_item(create_request(folder), [deployment("ecs-svc/1", TD.format(1), rollout="COMPLETED",
                                                            running=1)])


def test_a_service_as_ecs_answers_for_ecsflows_request_is_no_change(ecs, folder):
    ecs.respond("DescribeServices", described(deployed(ecs, folder)))
    for fmt in ("text", "markdown", "json"):
        diff(ecs, folder, "--exit-code", "--format", fmt)
    assert "ECS services: 0 to create, 0 to update, 1 unchanged." in diff(ecs, folder).stdout
    [api] = json.loads(diff(ecs, folder, "--format", "json").stdout)["services"]
    assert api == {"service": "api", "ecs_service": "shop-api", "cluster": "default", "status": "unchanged",
                   "live_task_definition": TD.format(1), "desired_count": 1, "desired_count_owner": "unset",
                   "changes": [], "tags_to_add": {}, "tags_to_remove": [], "refusal": None, "notes": []}


def test_a_new_service_is_shown_and_counted_by_exit_code_and_no_services_leaves_it_out(ecs, folder):
    ecsflow("sync", file=folder / "compose.yaml", endpoint=ecs)
    result = diff(ecs, folder, "--exit-code", expect=2)
    assert "+ ECS service shop-api (service api): new: 1 task(s) (desired count: unset)" in result.stdout
    assert "No changes. 1 task definition(s) match ECS." in result.stdout  # the families, as before
    markdown = diff(ecs, folder, "--format", "markdown").stdout
    assert "#### ECS services" in markdown and "**1 to create, 0 to update, 0 unchanged.**" in markdown
    ecs.reset_counts()
    without = diff(ecs, folder, "--exit-code", "--no-services", "--format", "json")
    assert "services" not in json.loads(without.stdout)
    assert set(ecs.calls) == {"DescribeTaskDefinition"}


def test_a_changed_image_shows_the_revision_it_replaces_and_other_fields_by_path(ecs, folder):
    live = deployed(ecs, folder)
    live["deploymentConfiguration"]["maximumPercent"] = 150
    ecs.respond("DescribeServices", described(live))
    edit(folder / "compose.yaml", "acme/api:1", "acme/api:2")
    result = diff(ecs, folder, "--exit-code", expect=2)
    assert "~ ECS service shop-api (service api): changed" in result.stdout
    assert "~ taskDefinition (shop-api:1 → new revision)" in result.stdout
    assert "~ deploymentConfiguration.maximumPercent: 150 -> 200" in result.stdout
    [api] = json.loads(diff(ecs, folder, "--format", "json").stdout)["services"]
    assert [c["path"] for c in api["changes"]] == ["taskDefinition", "deploymentConfiguration.maximumPercent"]


def test_one_describe_services_asks_for_ten_services(ecs, tmp_path):
    servers = "".join(f"  s{i}:\n    image: acme/s:1\n    ports: ['80{i:02d}:80']\n" for i in range(12))
    folder = project(tmp_path, servers)
    ecs.reset_counts()
    result = diff(ecs, folder, "--format", "json")
    assert len(json.loads(result.stdout)["services"]) == 12
    assert ecs.calls["DescribeServices"] == 2 and ecs.calls["ListServices"] == 1


def test_a_service_of_the_project_no_compose_service_has_is_a_note(ecs, folder):
    subnet, group = ecs.network()
    old = ecs.client("ecs").register_task_definition(
        family="shop-old", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": "old", "image": "acme/old:1"}])["taskDefinition"]["taskDefinitionArn"]
    ecs.client("ecs").create_service(
        cluster="default", serviceName="shop-old", desiredCount=0, launchType="FARGATE", taskDefinition=old,
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}},
        tags=[{"key": "ecsflow:managed", "value": "true"}, {"key": "ecsflow:project", "value": "shop"}])
    ecs.client("ecs").create_service(
        cluster="default", serviceName="theirs", desiredCount=0, launchType="FARGATE", taskDefinition=old,
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}})
    result = diff(ecs, folder)
    assert ("note: ECS service shop-old carries ecsflow:project=shop but no compose service has it" in result.stderr)
    assert "theirs" not in result.stderr


def test_a_server_that_cannot_be_deployed_is_a_warning_and_the_families_are_still_compared(ecs, tmp_path):
    folder = project(tmp_path, API + "    x-ecsflow: {service: {health_check_grace_period: 30s}}\n")
    result = diff(ecs, folder, "--exit-code", expect=2)  # the family is new
    assert "the ECS services are not compared" in result.stderr and "health_check_grace_period" in result.stderr
    assert "+ shop-api (service api): new family" in result.stdout
