"""A role given by its name (`--execution-role ecsTaskExecutionRole`) never goes to ECS as it is: with the account
setting it becomes the role's ARN; without it, `render` says the account is missing, and the commands that talk
to AWS anyway take the account from the credentials (STS GetCallerIdentity), against moto's server
(tests/ecs_server.py) and in the sandbox."""

from __future__ import annotations

import json

from cli_runner import clean_env, ecsflow

COMPOSE = """\
name: shop
x-ecsflow:
  region: us-east-1
services:
  job:
    image: busybox
    command: ["echo", "hi"]
"""
ROLE_ARN = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"  # moto's account is 123456789012
ENV = clean_env(credentials=True)


def test_render_refuses_a_role_name_without_the_account(tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    result = ecsflow("render", "--execution-role", "ecsTaskExecutionRole", file=compose, env=ENV, expect=1)
    assert result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: key 'account': the execution_role setting 'ecsTaskExecutionRole' is a "
                                    "role name, and ECS needs the role's ARN")
    assert "set account (x-ecsflow.account, ECSFLOW_ACCOUNT" in result.stderr
    assert result.stderr.count("error:") == 1  # said once, not once per service


def test_a_service_role_name_without_the_account_names_where_it_is_written(tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE.replace("    command:", "    x-ecsflow:\n      task_role: etl-task\n    command:"))
    result = ecsflow("render", "--execution-role", ROLE_ARN, file=compose, env=ENV, expect=1)
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {compose}:8:7, service 'job', key 'x-ecsflow.task_role': "
                                    "x-ecsflow.task_role 'etl-task' is a role name")


def test_with_the_account_a_role_name_becomes_its_arn(tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    result = ecsflow("render", "--execution-role", "ecsTaskExecutionRole", file=compose,
                     env={**ENV, "ECSFLOW_ACCOUNT": "123456789012"})
    assert json.loads(result.stdout)[0]["executionRoleArn"] == ROLE_ARN


def test_sync_completes_the_account_from_sts(ecs, tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    result = ecsflow("sync", "--execution-role", "ecsTaskExecutionRole", "--format", "json", file=compose, endpoint=ecs,
                     env=ENV)
    assert [f["status"] for f in json.loads(result.stdout)["families"]] == ["registered"]
    live = ecs.client("ecs").describe_task_definition(taskDefinition="shop-job")["taskDefinition"]
    assert live["executionRoleArn"] == ROLE_ARN
    ecsflow("diff", "--execution-role", "ecsTaskExecutionRole", "--exit-code", file=compose, endpoint=ecs,
            env=ENV)  # the same ARN: no change (exit 0)


def test_sync_in_the_sandbox_uses_the_sandbox_account(tmp_path):
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    ecsflow("sync", "--sandbox", "--execution-role", "ecsTaskExecutionRole", "--format", "json",
            file=compose, env=ENV)
    [state] = (tmp_path / ".ecsflow" / "sandbox").glob("shop-job.json")
    assert json.loads(state.read_text())["revisions"][0]["request"]["executionRoleArn"] == ROLE_ARN
