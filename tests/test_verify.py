"""`ecsflow verify` and `diff --verify`: the pure rules (what to check, what an answer means), then the command
end to end through the CLI against moto's server behind the counting, fault-injecting proxy
(tests/ecs_server.py), which serves ECR, IAM, SSM, Secrets Manager, CloudWatch Logs, ECS, EC2 and STS at one
--endpoint-url. The example project is given each resource it names, then one of each kind is taken away."""

import json

import pytest
from cli_runner import ecsflow
from ecs_server import EcsEndpoint

from ecsflow.verify import (
    Check,
    Finding,
    Target,
    evaluate,
    image_target,
    parse_image,
    plan_checks,
    role_target,
    secret_target,
    trusts_ecs_tasks,
)

REGION, ACCOUNT = "eu-west-1", "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
TRUST_ECS = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


# ---------------------------------------------------------------------------------------------------------
# the rules


@pytest.mark.parametrize(("image", "parsed"), [
    ("nginx", (None, "nginx", "latest", None)),
    ("library/nginx:1.27", (None, "library/nginx", "1.27", None)),
    ("localhost:5000/app", ("localhost:5000", "app", "latest", None)),
    (f"{REGISTRY}/etl/extract:1.4.2", (REGISTRY, "etl/extract", "1.4.2", None)),
    (f"{REGISTRY}/etl/extract@sha256:abc", (REGISTRY, "etl/extract", None, "sha256:abc")),
    (f"{REGISTRY}/etl/extract:1.4.2@sha256:abc", (REGISTRY, "etl/extract", "1.4.2", "sha256:abc")),
])
def test_image_references_split_as_docker_splits_them(image, parsed):
    assert parse_image(image) == parsed


def test_only_images_of_this_accounts_ecr_are_checked():
    target, why = image_target(f"{REGISTRY}/etl/extract:1.4.2", ACCOUNT)
    assert target == Target("ecr-image", "etl/extract", REGION, "tag:1.4.2", ACCOUNT) and why is None
    assert image_target(f"{REGISTRY}/etl/x@sha256:f00", None)[0].version == "digest:sha256:f00"
    assert image_target("ghcr.io/acme/job:1", ACCOUNT) == (None, "not in ECR (ghcr.io): only ECR images are checked")
    assert "Docker Hub" in image_target("python:3.12", ACCOUNT)[1]
    assert "account 999999999999" in image_target(f"999999999999.dkr.ecr.{REGION}.amazonaws.com/x:1", ACCOUNT)[1]


def test_secret_references_name_a_parameter_or_a_secret():
    ssm = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
    assert secret_target(f"{ssm}/etl/warehouse/password", None, ACCOUNT)[0].names == ("/etl/warehouse/password",)
    assert secret_target(f"{ssm}/plain", None, ACCOUNT)[0].names == ("plain", "/plain")  # the ARN drops a slash
    assert secret_target("/etl/x", REGION, ACCOUNT)[0] == Target("ssm-parameter", "/etl/x", REGION, names=("/etl/x",))
    sm = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:etl/api-token"
    assert secret_target(f"{sm}:token::", None, ACCOUNT)[0] == Target("secret", sm, REGION)
    assert "account 999999999999" in secret_target(f"arn:aws:ssm:{REGION}:999999999999:parameter/x", None,
                                                   ACCOUNT)[1]
    assert role_target(f"arn:aws:iam::{ACCOUNT}:role/service/etl-task", ACCOUNT)[0].name == "etl-task"


