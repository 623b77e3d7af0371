"""The settings resolver on its own: no Consul server, the Consul layer is given as a mapping."""

from __future__ import annotations

import pytest

from ecsflow.compose.extension import parse_project_extension
from ecsflow.errors import SettingsError
from ecsflow.settings import (
    SETTING_NAMES,
    ResolvedSettings,
    Settings,
    display_value,
    resolve_settings,
    settings_to_rows,
)

PREFIX = "platform/etl"
FILE = "docker-compose.yml"


def resolve(**kwargs) -> ResolvedSettings:
    kwargs.setdefault("compose_file", FILE)
    if "consul" in kwargs:
        kwargs.setdefault("consul_prefix", PREFIX)
    if "compose" in kwargs:  # the top-level x-ecsflow as written, checked as the loader checks it
        extension = parse_project_extension(kwargs["compose"], kwargs["compose_file"])
        kwargs["compose"], kwargs["compose_interpolated"] = extension.settings, extension.interpolated
    return resolve_settings(**kwargs)


# --- precedence: one test per layer, each overriding the one below ---


def test_defaults_when_nothing_is_given():
    r = resolve()
    assert r.settings == Settings()
    assert set(r.origins.values()) == {"default"}
    assert r.consul_prefix is None


def test_consul_overrides_defaults():
    r = resolve(consul={"cluster": "from-consul"})
    assert r.settings.cluster == "from-consul"
    assert r.origins["cluster"] == f"consul:{PREFIX}/cluster"
    assert r.origins["region"] == "default"


def test_compose_overrides_consul():
    r = resolve(consul={"cluster": "from-consul"}, compose={"cluster": "from-compose"})
    assert r.settings.cluster == "from-compose"
    assert r.origins["cluster"] == f"compose:{FILE}"


def test_env_overrides_compose():
    r = resolve(compose={"cluster": "from-compose"}, environ={"ECSFLOW_CLUSTER": "from-env"})
    assert r.settings.cluster == "from-env"
    assert r.origins["cluster"] == "env:ECSFLOW_CLUSTER"


def test_flag_overrides_env():
    r = resolve(environ={"ECSFLOW_CLUSTER": "from-env"}, flags={"cluster": "from-flag"})
    assert r.settings.cluster == "from-flag"
    assert r.origins["cluster"] == "flag:--cluster"


def test_each_setting_keeps_its_own_origin():
    r = resolve(
        consul={"cluster": "c", "subnets": "subnet-1", "region": "eu-west-1"},
        compose={"subnets": ["subnet-2"], "registry": "ghcr.io/acme"},
        environ={"ECSFLOW_REGISTRY": "registry.example.com", "ECSFLOW_SECURITY_GROUPS": "sg-1"},
        flags={"security_groups": ["sg-2"], "cluster": None, "subnets": []},
    )
    assert r.settings.cluster == "c" and r.origins["cluster"] == f"consul:{PREFIX}/cluster"
    assert r.settings.subnets == ("subnet-2",) and r.origins["subnets"] == f"compose:{FILE}"
    assert r.settings.registry == "registry.example.com" and r.origins["registry"] == "env:ECSFLOW_REGISTRY"
    assert r.settings.security_groups == ("sg-2",) and r.origins["security_groups"] == "flag:--security-group"
    assert r.origins["region"] == f"consul:{PREFIX}/region"
    assert r.origins["task_role"] == "default"


@pytest.mark.parametrize("unset", [None, "", "  ", [], {}])
def test_empty_values_fall_through_to_the_layer_below(unset):
    r = resolve(consul={"cluster": "c"}, compose={"cluster": unset}, environ={"ECSFLOW_CLUSTER": ""})
    assert r.settings.cluster == "c"


def test_flag_names_in_origins():
    r = resolve(
        flags={
            "execution_role": "arn:aws:iam::123456789012:role/exec",
            "subnets": ["subnet-1"],
            "tags": ["a=b"],
        }
    )
    assert r.origins["execution_role"] == "flag:--execution-role"
    assert r.origins["subnets"] == "flag:--subnet"
    assert r.origins["tags"] == "flag:--tag"


def test_unknown_flag_is_a_programming_error():
    with pytest.raises(ValueError, match="clustr"):
        resolve(flags={"clustr": "x"})


def test_defaults_can_be_replaced():
    r = resolve(defaults=Settings(cluster="base"))
    assert r.settings.cluster == "base" and r.origins["cluster"] == "default"


# --- lists: every form in every source ---

