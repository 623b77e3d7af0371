"""`ecsflow deploy` against moto behind the test endpoint (tests/ecs_server.py): CreateService's answer lost,
throttled or "not idempotent" converge to one service; Application Auto Scaling owns a scaled service's count;
a target group is resolved by name or refused before any write; bad input stops the deploy before the first
write. moto completes a new service's deployment at once with MOTO_ECS_SERVICE_RUNNING (its own switch)."""

from __future__ import annotations

import json

import pytest
from cli_runner import clean_env, ecsflow, ecsflow_started
from deploy_support import API, PLAIN, RecordingEndpoint, create_request, deploy_json, fresh, project, writes
from service_answers import deployment, described, service_item

TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-api:{}"
NOT_IDEMPOTENT = "Creation of service was not idempotent."


@pytest.fixture(scope="module")
def endpoint():
    with RecordingEndpoint() as running:
        yield running


@pytest.fixture
def ecs(endpoint, monkeypatch):
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")  # moto's server runs in this process
    return fresh(endpoint)


@pytest.fixture
def folder(tmp_path, ecs):
    subnet, group = ecs.network()  # moto checks a service's subnets and groups
    ecs.reset_counts()
    return project(tmp_path, subnet=subnet, group=group)


def network(ecs) -> dict[str, str]:
    subnet, group = ecs.network()
    return {"subnet": subnet, "group": group}


def services_in_moto(ecs) -> list[str]:
    return [arn.rsplit("/", 1)[-1] for arn in ecs.client("ecs").list_services(cluster="default")["serviceArns"]]


def test_a_new_service_is_created_once_with_its_client_token(ecs, folder):
    result, document = deploy_json(ecs, folder)
    [api] = document["services"]
    assert (api["status"], api["desired_count"], api["desired_count_owner"]) == ("created", 1, "unset")
    [sent] = ecs.sent("CreateService")
    assert sent["taskDefinition"] == TD.format(1) and len(sent["clientToken"]) == 32
    assert services_in_moto(ecs) == ["shop-api"]


def test_a_lost_create_service_answer_is_sent_again_with_the_same_token_and_creates_one_service(ecs, folder):
    ecs.fail("CreateService", kind="drop", forward=True, times=1)  # ECS created it; the answer never came
    result, document = deploy_json(ecs, folder)
    assert document["services"][0]["status"] == "created" and document["services"][0]["note"] is None
    first, again = ecs.sent("CreateService")
    assert first == again  # the same request, the same clientToken: ECS answers the same service
    assert services_in_moto(ecs) == ["shop-api"]


def test_throttled_create_service_is_retried_and_converges(ecs, folder, no_retry_waits):
    ecs.fail("CreateService", "ThrottlingException", "Rate exceeded", times=2)
    result, document = deploy_json(ecs, folder)
    assert document["services"][0]["status"] == "created" and ecs.calls["CreateService"] == 3
    assert services_in_moto(ecs) == ["shop-api"]


def test_not_idempotent_takes_the_update_path_of_the_service_a_concurrent_deploy_created(ecs, folder):
    ecsflow("sync", file=folder / "compose.yaml", endpoint=ecs)
    request = create_request(folder)
    other = {k: v for k, v in request.items() if k != "clientToken"}  # another deploy, of an older compose file
    other["deploymentConfiguration"] = {**other["deploymentConfiguration"], "maximumPercent": 150}
    ecs.client("ecs").create_service(**other)
    ecs.respond("DescribeServices", described(missing=("shop-api",)), times=1)  # it described before it
    ecs.requests.clear()
    result, document = deploy_json(ecs, folder)
    [api] = document["services"]
    assert api["status"] == "created" and "not idempotent" in api["note"]
    # ECS answered "not idempotent" (another request made it): what differs is sent, once, and only that.
    [update] = ecs.sent("UpdateService")
    assert set(update) == {"cluster", "service", "deploymentConfiguration"}
    assert update["deploymentConfiguration"].get("maximumPercent", 200) == 200
    assert services_in_moto(ecs) == ["shop-api"]


def test_two_deploys_at_once_converge_to_one_service_and_one_revision(ecs, folder):
    """Two `ecsflow deploy` processes; each describe is held until both made it, so both see the family and the
    service new: both register (the duplicate revision is deregistered), both create, with the same request and
    client token, and ECS answers both with the one service."""
    ecs.hold("DescribeTaskDefinition", 2, times=2)
    ecs.hold("DescribeServices", 2, times=2)
    processes = [ecsflow_started("deploy", "--format", "json", "--poll-interval", "0.01", file=folder / "compose.yaml",
                                 endpoint=ecs, env=clean_env(credentials=True)) for _ in range(2)]
    results = [(p.communicate(timeout=120), p.returncode) for p in processes]
    assert [code for _, code in results] == [0, 0], [err for (_, err), _ in results]
    for (out, _), _ in results:
        [api] = json.loads(out)["services"]
        assert (api["status"], api["task_definition"], api["note"]) == ("created", TD.format(1), None)
    assert ecs.calls["RegisterTaskDefinition"] == 2 and ecs.calls["CreateService"] == 2
    assert services_in_moto(ecs) == ["shop-api"]
    active = ecs.client("ecs").list_task_definitions(familyPrefix="shop-api", status="ACTIVE")["taskDefinitionArns"]
    assert active == [TD.format(1)]


