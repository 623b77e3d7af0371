"""Settings end to end: `ecsflow config` shows each value's origin with and without Consul, and
render/diff/sync take their settings and per-service values from the same resolver (a Consul KV double
served over HTTP, read by the real py-consul client)."""

import json

from cli_runner import ecsflow
from consul_server import ConsulKV, closed_port
from ecs_server import EcsEndpoint, dummy_credentials_env

PREFIX = "platform/etl"


def config_rows(result):
    return {row["name"]: (row["value"], row["origin"]) for row in json.loads(result.stdout)["settings"]}


def test_config_without_consul_shows_compose_defaults_env_and_flags(etl_project):
    result = ecsflow("config", "-f", str(etl_project / "docker-compose.yml"), "--format", "json", "--cluster", "adhoc",
                     env={"ECSFLOW_SECURITY_GROUPS": "sg-1111,sg-2222"})
    rows = config_rows(result)
    assert rows["cluster"] == ("adhoc", "flag:--cluster")
    assert rows["security_groups"] == ("sg-1111,sg-2222", "env:ECSFLOW_SECURITY_GROUPS")
    assert rows["region"] == ("eu-west-1", "compose:docker-compose.yml")
    assert rows["launch_type"] == ("FARGATE", "default")


def test_config_with_consul_shows_consul_origins_under_the_compose_file(etl_project):
    # Consul is below x-ecsflow: drop the example's own cluster/subnets so Consul's show through.
    compose = etl_project / "docker-compose.yml"
    text = compose.read_text()
    text = text.replace("  cluster: data-jobs\n", "").replace(
        "  subnets: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]\n", "")
    compose.write_text(text)
    data = {f"{PREFIX}/cluster": "prod-data", f"{PREFIX}/subnets": '["subnet-aaaa", "subnet-bbbb"]',
            f"{PREFIX}/region": "us-west-2"}
    with ConsulKV(data, token="s3cret-token") as consul:
        result = ecsflow("config", "-f", str(compose), "--format", "json", "--consul-prefix", PREFIX,
                         env={"CONSUL_HTTP_ADDR": consul.addr, "CONSUL_HTTP_TOKEN": "s3cret-token"})
        assert len(consul.requests) == 1 and "recurse" in consul.requests[0].query
        bad_token = ecsflow("config", "-f", str(compose), "--consul-prefix", PREFIX,
                            env={"CONSUL_HTTP_ADDR": consul.addr, "CONSUL_HTTP_TOKEN": "wrong"}, expect=1)
    assert "CONSUL_HTTP_TOKEN" in bad_token.stderr
    assert "wrong" not in bad_token.stderr
    rows = config_rows(result)
    assert rows["cluster"] == ("prod-data", f"consul:{PREFIX}/cluster")
    assert rows["subnets"] == ("subnet-aaaa,subnet-bbbb", f"consul:{PREFIX}/subnets")
    assert rows["region"] == ("eu-west-1", "compose:docker-compose.yml")  # compose is above Consul
    assert "s3cret-token" not in result.stdout + result.stderr


