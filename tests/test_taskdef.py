"""ecsflow.taskdef: one compose service -> one RegisterTaskDefinition request (docs/design.md section 5): the
task as a whole (family, roles, platform, storage, tags, the golden requests), x-ecsflow, many services at once,
botocore's validation, and the services left out of ECS. The container's fields: test_taskdef_container.py;
secrets: test_taskdef_secrets.py; Fargate's sizes and what ECS refuses: test_taskdef_limits.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from taskdef_support import EXEC_ROLE, GIB, SETTINGS, build, build_error, container, project, svc, x_ecsflow_error

from ecsflow.compose.loader import load_project
from ecsflow.compose.model import Healthcheck, Logging, Port, Service
from ecsflow.ecs.validate import check_register_request
from ecsflow.errors import BuildError, EcsflowError
from ecsflow.settings import Settings, resolve_settings
from ecsflow.taskdef import build_task_definitions, select_services

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "taskdef"


# -- the task --------------------------------------------------------------------------------------


def test_minimal_service_is_a_fargate_task_of_one_essential_container():
    result = build()
    request = result.request
    assert result.service == "job" and result.family == "etl-job"
    assert request["family"] == "etl-job"
    assert request["networkMode"] == "awsvpc"
    assert request["requiresCompatibilities"] == ["FARGATE"]
    assert (request["cpu"], request["memory"]) == ("256", "512")
    assert request["executionRoleArn"] == EXEC_ROLE
    assert "taskRoleArn" not in request and "runtimePlatform" not in request
    assert request["tags"] == [
        {"key": "ecsflow:managed", "value": "true"},
        {"key": "ecsflow:project", "value": "etl"},
        {"key": "ecsflow:service", "value": "job"},
    ]
    [only] = request["containerDefinitions"]
    assert only["name"] == "job" and only["image"] == "acme/job:1.2" and only["essential"] is True
    assert result.warnings == () and result.notes == ()


def test_golden_full_service():
    service = svc(
        name="api",
        image="acme/api:2.0",
        command=("serve", "--port", "8000"),
        entrypoint=("/entry.sh",),
        environment={"LOG_LEVEL": "info", "WORKERS": "4"},
        healthcheck=Healthcheck(
            test=("CMD", "curl", "-f", "http://localhost:8000/health"),
            interval=30.0,
            timeout=5.0,
            retries=3,
            start_period=10.0,
        ),
        ports=(Port(target=8000, published="8000"),),
        cpus=1.0,
        mem_limit=2 * GIB,
        mem_reservation=1 * GIB,
        working_dir="/app",
        user="1000:1000",
        labels={"team": "data"},
        stop_grace_period=20.0,
        init=True,
        read_only=True,
        ulimits={"nofile": {"soft": 65536, "hard": 65536}},
        platform="linux/arm64",
        x_ecsflow={
            "secrets": {"DB_PASSWORD": "ssm:/etl/db/password"},
            "task_role": "etl-api",
            "ephemeral_storage": 30,
            "tags": {"service": "api"},
        },
    )
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    settings = Settings(
        region="eu-west-1",
        account="123456789012",
        execution_role=EXEC_ROLE,
        registry=registry,
        tags={"team": "data"},
    )
    check_golden("api.json", build(service, settings).request)


def check_golden(name: str, value) -> None:
    golden = GOLDEN / name
    if os.environ.get("ECSFLOW_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(value, indent=2) + "\n")
    assert value == json.loads(golden.read_text())


def test_golden_etl_example():
    project = load_project([ROOT / "examples" / "etl" / "docker-compose.yml"], environ={})
    settings = resolve_settings(compose=project.x_ecsflow.settings,
                                compose_interpolated=project.x_ecsflow.interpolated).settings
    builds = build_task_definitions(project, settings)
    assert all(b.warnings == () for b in builds)
    assert [n for b in builds for n in b.notes if "rounded up" in n] == [
        "service 'api': task size cpu 1024 / memory 2048 MiB: the smallest Fargate size that holds "
        "cpus 0.75 (768 units) and memory 1536 MiB (rounded up)"
    ]
    check_golden("etl.json", [b.request for b in builds])


def test_family_comes_from_the_settings_pattern():
    assert build(settings=Settings(family="{service}-{project}-v2", execution_role=EXEC_ROLE)).family == "job-etl-v2"


def test_family_from_x_ecsflow_overrides_the_pattern():
    assert build(svc(x_ecsflow={"family": "nightly-extract"})).request["family"] == "nightly-extract"


def test_family_is_sanitised_to_the_ecs_charset_with_a_note():
    result = build(svc(name="load.v2"))
    assert result.family == "etl-load-v2"
    assert result.request["containerDefinitions"][0]["name"] == "load-v2"
    assert any("etl-load-v2" in note for note in result.notes)


def test_family_pattern_with_an_unknown_placeholder_is_an_error():
    error = build_error(svc(), Settings(family="{team}-{service}", execution_role=EXEC_ROLE))
    assert "{team}-{service}" in error.message and error.service == "job"


def test_roles_from_x_ecsflow_override_settings_and_names_become_arns():
    settings = Settings(account="123456789012", task_role="default-task", execution_role="default-exec")
    request = build(svc(x_ecsflow={"task_role": "arn:aws:iam::999999999999:role/etl"}), settings).request
    assert request["taskRoleArn"] == "arn:aws:iam::999999999999:role/etl"
    assert request["executionRoleArn"] == "arn:aws:iam::123456789012:role/default-exec"


def test_awslogs_without_an_execution_role_is_refused_as_ecs_refuses_it():
    error = build_error(svc(), Settings())
    assert (error.service, error.key) == ("job", "execution_role")
    assert "Fargate requires task definition to have execution role ARN to support log driver awslogs" in str(error)
    for way_out in ("x-ecsflow", "ECSFLOW_EXECUTION_ROLE", "--execution-role", "driver: none"):
        assert way_out in error.hint


def test_several_services_without_an_execution_role_are_one_error_naming_them():
    services = (svc("a"), svc("b"), svc("c", logging=Logging(driver="none")), svc("d"))
    with pytest.raises(BuildError) as info:
        build_task_definitions(project(*services), Settings())
    message = info.value.message
    assert message.startswith("services 'a', 'b' and 'd' log to CloudWatch Logs") and "'c'" not in message
    assert info.value.key == "execution_role" and "--execution-role" in info.value.hint


def test_logging_driver_none_is_no_log_configuration_and_needs_no_execution_role():
    result = build(svc(logging=Logging(driver="none")), Settings())
    assert "logConfiguration" not in result.request["containerDefinitions"][0]
    assert "executionRoleArn" not in result.request
    assert any("no execution role" in w and "secrets" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("platform", "architecture"),
    [("linux/arm64", "ARM64"), ("linux/arm64/v8", "ARM64"), ("linux/amd64", "X86_64")],
)
def test_platform_becomes_runtime_platform(platform, architecture):
    request = build(svc(platform=platform)).request
    assert request["runtimePlatform"] == {"cpuArchitecture": architecture, "operatingSystemFamily": "LINUX"}


@pytest.mark.parametrize("platform", ["wasi/wasm", "windows/amd64", "linux/s390x", "linux"])
def test_platform_fargate_cannot_run_is_an_error_that_says_how_to_leave_the_service_out(platform):
    error = build_error(svc(name="etl", platform=platform))
    assert (error.service, error.key) == ("etl", "platform") and platform in error.message
    assert "x-ecsflow: {skip: true}" in error.hint


def test_platform_linux_386_runs_as_x86_64_with_a_warning():
    result = build(svc(name="legacy", platform="linux/386"))
    assert result.request["runtimePlatform"] == {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"}
    assert result.warnings == ("service 'legacy': platform 'linux/386' runs on Fargate as X86_64 (x86-64 CPUs run "
                               "32-bit x86 programs)",)
    error = build_error(svc(name="legacy", platform="linux/386"), strict=True)
    assert (error.service, error.key) == ("legacy", "platform") and "--strict" in error.hint


def test_ephemeral_storage_in_gib():
    assert build(svc(x_ecsflow={"ephemeral_storage": 50})).request["ephemeralStorage"] == {"sizeInGiB": 50}


@pytest.mark.parametrize("size", [20, 201, "big"])
def test_ephemeral_storage_out_of_range_is_an_error(size):
    error = x_ecsflow_error({"ephemeral_storage": size})
    assert error.key == "x-ecsflow.ephemeral_storage" and "21 to 200" in error.message


def test_tags_merge_settings_and_service_service_wins():
    settings = Settings(tags={"team": "data", "env": "prod"}, execution_role=EXEC_ROLE)
    request = build(svc(x_ecsflow={"tags": {"env": "staging", "cost": 7}}), settings).request
    assert request["tags"] == [
        {"key": "cost", "value": "7"},
        {"key": "ecsflow:managed", "value": "true"},
        {"key": "ecsflow:project", "value": "etl"},
        {"key": "ecsflow:service", "value": "job"},
        {"key": "env", "value": "staging"},
        {"key": "team", "value": "data"},
    ]


def test_ecsflow_tag_keys_are_reserved():
    error = build_error(svc(x_ecsflow={"tags": {"ecsflow:managed": "false"}}))
    assert "reserved" in error.message and error.key == "x-ecsflow.tags"
    error = build_error(svc(), Settings(tags={"ecsflow:project": "other"}, execution_role=EXEC_ROLE))
    assert "ecsflow:project" in error.message


# -- x-ecsflow -------------------------------------------------------------------------------------


def test_unknown_x_ecsflow_key_is_an_error_suggesting_the_nearest():
    error = x_ecsflow_error({"secret": {"A": "ssm:/a"}})
    assert error.key == "x-ecsflow.secret" and "did you mean 'secrets'" in error.message


@pytest.mark.parametrize(
    "x",
    [{"pool_slots": 0}, {"runtime_env": "RUN_DATE"}, {"secrets": ["A"]}, {"pool": 3}, {"memory": "lots"}],
)
def test_malformed_x_ecsflow_value_is_an_error(x):
    [key] = x
    assert x_ecsflow_error(x).key == f"x-ecsflow.{key}"


def test_airflow_only_keys_are_accepted_and_leave_the_request_alone():
    x = {"runtime_env": ["RUN_DATE"], "pool": "warehouse", "pool_slots": 2, "schedule": "@daily"}
    assert build(svc(x_ecsflow=x)).request == build().request


# -- many services ---------------------------------------------------------------------------------


def test_build_task_definitions_keeps_compose_order():
    p = project(svc("extract"), svc("transform"), svc("load"))
    selected = build_task_definitions(p, SETTINGS, ["load", "extract"])
    assert [b.service for b in selected] == ["extract", "load"]
    everything = build_task_definitions(p, SETTINGS)
    assert [b.family for b in everything] == ["etl-extract", "etl-transform", "etl-load"]


def test_unknown_service_name_lists_valid_names():
    with pytest.raises(EcsflowError) as info:
        build_task_definitions(project(svc("extract"), svc("load")), SETTINGS, ["extrct"])
    assert "extrct" in info.value.message and "did you mean 'extract'" in info.value.message
    assert "extract, load" in info.value.hint


def test_every_service_is_checked_before_raising():
    p = project(svc("a", image=None), svc("b"), svc("c", x_ecsflow={"cpu": 3}))
    with pytest.raises(BuildError) as info:
        build_task_definitions(p, SETTINGS)
    assert "service 'a'" in info.value.message and "service 'c'" in info.value.message


def test_single_failing_service_raises_its_own_error():
    with pytest.raises(BuildError) as info:
        build_task_definitions(project(svc("a", image=None), svc("b")), SETTINGS)
    assert (info.value.service, info.value.key) == ("a", "image")


def test_two_services_with_one_family_is_an_error():
    p = project(svc("a", x_ecsflow={"family": "shared"}), svc("b", x_ecsflow={"family": "shared"}))
    with pytest.raises(BuildError, match="family 'shared'"):
        build_task_definitions(p, SETTINGS)


# -- botocore validation ---------------------------------------------------------------------------


def test_validator_rejects_a_made_up_field():
    request = build().request
    request["containerDefinitions"][0]["sparkles"] = True
    with pytest.raises(BuildError, match="sparkles"):
        check_register_request(request)


def test_validator_rejects_a_wrong_type():
    request = build().request
    request["containerDefinitions"][0]["stopTimeout"] = "30"
    with pytest.raises(BuildError, match="stopTimeout"):
        check_register_request(request)


def test_port_name_and_app_protocol_map_to_service_connect_fields():
    [mapping] = container(svc(ports=(Port(target=80, name="web", app_protocol="http"),)))["portMappings"]
    assert mapping == {"containerPort": 80, "hostPort": 80, "protocol": "tcp", "name": "web", "appProtocol": "http"}


def test_an_app_protocol_ecs_does_not_know_is_left_out_with_a_note():
    service = svc(name="mail", ports=(Port(target=25, name="smtp", app_protocol="smtp"),))
    result = build(service)
    assert result.request["containerDefinitions"][0]["portMappings"] == [
        {"containerPort": 25, "hostPort": 25, "protocol": "tcp", "name": "smtp"}]
    assert result.warnings == ()
    assert result.notes == ("service 'mail': port 25: app_protocol 'smtp' is not one ECS knows (http, http2, grpc) "
                            "and is left out",)
    error = build_error(service, strict=True)
    assert (error.service, error.key) == ("mail", "ports") and "smtp" in error.message


def test_runtime_env_value_from_the_shell_is_not_put_in_the_definition():
    result = build(svc(environment={"RUN_DATE": "2026-01-01", "KEEP": "1"}, x_ecsflow={"runtime_env": ["RUN_DATE"]}))
    names = [e["name"] for e in result.request["containerDefinitions"][0]["environment"]]
    assert names == ["KEEP"]
    assert any("RUN_DATE" in note and "runtime_env" in note for note in result.notes)


def test_a_definition_over_ecs_64_kib_is_refused_before_any_call():
    error = build_error(svc(environment={"BIG": "x" * 70_000}))
    assert "64 KiB" in error.message and error.service == "job"
    build(svc(environment={"BIG": "x" * 60_000}))  # under the quota: fine


# -- services left out of ECS ---------------------------------------------------------------------


def provider_service(name: str = "db") -> Service:
    return svc(name=name, image=None, raw={"provider": {"type": "awesomecloud", "options": {"type": "mysql"}}})


def test_skipped_service_is_left_out_and_said_once():
    p = project(svc("job"), svc("postgres", x_ecsflow={"skip": True}), svc("load"))
    selection = select_services(p, strict=True)
    assert [s.name for s in selection.services] == ["job", "load"]
    assert selection.warnings == ("service 'postgres': left out of ECS and Airflow (x-ecsflow.skip: true)",)
    assert [b.service for b in build_task_definitions(p, SETTINGS, strict=True)] == ["job", "load"]


def test_skip_false_keeps_the_service():
    p = project(svc("job", x_ecsflow={"skip": False}))
    assert [b.service for b in build_task_definitions(p, SETTINGS)] == ["job"]


def test_a_skipped_service_is_not_built_so_what_ecs_cannot_run_does_not_matter():
    p = project(svc("job"), svc("wasm", platform="wasi/wasm", x_ecsflow={"skip": True}))
    assert [b.service for b in build_task_definitions(p, SETTINGS, strict=True)] == ["job"]


@pytest.mark.parametrize("left_out", [svc("postgres", x_ecsflow={"skip": True}), provider_service("postgres")])
def test_naming_a_left_out_service_is_an_error(left_out):
    p = project(svc("job"), left_out)
    with pytest.raises(BuildError) as info:
        select_services(p, ["job", "postgres"])
    assert info.value.service == "postgres" and "left out of ECS" in info.value.message
    assert "do not name it" in info.value.hint
    with pytest.raises(BuildError):
        build_task_definitions(p, SETTINGS, ["postgres"])


def test_provider_service_is_left_out_with_a_warning_and_an_error_when_strict():
    p = project(svc("job"), provider_service())
    selection = select_services(p)
    assert [s.name for s in selection.services] == ["job"]
    [warning] = selection.warnings
    assert warning.startswith("service 'db': left out of ECS and Airflow: it is a provider service")
    assert "x-ecsflow: {skip: true}" in warning
    with pytest.raises(BuildError) as info:
        select_services(p, strict=True)
    assert (info.value.service, info.value.key) == ("db", "provider")


def test_provider_service_with_skip_is_no_error_when_strict():
    p = project(svc("db", image=None, raw={"provider": {"type": "x"}}, x_ecsflow={"skip": True}))
    selection = select_services(p, strict=True)
    assert selection.services == ()
    assert selection.warnings == ("service 'db': left out of ECS and Airflow (x-ecsflow.skip: true)",)


@pytest.mark.parametrize("value", ["yes", 1, None, []])
def test_skip_must_be_a_boolean(value):
    error = x_ecsflow_error({"skip": value})
    assert error.key == "x-ecsflow.skip" and "true or false" in error.message
