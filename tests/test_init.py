"""`ecsflow init`: the top-level x-ecsflow block proposed from what the account holds, against moto's server
(tests/ecs_server.py serves ECS, STS, IAM and EC2 at one endpoint) and in the sandbox; `--write` adds it to a
compose file that has none, keeping every other byte, atomically; refusals write nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_runner import ecsflow
from ecs_server import dummy_credentials_env

from ecsflow.compose.yamlfile import parse_yaml
from ecsflow.errors import ComposeError
from ecsflow.proposal import insert_block

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
OTHER_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
ENV = {**dummy_credentials_env(), "NO_COLOR": "1"}
COMPOSE = """\
# the shop's services
name: shop

services:
  web:
    image: nginx
    ports: ["80:80"]
"""


def project(tmp_path: Path, text: str = COMPOSE) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_bytes(text.encode())
    return path


def init(ecs, compose: Path, *args: str, expect: int = 0):
    __tracebackhide__ = True
    return ecsflow("init", "--region", "us-east-1", *args, file=compose, endpoint=ecs, expect=expect, env=ENV)


def block_of(stdout: str) -> dict:
    [document] = parse_yaml(stdout, "stdout")
    return document["x-ecsflow"]


def default_network(ecs) -> tuple[list[str], str]:
    ec2 = ecs.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    group = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                  {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    ordered = sorted(subnets, key=lambda s: (s["AvailabilityZone"], s["SubnetId"]))
    return [s["SubnetId"] for s in ordered], group["GroupId"]


def test_init_proposes_what_the_account_holds_with_a_comment_per_value(ecs, tmp_path):
    ecs.create_cluster("jobs")
    role = ecs.client("iam").create_role(RoleName="ecsTaskExecutionRole",
                                         AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    compose = project(tmp_path)
    ecs.reset_counts()
    result = init(ecs, compose)
    calls = set(ecs.calls)
    subnets, group = default_network(ecs)
    assert block_of(result.stdout) == {
        "region": "us-east-1", "account": "123456789012", "cluster": "jobs", "execution_role": role,
        "subnets": subnets, "security_groups": [group], "assign_public_ip": True}
    lines = result.stdout.splitlines()
    assert '  cluster: "jobs"  # the only ECS cluster in us-east-1' in lines
    assert f'  execution_role: "{role}"  # iam:GetRole: trusted by ecs-tasks.amazonaws.com' in lines
    assert '  account: "123456789012"  # sts:GetCallerIdentity: the account of arn:aws:sts::123456789012:user/moto' \
        in lines
    assert all("  # " in line for line in lines[2:] if line.startswith("  ") and not line.startswith("    - "))
    assert compose.read_text() == COMPOSE  # without --write, nothing written
    assert "ecsflow init --write" in result.stderr
    assert calls <= {"ListClusters", "DescribeClusters", "POST /"}  # ECS's reads, and query-protocol reads


def test_without_the_console_role_the_roles_ecs_tasks_may_assume_are_listed(ecs, tmp_path):
    iam = ecs.client("iam")
    iam.create_role(RoleName="lambda-runner", AssumeRolePolicyDocument=json.dumps(OTHER_TRUST))
    iam.create_role(RoleName="etl-task", AssumeRolePolicyDocument=json.dumps(TRUST))
    wanted = iam.create_role(RoleName="team-execution", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    for name in ("default", "analytics"):
        ecs.create_cluster(name)
    result = init(ecs, project(tmp_path))
    block = block_of(result.stdout)
    assert (block["cluster"], block["execution_role"]) == ("default", wanted)
    assert '# one of the 2 ECS clusters in us-east-1; the others: analytics' in result.stdout
    assert "# iam:ListRoles: trusted by ecs-tasks.amazonaws.com; also: etl-task" in result.stdout
    assert "lambda-runner" not in result.stdout


def test_an_empty_account_gets_a_cluster_name_and_how_to_create_what_is_missing(ecs, tmp_path):
    result = init(ecs, project(tmp_path))
    block = block_of(result.stdout)
    assert block["cluster"] == "shop" and "execution_role" not in block
    assert "aws ecs create-cluster --cluster-name shop --region us-east-1" in result.stdout
    assert "  # execution_role: no role trusted by ecs-tasks.amazonaws.com: create one" in result.stdout
    assert "aws iam create-role --role-name ecsTaskExecutionRole" in result.stdout


def test_what_cannot_be_read_is_said_and_the_rest_is_proposed(ecs, tmp_path):
    ecs.fail("ListClusters", "AccessDeniedException", "not allowed")
    result = init(ecs, project(tmp_path))
    assert "  # cluster: the clusters could not be read (ecs:ListClusters: AccessDeniedException)" in result.stdout
    assert "not read: ecs:ListClusters (AccessDeniedException)" in result.stderr
    assert block_of(result.stdout)["account"] == "123456789012"


def test_write_adds_the_block_after_name_and_keeps_every_other_byte(ecs, tmp_path):
    ecs.client("iam").create_role(RoleName="ecsTaskExecutionRole", AssumeRolePolicyDocument=json.dumps(TRUST))
    compose = project(tmp_path)
    os.chmod(compose, 0o640)
    result = init(ecs, compose, "--write")
    text = compose.read_text()
    assert text == COMPOSE.replace("name: shop\n", "name: shop\n" + result.stdout + "\n")
    assert oct(compose.stat().st_mode & 0o777) == "0o640"
    assert [p.name for p in tmp_path.iterdir()] == ["compose.yaml"]  # no temporary file left
    rendered = ecsflow("render", file=compose, env=ENV)
    assert json.loads(rendered.stdout)[0]["executionRoleArn"].endswith(":role/ecsTaskExecutionRole")
    again = init(ecs, compose, "--write", expect=1)
    assert "x-ecsflow block already" in again.stderr and compose.read_text() == text


def test_write_in_the_sandbox_makes_a_project_that_renders_and_syncs(tmp_path):
    compose = project(tmp_path)
    result = ecsflow("init", "--sandbox", "--write", file=compose, env=ENV)
    block = block_of(result.stdout)
    assert (block["region"], block["account"], block["cluster"]) == ("us-east-1", "123456789012", "shop")
    assert block["execution_role"] == "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
    assert "the sandbox holds no role" in result.stdout
    synced = ecsflow("sync", "--sandbox", "--format", "json", file=compose, env=ENV)
    assert [f["status"] for f in json.loads(synced.stdout)["families"]] == ["registered"]


def test_write_into_a_file_without_name_goes_before_its_first_key(tmp_path, airflow_official):
    """The official Airflow file: a license header, `---`, then its keys; and with CRLF line ends."""
    compose = airflow_official / "docker-compose.yaml"
    original = compose.read_bytes()
    result = ecsflow("init", "--sandbox", "--write", file=compose, env=ENV)
    written = compose.read_bytes()
    at = original.index(b"x-airflow-common:")
    assert written == original[:at] + result.stdout.encode() + b"\n" + original[at:]
    crlf = tmp_path / "crlf" / "compose.yaml"
    crlf.parent.mkdir()
    crlf.write_bytes(COMPOSE.replace("\n", "\r\n").encode())
    result = ecsflow("init", "--sandbox", "--write", file=crlf, env=ENV)
    text = crlf.read_bytes().decode()
    assert "\n" not in text.replace("\r\n", "") and text.count("\r\n") == COMPOSE.count("\n") + \
        result.stdout.count("\n") + 1


def test_write_refuses_a_symlink_and_a_block_already_there(tmp_path, etl_project):
    real = project(tmp_path)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    result = ecsflow("init", "--sandbox", "--write", file=link, expect=1, env=ENV)
    assert "is a symbolic link" in result.stderr and real.read_text() == COMPOSE
    example = etl_project / "docker-compose.yml"
    before = example.read_bytes()
    result = ecsflow("init", "--sandbox", "--write", file=example, expect=1, env=ENV)
    assert "has a top-level x-ecsflow block already" in result.stderr
    assert example.read_bytes() == before


def test_without_credentials_the_error_says_so_and_offers_the_sandbox(tmp_path):
    compose = project(tmp_path)
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_CONFIG_FILE": str(tmp_path / "none"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_EC2_METADATA_DISABLED": "true"}
    for region in ([], ["--region", "eu-west-1"]):
        result = ecsflow("init", "--write", *region, file=compose,
                         env={**env, "AWS_DEFAULT_REGION": None, "AWS_REGION": None, "AWS_PROFILE": None}, expect=1)
        assert "Traceback" not in result.stderr
        assert "--sandbox" in result.stderr and result.stdout == ""
    assert "no AWS credentials found" in result.stderr
    assert compose.read_text() == COMPOSE


@pytest.mark.parametrize("text", ["{services: {web: {image: nginx}}}\n", "services:\n  web: {image: nginx}\n"
                                  "x-ecsflow: {region: eu-west-1}\n"])
def test_insertion_refuses_what_it_cannot_do_exactly(text):
    with pytest.raises(ComposeError) as error:
        insert_block(text, "x-ecsflow:\n  region: \"eu-west-1\"\n", "compose.yaml")
    assert error.value.message.startswith("cannot add the x-ecsflow block")
