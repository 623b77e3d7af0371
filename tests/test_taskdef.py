"""ecsflow.taskdef: one compose service -> one RegisterTaskDefinition request (docs/design.md section 5)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ecsflow.compose.extension import parse_service_extension
from ecsflow.compose.loader import load_project
from ecsflow.compose.model import ComposeProject, Healthcheck, Logging, Port, Service
from ecsflow.ecs.validate import check_register_request
from ecsflow.errors import BuildError, ComposeError, EcsflowError
from ecsflow.fargate import FARGATE_SIZES, smallest_size
from ecsflow.settings import Settings, resolve_settings
from ecsflow.taskdef import build_task_definition, build_task_definitions, select_services

MIB = 1024 * 1024
GIB = 1024 * MIB
ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "taskdef"
EXEC_ROLE = "arn:aws:iam::123456789012:role/ecs-exec"
SETTINGS = Settings(region="eu-west-1", account="123456789012", execution_role=EXEC_ROLE)


def svc(name: str = "job", image: str | None = "acme/job:1.2", **fields) -> Service:
    if "x_ecsflow" in fields:  # written as in a compose file, parsed as the loader parses it
        fields["x_ecsflow"] = parse_service_extension(fields["x_ecsflow"], service=name)
    return Service(name=name, image=image, **fields)


def project(*services: Service, name: str = "etl") -> ComposeProject:
    return ComposeProject(name=name, working_dir=Path("/src/etl"), files=(), services=services)


def build(service: Service | None = None, settings: Settings = SETTINGS, **kwargs):
    service = service or svc()
    return build_task_definition(project(service), service, settings, **kwargs)


def container(service: Service | None = None, settings: Settings = SETTINGS, **kwargs) -> dict:
    return build(service, settings, **kwargs).request["containerDefinitions"][0]


def build_error(service: Service, settings: Settings = SETTINGS, **kwargs) -> BuildError:
    with pytest.raises(BuildError) as info:
        build(service, settings, **kwargs)
    return info.value


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


# -- image, command, environment -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("acme/job:1.2", "registry.example.com/team/acme/job:1.2"),
        ("postgres:16", "registry.example.com/team/postgres:16"),
        ("ghcr.io/acme/job:1", "ghcr.io/acme/job:1"),
        ("localhost:5000/job", "localhost:5000/job"),
        ("localhost/job", "localhost/job"),
    ],
)
def test_image_gets_the_registry_prefix_only_without_a_registry_host(image, expected):
    settings = Settings(registry="registry.example.com/team/", execution_role=EXEC_ROLE)
    assert container(svc(image=image), settings)["image"] == expected


def test_image_is_kept_without_a_registry_setting():
    assert container(svc(image="postgres:16"), Settings(execution_role=EXEC_ROLE))["image"] == "postgres:16"


def test_service_without_image_or_build_is_an_error_naming_it():
    error = build_error(svc(name="transform", image=None))
    assert error.service == "transform" and error.key == "image"
    assert "transform" in str(error)


def test_command_and_entrypoint_are_lists():
    c = container(svc(command=("python", "-m", "etl", "extract"), entrypoint=("tini", "--")))
    assert c["command"] == ["python", "-m", "etl", "extract"]
    assert c["entryPoint"] == ["tini", "--"]


def test_environment_keeps_compose_order():
    c = container(svc(environment={"B": "2", "A": "1"}))
    assert c["environment"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]


def test_environment_without_value_is_dropped_with_a_warning():
    result = build(svc(environment={"TOKEN": None, "A": "1"}))
    assert result.request["containerDefinitions"][0]["environment"] == [{"name": "A", "value": "1"}]
    assert any("TOKEN" in w and "dropped" in w for w in result.warnings)


def test_bare_runtime_env_key_is_dropped_quietly():
    result = build(svc(environment={"RUN_DATE": None}, x_ecsflow={"runtime_env": ["RUN_DATE"]}))
    assert "environment" not in result.request["containerDefinitions"][0]
    assert result.warnings == ()


def test_empty_environment_value_is_kept_with_a_warning():
    result = build(svc(environment={"EMPTY": ""}))
    assert result.request["containerDefinitions"][0]["environment"] == [{"name": "EMPTY", "value": ""}]
    assert any("EMPTY" in w and "may drop" in w for w in result.warnings)


def test_environment_values_come_from_consul_over_compose():
    service = svc(environment={"DB_HOST": "localhost"}, x_ecsflow={"environment_values": ["DB_HOST"]})
    c = container(service, consul_values={"DB_HOST": "db.internal"})
    assert c["environment"] == [{"name": "DB_HOST", "value": "db.internal"}]


def test_environment_value_missing_in_consul_is_an_error_naming_the_key():
    error = build_error(svc(x_ecsflow={"environment_values": ["DB_HOST"]}), consul_values={})
    assert "DB_HOST" in error.message and error.key == "x-ecsflow.environment_values"


def test_environment_values_without_consul_hint_at_the_prefix():
    error = build_error(svc(x_ecsflow={"environment_values": ["DB_HOST"]}))
    assert "--consul-prefix" in error.hint


# -- secrets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "arn"),
    [
        ("ssm:/etl/db/password", "arn:aws:ssm:eu-west-1:123456789012:parameter/etl/db/password"),
        ("ssm:etl-db-password", "arn:aws:ssm:eu-west-1:123456789012:parameter/etl-db-password"),
        ("secretsmanager:etl/db", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:etl/db"),
        (
            "secretsmanager:etl/db:password",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:etl/db:password::",
        ),
        (
            "arn:aws:secretsmanager:us-east-1:111111111111:secret:shared-AbCdEf",
            "arn:aws:secretsmanager:us-east-1:111111111111:secret:shared-AbCdEf",
        ),
    ],
)
def test_secret_references_become_value_from_arns(reference, arn):
    c = container(svc(x_ecsflow={"secrets": {"DB_PASSWORD": reference}}))
    assert c["secrets"] == [{"name": "DB_PASSWORD", "valueFrom": arn}]


def test_secrets_are_sorted_and_include_consul_secret_values():
    service = svc(x_ecsflow={"secrets": {"Z_KEY": "ssm:/z"}, "secret_values": ["A_KEY"]})
    c = container(service, consul_secrets={"A_KEY": "secretsmanager:a"})
    assert [s["name"] for s in c["secrets"]] == ["A_KEY", "Z_KEY"]
    assert c["secrets"][0]["valueFrom"].endswith(":secret:a")


def test_ssm_shorthand_without_region_or_account_is_an_error_with_a_hint():
    error = build_error(svc(x_ecsflow={"secrets": {"PW": "ssm:/pw"}}), Settings(region="eu-west-1"))
    assert "region and account" in error.message and "full ARN" in error.hint


def test_secret_that_is_not_a_reference_is_an_error():
    error = build_error(svc(x_ecsflow={"secrets": {"PW": "hunter2"}}))
    assert error.key == "x-ecsflow.secrets" and "ssm:/path" in error.message


def test_secret_value_from_consul_that_is_not_a_reference_is_never_echoed():
    error = build_error(svc(x_ecsflow={"secret_values": ["PW"]}), consul_secrets={"PW": "hunter2"})
    assert "hunter2" not in str(error)


def test_secret_value_missing_in_consul_is_an_error():
    error = build_error(svc(x_ecsflow={"secret_values": ["PW"]}), consul_secrets={})
    assert "PW" in error.message and error.key == "x-ecsflow.secret_values"


@pytest.mark.parametrize("x", [{"secrets": {"PW": "ssm:/pw"}}, {"secret_values": ["PW"]}])
def test_the_secret_wins_over_a_variable_of_the_same_name_and_the_value_is_never_sent(x):
    """The compose value serves `docker compose up`; on ECS the secret supplies PW."""
    service = svc(environment={"PW": "local-only-pw", "A": "1"}, x_ecsflow=x)
    result = build(service, consul_secrets={"PW": "ssm:/pw"})
    c = result.request["containerDefinitions"][0]
    assert c["environment"] == [{"name": "A", "value": "1"}]
    assert c["secrets"] == [{"name": "PW", "valueFrom": "arn:aws:ssm:eu-west-1:123456789012:parameter/pw"}]
    assert "local-only-pw" not in json.dumps(result.request) + "".join(result.notes + result.warnings)
    assert result.warnings == ()
    assert result.notes == ("service 'job': PW is both an environment variable and a secret: on ECS the secret "
                            "supplies it, and the compose value is left out of the task definition",)


def test_a_name_both_in_environment_values_and_secrets_is_an_error():
    service = svc(x_ecsflow={"environment_values": ["PW"], "secrets": {"PW": "ssm:/pw"}})
    error = build_error(service, consul_values={"PW": "x"})
    assert error.key == "x-ecsflow.environment_values" and "PW" in error.message


def test_bare_environment_key_is_satisfied_by_the_secret():
    result = build(svc(environment={"PW": None}, x_ecsflow={"secrets": {"PW": "ssm:/pw"}}))
    c = result.request["containerDefinitions"][0]
    assert "environment" not in c and c["secrets"][0]["name"] == "PW"
    assert result.warnings == ()


# -- health checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "test", [("CMD", "pg_isready", "-U", "etl"), ("CMD-SHELL", "curl -f http://localhost/ || exit 1")]
)
def test_healthcheck_command_is_kept(test):
    assert container(svc(healthcheck=Healthcheck(test=test)))["healthCheck"] == {"command": list(test)}


@pytest.mark.parametrize("healthcheck", [Healthcheck(test=("NONE",)), Healthcheck(disable=True, interval=10.0)])
def test_disabled_healthcheck_gives_none(healthcheck):
    assert "healthCheck" not in container(svc(healthcheck=healthcheck))


def test_healthcheck_with_timings_but_no_test_is_skipped_with_a_warning():
    result = build(svc(healthcheck=Healthcheck(interval=10.0)))
    assert "healthCheck" not in result.request["containerDefinitions"][0]
    assert any("no test" in w for w in result.warnings)


def test_healthcheck_durations_round_up_to_whole_seconds():
    hc = Healthcheck(test=("CMD", "true"), interval=90.0, timeout=2.5, retries=5, start_period=0.2)
    assert container(svc(healthcheck=hc))["healthCheck"] == {
        "command": ["CMD", "true"],
        "interval": 90,
        "timeout": 3,
        "retries": 5,
        "startPeriod": 1,
    }


@pytest.mark.parametrize(
    ("field", "written", "value", "ecs_key", "used", "allowed"),
    [
        ("interval", "3s", 3.0, "interval", 5, "5 to 300 seconds"),
        ("interval", "10m", 600.0, "interval", 300, "5 to 300 seconds"),
        ("timeout", "500ms", 0.5, "timeout", 2, "2 to 60 seconds"),
        ("timeout", "60.5s", 60.5, "timeout", 60, "2 to 60 seconds"),
        ("retries", 50, 50, "retries", 10, "1 to 10"),
        ("start_period", "10m", 600.0, "startPeriod", 300, "0 to 300 seconds"),
    ],
)
def test_healthcheck_timing_outside_ecs_range_is_clamped_with_a_warning(field, written, value, ecs_key, used,
                                                                         allowed):
    raw = {"healthcheck": {"test": ["CMD", "true"], field: written}}
    service = svc(name="db", healthcheck=Healthcheck(test=("CMD", "true"), **{field: value}), raw=raw)
    result = build(service)
    assert result.request["containerDefinitions"][0]["healthCheck"] == {"command": ["CMD", "true"], ecs_key: used}
    assert result.warnings == (f"service 'db': healthcheck {field} {written} is outside ECS's range ({allowed}): "
                               f"{ecs_key} {used} is used",)
    error = build_error(service, strict=True)
    assert (error.service, error.key) == ("db", f"healthcheck.{field}") and allowed in error.message
    assert str(written) in error.message


@pytest.mark.parametrize("field", ["interval", "timeout", "retries"])
def test_healthcheck_zero_means_the_default_as_in_docker(field):
    result = build(svc(healthcheck=Healthcheck(test=("CMD", "true"), **{field: 0})), strict=True)
    assert result.request["containerDefinitions"][0]["healthCheck"] == {"command": ["CMD", "true"]}
    assert result.warnings == ()


def test_healthcheck_start_interval_is_ignored_with_a_warning():
    result = build(svc(healthcheck=Healthcheck(test=("CMD", "true"), start_interval=5.0)))
    assert any("start_interval" in w for w in result.warnings)


# -- ports -----------------------------------------------------------------------------------------


def test_ports_and_expose_become_port_mappings_deduplicated():
    service = svc(
        ports=(Port(target=8000, published="8000"), Port(target=53, protocol="udp")),
        expose=("8000", "9090", "53/udp"),
    )
    assert container(service)["portMappings"] == [
        {"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"},
        {"containerPort": 53, "hostPort": 53, "protocol": "udp"},
        {"containerPort": 9090, "hostPort": 9090, "protocol": "tcp"},
    ]


def test_published_port_different_from_target_is_a_warning():
    result = build(svc(ports=(Port(target=80, published="8080"),)))
    assert result.request["containerDefinitions"][0]["portMappings"][0]["hostPort"] == 80
    assert any("8080" in w and "80" in w for w in result.warnings)


def test_expose_port_range_is_an_error():
    assert build_error(svc(expose=("8000-8010",))).key == "expose"


def test_port_protocol_other_than_tcp_udp_is_an_error():
    assert "tcp and udp" in build_error(svc(ports=(Port(target=9, protocol="sctp"),))).message


# -- Fargate sizes ---------------------------------------------------------------------------------


def test_fargate_table_matches_the_documented_ranges():
    assert {cpu: (ms[0], ms[-1], len(ms)) for cpu, ms in FARGATE_SIZES.items()} == {
        256: (512, 2048, 3),
        512: (1024, 4096, 4),
        1024: (2048, 8192, 7),
        2048: (4096, 16384, 13),
        4096: (8192, 30720, 23),
        8192: (16384, 61440, 12),
        16384: (32768, 122880, 12),
    }


@pytest.mark.parametrize(
    ("cpus", "mem_limit", "size", "rounded"),
    [
        (0.3, 600 * MIB, ("512", "1024"), True),
        (2.0, None, ("2048", "4096"), False),
        (None, 5 * GIB, ("1024", "5120"), False),
        (0.5, None, ("512", "1024"), False),
        (None, 9 * GIB, ("2048", "9216"), False),
        (4.0, 31 * GIB, ("8192", "32768"), True),
        (8.0, 64 * GIB, ("16384", "65536"), True),
        (0.1, 3 * GIB, ("512", "3072"), True),
        (None, 600 * MIB, ("256", "1024"), True),
    ],
)
def test_compose_limits_round_up_to_the_smallest_fargate_size(cpus, mem_limit, size, rounded):
    result = build(svc(cpus=cpus, mem_limit=mem_limit))
    assert (result.request["cpu"], result.request["memory"]) == size
    if rounded:
        [note] = result.notes
        assert f"cpu {size[0]} / memory {size[1]} MiB" in note and "rounded up" in note
    else:  # a Fargate size as written (the other half its smallest match): no note
        assert result.notes == ()


def test_compose_limits_that_are_a_fargate_size_exactly_need_no_note():
    result = build(svc(cpus=0.25, mem_limit=512 * MIB))
    assert (result.request["cpu"], result.request["memory"]) == ("256", "512")
    assert result.notes == ()


def test_compose_limits_beyond_fargate_are_an_error():
    error = build_error(svc(cpus=32.0))
    assert "16384" in error.hint and error.key == "cpus"
    # The key named is the one that asked for too much.
    assert build_error(svc(mem_limit=200 * GIB)).key == "mem_limit"
    assert build_error(svc(mem_limit=1 * GIB, mem_reservation=200 * GIB)).key == "mem_reservation"


def test_smallest_size_helper():
    assert smallest_size() == (256, 512)
    assert smallest_size(16385, None) is None


def test_x_ecsflow_cpu_and_memory_are_taken_exactly():
    request = build(svc(cpus=0.25, mem_limit=512 * MIB, x_ecsflow={"cpu": 1024, "memory": "3072"})).request
    assert (request["cpu"], request["memory"]) == ("1024", "3072")


def test_invalid_x_ecsflow_memory_lists_the_valid_memories_for_that_cpu():
    error = build_error(svc(x_ecsflow={"cpu": 1024, "memory": 1536}))
    assert error.key == "x-ecsflow.memory"
    assert "2048, 3072, 4096, 5120, 6144, 7168, 8192" in error.hint


def test_invalid_x_ecsflow_cpu_lists_the_valid_cpus():
    error = build_error(svc(x_ecsflow={"cpu": 300}))
    assert "256, 512, 1024, 2048, 4096, 8192, 16384" in error.hint


def test_x_ecsflow_cpu_alone_takes_the_smallest_memory_that_holds_the_limits():
    request = build(svc(mem_limit=3 * GIB, x_ecsflow={"cpu": 1024})).request
    assert (request["cpu"], request["memory"]) == ("1024", "3072")


def test_x_ecsflow_memory_alone_takes_the_smallest_cpu_that_allows_it():
    request = build(svc(x_ecsflow={"memory": 4096})).request
    assert (request["cpu"], request["memory"]) == ("512", "4096")


def test_memory_reservation_in_mib_and_it_sizes_the_task():
    result = build(svc(mem_reservation=3 * GIB))
    assert result.request["containerDefinitions"][0]["memoryReservation"] == 3072
    assert result.request["memory"] == "3072"


def test_memory_reservation_above_explicit_task_memory_is_an_error():
    error = build_error(svc(mem_reservation=1 * GIB, x_ecsflow={"cpu": 256, "memory": 512}))
    assert error.key == "mem_reservation"


# -- other container fields ------------------------------------------------------------------------


def test_working_dir_user_labels():
    c = container(svc(working_dir="/app", user="etl", labels={"team": "data"}))
    assert (c["workingDirectory"], c["user"], c["dockerLabels"]) == ("/app", "etl", {"team": "data"})


def test_stop_grace_period_becomes_stop_timeout_rounded_up():
    assert container(svc(stop_grace_period=45.5))["stopTimeout"] == 46


def test_stop_grace_period_above_fargate_maximum_is_clamped_with_a_warning():
    result = build(svc(stop_grace_period=300.0))
    assert result.request["containerDefinitions"][0]["stopTimeout"] == 120
    assert any("120" in w for w in result.warnings)


def test_stop_grace_period_above_fargate_maximum_is_an_error_when_strict():
    assert build_error(svc(stop_grace_period=300.0), strict=True).key == "stop_grace_period"


def test_init_and_read_only():
    c = container(svc(init=True, read_only=True))
    assert c["linuxParameters"] == {"initProcessEnabled": True}
    assert c["readonlyRootFilesystem"] is True


def test_ulimits():
    c = container(svc(ulimits={"nproc": 65535, "nofile": {"soft": 20000, "hard": 40000}}))
    assert c["ulimits"] == [
        {"name": "nproc", "softLimit": 65535, "hardLimit": 65535},
        {"name": "nofile", "softLimit": 20000, "hardLimit": 40000},
    ]


@pytest.mark.parametrize("ulimit, message", [
    ({"soft": 2000, "hard": 1000}, "the soft limit 2000 is above the hard limit 1000"),
    (4294967296, "ulimit nofile 4294967296 is out of ECS's range"),
])
def test_ulimits_that_cannot_run_are_errors(ulimit, message):
    """Compose accepts both; ECS's Integer cannot hold the one, Docker will not start a container with the other."""
    with pytest.raises(BuildError) as error:
        container(svc(ulimits={"nofile": ulimit}))
    assert message in error.value.message and error.value.key == "ulimits.nofile"


