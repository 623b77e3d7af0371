"""ECS services as ECS runs them, in the sandbox (boto3 against `sandbox_session`) and at the tests' endpoint
(boto3 over HTTP against `EcsEndpoint`, whose moto runs the same semantics: ecsflow/sandbox/moto_services.py).
moto 5.2 alone keeps half of CreateService, never rolls a deployment out, replaces a service created twice and
lists deleted ones (design/services.md section 3): every test here fails against plain moto."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from ecs_server import EcsEndpoint

from ecsflow.sandbox.session import sandbox_session

REAL = Path(__file__).parent / "fixtures" / "real_shape"
CLUSTER = "apps"
SUBNETS = ["subnet-0b2", "subnet-0a1"]  # no such subnets in moto's EC2: the sandbox takes them as given
NETWORK = {"awsvpcConfiguration": {"subnets": SUBNETS}}  # no security groups either: moto's own check fails on that
BREAKER = {"enable": True, "rollback": True}
FAIL = "ECSFLOW_SANDBOX_FAIL_DEPLOYMENTS"


@pytest.fixture(scope="module")
def endpoint():
    with EcsEndpoint() as running:
        yield running


@pytest.fixture(params=["sandbox", "endpoint"])
def ecs(request, tmp_path, monkeypatch):
    """A boto3 ECS client with a cluster, in the sandbox or at the endpoint."""
    monkeypatch.delenv(FAIL, raising=False)
    if request.param == "sandbox":
        with sandbox_session(tmp_path / "sandbox") as sandbox:
            import boto3

            client = boto3.client("ecs", region_name=sandbox.options.region)
            client.create_cluster(clusterName=CLUSTER)
            yield client
    else:
        endpoint = request.getfixturevalue("endpoint")
        endpoint.reset()
        client = endpoint.client("ecs")
        client.create_cluster(clusterName=CLUSTER)
        yield client


def register(ecs, family: str = "shop-api", image: str = "acme/api:1", port: int = 8080) -> str:
    return ecs.register_task_definition(
        family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256", memory="512",
        containerDefinitions=[{"name": "api", "image": image, "portMappings": [{"containerPort": port}]}],
    )["taskDefinition"]["taskDefinitionArn"]


def create(ecs, name: str = "shop-api", **members) -> dict:
    request = {"cluster": CLUSTER, "serviceName": name, "taskDefinition": "shop-api", "desiredCount": 2,
               "launchType": "FARGATE", "networkConfiguration": NETWORK,
               "deploymentConfiguration": {"deploymentCircuitBreaker": BREAKER}, **members}
    return ecs.create_service(**{k: v for k, v in request.items() if v is not None})["service"]


def describe(ecs, *names: str, **kwargs) -> dict:
    return ecs.describe_services(cluster=CLUSTER, services=list(names or ["shop-api"]), **kwargs)


def service(ecs, name: str = "shop-api", **kwargs) -> dict:
    return describe(ecs, name, **kwargs)["services"][0]


def deployments(answer: dict) -> list[tuple[str, str, str]]:
    return [(d["status"], d["rolloutState"], d["taskDefinition"].rsplit("/", 1)[-1]) for d in answer["deployments"]]


def messages(answer: dict) -> list[str]:
    return [event["message"] for event in answer["events"]]


def refused(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as error:
        call(*args, **kwargs)
    return error.value.response["Error"]["Code"], error.value.response["Error"]["Message"]


# ---------------------------------------------------------------------------------------------------------
# what a created service answers


def test_a_created_service_keeps_every_member_with_the_defaults_ecs_fills(ecs):
    register(ecs)
    answer = create(ecs, desiredCount=3, healthCheckGracePeriodSeconds=0, enableExecuteCommand=True,
                    enableECSManagedTags=True, propagateTags="SERVICE", platformVersion="LATEST",
                    deploymentController={"type": "ECS"}, schedulingStrategy="REPLICA",
                    tags=[{"key": "ecsflow:managed", "value": "true"}], clientToken="token-1")
    assert answer["deploymentConfiguration"] == {"deploymentCircuitBreaker": BREAKER, "maximumPercent": 200,
                                                 "minimumHealthyPercent": 100, "strategy": "ROLLING",
                                                 "bakeTimeInMinutes": 0}
    assert answer["networkConfiguration"] == {"awsvpcConfiguration": {"subnets": SUBNETS,
                                                                      "assignPublicIp": "DISABLED"}}
    assert (answer["launchType"], answer["platformVersion"], answer["platformFamily"]) == ("FARGATE", "LATEST",
                                                                                          "Linux")
    assert (answer["enableExecuteCommand"], answer["enableECSManagedTags"], answer["propagateTags"]) == (
        True, True, "SERVICE")
    assert answer["availabilityZoneRebalancing"] == "ENABLED" and answer["healthCheckGracePeriodSeconds"] == 0
    assert answer["taskDefinition"].endswith(":task-definition/shop-api:1")
    [first] = answer["deployments"]
    assert first["id"].startswith("ecs-svc/") and first["status"] == "PRIMARY"
    assert (first["rolloutState"], first["desiredCount"], first["runningCount"]) == ("IN_PROGRESS", 3, 0)
    assert first["rolloutStateReason"] == f"ECS deployment {first['id']} in progress."
    assert first["platformVersion"] == "1.4.0" and first["networkConfiguration"] == answer["networkConfiguration"]
    assert answer["events"] == [] and answer["runningCount"] == 0
    assert service(ecs, include=["TAGS"])["tags"] == [{"key": "ecsflow:managed", "value": "true"}]
    assert "tags" not in service(ecs)


def test_a_capacity_provider_strategy_comes_without_a_launch_type(ecs):
    register(ecs)
    answer = create(ecs, launchType=None, capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT",
                                                                     "weight": 1}])
    assert "launchType" not in answer and "launchType" not in answer["deployments"][0]
    assert answer["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert answer["deployments"][0]["capacityProviderStrategy"] == answer["capacityProviderStrategy"]
    assert ecs.list_services(cluster=CLUSTER, launchType="EC2")["serviceArns"] == []


def test_service_connect_is_in_the_deployment_with_the_names_ecs_defaults(ecs):
    register(ecs)
    answer = create(ecs, serviceConnectConfiguration={
        "enabled": True, "namespace": "shop.local",
        "services": [{"portName": "http", "clientAliases": [{"port": 8080}]}]})
    assert "serviceConnectConfiguration" not in answer  # ECS keeps it in the deployments only
    [deployment] = service(ecs)["deployments"]
    assert deployment["serviceConnectConfiguration"] == {
        "enabled": True, "namespace": "shop.local",
        "services": [{"portName": "http", "discoveryName": "http",
                      "clientAliases": [{"port": 8080, "dnsName": "http.shop.local"}]}]}
    assert [r["discoveryName"] for r in deployment["serviceConnectResources"]] == ["http"]


def key_paths(value, prefix: str = "") -> set[str]:
    """Every key of an answer, as a path (lists of objects: the keys of all their items)."""
    if isinstance(value, dict):
        return set().union(*({f"{prefix}{k}"} | key_paths(v, f"{prefix}{k}.") for k, v in value.items())) \
            if value else set()
    if isinstance(value, list):
        return set().union(*(key_paths(item, prefix[:-1] + "[].") for item in value)) if value else set()
    return set()


def real(name: str) -> dict:
    return json.loads((REAL / name).read_text())["service"]


def test_the_answers_have_the_shape_of_real_ecs_answers_for_the_same_requests(ecs):
    """The workshop's service (2026: a load balancer, ECS Exec turned on by an update that forces a deployment):
    the same key paths, deployments and events included. The 2024 and 2025 answers: every key they have, less
    what ECS stopped filling since (the empty alarms) and the documentation's typo."""
    workshop = real("workshop_update_service_load_balancer.json")
    register(ecs, family="retail-store-ecs-ui", port=8080)
    vpc = workshop["networkConfiguration"]["awsvpcConfiguration"]
    balancers = [{**balancer, "containerName": "api"} for balancer in workshop["loadBalancers"]]  # register()'s
    create(ecs, "ui", taskDefinition="retail-store-ecs-ui", loadBalancers=balancers,
           deploymentConfiguration={"deploymentCircuitBreaker": {"enable": False, "rollback": False}},
           healthCheckGracePeriodSeconds=30, platformVersion="LATEST",
           networkConfiguration={"awsvpcConfiguration": {"subnets": vpc["subnets"],
                                                         "securityGroups": vpc["securityGroups"]}})
    service(ecs, "ui")
    updated = ecs.update_service(cluster=CLUSTER, service="ui", enableExecuteCommand=True,
                                 forceNewDeployment=True)["service"]
    assert key_paths(updated) == key_paths(workshop)

    spot = real("aws_cli_update_service_capacity_provider.json")
    register(ecs)
    guarded = {"awsvpcConfiguration": {"subnets": SUBNETS, "securityGroups": ["sg-0a"], "assignPublicIp": "ENABLED"}}
    create(ecs, "spot", launchType=None, capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}],
           networkConfiguration=guarded)
    since = {"deployments[].taskkDefinition"}  # the documentation's typo
    assert {p for p in key_paths(spot) - key_paths(service(ecs, "spot")) if not p.startswith(
        "deploymentConfiguration.alarms")} == since

    tutorial = real("tutorial_create_service_service_connect.json")
    connect = copy.deepcopy(tutorial["deployments"][0]["serviceConnectConfiguration"])
    connect["services"][0]["portName"] = "http"
    created = create(ecs, "connect", serviceConnectConfiguration=connect, enableExecuteCommand=True,
                     networkConfiguration=guarded)
    assert key_paths(tutorial) - key_paths(created) == set()