@pytest.mark.parametrize(("policy", "trusted"), [
    (TRUST_ECS, True),
    ({"Statement": {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com", "ecs-tasks.amazonaws.com"]},
                    "Action": ["sts:AssumeRole", "sts:TagSession"]}}, True),
    ({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
     False),
    ({"Statement": [{"Effect": "Deny", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "*"}]}, False),
    ({"Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                     "Action": "sts:AssumeRoleWithWebIdentity"}]}, False),
    (None, False),
])
def test_a_role_must_let_ecs_tasks_assume_it(policy, trusted):
    assert trusts_ecs_tasks(policy) is trusted


def test_a_missing_log_group_is_fine_when_awslogs_creates_it():
    target = Target("log-group", "/ecs/etl/api", REGION)
    created = evaluate(Check("etl-api", "api", "log group", "/ecs/etl/api", target, create_group=True),
                       Finding("missing", "gone"))
    assert created.status == "ok" and "awslogs-create-group" in created.detail
    assert evaluate(Check("etl-api", "api", "log group", "x", target), Finding("missing", "gone")).status == "missing"


def test_each_resource_is_one_target_however_many_families_name_it():
    request = {"executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/exec",
               "containerDefinitions": [{"name": "a", "image": f"{REGISTRY}/a:1"}]}
    checks = plan_checks([("a", "f-a", request), ("b", "f-b", request)], region=REGION, cluster="c",
                         subnets=["subnet-1"], account=ACCOUNT)
    assert [(c.family, c.check) for c in checks] == [
        ("f-a", "image"), ("f-a", "execution role"), ("f-b", "image"), ("f-b", "execution role"),
        (None, "cluster"), (None, "subnet"), (None, "security group")]
    assert len({c.target for c in checks if c.target}) == 4
    assert checks[-1].target is None and "no security_groups" in checks[-1].not_checked


# ---------------------------------------------------------------------------------------------------------
# the command against the server


@pytest.fixture(scope="module")
def endpoint():
    with EcsEndpoint(region=REGION) as running:
        yield running


@pytest.fixture
def compose(etl_project):
    """The example's compose file, with a Secrets Manager secret, a log group that awslogs does not create, and a
    retention for the log groups (without one, verify fails the groups that would never expire)."""
    compose = etl_project / "docker-compose.yml"
    text = compose.read_text().replace("  cluster: data-jobs\n", "  cluster: data-jobs\n  log_retention: 30d\n")
    text = text.replace(
        "    stop_grace_period: 30s\n",
        "    stop_grace_period: 30s\n    logging:\n      driver: awslogs\n      options:\n"
        "        awslogs-group: /ecs/etl/metrics-api\n        awslogs-create-group: \"false\"\n"
        "    x-ecsflow:\n      secrets:\n        API_TOKEN: secretsmanager:etl/api-token:token\n")
    compose.write_text(text)
    return compose


@pytest.fixture
def ecs(endpoint):
    """Every resource the example names, in moto: its checks all pass. ``ecs.network``: (subnet, group)."""
    endpoint.reset()
    ecr = endpoint.client("ecr")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {}, "layers": []})
    for repository, tag in (("etl/extract", "1.4.2"), ("etl/transform", "1.4.2"), ("etl/load", "1.4.2"),
                            ("etl/metrics-api", "2.3.0")):
        ecr.create_repository(repositoryName=repository)
        ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
    iam = endpoint.client("iam")
    for role in ("ecsTaskExecutionRole", "etl-task"):
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST_ECS))
    endpoint.client("ssm").put_parameter(Name="/etl/warehouse/password", Value="hunter2-parameter-value",
                                         Type="SecureString")
    endpoint.client("secretsmanager").create_secret(Name="etl/api-token", SecretString='{"token": "hunter2-secret"}')
    endpoint.client("logs").create_log_group(logGroupName="/ecs/etl/metrics-api")
    endpoint.create_cluster("data-jobs")
    endpoint.network_ids = endpoint.network()
    endpoint.reset_counts()
    return endpoint


def network(ecs) -> list[str]:
    """The options that name the subnet and security group made in moto."""
    subnet, group = ecs.network_ids
    return ["--subnet", subnet, "--security-group", group]


def checks_of(result) -> dict[tuple, tuple]:
    document = json.loads(result.stdout)
    checks = document["verify"]["checks"] if "verify" in document else document["checks"]
    return {(c["family"], c["check"], c["subject"]): (c["status"], c["detail"]) for c in checks}