# -- logging ---------------------------------------------------------------------------------------


def test_default_logging_is_awslogs_with_the_group_pattern():
    assert container()["logConfiguration"] == {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": "/ecs/etl/job",
            "awslogs-region": "eu-west-1",
            "awslogs-stream-prefix": "ecs",
            "awslogs-create-group": "true",
        },
    }


def test_awslogs_region_is_omitted_without_a_region():
    assert "awslogs-region" not in container(settings=Settings(execution_role=EXEC_ROLE))["logConfiguration"]["options"]


def test_compose_awslogs_options_are_honoured():
    service = svc(logging=Logging(driver="awslogs", options={"awslogs-group": "/data/etl"}))
    options = container(service)["logConfiguration"]["options"]
    assert options["awslogs-group"] == "/data/etl" and options["awslogs-stream-prefix"] == "ecs"


def test_other_logging_driver_is_a_warning_and_awslogs_is_used():
    result = build(svc(logging=Logging(driver="json-file", options={"max-size": "5m"})))
    log = result.request["containerDefinitions"][0]["logConfiguration"]
    assert log["logDriver"] == "awslogs" and "max-size" not in log["options"]
    assert any("json-file" in w for w in result.warnings)


# -- keys Fargate cannot honour --------------------------------------------------------------------


def test_not_possible_key_is_a_warning_naming_service_and_key():
    result = build(svc(name="worker", raw={"privileged": True}))
    assert result.warnings == ("service 'worker': key 'privileged' is not possible on Fargate and is ignored",)


