"""The sandbox's default VPC is the same in every command of a project (issue 25, a newcomer's first hour):
`init --sandbox --write` writes its subnets and security group into the compose file, and the commands after it
(`verify`, `run`, `deploy`, each a sandbox of its own) know them. moto makes the default VPC anew in each
command; the sandbox has it made with ids seeded by the account and region (sandbox/moto_patches.py)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from cli_runner import ecsflow
from project_files import copy_example

from ecsflow.compose.yamlfile import parse_yaml
from ecsflow.sandbox.session import sandbox_session

NETWORK_CHECKS = ("subnet", "security group")


def newcomer_project(tmp_path: Path) -> Path:
    """examples/etl as a newcomer's project: no top-level x-ecsflow block (no account, no network) yet."""
    compose = copy_example(tmp_path / "etl") / "docker-compose.yml"
    text = compose.read_text()
    compose.write_text(text[:text.index("# Project defaults for ecsflow")] + text[text.index("services:\n"):])
    return compose


def network_checks(project: Path) -> list[tuple[str, str, str]]:
    result = ecsflow("verify", "--sandbox", "--format", "json", cwd=project, expect=1)  # images, roles: missing
    return [(c["check"], c["subject"], c["status"]) for c in json.loads(result.stdout)["checks"]
            if c["check"] in NETWORK_CHECKS]


def default_network() -> tuple[str, tuple[str, ...], str]:
    """The open sandbox's default VPC: its id, its subnets' and its `default` security group's."""
    ec2 = boto3.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    [group] = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                    {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"]
    return vpc, tuple(sorted(s["SubnetId"] for s in subnets)), group["GroupId"]


def test_what_init_writes_verify_finds_and_still_finds_after_run_and_deploy(tmp_path):
    compose = newcomer_project(tmp_path)
    project = compose.parent
    written = ecsflow("init", "--sandbox", "--write", cwd=project)
    [document] = parse_yaml(compose.read_text(), str(compose))
    block = document["x-ecsflow"]
    assert len(block["subnets"]) > 1 and len(block["security_groups"]) == 1
    expected = [("subnet", s, "ok") for s in block["subnets"]] + [("security group", block["security_groups"][0], "ok")]
    assert network_checks(project) == expected
    ecsflow("run", "--sandbox", "extract", cwd=project)
    ecsflow("deploy", "--sandbox", cwd=project)
    assert network_checks(project) == expected
    assert "the same in every sandbox command" in written.stdout and "made up" not in written.stdout


def test_a_task_run_in_a_later_command_gets_its_interface_in_the_subnet_an_earlier_one_showed(tmp_path):
    """ECS puts a task's network interface in the subnet it is given: the sandbox does too when it knows the
    subnet (an unknown one is taken as given, the interface then in a default subnet of moto's choosing)."""
    state = tmp_path / ".ecsflow" / "sandbox"
    with sandbox_session(state):
        vpc, subnets, group = default_network()
    with sandbox_session(state) as sandbox:
        assert default_network() == (vpc, subnets, group)
        ecs = sandbox.ecs_client
        ecs.create_cluster(clusterName="etl")
        ecs.register_task_definition(family="etl-job", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                                     cpu="256", memory="512",
                                     containerDefinitions=[{"name": "job", "image": "busybox", "essential": True}])
        chosen = subnets[-1]
        [task] = ecs.run_task(cluster="etl", taskDefinition="etl-job", launchType="FARGATE", networkConfiguration={
            "awsvpcConfiguration": {"subnets": [chosen], "securityGroups": [group]}})["tasks"]
        [interface] = [d["value"] for a in task["attachments"] for d in a["details"]
                       if d["name"] == "networkInterfaceId"]
        [found] = boto3.client("ec2").describe_network_interfaces(NetworkInterfaceIds=[interface])["NetworkInterfaces"]
        assert found["SubnetId"] == chosen and [g["GroupId"] for g in found["Groups"]] == [group]


def test_each_region_has_a_default_vpc_of_its_own(tmp_path):
    seen = {}
    for region in ("us-east-1", "eu-west-1", "us-east-1"):
        with sandbox_session(tmp_path / region, region=region):
            seen.setdefault(region, set()).add(default_network())
    assert all(len(networks) == 1 for networks in seen.values())
    [east], [west] = seen["us-east-1"], seen["eu-west-1"]
    assert east[0] != west[0] and not set(east[1]) & set(west[1]) and east[2] != west[2]