# ---------------------------------------------------------------------------------------------------------
# deployments


def test_the_next_describe_completes_a_created_service(ecs):
    register(ecs)
    created = create(ecs)
    described = service(ecs)
    [deployment] = described["deployments"]
    assert deployment["id"] == created["deployments"][0]["id"]
    assert (deployment["rolloutState"], deployment["runningCount"], described["runningCount"]) == ("COMPLETED", 2, 2)
    assert deployment["rolloutStateReason"] == f"ECS deployment {deployment['id']} completed."
    assert messages(described) == ["(service shop-api) has reached a steady state.",
                                   f"(service shop-api) (deployment {deployment['id']}) deployment completed."]
    assert len({event["id"] for event in described["events"]}) == 2
    assert service(ecs)["events"] == described["events"]  # nothing more happened


def test_a_new_task_definition_starts_a_deployment_that_the_next_describe_completes(ecs):
    register(ecs)
    first = create(ecs)["deployments"][0]["id"]
    service(ecs)
    register(ecs, image="acme/api:2")
    updated = ecs.update_service(cluster=CLUSTER, service="shop-api", taskDefinition="shop-api")["service"]
    assert deployments(updated) == [("PRIMARY", "IN_PROGRESS", "shop-api:2"), ("ACTIVE", "COMPLETED", "shop-api:1")]
    new = updated["deployments"][0]
    assert new["id"] != first and (new["runningCount"], updated["deployments"][1]["runningCount"]) == (0, 2)
    assert updated["taskDefinition"].endswith("shop-api:2")
    described = service(ecs)
    assert deployments(described) == [("PRIMARY", "COMPLETED", "shop-api:2")]
    assert described["deployments"][0]["id"] == new["id"] and described["runningCount"] == 2
    assert messages(described)[:2] == ["(service shop-api) has reached a steady state.",
                                       f"(service shop-api) (deployment {new['id']}) deployment completed."]


