"""A live ECS service against the spec (ecsflow/service/compare.py), on answers real ECS gave (SOURCES.md in
tests/fixtures/real_shape): only what ecsflow writes is compared, with ECS's defaults filled on both sides, so
the answer ECS gives for ecsflow's own CreateService request is no change, a service made by someone else
differs in exactly what ecsflow would change, and every field a user can change shows."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from service_support import API, HEAD, TG_ARN, specs

from ecsflow.diff import Change
from ecsflow.ecs.validate import check_update_service_request
from ecsflow.service.compare import compare_service, refusal

REAL = Path(__file__).parent / "fixtures" / "real_shape"
NAMESPACE_ARN = "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-xmpl1234"


def real(name: str) -> dict:
    return json.loads((REAL / name).read_text())["service"]


def ecs_answer(create_request: dict, template: str = "workshop_update_service_load_balancer.json",
               namespace_arn: str = NAMESPACE_ARN) -> dict:
    """What real ECS answers DescribeServices with for ``create_request``: the request as ECS keeps it, plus what
    it adds, as the real answers in tests/fixtures/real_shape show it:

    - read-only members (ARNs, status, counts, events, deployments, roleArn, createdAt/By, platformFamily,
      currentServiceRevisions, resourceManagementType, placement lists, serviceRegistries), from ``template``;
    - availabilityZoneRebalancing ENABLED (2024 and 2026 answers), deploymentConfiguration's strategy ROLLING and
      bakeTimeInMinutes 0 (2026), maximumPercent 200 / minimumHealthyPercent 100 when not sent (every answer);
    - healthCheckGracePeriodSeconds 0 when not sent (2024, 2025 answers, no load balancer), a capacity provider's
      base 0 (2024);
    - Service Connect in the PRIMARY deployment, the namespace as its ARN (2025 describe);
    - tags with include=["TAGS"], as sent."""
    answer = copy.deepcopy(real(template))
    sent = {k: copy.deepcopy(v) for k, v in create_request.items() if k not in ("clientToken", "cluster")}
    connect = sent.pop("serviceConnectConfiguration", None)
    for member in ("launchType", "capacityProviderStrategy", "healthCheckGracePeriodSeconds", "tags"):
        answer.pop(member, None)  # the template's own values of what a request may send
    answer.update(sent)
    answer["availabilityZoneRebalancing"] = "ENABLED"
    answer["deploymentConfiguration"] = {"maximumPercent": 200, "minimumHealthyPercent": 100, **sent.get(
        "deploymentConfiguration", {}), "strategy": "ROLLING", "bakeTimeInMinutes": 0}
    answer.setdefault("healthCheckGracePeriodSeconds", 0)
    answer["loadBalancers"] = sent.get("loadBalancers", [])
    for item in answer.get("capacityProviderStrategy", []):
        item.setdefault("base", 0)
    answer["deployments"] = [{**answer["deployments"][0], "status": "PRIMARY",
                              "taskDefinition": sent["taskDefinition"]}]
    if connect:
        answer["deployments"][0]["serviceConnectConfiguration"] = {**connect, "namespace": namespace_arn}
    return answer


SERVICES = {
    "plain": API,
    "load balancer": API + f"  x-ecsflow: {{service: {{target_group: {TG_ARN}, health_check_grace_period: 2m}}}}\n",
    "spot, exec, percentages": API + "  deploy: {replicas: 3, update_config: {order: stop-first, parallelism: 1, "
    "max_failure_ratio: 0.2}}\n  x-ecsflow: {capacity_provider: FARGATE_SPOT, service: {exec: true}}\n",
    "autoscaling, public ip": API + "  x-ecsflow: {service: {autoscaling: {min: 2, max: 8}, assign_public_ip: true, "
    "circuit_breaker: \"off\"}}\n",
}


@pytest.mark.parametrize("template", ["workshop_update_service_load_balancer.json",
                                      "aws_cli_update_service_capacity_provider.json",
                                      "tutorial_create_service_service_connect.json"])
@pytest.mark.parametrize("case", list(SERVICES))
@pytest.mark.parametrize("namespace", [None, "shop.local"])
def test_the_answer_ecs_gives_for_the_request_ecsflow_sent_is_no_change(tmp_path, case, template, namespace):
    head = HEAD + (f"  namespace: {namespace}\n" if namespace else "")
    spec = specs(tmp_path, SERVICES[case] + "worker:\n  image: acme/w:1\n  restart: always\n", head)["api"]
    answer = ecs_answer(spec.create_request("arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:3"),
                        template)
    diff = compare_service(spec, answer)
    assert (diff.status, diff.changes, diff.tags_to_add, diff.tags_to_remove) == ("unchanged", (), {}, ())
    assert refusal(answer) is None


def test_a_service_made_by_someone_else_differs_in_what_ecsflow_would_change(tmp_path):
    """The 2026 answer (a load balancer, ECS Exec, a grace period, no circuit breaker, no managed tags): described
    in compose, only the circuit breaker, the managed tags and the tag propagation differ."""
    head = """\