LIST_FORMS = {
    "comma": "subnet-a, subnet-b",
    "json": '["subnet-a", "subnet-b"]',
    "yaml-flow": "[subnet-a, subnet-b]",
    "yaml-block": "- subnet-a\n- subnet-b\n",
}


def _in_source(source: str, value):
    return {
        "consul": {"consul": {"subnets": value}},
        "compose": {"compose": {"subnets": value}},
        "env": {"environ": {"ECSFLOW_SUBNETS": value}},
        "flag": {"flags": {"subnets": value}},
    }[source]


@pytest.mark.parametrize("source", ["consul", "compose", "env", "flag"])
@pytest.mark.parametrize("form", sorted(LIST_FORMS))
def test_list_string_forms_in_every_source(source, form):
    r = resolve(**_in_source(source, LIST_FORMS[form]))
    assert r.settings.subnets == ("subnet-a", "subnet-b")


@pytest.mark.parametrize("source", ["compose", "flag"])
def test_real_lists_in_typed_sources(source):
    r = resolve(**_in_source(source, ["subnet-a", "subnet-b,subnet-c", "subnet-a"]))
    assert r.settings.subnets == ("subnet-a", "subnet-b", "subnet-c")


def test_security_groups_in_all_forms():
    r = resolve(
        consul={"security_groups": '["sg-1"]'},
        compose={"security_groups": ["sg-2", "sg-3"]},
        environ={"ECSFLOW_SECURITY_GROUPS": "sg-4,sg-5"},
    )
    assert r.settings.security_groups == ("sg-4", "sg-5")


@pytest.mark.parametrize(
    "value, problem",
    [
        ("sg-123", r"must be subnet IDs \(subnet-...\), not 'sg-123'"),
        ('["subnet-1", ', "must be a valid JSON/YAML list"),
        ({"a": "b"}, "must be a list or a comma-separated string, not a mapping"),
        ([["subnet-1"]], "must be a string, not a list"),
    ],
)
def test_bad_lists_name_the_problem(value, problem):
    with pytest.raises(SettingsError, match=problem):
        resolve(compose={"subnets": value})


# --- booleans ---


@pytest.mark.parametrize(
    "value, expected",
    [
        ("true", True), ("FALSE", False), ("1", True), ("0", False), ("yes", True), ("No", False),
        ("ENABLED", True), ("DISABLED", False), (True, True), (False, False), (1, True), (0, False),
    ],
)  # fmt: skip
def test_booleans(value, expected):
    assert resolve(compose={"assign_public_ip": value}).settings.assign_public_ip is expected


def test_false_is_a_value_not_unset():
    r = resolve(consul={"assign_public_ip": "true"}, compose={"assign_public_ip": False})
    assert r.settings.assign_public_ip is False and r.origins["assign_public_ip"] == f"compose:{FILE}"


def test_bad_boolean_names_the_env_var():
    with pytest.raises(SettingsError, match=r"ECSFLOW_ASSIGN_PUBLIC_IP must be a boolean \(.*\), not 'maybe'"):
        resolve(environ={"ECSFLOW_ASSIGN_PUBLIC_IP": "maybe"})


# --- tags ---


@pytest.mark.parametrize(
    "value",
    [
        {"team": "data", "cost": 42},
        '{"team": "data", "cost": "42"}',
        "{team: data, cost: 42}",
        "team: data\ncost: 42\n",
        "team=data,cost=42",
        " team = data , cost=42 ",
        ["team=data", "cost=42"],
    ],
)
def test_tag_forms(value):
    assert resolve(compose={"tags": value}).settings.tags == {"team": "data", "cost": "42"}


@pytest.mark.parametrize("source", ["consul", "env", "flag"])
def test_tags_in_other_sources(source):
    r = resolve(
        **{
            "consul": {"consul": {"tags": "team=data"}},
            "env": {"environ": {"ECSFLOW_TAGS": '{"team": "data"}'}},
            "flag": {"flags": {"tags": ["team=data"]}},
        }[source]
    )
    assert r.settings.tags == {"team": "data"}


def test_tags_from_a_higher_layer_replace_the_lower_ones():
    r = resolve(consul={"tags": "team=data,cost=1"}, compose={"tags": {"team": "etl"}})
    assert r.settings.tags == {"team": "etl"}


@pytest.mark.parametrize(
    "value, problem",
    [
        ("team", "must be tags written key=value, not 'team'"),
        ({"aws:x": "y"}, "keys do not start with aws:"),
        ({"a": [1]}, "is not text"),
    ],
)
def test_bad_tags(value, problem):
    with pytest.raises(SettingsError, match=problem):
        resolve(compose={"tags": value})