@pytest.mark.parametrize("members, starts", [
    ({"desiredCount": 5}, False),
    ({"deploymentConfiguration": {"maximumPercent": 150}}, False),
    ({"healthCheckGracePeriodSeconds": 0, "enableExecuteCommand": True, "propagateTags": "SERVICE"}, False),
    ({"taskDefinition": "shop-api:1"}, False),  # the revision it runs
    ({"networkConfiguration": {"awsvpcConfiguration": {"subnets": SUBNETS[::-1]}}}, False),  # the same, reordered
    ({"networkConfiguration": {"awsvpcConfiguration": {"subnets": SUBNETS, "assignPublicIp": "ENABLED"}}}, True),
    ({"platformVersion": "1.4.0"}, True),
    ({"forceNewDeployment": True}, True),
])
def test_only_what_changes_the_tasks_starts_a_deployment(ecs, members, starts):
    """UpdateService's reference says which members start a new deployment; a changed count is reached by the
    deployment that runs."""
    register(ecs)
    first = create(ecs)["deployments"][0]["id"]
    service(ecs)
    updated = ecs.update_service(cluster=CLUSTER, service="shop-api", **members)["service"]
    assert (updated["deployments"][0]["id"] != first) == starts
    assert len(updated["deployments"]) == (2 if starts else 1)
    if "desiredCount" in members:
        assert (updated["desiredCount"], updated["runningCount"]) == (5, 2)
        described = service(ecs)
        assert (described["runningCount"], described["deployments"][0]["runningCount"]) == (5, 5)
        assert messages(described)[0] == "(service shop-api) has reached a steady state."
    if "deploymentConfiguration" in members:  # the other members stay
        assert updated["deploymentConfiguration"]["deploymentCircuitBreaker"] == BREAKER
        assert updated["deploymentConfiguration"]["maximumPercent"] == 150