def test_not_possible_key_is_an_error_when_strict():
    error = build_error(svc(name="worker", raw={"privileged": True}), strict=True)
    assert (error.service, error.key) == ("worker", "privileged")


@pytest.mark.parametrize(
    "raw",
    [
        {"devices": ["/dev/fuse"]},
        {"tmpfs": ["/tmp"]},
        {"extra_hosts": ["db:10.0.0.1"]},
        {"dns": ["8.8.8.8"]},
        {"network_mode": "none"},
        {"pid": "host"},
        {"sysctls": {"net.core.somaxconn": "1024"}},
        {"shm_size": "268435456"},
        {"cap_add": ["NET_ADMIN"]},
    ],
)
def test_each_not_possible_key_warns(raw):
    [key] = raw
    assert any(f"key '{key}'" in w and "not possible" in w for w in build(svc(raw=raw)).warnings)


def test_cap_add_sys_ptrace_is_allowed_and_cap_drop_is_kept():
    result = build(svc(raw={"cap_add": ["SYS_PTRACE"], "cap_drop": ["CAP_NET_RAW"]}))
    linux = result.request["containerDefinitions"][0]["linuxParameters"]
    assert linux == {"capabilities": {"add": ["SYS_PTRACE"], "drop": ["NET_RAW"]}}
    assert result.warnings == ()


