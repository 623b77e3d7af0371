"""The service builder (ecsflow/service/build.py): a compose server -> the CreateService request `deploy` sends,
following design/services.md section 4.3, every request checked with botocore's own model, every bad input a
clear error before any write."""

from __future__ import annotations

import pytest
from compose_oracle import CORPUS, case_inputs, parse_global_args
from service_support import API, HEAD, ROLE, TG_ARN, load, request, specs

from ecsflow.compose.loader import load_project
from ecsflow.diff import Change
from ecsflow.ecs.validate import check_create_service_request, check_update_service_request
from ecsflow.errors import BuildError, ComposeError
from ecsflow.operations.services import project_kinds
from ecsflow.service.build import build_service_specs, client_token
from ecsflow.service.deployment import ApiFeatures
from ecsflow.settings import Settings
from ecsflow.taskdef import build_task_definitions


def test_a_server_becomes_a_create_service_request_with_the_fixed_defaults(tmp_path):
    spec = specs(tmp_path, API + "extract:\n  image: acme/extract:1\n")["api"]
    assert list(specs(tmp_path, API + "extract:\n  image: acme/extract:1\n")) == ["api"]  # jobs are not services
    created = request(spec)
    assert created == {
        "cluster": "apps",
        "serviceName": "shop-api",
        "taskDefinition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:3",
        "desiredCount": 1,
        "launchType": "FARGATE",
        "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["subnet-0a1", "subnet-0b2"],
                                                         "securityGroups": ["sg-0a", "sg-0f"],
                                                         "assignPublicIp": "DISABLED"}},
        "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
        "enableExecuteCommand": False,
        "propagateTags": "SERVICE",
        "enableECSManagedTags": True,
        "deploymentController": {"type": "ECS"},
        "schedulingStrategy": "REPLICA",
        "platformVersion": "LATEST",
        "tags": [{"key": "ecsflow:managed", "value": "true"}, {"key": "ecsflow:project", "value": "shop"},
                 {"key": "ecsflow:service", "value": "api"}],
        "clientToken": created["clientToken"],
    }
    # No load balancer: no grace period (the health check's start period only counts with one).
    assert (spec.desired_count, spec.desired_count_owner, spec.load_balancer) == (1, "unset", None)


def test_the_client_token_is_the_same_for_the_same_request_and_only_then(tmp_path):
    spec = specs(tmp_path, API)["api"]
    first, again = spec.create_request("shop-api:3"), spec.create_request("shop-api:3")
    assert first["clientToken"] == again["clientToken"] and len(first["clientToken"]) <= 36
    assert all(33 <= ord(c) <= 126 for c in first["clientToken"])
    assert spec.create_request("shop-api:4")["clientToken"] != first["clientToken"]
    assert client_token("other", "shop-api", first) != first["clientToken"]


@pytest.mark.parametrize(("deploy", "expected"), [
    ("{}", {}),
    ("{update_config: {order: start-first}}", {"minimumHealthyPercent": 100, "maximumPercent": 200}),
    ("{update_config: {order: stop-first}}", {"minimumHealthyPercent": 0, "maximumPercent": 100}),
    ("{replicas: 4, update_config: {parallelism: 1}}", {"minimumHealthyPercent": 100, "maximumPercent": 125}),
    ("{replicas: 3, update_config: {parallelism: 1, order: start-first}}",
     {"minimumHealthyPercent": 100, "maximumPercent": 134}),
    ("{replicas: 4, update_config: {parallelism: 1, order: stop-first}}",
     {"minimumHealthyPercent": 75, "maximumPercent": 100}),
    ("{replicas: 3, update_config: {parallelism: 2, order: stop-first}}",
     {"minimumHealthyPercent": 34, "maximumPercent": 100}),
    ("{replicas: 2, update_config: {parallelism: 0}}", {"minimumHealthyPercent": 100, "maximumPercent": 200}),
    ("{replicas: 2, update_config: {parallelism: 5, order: stop-first}}",
     {"minimumHealthyPercent": 0, "maximumPercent": 100}),
])
def test_update_config_becomes_the_percentages_only_where_compose_writes_them(tmp_path, deploy, expected):
    spec = specs(tmp_path, API + f"  deploy: {deploy}\n")["api"]
    config = request(spec)["deploymentConfiguration"]
    assert {k: v for k, v in config.items() if k != "deploymentCircuitBreaker"} == expected