def test_a_capacity_provider_change_needs_a_forced_deployment(ecs):
    register(ecs)
    create(ecs)
    spot = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    code, message = refused(ecs.update_service, cluster=CLUSTER, service="shop-api", capacityProviderStrategy=spot)
    assert code == "InvalidParameterException" and "you must force a new deployment" in message
    updated = ecs.update_service(cluster=CLUSTER, service="shop-api", capacityProviderStrategy=spot,
                                 forceNewDeployment=True)["service"]
    assert "launchType" not in updated and len(updated["deployments"]) == 2
    back = ecs.update_service(cluster=CLUSTER, service="shop-api", capacityProviderStrategy=[],
                              forceNewDeployment=True)["service"]
    assert back["launchType"] == "FARGATE" and "capacityProviderStrategy" not in back


# ---------------------------------------------------------------------------------------------------------
# idempotency, names, deletion


def test_a_create_retried_with_its_client_token_is_the_same_service(ecs):
    register(ecs)
    first = create(ecs, clientToken="a1b2")
    again = create(ecs, clientToken="a1b2")  # the answer was lost: botocore, or ecsflow, sends it again
    assert again["deployments"][0]["id"] == first["deployments"][0]["id"]
    assert again["createdAt"] == first["createdAt"]


@pytest.mark.parametrize("retry", [{"clientToken": "other"}, {"clientToken": None},
                                   {"clientToken": "a1b2", "desiredCount": 9}])
def test_any_other_create_on_a_taken_name_is_not_idempotent(ecs, retry):
    register(ecs)
    first = create(ecs, clientToken="a1b2")
    assert refused(create, ecs, **retry) == ("InvalidParameterException", "Creation of service was not idempotent.")
    assert service(ecs)["deployments"][0]["id"] == first["deployments"][0]["id"]  # not replaced


def test_describe_takes_at_most_ten_names_and_says_which_are_missing(ecs):
    register(ecs)
    create(ecs)
    assert refused(describe, ecs, *[f"s{i}" for i in range(11)]) == (
        "InvalidParameterException", "service names can have at most 10 items.")
    answer = describe(ecs, "shop-api", "nope")
    assert [s["serviceName"] for s in answer["services"]] == ["shop-api"]
    assert [(f["arn"].rsplit("/", 1)[-1], f["reason"]) for f in answer["failures"]] == [("nope", "MISSING")]