# --- other values ---


def test_values_are_normalised():
    r = resolve(
        compose={
            "launch_type": "fargate",
            "registry": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/",
            "account": "012345678901",
            "family": "etl-{service}",
            "log_group": "/ecs/{project}",
        }
    )
    s = r.settings
    assert (s.launch_type, s.registry, s.account) == (
        "FARGATE",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "012345678901",
    )
    assert (s.family, s.log_group) == ("etl-{service}", "/ecs/{project}")


@pytest.mark.parametrize(
    "key, value, problem",
    [
        ("family", "{project}", "a pattern that contains {service}"),
        ("family", "{project}.{service}", "gives a valid task definition family"),
        ("family", "{env}-{service}", "uses {env}"),
        ("family", "{service", "must be a valid pattern"),
        ("log_group", "/ecs/{project} {service}", "gives a valid CloudWatch log group name"),
        ("region", "Europe", "must be an AWS region"),
        ("account", 12345, "quote it in YAML"),
        ("launch_type", "SPOT", "must be one of FARGATE, EC2, EXTERNAL, not 'SPOT'"),
        ("launch_type", "ec2", "must be FARGATE: ecsflow registers Fargate task definitions.*, not 'EC2'"),
        ("launch_type", "EXTERNAL", "capacity_provider: FARGATE_SPOT"),
        ("registry", "https://ghcr.io", "without a scheme"),
        ("cluster", "my cluster", "no whitespace"),
        ("cluster", ["a"], "must be a string, not a list"),
        ("task_role", True, "must be a string, not a boolean"),
    ],
)
def test_bad_values_name_the_source_file(key, value, problem):
    with pytest.raises(SettingsError, match=problem) as err:
        resolve(compose={key: value})
    assert err.value.file == FILE
    assert str(err.value).startswith(f"{FILE}: x-ecsflow.{key} must be ")


def test_bad_consul_value_names_the_key():
    with pytest.raises(SettingsError, match=f"Consul key '{PREFIX}/region'") as err:
        resolve(consul={"region": "nowhere"})
    assert f"consul kv put {PREFIX}/region" in err.value.hint


def test_bad_flag_names_the_flag():
    expected = r"flag --security-group must be security group IDs \(sg-...\), not 'subnet-1'"
    with pytest.raises(SettingsError, match=expected):
        resolve(flags={"security_groups": ["subnet-1"]})


def test_a_bad_value_is_reported_even_when_a_higher_layer_overrides_it():
    with pytest.raises(SettingsError, match="x-ecsflow.region"):
        resolve(compose={"region": "moon"}, flags={"region": "eu-west-1"})


# --- x-ecsflow keys ---


def test_project_keys_are_allowed_in_x_ecsflow():
    r = resolve(compose={"consul_prefix": "platform/etl", "schedule": "@daily", "dag_id": "etl"})
    assert r.settings == Settings()
    assert (r.consul_prefix, r.consul_prefix_origin) == ("platform/etl", f"compose:{FILE}")


def test_unknown_x_ecsflow_key_suggests_the_nearest():
    with pytest.raises(SettingsError) as err:
        resolve(compose={"subnet": ["subnet-1"]})
    e = err.value
    assert "unknown key 'subnet'" in e.message and e.file == FILE and e.key == "x-ecsflow.subnet"
    assert e.hint.startswith("did you mean 'subnets'?")


def test_unknown_x_ecsflow_key_without_a_near_one_lists_the_valid_keys():
    with pytest.raises(SettingsError) as err:
        resolve(compose={"zzz": 1})
    assert "did you mean" not in err.value.hint and "valid keys: cluster," in err.value.hint


def test_x_ecsflow_must_be_a_mapping():
    with pytest.raises(SettingsError, match="must be a mapping"):
        resolve(compose=["cluster"])


# --- the Consul prefix and what lives under it ---


def test_consul_prefix_precedence():
    compose = {"consul_prefix": "/from/compose/"}
    assert resolve(compose=compose).consul_prefix == "from/compose"
    r = resolve(compose=compose, environ={"ECSFLOW_CONSUL_PREFIX": "from/env"})
    assert (r.consul_prefix, r.consul_prefix_origin) == ("from/env", "env:ECSFLOW_CONSUL_PREFIX")
    r = resolve(
        compose=compose, environ={"ECSFLOW_CONSUL_PREFIX": "from/env"}, flags={"consul_prefix": "from/flag"}
    )
    assert (r.consul_prefix, r.consul_prefix_origin) == ("from/flag", "flag:--consul-prefix")


