"""What a sandbox with services imports (in a fresh interpreter each time, since what a process has imported is
the point): creating, updating, describing and replaying services imports neither moto's EC2 (moto's own service
network check would: sandbox/moto_import.py defers it) nor its ELB or Application Auto Scaling, which come only
with a call that names a target group or a scalable target. So `diff --sandbox` stays as fast with services."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SESSION = """
import os, sys
for name in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[name]
import boto3
from ecsflow.sandbox.session import sandbox_session
LAZY = ("moto.ec2.models", "moto.elbv2.models", "moto.applicationautoscaling.models")
with sandbox_session(sys.argv[1]) as sandbox:
    ecs = boto3.client("ecs", region_name="us-east-1")
    if sys.argv[2] == "deploy":
        ecs.create_cluster(clusterName="apps")
        for image in ("acme/api:1", "acme/api:2"):
            ecs.register_task_definition(family="api", requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                                         cpu="256", memory="512",
                                         containerDefinitions=[{"name": "api", "image": image}])
        ecs.create_service(cluster="apps", serviceName="api", taskDefinition="api:1", desiredCount=1,
                           networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0a1"]}})
        ecs.update_service(cluster="apps", service="api", taskDefinition="api:2")
    state = ecs.describe_services(cluster="apps", services=["api"])["services"][0]["deployments"][0]["rolloutState"]
    print(state, [name for name in LAZY if name in sys.modules])
    if sys.argv[2] == "target group":
        boto3.client("elbv2", region_name="us-east-1").describe_target_groups()
        print([name for name in LAZY if name in sys.modules])
"""


def run_session(state: Path, step: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", SESSION, str(state), step], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> tuple[Path, list[str]]:
    """A sandbox folder a deploy session left (once for the module: a fresh interpreter is seconds), and what
    that session printed."""
    state = tmp_path_factory.mktemp("deployed")
    return state, run_session(state, "deploy")


def copy_of(deployed, tmp_path: Path) -> Path:
    shutil.copytree(deployed[0], tmp_path / "state")
    return tmp_path / "state"


def test_services_import_no_ec2_elb_or_autoscaling_of_motos(deployed, tmp_path):
    assert deployed[1] == ["COMPLETED []"]
    assert run_session(copy_of(deployed, tmp_path), "diff") == ["COMPLETED []"]  # replayed from the folder


def test_a_call_that_names_a_target_group_imports_motos_elb_then(deployed, tmp_path):
    assert run_session(copy_of(deployed, tmp_path), "target group")[-1] == "['moto.ec2.models', 'moto.elbv2.models']"