def test_a_deleted_service_drains_then_is_inactive_and_no_longer_listed(ecs):
    register(ecs)
    create(ecs)
    code, _ = refused(ecs.delete_service, cluster=CLUSTER, service="shop-api")  # scaled above 0
    assert code == "InvalidParameterException"
    deleted = ecs.delete_service(cluster=CLUSTER, service="shop-api", force=True)["service"]
    assert (deleted["status"], deleted["desiredCount"]) == ("DRAINING", 0)
    assert service(ecs)["status"] == "INACTIVE"
    assert ecs.list_services(cluster=CLUSTER)["serviceArns"] == []
    assert refused(ecs.update_service, cluster=CLUSTER, service="shop-api", desiredCount=1) == (
        "ServiceNotActiveException", "Service was not ACTIVE.")
    assert refused(ecs.delete_service, cluster=CLUSTER, service="shop-api", force=True)[0] == (
        "ServiceNotActiveException")
    again = create(ecs)  # an INACTIVE name is free again
    assert again["status"] == "ACTIVE" and ecs.list_services(cluster=CLUSTER)["serviceArns"] == [again["serviceArn"]]


def test_ecs_checks_the_service_against_its_task_definition(ecs):
    register(ecs)
    assert refused(create, ecs, networkConfiguration=None) == (
        "InvalidParameterException", "Network Configuration must be provided when networkMode 'awsvpc' is specified.")
    balancer = {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/6d0ecf83",
                "containerName": "web", "containerPort": 8080}
    assert refused(create, ecs, loadBalancers=[balancer])[1] == "The container web does not exist in the task " \
        "definition."
    assert refused(create, ecs, loadBalancers=[{**balancer, "containerName": "api", "containerPort": 80}])[1] == (
        "The container api did not have a container port 80 defined.")
    assert ecs.list_services(cluster=CLUSTER)["serviceArns"] == []
    create(ecs, loadBalancers=[{**balancer, "containerName": "api"}])
    register(ecs, port=9090)  # an update to a revision the load balancer cannot send to is refused too
    assert refused(ecs.update_service, cluster=CLUSTER, service="shop-api", taskDefinition="shop-api")[1] == (
        "The container api did not have a container port 8080 defined.")
    assert deployments(service(ecs)) == [("PRIMARY", "COMPLETED", "shop-api:1")]


# ---------------------------------------------------------------------------------------------------------
# the failure switch


def fail_next_deployment(ecs, monkeypatch, breaker: dict) -> tuple[str, str]:
    """A service whose first deployment completed, then a new revision whose deployment the switch fails:
    (the completed deployment's id, the failing one's)."""
    register(ecs)
    first = create(ecs, deploymentConfiguration={"deploymentCircuitBreaker": breaker})["deployments"][0]["id"]
    service(ecs)
    register(ecs, image="acme/api:broken")
    monkeypatch.setenv(FAIL, "other, shop-*")
    updated = ecs.update_service(cluster=CLUSTER, service="shop-api", taskDefinition="shop-api")["service"]
    return first, updated["deployments"][0]["id"]