def test_consul_keys_split_into_settings_values_and_secrets():
    r = resolve(
        consul={
            "cluster": "prod",
            "values/DB_HOST": "db.internal",
            "values/EMPTY": "",
            "secrets/DB_PASSWORD": "arn:aws:ssm:eu-west-1:123456789012:parameter/db",
            "subnet": "subnet-1",
            "other/thing": "x",
        }
    )
    assert r.settings.cluster == "prod"
    assert r.values == {"DB_HOST": "db.internal", "EMPTY": ""}
    assert r.secrets == {"DB_PASSWORD": "arn:aws:ssm:eu-west-1:123456789012:parameter/db"}
    # `subnet` is not a setting, but a word is said about it (and about other/thing).
    assert r.settings.subnets == ()
    assert any(f"'{PREFIX}/subnet'" in w and "did you mean 'subnets'" in w for w in r.warnings)
    assert len(r.warnings) == 2


# --- rows for `ecsflow config` ---


def test_rows_show_every_setting_with_its_origin():
    r = resolve(
        consul={"subnets": "subnet-1,subnet-2", "values/X": "1"},
        compose={"tags": {"team": "data"}, "assign_public_ip": "ENABLED"},
        environ={"ECSFLOW_CONSUL_PREFIX": PREFIX},
    )
    rows = settings_to_rows(r)
    assert [name for name, _, _ in rows] == [*SETTING_NAMES, "consul_prefix", "consul_values", "consul_secrets"]
    by_name = {name: (value, origin) for name, value, origin in rows}
    assert by_name["consul_values"] == ("X", f"consul:{PREFIX}/values/")  # the names read, never the values
    assert by_name["consul_secrets"] == ("", f"consul:{PREFIX}/secrets/")
    assert by_name["subnets"] == ("subnet-1,subnet-2", f"consul:{PREFIX}/subnets")
    assert by_name["tags"] == ("team=data", f"compose:{FILE}")
    assert by_name["assign_public_ip"] == ("true", f"compose:{FILE}")
    assert by_name["task_role"] == ("", "default")
    assert by_name["cluster"] == ("default", "default")
    assert by_name["consul_prefix"] == (PREFIX, "env:ECSFLOW_CONSUL_PREFIX")


def test_displayed_values_resolve_back_to_the_same_settings():
    first = resolve(
        compose={"subnets": ["subnet-1", "subnet-2"], "tags": {"a": "1", "b": "2"}, "assign_public_ip": True}
    )
    environ = {
        f"ECSFLOW_{name.upper()}": value
        for name, value, _ in settings_to_rows(first)
        if name in SETTING_NAMES
    }
    assert resolve(environ=environ).settings == first.settings


def test_display_value():
    assert display_value(None) == "" and display_value(False) == "false"
    assert display_value(("a", "b")) == "a,b" and display_value({"k": "v"}) == "k=v"


# --- the settings of `deploy`: the ECS service name pattern and the Service Connect namespace ---


def test_service_name_and_namespace_come_from_every_source_with_their_origins():
    r = resolve(consul={"namespace": "etl.local"}, compose={"service_name": "{project}-{service}-svc"},
                environ={"ECSFLOW_CONSUL_PREFIX": PREFIX})
    rows = {name: (value, origin) for name, value, origin in settings_to_rows(r)}
    assert rows["service_name"] == ("{project}-{service}-svc", f"compose:{FILE}")
    assert rows["namespace"] == ("etl.local", f"consul:{PREFIX}/namespace")
    arn = "arn:aws:servicediscovery:eu-west-1:123456789012:namespace/ns-ke2ewbfvynxeu2ub"
    assert resolve(environ={"ECSFLOW_NAMESPACE": arn}).settings.namespace == arn
    defaults = resolve().settings
    assert (defaults.service_name, defaults.namespace) == ("{project}-{service}", None)


@pytest.mark.parametrize("key, value, problem", [
    ("service_name", "{project}", "a pattern that contains {service}"),
    ("service_name", "{project}/{service}", "gives a valid ECS service name"),
    ("namespace", "arn:aws:servicediscovery:eu-west-1:123456789012:service/srv-1", "a Cloud Map namespace name or ARN"),
    ("namespace", "etl local", "no whitespace"),
])
def test_bad_deploy_settings_name_the_source(key, value, problem):
    with pytest.raises(SettingsError, match=problem) as err:
        resolve(compose={key: value})
    assert str(err.value).startswith(f"{FILE}: x-ecsflow.{key} must be ")