def test_keys_without_ecs_meaning_are_ignored_quietly():
    raw = {
        "build": {"context": "."},
        "networks": {"default": None},
        "restart": "always",
        "container_name": "x",
        "privileged": False,
        "command": None,
        "x-notes": "local only",
    }
    assert build(svc(raw=raw)).warnings == ()


def test_unknown_compose_key_warns():
    assert any("'frobnicate'" in w for w in build(svc(raw={"frobnicate": 1})).warnings)


# -- x-ecsflow -------------------------------------------------------------------------------------


def x_ecsflow_error(x: dict) -> ComposeError:
    with pytest.raises(ComposeError) as info:
        svc(x_ecsflow=x)
    return info.value


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


# -- entrypoint: [] ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cleared", [(), ("",)])
def test_cleared_entrypoint_with_a_command_makes_the_command_the_entry_point(cleared):
    """Docker runs exactly the command (no ENTRYPOINT, and an explicit entrypoint drops the image's CMD);
    ECS cannot send an empty entryPoint, but entryPoint = the command runs the same program."""
    result = build(svc(entrypoint=cleared, command=("python", "-m", "etl")), strict=True)
    c = result.request["containerDefinitions"][0]
    assert c["entryPoint"] == ["python", "-m", "etl"] and "command" not in c
    assert any("entrypoint: []" in n and "entryPoint" in n for n in result.notes)
    assert result.warnings == ()