name: retail
x-ecsflow:
  cluster: retail-store-ecs-cluster
  execution_role: arn:aws:iam::802104112480:role/ecsTaskExecutionRole
  subnets: [subnet-070fc8b7200cdf7bb, subnet-06d97f13d5fa2d612]
  security_groups: [sg-0c092c5ec3f4e4c45]
"""
    target = "arn:aws:elasticloadbalancing:ap-northeast-3:802104112480:targetgroup/BlueTargetGroup/d981484920c49db1"
    spec = specs(tmp_path, f"""\
        application:
          image: public.ecr.aws/aws-containers/retail-store-sample-ui:1.0.0
          ports: ["8080:8080"]
          deploy: {{replicas: 2}}
          x-ecsflow:
            service: {{service_name: ui, target_group: "{target}", health_check_grace_period: 30s, exec: true}}
        """, head)["application"]
    diff = compare_service(spec, real("workshop_update_service_load_balancer.json"))
    assert diff.status == "changed"
    assert [(c.path, c.old, c.new) for c in diff.changes] == [
        ("enableECSManagedTags", False, True),
        ("propagateTags", "NONE", "SERVICE"),
        ("deploymentConfiguration.deploymentCircuitBreaker.enable", False, True),
        ("deploymentConfiguration.deploymentCircuitBreaker.rollback", False, True),
    ]
    update = spec.update_request(diff.changes)
    check_update_service_request(update)
    assert sorted(update) == ["cluster", "deploymentConfiguration", "enableECSManagedTags", "propagateTags",
                              "service"]
    assert diff.tags_to_add == {} and diff.tags_to_remove == ()  # described without include=["TAGS"]


def test_older_answers_fill_the_defaults_they_leave_out(tmp_path):
    """The 2019 answer has no circuit breaker, grace period, exec, controller or rebalancing members: they read
    as ECS's defaults, and the tags the file sets are kept while ecsflow's are added."""
    head = """\
name: sample
x-ecsflow:
  cluster: MyCluster
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
  subnets: [subnet-12344321]
  security_groups: [sg-12344321]
  assign_public_ip: true
  tags: {key1: value1, key2: value2, key3: value3}
"""
    spec = specs(tmp_path, "web:\n  image: nginx:1\n  ports: ['80']\n  deploy: {replicas: 2}\n"
                 "  x-ecsflow: {service: {service_name: MyService}}\n", head)["web"]
    diff = compare_service(spec, real("aws_cli_create_service_fargate.json"))
    assert [c.path for c in diff.changes] == [
        "enableECSManagedTags", "propagateTags", "deploymentConfiguration.deploymentCircuitBreaker.enable",
        "deploymentConfiguration.deploymentCircuitBreaker.rollback"]
    assert diff.tags_to_add == {"ecsflow:managed": "true", "ecsflow:project": "sample", "ecsflow:service": "web"}
    assert diff.tags_to_remove == ()


def test_a_capacity_provider_answer_differs_only_in_tag_propagation(tmp_path):
    head = """\