def test_render_uses_consul_values_and_secret_references(etl_project):
    compose = etl_project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace(
        "      pool: warehouse\n",
        "      pool: warehouse\n      environment_values: [WAREHOUSE_DB]\n      secret_values: [WAREHOUSE_API_KEY]\n"))
    data = {f"{PREFIX}/values/WAREHOUSE_DB": "analytics",
            f"{PREFIX}/secrets/WAREHOUSE_API_KEY": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wh-key"}
    with ConsulKV(data) as consul:
        result = ecsflow("render", "-f", str(compose), "load", "--consul-prefix", PREFIX,
                         env={"CONSUL_HTTP_ADDR": consul.addr})
    [request] = json.loads(result.stdout)
    container = request["containerDefinitions"][0]
    assert {"name": "WAREHOUSE_DB", "value": "analytics"} in container["environment"]
    assert {"name": "WAREHOUSE_API_KEY",
            "valueFrom": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wh-key"} in container["secrets"]


def test_missing_consul_key_names_key_and_prefix(etl_project):
    compose = etl_project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace(
        "      pool: warehouse\n", "      pool: warehouse\n      environment_values: [NOT_THERE]\n"))
    with ConsulKV({f"{PREFIX}/cluster": "x"}) as consul:
        result = ecsflow("render", "-f", str(compose), "--consul-prefix", PREFIX, env={"CONSUL_HTTP_ADDR": consul.addr},
                         expect=1)
    assert f"{PREFIX}/values/NOT_THERE" in result.stderr and "Traceback" not in result.stderr


def test_consul_down_is_one_error_and_nothing_is_written(etl_project):
    with EcsEndpoint() as ecs:
        result = ecsflow("sync", "-f", str(etl_project / "docker-compose.yml"), "--endpoint-url", ecs.url,
                         "--consul-prefix", PREFIX,
                         env={**dummy_credentials_env(), "CONSUL_HTTP_ADDR": f"127.0.0.1:{closed_port()}"}, expect=1)
        assert sum(ecs.calls.values()) == 0
    assert "Consul" in result.stderr and "Traceback" not in result.stderr


def test_sync_uses_flag_settings_over_compose(etl_project):
    with EcsEndpoint() as ecs:
        env = dummy_credentials_env()
        ecsflow("sync", "-f", str(etl_project / "docker-compose.yml"), "--endpoint-url", ecs.url, "extract",
                "--execution-role", "arn:aws:iam::123456789012:role/from-flag", "--format", "json", env=env)
        described = ecsflow("render", "-f", str(etl_project / "docker-compose.yml"), "extract",
                            "--execution-role", "arn:aws:iam::123456789012:role/from-flag")
        assert json.loads(described.stdout)[0]["executionRoleArn"].endswith("role/from-flag")
        # The same flag on diff: nothing to do; without it, the role differs.
        ecsflow("diff", "-f", str(etl_project / "docker-compose.yml"), "--endpoint-url", ecs.url, "extract",
                "--exit-code", "--execution-role", "arn:aws:iam::123456789012:role/from-flag", env=env)
        other = ecsflow("diff", "-f", str(etl_project / "docker-compose.yml"), "--endpoint-url", ecs.url, "extract",
                        "--exit-code", "--format", "json", env=env, expect=2)
        paths = [c["path"] for c in json.loads(other.stdout)["families"][0]["changes"]]
        assert paths == ["executionRoleArn"]


def test_config_text_shows_values_verbatim(etl_project):
    # (A tag may not hold `[`: ECS's rule. A role's ARN is any word.)
    result = ecsflow("config", "-f", str(etl_project / "docker-compose.yml"),
                     env={"ECSFLOW_TASK_ROLE": "arn:aws:iam::1:role/c-[bold]-:secret:"})
    assert "c-[bold]-:secret:" in result.stdout


def test_project_wide_environment_from_compose_and_consul(etl_project):
    """The seed's setup: every job gets ENVIRONMENT, LOG_LEVEL, CONSUL_ADDRESS and DOCKER_ADDRESS (the last two
    from Consul); a service's own value wins. `config` names what it read from values/ and secrets/."""
    compose = etl_project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("  tags:\n    team: data\n", """\
  environment:
    ENVIRONMENT: production
    LOG_LEVEL: info
  environment_values: [CONSUL_ADDRESS, DOCKER_ADDRESS]
  tags:
    team: data
""").replace("      PAGE_SIZE: \"500\"\n", "      PAGE_SIZE: \"500\"\n      LOG_LEVEL: debug\n"))
    data = {f"{PREFIX}/values/CONSUL_ADDRESS": "http://consul.internal:8500",
            f"{PREFIX}/values/DOCKER_ADDRESS": "tcp://docker.internal:2376",
            f"{PREFIX}/secrets/WAREHOUSE_API_KEY": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:wh-key"}
    with ConsulKV(data) as consul:
        env = {"CONSUL_HTTP_ADDR": consul.addr}
        result = ecsflow("render", "-f", str(compose), "--consul-prefix", PREFIX, env=env)
        config = ecsflow("config", "-f", str(compose), "--consul-prefix", PREFIX, "--format", "json", env=env)
        text = ecsflow("config", "-f", str(compose), "--consul-prefix", PREFIX, env=env)
    environments = {r["family"]: {e["name"]: e["value"] for e in r["containerDefinitions"][0]["environment"]}
                    for r in json.loads(result.stdout)}
    assert len(environments) == 4
    for family, environment in environments.items():
        assert environment["ENVIRONMENT"] == "production", family
        assert environment["CONSUL_ADDRESS"] == "http://consul.internal:8500"
        assert environment["DOCKER_ADDRESS"] == "tcp://docker.internal:2376"
        assert environment["LOG_LEVEL"] == ("debug" if family == "etl-extract" else "info")
    assert "RUN_DATE" not in environments["etl-transform"]
    rows = config_rows(config)
    assert rows["consul_values"] == ("CONSUL_ADDRESS,DOCKER_ADDRESS", f"consul:{PREFIX}/values/")
    assert rows["consul_secrets"] == ("WAREHOUSE_API_KEY", f"consul:{PREFIX}/secrets/")
    assert "consul.internal" not in config.stdout and "secretsmanager" not in config.stdout
    assert "CONSUL_ADDRESS,DOCKER_ADDRESS" in text.stdout
    assert "consul.internal" not in text.stdout


def test_project_wide_environment_values_missing_in_consul(etl_project):
    compose = etl_project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace("  tags:\n    team: data\n",
                                                   "  environment_values: [CONSUL_ADDRESS]\n  tags:\n    team: data\n"))
    with ConsulKV({f"{PREFIX}/cluster": "x"}) as consul:
        result = ecsflow("render", "-f", str(compose), "extract", "--consul-prefix", PREFIX,
                         env={"CONSUL_HTTP_ADDR": consul.addr}, expect=1)
    assert "CONSUL_ADDRESS is listed in the top-level x-ecsflow.environment_values" in result.stderr
    assert f"{PREFIX}/values/CONSUL_ADDRESS" in result.stderr
    rows = config_rows(ecsflow("config", "-f", str(compose), "--format", "json"))
    assert rows["consul_values"] == ("", "default")