def test_cleared_entrypoint_without_a_command_warns_and_is_an_error_when_strict():
    result = build(svc(name="tool", entrypoint=()))
    c = result.request["containerDefinitions"][0]
    assert "entryPoint" not in c and "command" not in c
    assert result.warnings == ("service 'tool': entrypoint: [] clears the image's ENTRYPOINT, which ECS cannot "
                               "express without a command: the image's ENTRYPOINT runs on ECS",)
    error = build_error(svc(name="tool", entrypoint=()), strict=True)
    assert (error.service, error.key) == ("tool", "entrypoint") and "add the command" in error.hint


# -- plain values that look secret ----------------------------------------------------------------


def test_a_plain_value_whose_name_looks_secret_warns_without_the_value():
    result = build(svc(environment={"DBT_API_KEY": "s3cr3t-value", "MONKEY": "banana", "LOG_LEVEL": "info"}))
    assert result.warnings == (
        "service 'job': environment variable DBT_API_KEY is registered in plain text in the task definition, "
        "but its name looks secret: move it to x-ecsflow.secrets (an SSM or Secrets Manager reference)",)
    assert "s3cr3t-value" not in "".join(result.warnings + result.notes)


def test_a_url_with_a_password_warns_without_the_value():
    result = build(svc(environment={"DATABASE_URL": "postgres://etl:hunter2@db/etl"}))
    [warning] = result.warnings
    assert "DATABASE_URL" in warning and "password in a URL" in warning and "hunter2" not in warning


