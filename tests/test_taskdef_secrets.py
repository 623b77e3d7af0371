"""ecsflow.taskdef: secrets become valueFrom references (SSM, Secrets Manager, Consul's), never values; the
plain values that look secret are warned about without their value."""

from __future__ import annotations

import json

import pytest
from taskdef_support import build, build_error, container, svc

from ecsflow.settings import Settings

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


# -- secret ARNs ECS refuses -----------------------------------------------------------------------


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