def test_x_ecsflow_percentages_win_and_a_deployment_that_cannot_move_is_refused(tmp_path):
    spec = specs(tmp_path, API + "  deploy: {update_config: {order: start-first}}\n"
                 "  x-ecsflow: {service: {minimum_healthy_percent: 50}}\n")["api"]
    assert request(spec)["deploymentConfiguration"]["minimumHealthyPercent"] == 50
    with pytest.raises(BuildError) as error:
        specs(tmp_path, API + "  x-ecsflow: {service: {maximum_percent: 100}}\n")
    assert error.value.key == "x-ecsflow.service.maximum_percent" and error.value.service == "api"
    assert "neither stop an old one nor start a new one" in error.value.message


def test_parallelism_without_replicas_is_a_warning_and_an_error_under_strict(tmp_path):
    spec = specs(tmp_path, API + "  deploy: {update_config: {parallelism: 2}}\n")["api"]
    assert "deploymentConfiguration" in request(spec)
    assert any("parallelism has no effect without deploy.replicas" in w for w in spec.warnings)
    with pytest.raises(BuildError, match="parallelism has no effect"):
        specs(tmp_path, API + "  deploy: {update_config: {parallelism: 2}}\n  x-ecsflow: {kind: service}\n",
              strict=True)


@pytest.mark.parametrize(("written", "breaker"), [
    ("", {"enable": True, "rollback": True}),
    ("deploy: {update_config: {failure_action: rollback}}", {"enable": True, "rollback": True}),
    ("deploy: {update_config: {failure_action: pause}}", {"enable": True, "rollback": False}),
    ("deploy: {update_config: {failure_action: continue}}", {"enable": False, "rollback": False}),
    ("x-ecsflow: {service: {circuit_breaker: stop}}", {"enable": True, "rollback": False}),
    ("x-ecsflow: {service: {circuit_breaker: \"off\"}}", {"enable": False, "rollback": False}),
    ("deploy: {update_config: {failure_action: continue}}\n  x-ecsflow: {service: {circuit_breaker: rollback}}",
     {"enable": True, "rollback": True}),
    ("deploy: {update_config: {max_failure_ratio: 0.25}}",
     {"enable": True, "rollback": True, "thresholdConfiguration": {"type": "UNBOUNDED_PERCENT", "value": 25}}),
])
def test_the_circuit_breaker_rolls_back_by_default(tmp_path, written, breaker):
    spec = specs(tmp_path, API + f"  {written}\n")["api"]
    assert request(spec)["deploymentConfiguration"]["deploymentCircuitBreaker"] == breaker


def test_max_failure_ratio_is_a_note_where_botocore_cannot_send_it(tmp_path):
    spec = specs(tmp_path, API + "  deploy: {update_config: {max_failure_ratio: 0.25, delay: 10s}}\n",
                 api=ApiFeatures(failure_threshold=False))["api"]
    assert request(spec)["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert spec.notes == (
        "service 'api': deploy.update_config.max_failure_ratio is ignored: this botocore cannot send the circuit "
        "breaker's thresholdConfiguration (upgrade boto3)",
        "service 'api': deploy.update_config.delay has no ECS equivalent and is ignored (ECS rolls a failed "
        "deployment back to the last completed one)")


@pytest.mark.parametrize(("written", "count", "owner"), [
    ("", 1, "unset"),
    ("deploy: {replicas: 3}", 3, "compose"),
    ("deploy: {replicas: 0}", 0, "compose"),
    ("x-ecsflow: {service: {autoscaling: {min: 2, max: 6}}}", 2, "autoscaling"),
    ("deploy: {replicas: 4}\n  x-ecsflow: {service: {autoscaling: {min: 2, max: 6}}}", 4, "autoscaling"),
    ("deploy: {replicas: 1}\n  x-ecsflow: {service: {autoscaling: {min: 2, max: 6}}}", 2, "autoscaling"),
])
def test_the_desired_count_and_its_owner(tmp_path, written, count, owner):
    spec = specs(tmp_path, API + f"  {written}\n")["api"]
    assert (request(spec)["desiredCount"], spec.desired_count_owner) == (count, owner)
    assert spec.with_autoscaling_owner().desired_count_owner == "autoscaling"


def test_replicas_above_the_autoscaling_maximum_are_refused(tmp_path):
    with pytest.raises(BuildError, match="deploy.replicas 9 is above x-ecsflow.service.autoscaling.max 6"):
        specs(tmp_path, API + "  deploy: {replicas: 9}\n  x-ecsflow: {service: {autoscaling: {min: 2, max: 6}}}\n")