def test_secrets_and_empty_values_do_not_warn_as_plain_secrets():
    result = build(svc(environment={"API_TOKEN": None}, x_ecsflow={"secrets": {"API_TOKEN": "ssm:/t"}}))
    assert result.warnings == ()
    assert not any("plain text" in w for w in build(svc(environment={"API_TOKEN": ""})).warnings)


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


@pytest.mark.parametrize(
    ("tags", "fragment"),
    [
        ({"aws:cost": "1"}, "keys do not start with aws:"),
        ({"AWS:Team": "1"}, "keys do not start with aws:"),
        ({"": "1"}, "tag keys are not empty"),
        ({"team": "aws:x"}, "values do not start with aws:"),
        ({"k" * 129: "1"}, "keys have at most 128 characters"),
        ({"team": "v" * 257}, "values have at most 256 characters"),
        ({"team[x]": "1"}, "keys hold only letters, digits, spaces and _ . : / = + - @"),
        ({"team": "a,b"}, "values hold only letters, digits, spaces and _ . : / = + - @"),
        ({f"k{i}": "v" for i in range(51)}, "at most 50 tags"),
    ],
)
def test_a_tag_ecs_refuses_is_refused_alike_in_x_ecsflow_and_in_the_settings(tags, fragment):
    """One rule for tags (ECS's: TagResource, RegisterTaskDefinition), wherever they are written."""
    with pytest.raises(ComposeError) as in_service:
        parse_service_extension({"tags": tags}, service="job")
    assert in_service.value.key == "x-ecsflow.tags" and fragment in in_service.value.message
    with pytest.raises(EcsflowError) as in_settings:
        resolve_settings(environ={"ECSFLOW_TAGS": json.dumps(tags)})
    assert fragment in in_settings.value.message
    rule = in_service.value.message.removeprefix("x-ecsflow.tags must be ")
    assert in_settings.value.message == f"environment variable ECSFLOW_TAGS must be {rule}"