def test_the_failure_switch_fails_a_deployment_and_ecs_rolls_it_back(ecs, monkeypatch):
    first, failing = fail_next_deployment(ecs, monkeypatch, {"enable": True, "rollback": True})
    failed = service(ecs)
    assert deployments(failed) == [("PRIMARY", "IN_PROGRESS", "shop-api:1"), ("ACTIVE", "FAILED", "shop-api:2")]
    rollback, broken = failed["deployments"]
    assert rollback["id"] not in (first, failing) and broken["id"] == failing
    assert rollback["rolloutStateReason"] == f"ECS deployment circuit breaker: rolling back to deploymentId {first}."
    assert broken["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert broken["failedTasks"] == 3 and broken["runningCount"] == 0 and failed["taskDefinition"].endswith(":1")
    assert messages(failed)[:2] == [f"(service shop-api) rolling back to deployment {first}.",
                                    f"(service shop-api) (deployment {failing}) deployment failed: tasks failed to "
                                    "start."]
    done = service(ecs)  # the rollback completes at the describe after
    assert deployments(done) == [("PRIMARY", "COMPLETED", "shop-api:1")] and done["runningCount"] == 2
    assert done["deployments"][0]["id"] == rollback["id"]
    assert messages(done)[:2] == ["(service shop-api) has reached a steady state.",
                                  f"(service shop-api) (deployment {rollback['id']}) deployment completed."]


def test_without_rollback_the_failed_deployment_stays_primary(ecs, monkeypatch):
    first, failing = fail_next_deployment(ecs, monkeypatch, {"enable": True, "rollback": False})
    for _ in range(2):
        failed = service(ecs)
        assert deployments(failed) == [("PRIMARY", "FAILED", "shop-api:2"), ("ACTIVE", "COMPLETED", "shop-api:1")]
    assert failed["deployments"][0]["id"] == failing and failed["deployments"][1]["id"] == first
    assert failed["runningCount"] == 2  # the old tasks keep serving


def test_without_a_circuit_breaker_a_failing_deployment_never_ends(ecs, monkeypatch):
    fail_next_deployment(ecs, monkeypatch, {"enable": False, "rollback": False})
    for _ in range(3):
        stuck = service(ecs)
        assert deployments(stuck) == [("PRIMARY", "IN_PROGRESS", "shop-api:2"), ("ACTIVE", "COMPLETED", "shop-api:1")]
    assert stuck["deployments"][0]["failedTasks"] == 3
    assert messages(stuck).count("(service shop-api) is unable to consistently start tasks successfully. For more "
                                 "information, see the Troubleshooting section of the Amazon ECS Developer Guide.") == 1


def test_a_failed_first_deployment_has_nothing_to_roll_back_to(ecs, monkeypatch):
    register(ecs)
    monkeypatch.setenv(FAIL, "shop-api")
    create(ecs, desiredCount=10)
    failed = service(ecs)
    assert deployments(failed) == [("PRIMARY", "FAILED", "shop-api:1")]
    assert failed["deployments"][0]["failedTasks"] == 5  # half the desired count
    monkeypatch.delenv(FAIL)
    fixed = ecs.update_service(cluster=CLUSTER, service="shop-api", forceNewDeployment=True)["service"]
    assert deployments(fixed)[0] == ("PRIMARY", "IN_PROGRESS", "shop-api:1")
    assert deployments(service(ecs)) == [("PRIMARY", "COMPLETED", "shop-api:1")]


def test_the_switch_is_off_by_default_and_names_services_by_glob(ecs, monkeypatch):
    register(ecs)
    monkeypatch.setenv(FAIL, "shop")  # a glob that matches no service here
    create(ecs)
    create(ecs, "shop-worker")
    assert [d["rolloutState"] for s in describe(ecs, "shop-api", "shop-worker")["services"]
            for d in s["deployments"]] == ["COMPLETED", "COMPLETED"]


# ---------------------------------------------------------------------------------------------------------
# the endpoint: the semantics over HTTP, with its scripting and faults on top


def test_canned_answers_are_given_on_top_of_the_semantics(endpoint):
    endpoint.reset()
    ecs = endpoint.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    register(ecs)
    created = create(ecs)
    scripted = json.loads(json.dumps(created, default=str))  # the answer as JSON (boto3 parsed its times)
    scripted["deployments"][0].update(rolloutState="FAILED", rolloutStateReason="scripted")
    endpoint.respond("DescribeServices", {"services": [scripted], "failures": []}, times=1)
    assert service(ecs)["deployments"][0]["rolloutStateReason"] == "scripted"
    assert deployments(service(ecs)) == [("PRIMARY", "COMPLETED", "shop-api:1")]  # moto's next answer


def test_a_create_whose_answer_was_lost_is_retried_into_the_same_service(endpoint):
    """ECS created the service, the answer never came back, botocore sent the request again: with its
    clientToken, the retry is answered with the service the first one made."""
    endpoint.reset()
    ecs = endpoint.client("ecs")
    ecs.create_cluster(clusterName=CLUSTER)
    register(ecs)
    endpoint.fail("CreateService", kind="drop", forward=True, times=1)
    created = create(ecs, clientToken="f00d")
    assert endpoint.calls["CreateService"] == 2
    assert ecs.list_services(cluster=CLUSTER)["serviceArns"] == [created["serviceArn"]]
    assert deployments(service(ecs)) == [("PRIMARY", "COMPLETED", "shop-api:1")]