def test_a_target_group_takes_the_single_port_and_the_start_period_as_grace(tmp_path):
    spec = specs(tmp_path, API + f"  x-ecsflow: {{service: {{target_group: {TG_ARN}}}}}\n")["api"]
    created = request(spec)
    assert created["loadBalancers"] == [{"targetGroupArn": TG_ARN, "containerName": "api", "containerPort": 8000}]
    assert created["healthCheckGracePeriodSeconds"] == 45
    named = specs(tmp_path, API + "  x-ecsflow: {service: {target_group: web, health_check_grace_period: 1m30s}}\n")
    spec = named["api"]
    assert spec.load_balancer.target_group == "web" and not spec.load_balancer.target_group_is_arn
    with pytest.raises(ValueError, match="resolve it to its ARN first"):
        spec.create_request("shop-api:3")
    created = spec.create_request("shop-api:3", TG_ARN)
    check_create_service_request(created)
    assert (created["loadBalancers"][0]["targetGroupArn"], created["healthCheckGracePeriodSeconds"]) == (TG_ARN, 90)
    assert spec.create_request("shop-api", preview=True)["loadBalancers"][0]["targetGroupArn"] == "web"


@pytest.mark.parametrize(("written", "key", "message"), [
    ("ports: ['8000:8000', '9000:9000']\n  x-ecsflow: {service: {target_group: web}}",
     "x-ecsflow.service.container_port", "several ports (8000, 9000): which one the target group sends to must be"),
    ("x-ecsflow: {kind: service, service: {target_group: web}}", "x-ecsflow.service.target_group",
     "the service has no TCP port"),
    ("ports: ['8000:8000']\n  x-ecsflow: {service: {target_group: web, container_port: 9000}}",
     "x-ecsflow.service.container_port", "container_port 9000 is not a TCP port of the service (8000)"),
    ("ports: ['8000:8000']\n  x-ecsflow: {service: {health_check_grace_period: 30s}}",
     "x-ecsflow.service.health_check_grace_period", "the service has none"),
    ("x-ecsflow: {kind: service}\n  deploy: {mode: global}", "deploy.mode", "which Fargate cannot do"),
])
def test_bad_input_is_an_error_naming_service_and_key(tmp_path, written, key, message):
    with pytest.raises(BuildError) as error:
        specs(tmp_path, f"api:\n  image: acme/api:1\n  {written}\n")
    assert (error.value.service, error.value.key) == ("api", key)
    assert message in error.value.message
    assert error.value.file.endswith("compose.yaml") and error.value.line is not None


def test_several_ports_with_container_port_choose_one(tmp_path):
    spec = specs(tmp_path, "api:\n  image: acme/api:1\n  ports: ['8000:8000', '9000:9000']\n"
                 "  x-ecsflow: {service: {target_group: web, container_port: 9000}}\n")["api"]
    assert spec.load_balancer.container_port == 9000


def test_no_subnets_is_an_error_before_any_write(tmp_path):
    head = f"name: shop\nx-ecsflow:\n  execution_role: {ROLE}\n"
    with pytest.raises(BuildError) as error:
        specs(tmp_path, API, head)
    assert (error.value.service, error.value.key) == ("api", "subnets")
    assert "--subnet" in error.value.hint and "x-ecsflow.service.subnets" in error.value.hint
    spec = specs(tmp_path, API + "  x-ecsflow: {service: {subnets: [subnet-9], assign_public_ip: true}}\n", head)["api"]
    assert request(spec)["networkConfiguration"] == {
        "awsvpcConfiguration": {"subnets": ["subnet-9"], "assignPublicIp": "ENABLED"}}


