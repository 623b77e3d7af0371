"""ecsflow.taskdef: the container definition of a compose service: image, command, environment, health checks,
ports, the other container fields, logging, and `entrypoint: []`."""

from __future__ import annotations

import pytest
from taskdef_support import EXEC_ROLE, build, build_error, container, svc

from ecsflow.compose.model import Healthcheck, Logging, Port
from ecsflow.errors import BuildError
from ecsflow.settings import Settings

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