def test_tags_ecs_allows_pass():
    tags = {"team": "", "Kostenstelle/Zähler": "1 + 2 = 3", "owner@corp": "a:b_c.d-e", "k" * 128: "v" * 256}
    assert dict(parse_service_extension({"tags": tags}).tags) == tags
    assert resolve_settings(environ={"ECSFLOW_TAGS": json.dumps(tags)}).settings.tags == tags


def test_more_tags_than_ecs_allows_with_ecsflows_own_is_an_error():
    own = {f"team{i}": "x" for i in range(25)}
    service = svc(x_ecsflow={"tags": {f"cost{i}": "y" for i in range(23)}})
    error = build_error(service, Settings(tags=own, execution_role=EXEC_ROLE))
    assert "50" in error.message and error.key == "x-ecsflow.tags" and "47" in error.hint
    assert build(svc(x_ecsflow={"tags": {f"cost{i}": "y" for i in range(22)}}),
                 Settings(tags=own, execution_role=EXEC_ROLE)).request["tags"]


@pytest.mark.parametrize("image", [
    "apache/airflow:|version|", "acme/job:1 2", "acme/jöb:1", "a" * 256, "acme/job@sha256:abc",
    "acme/job@md5:" + "a" * 64, "acme/job@sha256:" + "g" * 64, " ", "acme/job$", "acme/job:1\n", "@sha256:" + "0" * 64,
])
def test_an_image_ecs_refuses_is_an_error_naming_service_and_image(image):
    error = build_error(svc(image=image))
    assert (error.service, error.key) == ("job", "image")
    assert "is not an image ECS accepts" in error.message and "255" in error.message