def test_the_capacity_provider_replaces_the_launch_type_and_exec_is_the_services(tmp_path):
    spec = specs(tmp_path, API + "  x-ecsflow: {capacity_provider: FARGATE_SPOT, service: {exec: true}}\n")["api"]
    created = request(spec)
    assert "launchType" not in created
    assert created["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert created["enableExecuteCommand"] is True


def test_the_name_comes_from_the_pattern_or_the_block_and_two_services_cannot_share_one(tmp_path):
    got = specs(tmp_path, API + "web.v2:\n  image: acme/web:2\n  restart: always\n",
                service_name="{service}-{project}")
    assert [s.ecs_service for s in got.values()] == ["api-shop", "web-v2-shop"]
    assert got["web.v2"].notes == ("service 'web.v2': ECS service name 'web.v2-shop' becomes 'web-v2-shop' (ECS "
                                   "allows [A-Za-z0-9_-], 255 at most)",)
    with pytest.raises(BuildError, match="services 'api' and 'web' would both be the ECS service 'front'"):
        specs(tmp_path, API + "  x-ecsflow: {service: {service_name: front}}\n"
              "web:\n  image: acme/web:1\n  restart: always\n  x-ecsflow: {service: {service_name: front}}\n")


def test_tags_are_those_of_the_task_definitions(tmp_path):
    head = HEAD + "  tags: {team: data}\n"
    spec = specs(tmp_path, API + "  x-ecsflow: {tags: {tier: web}}\n", head)["api"]
    assert spec.tags == {"ecsflow:managed": "true", "ecsflow:project": "shop", "ecsflow:service": "api",
                         "team": "data", "tier": "web"}
    assert request(spec)["tags"] == [{"key": k, "value": v} for k, v in sorted(spec.tags.items())]


def test_strict_needs_the_kind_key_on_every_service_it_deploys(tmp_path):
    with pytest.raises(BuildError) as error:
        specs(tmp_path, API, strict=True)
    assert error.value.key == "x-ecsflow.kind"
    assert "this one is inferred (it publishes ports)" in error.value.message
    assert list(specs(tmp_path, API + "  x-ecsflow: {kind: service}\n", strict=True)) == ["api"]


@pytest.mark.parametrize(("block", "message"), [
    ("{targetgroup: web}", "unknown x-ecsflow.service key 'targetgroup'; did you mean 'target_group'?"),
    ("{circuit_breaker: rollbak}", "x-ecsflow.service.circuit_breaker must be one of rollback, stop, off (did you "
     "mean 'rollback'?), not 'rollbak'"),
    ("{container_port: 70000}", "x-ecsflow.service.container_port must be a port number from 1 to 65535, not 70000"),
    ("{autoscaling: {min: 5, max: 2}}", "x-ecsflow.service.autoscaling must be min at most max"),
    ("{autoscaling: {min: 1}}", "x-ecsflow.service.autoscaling must be a mapping of min and max"),
    ("{target_group: 'my target'}", "x-ecsflow.service.target_group must be a target group ARN"),
    ("{subnets: [sg-1]}", "x-ecsflow.service.subnets must be subnet IDs (subnet-...), not 'sg-1'"),
    ("{health_check_grace_period: soon}", "x-ecsflow.service.health_check_grace_period must be a duration"),
    ("{service_name: 'a b'}", "x-ecsflow.service.service_name must be an ECS service name"),
    ("[web]", "x-ecsflow.service must be a mapping of target_group"),
])
def test_the_block_is_checked_at_load(tmp_path, block, message):
    with pytest.raises(ComposeError) as error:
        load(tmp_path, API + f"  x-ecsflow: {{service: {block}}}\n")
    assert message in error.value.message and error.value.service == "api"
    assert error.value.key.startswith("x-ecsflow.service")


def test_update_requests_send_only_what_changed(tmp_path):
    spec = specs(tmp_path, API + "  deploy: {replicas: 2}\n")["api"]
    changes = [Change("deploymentConfiguration.maximumPercent", 150, None), Change("desiredCount", 3, 2)]
    update = spec.update_request(changes)
    check_update_service_request(update)
    assert update == {"cluster": "apps", "service": "shop-api", "desiredCount": 2,
                      "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}}
    with pytest.raises(ValueError, match="needs the revision"):
        spec.update_request([Change("taskDefinition", "arn:...:shop-api:2", "new")])
    update = spec.update_request([Change("taskDefinition", "x", "y"), Change("launchType", "FARGATE", None)],
                                 "shop-api:4", force_new_deployment=True)
    check_update_service_request(update)
    assert update == {"cluster": "apps", "service": "shop-api", "taskDefinition": "shop-api:4",
                      "capacityProviderStrategy": [], "forceNewDeployment": True}
    unset = specs(tmp_path, API)["api"]  # the count is never sent when compose does not own it
    assert "desiredCount" not in unset.update_request([Change("desiredCount", 5, 1)])


def test_every_server_of_the_corpus_becomes_a_request_botocore_accepts():
    """Every corpus service the rule calls a server and whose task definition builds (those without an image
    are refused there, tests/test_builder_corpus.py), given a network in the settings, builds into a
    CreateService request that botocore's model accepts."""
    cases = sorted(p for p in CORPUS.iterdir() if (p / "expected.config.json").is_file()) if CORPUS.is_dir() else []
    if not cases:
        pytest.skip("shared compose corpus not present")
    settings = Settings(region="eu-west-1", execution_role=ROLE, subnets=("subnet-0a1",))
    built = []
    for case in cases:
        args, env = case_inputs(case)
        project = load_project(cwd=case, environ={"PATH": "/usr/bin:/bin", **env}, **parse_global_args(args))
        try:
            kinds = project_kinds(project)
        except BuildError:  # network_mode: host (awesome-plex): no task of the project builds
            continue
        for service in project.services:
            if service.name not in kinds or not kinds[service.name].is_service:
                continue
            try:
                builds = build_task_definitions(project, settings, [service.name])
            except BuildError:
                continue
            request(build_service_specs(project, settings, builds, kinds)[0])
            built.append(f"{case.name}/{service.name}")
    assert len(built) > 50  # the corpus holds many servers: every one was checked above