def test_everything_there_passes_and_no_secret_value_is_read(ecs, compose):
    result = ecsflow("verify", *network(ecs), "--format", "json", file=compose, endpoint=ecs)
    checks = checks_of(result)
    assert {status for status, _ in checks.values()} == {"ok"}
    families = {family for family, _, _ in checks}
    assert families == {"etl-extract", "etl-transform", "etl-load", "etl-api", None}
    api = {check for family, check, _ in checks if family == "etl-api"}
    assert api == {"image", "execution role", "task role", "secret", "log group", "log retention", "ECS service"}
    assert json.loads(result.stdout)["summary"]["ok"] == len(checks) == 26
    # Metadata only: never GetParameter(s) or GetSecretValue; and each resource once (the two roles are
    # named by four families each: IAM's calls are counted as "POST /" by the proxy).
    assert not {"GetParameter", "GetParameters", "GetParametersByPath", "GetSecretValue"} & set(ecs.calls)
    assert ecs.calls["DescribeImages"] == 4 and ecs.calls["DescribeParameters"] == 1
    assert ecs.calls["DescribeSecret"] == 1 and ecs.calls["DescribeClusters"] == 1
    assert "hunter2" not in result.output


def test_one_of_each_kind_missing_is_one_line_each_and_exit_1(ecs, compose):
    ecr = ecs.client("ecr")
    ecr.batch_delete_image(repositoryName="etl/extract", imageIds=[{"imageTag": "1.4.2"}])  # the tag is gone
    ecr.delete_repository(repositoryName="etl/transform", force=True)  # the repository is gone
    iam = ecs.client("iam")
    iam.delete_role(RoleName="etl-task")
    iam.update_assume_role_policy(RoleName="ecsTaskExecutionRole", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    ecs.client("ssm").delete_parameter(Name="/etl/warehouse/password")
    ecs.client("secretsmanager").delete_secret(SecretId="etl/api-token", ForceDeleteWithoutRecovery=True)
    ecs.client("logs").delete_log_group(logGroupName="/ecs/etl/metrics-api")

    result = ecsflow("verify", *network(ecs), "--format", "json", "--cluster", "gone", "--subnet", "subnet-0000dead",
                     "--security-group", "sg-0000dead", file=compose, endpoint=ecs, expect=1)
    checks = checks_of(result)
    expected = {
        ("etl-extract", "image", f"{REGISTRY}/etl/extract:1.4.2"):
            "the ECR repository etl/extract has no image with tag 1.4.2",
        ("etl-transform", "image", f"{REGISTRY}/etl/transform:1.4.2"):
            "the ECR repository etl/transform does not exist",
        ("etl-load", "task role", f"arn:aws:iam::{ACCOUNT}:role/etl-task"): "the IAM role etl-task does not exist",
        ("etl-load", "secret", f"WAREHOUSE_PASSWORD (arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/etl/warehouse/password)"):
            "the SSM parameter /etl/warehouse/password does not exist in eu-west-1",
        ("etl-api", "secret", f"API_TOKEN (arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:etl/api-token:token::)"):
            f"the Secrets Manager secret arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:etl/api-token does not exist",
        ("etl-api", "log group", "/ecs/etl/metrics-api"): "the CloudWatch Logs group /ecs/etl/metrics-api does not "
                                                         "exist in eu-west-1, and awslogs-create-group is not set",
        (None, "cluster", "gone"): "the ECS cluster gone does not exist in eu-west-1 (or is not ACTIVE)",
        (None, "subnet", "subnet-0000dead"): "the subnet subnet-0000dead does not exist in eu-west-1",
        (None, "security group", "sg-0000dead"): "the security group sg-0000dead does not exist in eu-west-1",
    }
    for key, detail in expected.items():
        assert checks[key][0] == "missing" and checks[key][1].startswith(detail), (key, checks[key])
    untrusted = checks[("etl-load", "execution role", f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole")]
    assert untrusted == ("failed", "its trust policy does not let ecs-tasks.amazonaws.com assume it (sts:AssumeRole)")
    assert checks[("etl-api", "image", f"{REGISTRY}/etl/metrics-api:2.3.0")][0] == "ok"
    assert checks[("etl-extract", "log group", "/ecs/etl/extract")][0] == "ok"  # awslogs-create-group: true
    assert checks[(None, "subnet", ecs.network_ids[0])][0] == "ok"


def test_access_denied_on_one_check_is_its_line_and_the_others_are_checked(ecs, compose):
    ecs.fail("DescribeParameters", "AccessDeniedException",
             "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ssm:DescribeParameters")
    result = ecsflow("verify", *network(ecs), "--format", "json", file=compose, endpoint=ecs, expect=1)
    checks = checks_of(result)
    [(status, detail)] = [v for k, v in checks.items() if k[1] == "secret" and k[0] == "etl-load"]
    assert status == "error" and "not authorized" in detail and "needs ssm:DescribeParameters" in detail
    assert [s for s, _ in checks.values()].count("ok") == len(checks) - 1


def test_throttling_is_retried_and_endless_throttling_is_a_clear_line(ecs, compose, no_retry_waits):
    ecs.fail("DescribeImages", "ThrottlingException", "Rate exceeded", times=3)
    ecs.fail("DescribeLogGroups", "ThrottlingException", "Rate exceeded", times=2)
    ecsflow("verify", *network(ecs), file=compose, endpoint=ecs)
    ecs.faults.clear()
    ecs.fail("DescribeSecret", "ThrottlingException", "Rate exceeded")
    result = ecsflow("verify", *network(ecs), "--format", "json", file=compose, endpoint=ecs, expect=1)
    [(status, detail)] = [v for k, v in checks_of(result).items() if k[0] == "etl-api" and k[1] == "secret"]
    assert status == "error" and "kept throttling DescribeSecret" in detail and "--concurrency" in detail


def test_text_and_markdown_show_one_line_per_family_and_check(ecs, compose):
    ecs.client("ssm").delete_parameter(Name="/etl/warehouse/password")
    text = ecsflow("verify", *network(ecs), "load", file=compose, endpoint=ecs, expect=1)
    rows = [line.split() for line in text.stdout.splitlines()]
    assert ["etl-load", "secret", "WAREHOUSE_PASSWORD"] == rows[4][:3] and "missing" in rows[4]
    assert text.stdout.rstrip().endswith("verify: 1 of 9 checks fail (8 ok, 1 missing).")
    markdown = ecsflow("verify", *network(ecs), "--format", "markdown", "load", file=compose, endpoint=ecs,
                       expect=1)
    assert markdown.stdout.startswith("### ecsflow verify\n\n**1 of 9 checks fail (8 ok, 1 missing).**")
    assert "| `etl-load` | secret | `WAREHOUSE_PASSWORD (arn:aws:ssm:" in markdown.stdout
    assert "| **missing** | the SSM parameter /etl/warehouse/password does not exist in eu-west-1 |" in markdown.stdout


def test_diff_verify_adds_the_checks_and_their_exit_code(ecs, compose):
    # every check passes; the families are new
    result = ecsflow("diff", *network(ecs), "--verify", "--format", "json", "--exit-code", file=compose,
                     endpoint=ecs, expect=2)
    document = json.loads(result.stdout)
    assert {f["status"] for f in document["families"]} == {"new"}
    assert document["verify"]["summary"]["ok"] == 26
    ecs.client("iam").delete_role(RoleName="etl-task")
    failing = ecsflow("diff", *network(ecs), "--verify", "--exit-code", file=compose, endpoint=ecs, expect=1)
    assert "Plan: 4 to register as new" in failing.stdout and "verify: 4 of 26 checks fail" in failing.stdout
    markdown = ecsflow("diff", *network(ecs), "--verify", "--format", "markdown", file=compose, endpoint=ecs,
                       expect=1)
    assert "### ecsflow diff" in markdown.stdout and "### ecsflow verify" in markdown.stdout
    # without --verify, checks are not made
    ecsflow("diff", *network(ecs), "--exit-code", file=compose, endpoint=ecs, expect=2)


def test_verify_in_the_sandbox_says_what_it_would_check(compose):
    result = ecsflow("verify", "--sandbox", "--format", "json", "load", cwd=compose.parent, expect=1)
    checks = checks_of(result)
    assert checks[("etl-load", "image", f"{REGISTRY}/etl/load:1.4.2")][0] == "missing"
    assert "the sandbox holds no image, role, parameter or secret" in result.stderr
    assert "its log groups and clusters are those sync and deploy made there" in result.stderr
