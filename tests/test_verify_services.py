"""`ecsflow verify`'s checks of the ECS services `deploy` would create or update, against moto behind the test
endpoint (its ECS, Elastic Load Balancing and IAM): the target group exists and is of type ip, the capacity
provider is on the cluster, the name is not someone else's service, and a server that cannot be deployed as
written is a failing line."""

from __future__ import annotations

import json

import pytest
from cli_runner import ecsflow
from deploy_support import API, PLAIN, RecordingEndpoint, project

TRUST_ECS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


@pytest.fixture(scope="module")
def endpoint():
    with RecordingEndpoint() as running:
        yield running


@pytest.fixture
def ecs(endpoint):
    endpoint.reset()
    endpoint.create_cluster("default")
    endpoint.client("iam").create_role(RoleName="ecs-exec", AssumeRolePolicyDocument=json.dumps(TRUST_ECS))
    endpoint.ids = endpoint.network()
    return endpoint


def verify(ecs, folder, *args, expect: int = 0):
    result = ecsflow("verify", "--format", "json", *args, file=folder / "compose.yaml", endpoint=ecs, env=PLAIN,
                     expect=expect)
    document = json.loads(result.stdout)
    return result, {(c["service"], c["check"]): (c["status"], c["detail"]) for c in document["checks"]}


def target_group(ecs, name: str, kind: str = "ip") -> str:
    vpc = ecs.client("ec2").describe_vpcs()["Vpcs"][-1]["VpcId"]
    return ecs.client("elbv2").create_target_group(Name=name, Protocol="HTTP", Port=8000, VpcId=vpc,
                                                   TargetType=kind)["TargetGroups"][0]["TargetGroupArn"]


def served(tmp_path, ecs, block: str = "") -> object:
    subnet, group = ecs.ids
    # Its log group gets a retention, or verify's retention line fails (the group would never expire).
    block = ", ".join(filter(None, ["log_retention: 30", block]))
    return project(tmp_path, API + f"    x-ecsflow: {{{block}}}\n", subnet=subnet, group=group)


def test_a_new_service_with_an_ip_target_group_passes(ecs, tmp_path):
    target_group(ecs, "shop-api")
    result, checks = verify(ecs, served(tmp_path, ecs, "service: {target_group: shop-api}"))
    assert checks[("api", "ECS service")] == ("ok", "not in cluster default yet: deploy creates it")
    assert checks[("api", "target group")] == ("ok", "type ip; it sends to container api:8000 of the task definition")


def test_a_target_group_of_type_instance_or_missing_fails(ecs, tmp_path):
    arn = target_group(ecs, "shop-api", kind="instance")
    result, checks = verify(ecs, served(tmp_path, ecs, f"service: {{target_group: {arn}}}"), expect=1)
    status, detail = checks[("api", "target group")]
    assert status == "failed" and "its target type is instance" in detail and "type ip" in detail
    result, checks = verify(ecs, served(tmp_path, ecs, "service: {target_group: nowhere}"), expect=1)
    assert checks[("api", "target group")] == ("missing", "the target group nowhere does not exist in us-east-1")


def test_a_capacity_provider_the_cluster_lacks_fails(ecs, tmp_path):
    result, checks = verify(ecs, served(tmp_path, ecs, "capacity_provider: FARGATE_SPOT"), expect=1)
    status, detail = checks[("api", "capacity provider")]
    assert status == "failed" and "does not have the capacity provider FARGATE_SPOT" in detail
    ecs.client("ecs").put_cluster_capacity_providers(cluster="default", capacityProviders=["FARGATE", "FARGATE_SPOT"],
                                                     defaultCapacityProviderStrategy=[])
    result, checks = verify(ecs, served(tmp_path, ecs, "capacity_provider: FARGATE_SPOT"))
    assert checks[("api", "capacity provider")][0] == "ok"


def theirs(ecs) -> str:
    """A task definition someone else registered, for a service of theirs."""
    return ecs.client("ecs").register_task_definition(
        family="theirs", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": "web", "image": "nginx"}])["taskDefinition"]["taskDefinitionArn"]


def test_someone_elses_service_of_that_name_fails(ecs, tmp_path):
    subnet, group = ecs.ids
    ecs.client("ecs").create_service(
        cluster="default", serviceName="shop-api", desiredCount=0, launchType="FARGATE", taskDefinition=theirs(ecs),
        networkConfiguration={"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}})
    result, checks = verify(ecs, served(tmp_path, ecs), expect=1)
    status, detail = checks[("api", "ECS service")]
    assert status == "failed" and "without the ecsflow:managed tag" in detail


def test_a_server_that_cannot_be_deployed_is_a_failing_line(ecs, tmp_path):
    result, checks = verify(ecs, served(tmp_path, ecs, "service: {health_check_grace_period: 30s}"), expect=1)
    status, detail = checks[("api", "ECS service")]
    assert status == "failed" and "health_check_grace_period" in detail and "deploy stops here" in detail
