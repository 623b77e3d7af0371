"""`ecsflow deploy` says things as the other commands do (issue 25): each warning once, naming all the services
it applies to; an error about a service's key names the file and line where the key was written, the override's
when an override wrote it; a role given by its name takes the account from the credentials (STS), against
moto behind the test endpoint (tests/ecs_server.py) and in the sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_runner import ecsflow
from deploy_support import RecordingEndpoint, fresh, writes
from ecs_server import dummy_credentials_env

ROLE_ARN = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"  # moto's account is 123456789012
ENV = {**dummy_credentials_env(), "NO_COLOR": "1"}  # with credentials in the sandbox too


@pytest.fixture(scope="module")
def endpoint():
    with RecordingEndpoint() as running:
        yield running


@pytest.fixture
def ecs(endpoint, monkeypatch):
    monkeypatch.setenv("MOTO_ECS_SERVICE_RUNNING", "1")  # moto's server runs in this process
    return fresh(endpoint)


def compose(folder: Path, subnet: str, group: str, role: str = "ecsTaskExecutionRole") -> Path:
    path = folder / "compose.yaml"
    path.write_text(f"""\
name: shop
x-ecsflow:
  region: us-east-1
  cluster: default
  execution_role: {role}
  subnets: [{subnet}]
  security_groups: [{group}]
services:
  api:
    image: acme/api:1
    ports: ["8000:8000"]
    restart: always
""")
    return path


def test_deploy_completes_a_role_name_with_the_account_from_sts(ecs, tmp_path):
    path = compose(tmp_path, *ecs.network())
    ecsflow("deploy", "--poll-interval", "0.01", file=path, endpoint=ecs, env=ENV)
    [registered] = ecs.sent("RegisterTaskDefinition")
    assert registered["executionRoleArn"] == ROLE_ARN  # never the bare name: every task would fail to start


def test_deploy_in_the_sandbox_completes_a_role_name_with_the_sandbox_account(tmp_path):
    path = compose(tmp_path, "subnet-1", "sg-1")
    result = ecsflow("deploy", "--sandbox", "--dry-run", "--format", "json", file=path, env=ENV)
    assert "role name" not in result.stderr and "account" not in result.stderr


def test_a_missing_target_group_written_in_an_override_names_the_override_and_its_line(ecs, tmp_path):
    path = compose(tmp_path, *ecs.network(), role=ROLE_ARN)
    override = tmp_path / "override.yaml"
    override.write_text("services:\n  api:\n    x-ecsflow:\n\n      service: {target_group: shop-apj}\n")
    ecs.reset_counts()
    result = ecsflow("deploy", file=[path, override], endpoint=ecs, expect=1, env=ENV)
    assert writes(ecs) == {}
    assert result.stderr.startswith(f"error: {override}:5:17, service 'api', key 'x-ecsflow.service.target_group': "
                                    "no target group named shop-apj (api)"), result.stderr


def test_two_services_with_one_ecs_name_are_refused_where_the_name_was_written(tmp_path):
    path = compose(tmp_path, "subnet-1", "sg-1", role=ROLE_ARN)
    path.write_text(path.read_text() + "  web:\n    image: acme/web:1\n    ports: ['80:80']\n    restart: always\n")
    override = tmp_path / "override.yaml"
    override.write_text("services:\n  web:\n    x-ecsflow:\n      service:\n        service_name: shop-api\n")
    result = ecsflow("deploy", "--sandbox", "--dry-run", file=[path, override], expect=1, env=ENV)
    assert result.stderr.startswith(f"error: {override}:5:9, service 'web', key 'x-ecsflow.service.service_name': "
                                    "services 'api' and 'web' would both be the ECS service 'shop-api'"), result.stderr


def test_deploy_says_each_warning_of_the_official_airflow_file_once(airflow_official):
    result = ecsflow("deploy", "--sandbox", "--dry-run", file=[Path("docker-compose.yaml"), Path("compose.ecs.yaml")],
                     cwd=airflow_official, env=ENV)
    lines = result.stderr.splitlines()
    assert len(lines) <= 15 and len(set(lines)) == len(lines), "\n".join(lines)
    assert sum("AIRFLOW__CORE__FERNET_KEY is empty" in line for line in lines) == 1
    # the four that name the same hosts in the same variables are said in one line; the apiserver names fewer
    hosts = [line for line in lines if "the environment names compose services as hosts" in line]
    assert [line.split(": the environment")[0] for line in hosts] == [
        "warning: service 'airflow-apiserver'",
        "warning: services 'airflow-scheduler', 'airflow-dag-processor', 'airflow-worker' and 'airflow-triggerer'"]