@pytest.mark.parametrize("image", [
    "acme/job:1.2", "ghcr.io/acme/job:v1#x", "localhost:5000/a_b-c.d:tag", "a" * 255,
    "acme/job@sha256:" + "a" * 64, "acme/job:1@sha256:" + "AbCdEf01" * 8, "a" * 255 + "@sha256:" + "0" * 64,
])
def test_an_image_ecs_accepts_passes(image):
    assert container(svc(image=image))["image"] == image


def test_the_registry_prefix_counts_in_the_images_length():
    settings = Settings(registry="registry.example.com/team", execution_role=EXEC_ROLE)
    assert build_error(svc(image="a" * 240), settings).key == "image"


@pytest.mark.parametrize("arn", [
    "arn:aws:s3:::bucket/key", "arn:aws:ssm:eu-west-1:123456789012:document/x",
    "arn:aws:secretsmanager:eu-west-1:123456789012:parameter/x", "arn:aws:ssm:eu-west-1:1234:parameter/x",
    "arn:aws:kms:eu-west-1:123456789012:key/1", "arn:aws:ssm:eu-west-1:123456789012:parameter/",
])
def test_a_secret_arn_of_neither_ssm_nor_secrets_manager_is_an_error(arn):
    error = build_error(svc(x_ecsflow={"secrets": {"S3_REF": arn}}))
    assert error.key == "x-ecsflow.secrets" and "S3_REF" in error.message
    assert "SSM parameter" in error.message and "Secrets Manager secret" in error.message
    assert arn not in str(error)  # a reference is never echoed: it might be the secret itself
    consul = build_error(svc(x_ecsflow={"secret_values": ["S3_REF"]}), consul_secrets={"S3_REF": arn})
    assert consul.key == "x-ecsflow.secret_values" and arn not in str(consul)


@pytest.mark.parametrize("arn", [
    "arn:aws:ssm:eu-west-1:123456789012:parameter/etl/db/password",
    "arn:aws-cn:ssm:cn-north-1:123456789012:parameter/p",
    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:etl/db-AbCdEf",
    "arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:db-AbCdEf:password:AWSCURRENT:",
])
def test_a_secret_arn_of_ssm_or_secrets_manager_passes(arn):
    assert container(svc(x_ecsflow={"secrets": {"DB": arn}}))["secrets"] == [{"name": "DB", "valueFrom": arn}]
