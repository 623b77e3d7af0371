"""ecsflow.consul driving the real py-consul client against the Consul KV double in consul_server.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from consul_server import ConsulKV, Raw, closed_port

from ecsflow import operations
from ecsflow.compose.extension import parse_project_extension, parse_service_extension
from ecsflow.compose.model import ComposeProject, Service
from ecsflow.consul import ConsulConfig, consul_config, read_prefix
from ecsflow.errors import BuildError, SettingsError
from ecsflow.settings import settings_to_rows
from ecsflow.taskdef import build_task_definition

PREFIX = "platform/etl"
TOKEN = "b1gs3cr3t-0000-1111-2222-333344445555"
SEED = {
    f"{PREFIX}/": None,  # a folder placeholder, as the UI and Terraform create them
    f"{PREFIX}/cluster": "data-prod",
    f"{PREFIX}/execution_role": "arn:aws:iam::123456789012:role/ecs-exec",
    f"{PREFIX}/subnets": "subnet-0a,subnet-0b",
    f"{PREFIX}/security_groups": '["sg-01"]',
    f"{PREFIX}/assign_public_ip": "DISABLED",
    f"{PREFIX}/region": "eu-west-1",
    f"{PREFIX}/tags": "team=data,cost-centre=42",
    f"{PREFIX}/values/": None,
    f"{PREFIX}/values/DB_HOST": "db.internal",
    f"{PREFIX}/secrets/DB_PASSWORD": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db",
    f"{PREFIX}2/cluster": "a sibling prefix, not ours",
    "other/cluster": "not ours either",
}


@pytest.fixture
def kv():
    with ConsulKV(SEED) as server:
        yield server


@pytest.fixture
def acl_kv():
    with ConsulKV(SEED, token=TOKEN) as server:
        yield server


def env(server: ConsulKV, **extra: str) -> dict[str, str]:
    return {"CONSUL_HTTP_ADDR": server.addr, **extra}


def resolve_with_consul(*, compose=None, compose_file=None, environ=None, flags=None):
    """The settings as the commands resolve them: Consul read (when a prefix is set), then the resolver."""
    extension = parse_project_extension(compose, compose_file)
    return operations.resolve_with_consul(extension, compose_file, flags or {}, environ or {})


def build_loader(resolved, **x_ecsflow):
    """Build service `loader` with these x-ecsflow keys and the values/secrets the settings read from Consul."""
    service = Service(name="loader", image="acme/loader:1", x_ecsflow=parse_service_extension(x_ecsflow))
    project = ComposeProject(name="etl", working_dir=Path("."), files=(), services=(service,))
    return build_task_definition(project, service, resolved.settings, consul_values=resolved.values,
                                 consul_secrets=resolved.secrets, consul_prefix=resolved.consul_prefix)


# --- reading the prefix ---


def test_read_prefix_returns_relative_keys_and_decoded_values(kv):
    values = read_prefix(PREFIX, environ=env(kv))
    assert values == {
        k.removeprefix(f"{PREFIX}/"): v for k, v in SEED.items() if k.startswith(f"{PREFIX}/") and v
    }
    assert values["values/DB_HOST"] == "db.internal"


def test_one_recursive_request_per_invocation(kv):
    r = resolve_with_consul(environ=env(kv, ECSFLOW_CONSUL_PREFIX=PREFIX))
    build_loader(r, environment_values=["DB_HOST"], secret_values=["DB_PASSWORD"])
    assert len(kv.requests) == 1
    request = kv.requests[0]
    assert request.key == f"{PREFIX}/" and "recurse" in request.query


def test_without_a_prefix_consul_is_not_contacted(kv):
    r = resolve_with_consul(environ=env(kv))
    assert kv.requests == [] and r.consul_prefix is None and r.origins["cluster"] == "default"


def test_a_missing_prefix_is_empty_and_a_key_asked_for_names_key_and_prefix(kv):
    r = resolve_with_consul(flags={"consul_prefix": "nothing/here"}, environ=env(kv))
    assert r.values == {} and r.settings.cluster == "default"
    with pytest.raises(BuildError) as err:
        build_loader(r, environment_values=["DB_HOST"])
    assert err.value.service == "loader"
    assert "Consul key 'nothing/here/values/DB_HOST' has no value" in str(err.value)


def test_a_value_asked_for_without_a_prefix_says_how_to_set_one(kv):
    with pytest.raises(BuildError) as err:
        build_loader(resolve_with_consul(environ=env(kv)), environment_values=["DB_HOST"])
    assert "--consul-prefix" in err.value.hint and "ECSFLOW_CONSUL_PREFIX" in err.value.hint
    assert kv.requests == []


def test_a_key_missing_under_an_existing_prefix(kv):
    r = resolve_with_consul(flags={"consul_prefix": PREFIX}, environ=env(kv))
    with pytest.raises(BuildError, match=f"'{PREFIX}/secrets/API_KEY' has no value"):
        build_loader(r, secret_values=["API_KEY"])


def test_non_utf8_values_name_the_key():
    with ConsulKV({f"{PREFIX}/cluster": b"\xff\xfe"}) as server:
        with pytest.raises(SettingsError, match=f"'{PREFIX}/cluster' does not hold UTF-8"):
            read_prefix(PREFIX, environ=env(server))


@pytest.mark.parametrize("value", ["not base64!", "YWJ", "Y"])
def test_a_value_that_is_not_base64_names_the_key(value):
    with ConsulKV({f"{PREFIX}/cluster": "fine", f"{PREFIX}/values/DB_HOST": Raw(value)}) as server:
        with pytest.raises(SettingsError) as err:
            read_prefix(PREFIX, environ=env(server))
    assert err.value.message == (f"Consul key '{PREFIX}/values/DB_HOST' holds a Value that is not valid base64, "
                                 "as Consul sends every value")
    assert value not in str(err.value)


def test_an_answer_that_is_not_a_list_of_entries_is_a_clear_error(kv, monkeypatch):
    monkeypatch.setattr(kv, "answer", lambda key, query, token: (200, '{"error": "not a KV list"}'))
    with pytest.raises(SettingsError, match="answered something that is not a list of KV entries"):
        read_prefix(PREFIX, environ=env(kv))


def test_an_empty_prefix_is_refused(kv):
    with pytest.raises(SettingsError, match="prefix is empty"):
        read_prefix("/", environ=env(kv))


# --- tokens ---


def test_the_right_token_reads(acl_kv):
    values = read_prefix(PREFIX, environ=env(acl_kv, CONSUL_HTTP_TOKEN=TOKEN))
    assert values["cluster"] == "data-prod"
    assert acl_kv.requests[0].token == TOKEN


def test_a_token_argument_overrides_the_environment(acl_kv):
    assert read_prefix(PREFIX, token=TOKEN, environ=env(acl_kv, CONSUL_HTTP_TOKEN="stale"))["cluster"]


def test_a_bad_token_is_a_settings_error_that_never_shows_the_token(acl_kv):
    with pytest.raises(SettingsError) as err:
        read_prefix(PREFIX, environ=env(acl_kv, CONSUL_HTTP_TOKEN="wrong-token-value"))
    text = str(err.value)
    assert "ACL not found" in text and acl_kv.addr in text
    assert "CONSUL_HTTP_TOKEN" in err.value.hint and "wrong-token-value" not in text


def test_no_token_against_acls_says_none_is_set(acl_kv):
    with pytest.raises(SettingsError, match="Permission denied") as err:
        read_prefix(PREFIX, environ=env(acl_kv))
    assert "no token is set" in err.value.hint


def test_the_process_environment_token_does_not_leak_in(acl_kv, monkeypatch):
    # py-consul itself prefers os.environ's CONSUL_HTTP_TOKEN; ecsflow reads only the mapping it is given.
    monkeypatch.setenv("CONSUL_HTTP_TOKEN", TOKEN)
    with pytest.raises(SettingsError, match="Permission denied"):
        read_prefix(PREFIX, environ=env(acl_kv))


def test_the_token_is_never_printed(acl_kv):
    r = resolve_with_consul(flags={"consul_prefix": PREFIX}, environ=env(acl_kv, CONSUL_HTTP_TOKEN=TOKEN))
    assert r.settings.cluster == "data-prod"
    assert TOKEN not in repr(r) and all(TOKEN not in cell for row in settings_to_rows(r) for cell in row)
    assert TOKEN not in repr(consul_config(environ={"CONSUL_HTTP_TOKEN": TOKEN}))


# --- Consul down or slow ---


def test_consul_down_names_the_address():
    port = closed_port()
    with pytest.raises(SettingsError) as err:
        resolve_with_consul(
            flags={"consul_prefix": PREFIX}, environ={"CONSUL_HTTP_ADDR": f"127.0.0.1:{port}"}
        )
    assert f"cannot reach Consul at http://127.0.0.1:{port}" in err.value.message
    assert "CONSUL_HTTP_ADDR" in err.value.hint


def test_a_slow_consul_times_out(kv):
    kv.delay = 2.0
    with pytest.raises(SettingsError, match=r"did not answer within 0.2s"):
        read_prefix(PREFIX, environ=env(kv), timeout=0.2)


# --- address and TLS, as Consul's CLI reads them ---


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, ("127.0.0.1", 8500, "http", True)),
        ({"CONSUL_HTTP_ADDR": "consul:8500"}, ("consul", 8500, "http", True)),
        ({"CONSUL_HTTP_ADDR": "http://consul:8500"}, ("consul", 8500, "http", True)),
        ({"CONSUL_HTTP_ADDR": "https://consul:8501"}, ("consul", 8501, "https", True)),
        ({"CONSUL_HTTP_ADDR": "consul:8501", "CONSUL_HTTP_SSL": "true"}, ("consul", 8501, "https", True)),
        ({"CONSUL_HTTP_ADDR": "http://consul:8501", "CONSUL_HTTP_SSL": "1"}, ("consul", 8501, "https", True)),
        ({"CONSUL_HTTP_ADDR": "https://consul", "CONSUL_HTTP_SSL": "false"}, ("consul", 443, "https", True)),
        ({"CONSUL_HTTP_ADDR": "consul"}, ("consul", 80, "http", True)),
        ({"CONSUL_HTTP_ADDR": "[::1]:8500"}, ("::1", 8500, "http", True)),
        ({"CONSUL_HTTP_SSL": "true", "CONSUL_HTTP_SSL_VERIFY": "false"}, ("127.0.0.1", 8500, "https", False)),
        ({"CONSUL_HTTP_SSL": "true", "CONSUL_CACERT": "/ca.pem"}, ("127.0.0.1", 8500, "https", "/ca.pem")),
    ],
)
def test_consul_config_reads_the_environment_like_consuls_cli(environ, expected):
    config = consul_config(environ=environ)
    assert (config.host, config.port, config.scheme, config.verify) == expected


def test_an_explicit_addr_overrides_the_environment():
    config = consul_config(addr="https://other:9000", environ={"CONSUL_HTTP_ADDR": "consul:8500"})
    assert config.url == "https://other:9000"
    assert ConsulConfig("::1", 8500).url == "http://[::1]:8500"


@pytest.mark.parametrize(
    "environ, problem",
    [
        ({"CONSUL_HTTP_ADDR": "consul:http"}, "is not host:port"),
        ({"CONSUL_HTTP_ADDR": "unix:///var/run/consul.sock"}, "'unix' scheme"),
        ({"CONSUL_HTTP_SSL": "sure"}, "CONSUL_HTTP_SSL='sure' is not a boolean"),
    ],
)
def test_bad_consul_environment(environ, problem):
    with pytest.raises(SettingsError, match=problem):
        consul_config(environ=environ)


# --- the whole chain, with the real client ---


def test_consul_settings_and_their_origins(kv):
    r = resolve_with_consul(
        compose={"consul_prefix": PREFIX}, compose_file="docker-compose.yml", environ=env(kv)
    )
    s = r.settings
    assert (
        s.cluster == "data-prod"
        and s.subnets == ("subnet-0a", "subnet-0b")
        and s.security_groups == ("sg-01",)
    )
    assert s.assign_public_ip is False and s.tags == {"team": "data", "cost-centre": "42"}
    assert r.origins["cluster"] == f"consul:{PREFIX}/cluster"
    assert r.origins["task_role"] == "default"
    assert (r.consul_prefix, r.consul_prefix_origin) == (PREFIX, "compose:docker-compose.yml")
    assert r.values["DB_HOST"] == "db.internal"
    assert r.warnings == ()


@pytest.mark.parametrize("layer", ["default", "consul", "compose", "env", "flag"])
def test_precedence_through_every_layer(kv, layer):
    layers = ["default", "consul", "compose", "env", "flag"]
    given = layers[1 : layers.index(layer) + 1]
    environ = env(kv, ECSFLOW_CONSUL_PREFIX=PREFIX if "consul" in given else "empty/prefix")
    compose = {"region": "eu-central-1"} if "compose" in given else None
    if "env" in given:
        environ["ECSFLOW_REGION"] = "us-east-1"
    flags = {"region": "ap-south-1"} if "flag" in given else {"region": None}
    r = resolve_with_consul(compose=compose, compose_file="docker-compose.yml", environ=environ, flags=flags)
    expected = {
        "default": (None, "default"),
        "consul": ("eu-west-1", f"consul:{PREFIX}/region"),
        "compose": ("eu-central-1", "compose:docker-compose.yml"),
        "env": ("us-east-1", "env:ECSFLOW_REGION"),
        "flag": ("ap-south-1", "flag:--region"),
    }[layer]
    assert (r.settings.region, r.origins["region"]) == expected
    assert len(kv.requests) == 1


@pytest.mark.parametrize(
    "value",
    [
        "subnet-1,subnet-2",
        " subnet-1 , subnet-2 ",
        '["subnet-1","subnet-2"]',
        "[subnet-1, subnet-2]",
        "- subnet-1\n- subnet-2",
    ],
)
def test_every_list_form_through_consul(value):
    with ConsulKV({f"{PREFIX}/subnets": value}) as server:
        r = resolve_with_consul(flags={"consul_prefix": PREFIX}, environ=env(server))
    assert r.settings.subnets == ("subnet-1", "subnet-2")


def test_a_bad_consul_value_names_the_consul_key():
    with ConsulKV({f"{PREFIX}/subnets": "sg-1"}) as server:
        expected = rf"Consul key '{PREFIX}/subnets' must be subnet IDs \(subnet-...\), not 'sg-1'"
        with pytest.raises(SettingsError, match=expected):
            resolve_with_consul(flags={"consul_prefix": PREFIX}, environ=env(server))


def test_unknown_x_ecsflow_key_is_reported_with_a_suggestion(kv):
    with pytest.raises(SettingsError) as err:
        resolve_with_consul(
            compose={"consul_prefx": PREFIX}, compose_file="docker-compose.yml", environ=env(kv)
        )
    assert "'consul_prefx'" in err.value.message and "did you mean 'consul_prefix'?" in err.value.hint
    assert kv.requests == []