name: http
x-ecsflow:
  cluster: MyCluster
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
  subnets: [subnet-0db5010045995c2d5, subnet-0d0eab1bb38d5ca64]
  security_groups: [sg-02556bf85a191f59a]
  assign_public_ip: true
"""
    spec = specs(tmp_path, "web:\n  image: nginx:1\n  ports: ['80']\n  deploy: {replicas: 2}\n"
                 "  x-ecsflow: {capacity_provider: FARGATE, service: {service_name: my-http-service}}\n",
                 head)["web"]
    diff = compare_service(spec, real("aws_cli_update_service_capacity_provider.json"))
    assert [(c.path, c.old, c.new) for c in diff.changes] == [("propagateTags", "NONE", "SERVICE")]


def test_service_connect_is_read_from_the_primary_deployment_and_a_namespace_name_matches_its_arn(tmp_path):
    head = """\
name: tutorial
x-ecsflow:
  cluster: tutorial-cluster
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
  subnets: [subnet-abcd1234, subnet-efgh5678]
  security_groups: [sg-abcd1234]
  assign_public_ip: true
  namespace: service-connect
"""
    spec = specs(tmp_path, "nginx:\n  image: nginx:1\n  ports: [{target: 80, name: nginx}]\n"
                 "  x-ecsflow: {service: {service_name: service-connect-nginx-service, exec: true}}\n",
                 head)["nginx"]
    live = real("tutorial_create_service_service_connect.json")
    described = json.loads((REAL / "tutorial_describe_service_connect_configuration.json").read_text())
    live["deployments"][0]["serviceConnectConfiguration"] = described  # as DescribeServices gives it later
    diff = compare_service(spec, live)
    connect = [c for c in diff.changes if c.path.startswith("serviceConnectConfiguration")]
    # The namespace name and the ARN ECS answers with are the same namespace; the DNS name is not: ECS
    # defaulted it to nginx.service-connect, and ecsflow wants the compose name.
    assert [c.path for c in connect] == ["serviceConnectConfiguration.services"]
    assert connect[0].old[0]["clientAliases"] == [{"port": 80, "dnsName": "nginx.service-connect"}]
    assert connect[0].new[0]["clientAliases"] == [{"port": 80, "dnsName": "nginx"}]
    other = compare_service(spec, live, namespace_arn="arn:aws:servicediscovery:us-west-2:123456789012:namespace/x")
    assert any(c.path == "serviceConnectConfiguration.namespace" for c in other.changes)


EDITS = {  # an edit of the compose file -> the change path it makes, and the UpdateService member that sends it
    "replicas": ("deploy: {replicas: 2}", "deploy: {replicas: 5}", "desiredCount", "desiredCount"),
    "order": ("deploy: {replicas: 2}", "deploy: {replicas: 2, update_config: {order: stop-first}}",
              "deploymentConfiguration.maximumPercent", "deploymentConfiguration"),
    "percent": ("deploy: {replicas: 2}", "deploy: {replicas: 2}\n  x-ecsflow: {service: {minimum_healthy_percent: 50}}",
                "deploymentConfiguration.minimumHealthyPercent", "deploymentConfiguration"),
    "breaker": ("deploy: {replicas: 2}", "deploy: {replicas: 2, update_config: {failure_action: pause}}",
                "deploymentConfiguration.deploymentCircuitBreaker.rollback", "deploymentConfiguration"),
    "ratio": ("deploy: {replicas: 2}", "deploy: {replicas: 2, update_config: {max_failure_ratio: 0.5}}",
              "deploymentConfiguration.deploymentCircuitBreaker.thresholdConfiguration", "deploymentConfiguration"),
    "exec": ("deploy: {replicas: 2}", "deploy: {replicas: 2}\n  x-ecsflow: {service: {exec: true}}",
             "enableExecuteCommand", "enableExecuteCommand"),
    "public ip": ("deploy: {replicas: 2}", "deploy: {replicas: 2}\n  x-ecsflow: {service: {assign_public_ip: true}}",
                  "networkConfiguration.awsvpcConfiguration.assignPublicIp", "networkConfiguration"),
    "subnets": ("deploy: {replicas: 2}", "deploy: {replicas: 2}\n  x-ecsflow: {service: {subnets: [subnet-0c3]}}",
                "networkConfiguration.awsvpcConfiguration.subnets", "networkConfiguration"),
    "security groups": ("deploy: {replicas: 2}",
                        "deploy: {replicas: 2}\n  x-ecsflow: {service: {security_groups: [sg-0b]}}",
                        "networkConfiguration.awsvpcConfiguration.securityGroups", "networkConfiguration"),
    "spot": ("deploy: {replicas: 2}", "deploy: {replicas: 2}\n  x-ecsflow: {capacity_provider: FARGATE_SPOT}",
             "capacityProviderStrategy", "capacityProviderStrategy"),
    "target group": ("deploy: {replicas: 2}", f"deploy: {{replicas: 2}}\n  x-ecsflow: {{service: {{target_group: "
                     f"{TG_ARN}}}}}", "loadBalancers", "loadBalancers"),
    "grace": (f"x-ecsflow: {{service: {{target_group: {TG_ARN}}}}}",
              f"x-ecsflow: {{service: {{target_group: {TG_ARN}, health_check_grace_period: 5m}}}}",
              "healthCheckGracePeriodSeconds", "healthCheckGracePeriodSeconds"),
    "port": (f"expose: [9000]\n  x-ecsflow: {{service: {{target_group: {TG_ARN}, container_port: 8000}}}}",
             f"expose: [9000]\n  x-ecsflow: {{service: {{target_group: {TG_ARN}, container_port: 9000}}}}",
             "loadBalancers", "loadBalancers"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_every_field_a_user_can_change_shows_and_is_sent_alone(tmp_path, edit):
    before, after, path, member = EDITS[edit]
    old = specs(tmp_path, API + f"  {before}\n")["api"]
    answer = ecs_answer(old.create_request("arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:3"))
    new = specs(tmp_path, API + f"  {after}\n")["api"]
    diff = compare_service(new, answer)
    assert diff.status == "changed" and any(c.path.startswith(path) for c in diff.changes), diff.changes
    update = new.update_request(diff.changes)
    check_update_service_request(update)
    # A target group brings its grace period (the health check's start period) along.
    extra = {"healthCheckGracePeriodSeconds"} if edit == "target group" else set()
    assert member in update and set(update) == {"cluster", "service", member} | extra
    if edit == "spot":  # the launch type goes: the strategy replaces it
        assert {c.path for c in diff.changes} == {"launchType", "capacityProviderStrategy"}


def test_what_the_compose_file_no_longer_says_is_cleared(tmp_path):
    old = specs(tmp_path, API + f"  x-ecsflow: {{service: {{target_group: {TG_ARN}, exec: true}}}}\n")["api"]
    answer = ecs_answer(old.create_request("shop-api:3"))
    new = specs(tmp_path, API)["api"]
    diff = compare_service(new, answer)
    assert {c.path for c in diff.changes} == {"loadBalancers", "healthCheckGracePeriodSeconds", "enableExecuteCommand"}
    update = new.update_request(diff.changes)
    check_update_service_request(update)
    assert update == {"cluster": "apps", "service": "shop-api", "loadBalancers": [],
                      "healthCheckGracePeriodSeconds": 0, "enableExecuteCommand": False}


def test_a_target_group_written_as_a_name_matches_the_arn_of_that_name(tmp_path):
    spec = specs(tmp_path, API + "  x-ecsflow: {service: {target_group: web}}\n")["api"]
    answer = ecs_answer(spec.create_request("shop-api:3", TG_ARN))  # the adapter resolved web to TG_ARN
    assert compare_service(spec, answer).status == "unchanged"
    other = TG_ARN.replace("targetgroup/web/", "targetgroup/web2/")
    diff = compare_service(spec, ecs_answer(spec.create_request("shop-api:3", other)))
    assert [c.path for c in diff.changes] == ["loadBalancers"]
    with pytest.raises(ValueError, match="resolve it to its ARN first"):
        spec.update_request(diff.changes)
    assert spec.update_request(diff.changes, target_group_arn=TG_ARN)["loadBalancers"][0]["targetGroupArn"] == TG_ARN


@pytest.mark.parametrize(("written", "compared"), [
    ("deploy: {replicas: 2}", True),
    ("", False),  # unset: created with 1, left alone afterwards
    ("x-ecsflow: {service: {autoscaling: {min: 1, max: 4}}}", False),
])
def test_the_desired_count_is_compared_only_when_compose_owns_it(tmp_path, written, compared):
    spec = specs(tmp_path, API + f"  {written}\n")["api"]
    answer = ecs_answer(spec.create_request("shop-api:3")) | {"desiredCount": 7}
    paths = [c.path for c in compare_service(spec, answer).changes]
    assert ("desiredCount" in paths) is compared
    assert "desiredCount" not in [c.path for c in compare_service(spec.with_autoscaling_owner(), answer).changes]


def test_the_task_definition_is_compared_by_content_not_by_arn(tmp_path):
    spec = specs(tmp_path, API)["api"]
    answer = ecs_answer(spec.create_request("arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:3"))
    assert compare_service(spec, answer, task_definition_same=True).status == "unchanged"  # whatever revision
    diff = compare_service(spec, answer, task_definition_same=False, wanted_task_definition="shop-api:4")
    assert diff.changes == (Change("taskDefinition", "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:3",
                                   "shop-api:4"),)
    assert diff.task_definition_changed
    update = spec.update_request(diff.changes, "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:4")
    check_update_service_request(update)
    assert update == {"cluster": "apps", "service": "shop-api",
                      "taskDefinition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:4"}


def test_tags_are_compared_apart(tmp_path):
    spec = specs(tmp_path, API)["api"]
    answer = ecs_answer(spec.create_request("shop-api:3"))
    answer["tags"] = [{"key": "ecsflow:managed", "value": "true"}, {"key": "ecsflow:project", "value": "old"},
                      {"key": "owner", "value": "ops"}, {"key": "aws:cloudformation:stack-name", "value": "x"}]
    diff = compare_service(spec, answer)
    assert diff.status == "unchanged" and diff.tags_changed
    assert diff.tags_to_add == {"ecsflow:project": "shop", "ecsflow:service": "api"}
    assert diff.tags_to_remove == ("owner",)


def test_no_active_service_is_new(tmp_path):
    spec = specs(tmp_path, API)["api"]
    assert compare_service(spec, None).status == "new"
    inactive = {**real("aws_cli_create_service_fargate.json"), "status": "INACTIVE"}
    assert compare_service(spec, inactive) .status == "new"


@pytest.mark.parametrize(("edit", "message"), [
    ({"deploymentController": {"type": "CODE_DEPLOY"}}, "uses the CODE_DEPLOY deployment controller"),
    ({"deploymentController": {"type": "EXTERNAL"}}, "uses the EXTERNAL deployment controller"),
    ({"launchType": "EC2"}, "runs on the EC2 launch type"),
    ({"launchType": None, "capacityProviderStrategy": [{"capacityProvider": "my-asg", "weight": 1}]},
     "runs on capacity provider(s) my-asg"),
    ({"schedulingStrategy": "DAEMON"}, "uses DAEMON scheduling"),
])
def test_services_ecsflow_cannot_deploy_are_refused(edit, message):
    live = {**real("workshop_update_service_load_balancer.json"), **edit}
    assert message in refusal(live)
    for name in ("workshop_update_service_load_balancer.json", "aws_cli_update_service_capacity_provider.json",
                 "aws_cli_create_service_fargate.json", "tutorial_create_service_service_connect.json"):
        assert refusal(real(name)) is None