def scaled_live(ecs, folder, desired: int) -> dict:
    """shop-api, deployed and running ``desired`` tasks (scripted: moto does not change a count by itself)."""
    ecsflow("sync", file=folder / "compose.yaml", endpoint=ecs)
    request = create_request(folder)
    ecs.client("ecs").create_service(**{k: v for k, v in request.items() if k != "clientToken"})
    ecs.reset_counts()
    return service_item(create_request(folder), [deployment("ecs-svc/1", TD.format(1), rollout="COMPLETED",
                                                            running=desired, desired=desired)], desired=desired)


def test_a_service_autoscaling_scales_keeps_its_count_and_shows_no_drift(ecs, tmp_path):
    folder = project(tmp_path, API + "    deploy: {replicas: 2}\n", **network(ecs))
    live = scaled_live(ecs, folder, 5)
    ecs.respond("DescribeServices", described(live), times=1)
    # no scalable target: compose owns the count, and 5 is not 2
    ecsflow("diff", "--format", "json", "--exit-code", file=folder / "compose.yaml", endpoint=ecs, env=PLAIN, expect=2)
    ecs.client("application-autoscaling").register_scalable_target(
        ServiceNamespace="ecs", ResourceId="service/default/shop-api", ScalableDimension="ecs:service:DesiredCount",
        MinCapacity=2, MaxCapacity=10)
    ecs.reset_counts()
    ecs.respond("DescribeServices", described(live), times=2)
    ecsflow("diff", "--format", "json", "--exit-code", file=folder / "compose.yaml", endpoint=ecs, env=PLAIN)
    result, document = deploy_json(ecs, folder)
    [api] = document["services"]
    assert (api["status"], api["desired_count"], api["desired_count_owner"]) == ("unchanged", 5, "autoscaling")
    assert ecs.calls["DescribeScalableTargets"] == 2 and writes(ecs) == {}  # one lookup per diff and per deploy


def test_a_scalable_target_lookup_that_is_denied_leaves_the_count_alone_and_says_so(ecs, tmp_path):
    folder = project(tmp_path, API + "    deploy: {replicas: 2}\n", **network(ecs))
    live = scaled_live(ecs, folder, 5)
    ecs.respond("DescribeServices", described(live), times=1)
    ecs.fail("DescribeScalableTargets", "AccessDeniedException", "User is not authorized")
    result, document = deploy_json(ecs, folder)
    assert document["services"][0]["desired_count_owner"] == "autoscaling"
    assert "cannot ask Application Auto Scaling whether it scales shop-api" in result.stderr
    assert "application-autoscaling:DescribeScalableTargets" in result.stderr and writes(ecs) == {}


def target_group(ecs, name: str) -> str:
    vpc = ecs.client("ec2").describe_vpcs()["Vpcs"][-1]["VpcId"]
    return ecs.client("elbv2").create_target_group(Name=name, Protocol="HTTP", Port=8000, VpcId=vpc,
                                                   TargetType="ip")["TargetGroups"][0]["TargetGroupArn"]


def test_a_target_group_written_as_a_name_is_sent_as_its_arn(ecs, folder):
    arn = target_group(ecs, "shop-api")
    text = (folder / "compose.yaml").read_text() + "    x-ecsflow: {service: {target_group: shop-api}}\n"
    (folder / "compose.yaml").write_text(text)
    result, document = deploy_json(ecs, folder)
    [sent] = ecs.sent("CreateService")
    assert sent["loadBalancers"] == [{"targetGroupArn": arn, "containerName": "api", "containerPort": 8000}]


def test_a_target_group_that_does_not_exist_stops_the_deploy_before_any_write(ecs, folder):
    target_group(ecs, "shop-api")
    (folder / "compose.yaml").write_text((folder / "compose.yaml").read_text()
                                         + "    x-ecsflow: {service: {target_group: shop-apj}}\n")
    ecs.reset_counts()
    result, _ = deploy_json(ecs, folder, expect=1)
    assert writes(ecs) == {}
    assert "no target group named shop-apj (api)" in result.stderr and "x-ecsflow.service.target_group" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("service", "message"), [
    ("  api:\n    image: acme/api:1\n    ports: ['8000:8000', '9000:9000']\n"
     "    x-ecsflow: {service: {target_group: web}}\n", "several ports (8000, 9000)"),
    ("  api:\n    image: acme/api:1\n    ports: ['8000:8000']\n"
     "    x-ecsflow: {service: {health_check_grace_period: 30s}}\n", "health_check_grace_period applies to a load"),
    ("  api:\n    image: acme/api:1\n    ports: ['8000:8000']\n    deploy: {mode: global}\n",
     "deploy.mode: global runs one task on every instance"),
    ("  api:\n    image: acme/api:1\n    x-ecsflow: {kind: server}\n", "kind"),
])
def test_bad_input_stops_the_deploy_before_any_write(ecs, tmp_path, service, message):
    folder = project(tmp_path, service)
    result, _ = deploy_json(ecs, folder, expect=1)
    assert message in result.stderr and "Traceback" not in result.output and result.stdout == ""
    assert writes(ecs) == {} and ecs.calls == {}  # nothing was even asked: it is all checked offline first


def test_naming_a_job_on_deploy_is_an_error_that_names_the_kind_key(ecs, tmp_path):
    folder = project(tmp_path, API + "  migrate:\n    image: acme/api:1\n    command: [migrate]\n")
    result, _ = deploy_json(ecs, folder, "migrate", expect=1)
    assert "'migrate' is a job" in result.stderr and "x-ecsflow.kind" in result.stderr
    assert writes(ecs) == {}
