"""`ecsflow diff` and `ecsflow sync` end to end through the CLI, against a real HTTP endpoint: moto's
ThreadedMotoServer behind a counting proxy (tests/ecs_server.py), boto3 pointed at it with --endpoint-url."""

import json
from pathlib import Path

import pytest
from cli_runner import ecsflow
from ecs_server import dummy_credentials_env
from project_files import edit


@pytest.fixture
def compose(etl_project):
    """The compose file of a copy of the ETL example that a test may edit."""
    return etl_project / "docker-compose.yml"


def sync_json(ecs, compose, *args, env=None, expect=0):
    result = ecsflow("sync", "--format", "json", *args, file=compose, endpoint=ecs, env=env, expect=expect)
    return result, json.loads(result.stdout) if result.stdout.strip() else None


def test_second_sync_registers_nothing_and_makes_one_call_per_family(ecs, compose):
    first, report = sync_json(ecs, compose)
    assert [f["status"] for f in report["families"]] == ["registered"] * 4
    assert ecs.calls["RegisterTaskDefinition"] == 4

    ecs.reset_counts()
    second, report = sync_json(ecs, compose)
    assert [f["status"] for f in report["families"]] == ["unchanged"] * 4
    assert [f["revision"] for f in report["families"]] == [1, 1, 1, 1]
    assert dict(ecs.calls) == {"DescribeTaskDefinition": 4}


def test_diff_after_sync_reports_no_changes(ecs, compose):
    ecsflow("sync", file=compose, endpoint=ecs)
    result = ecsflow("diff", "--exit-code", "--no-services", file=compose, endpoint=ecs)
    assert "No changes" in result.stdout


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("etl/extract:1.4.2", "etl/extract:1.4.3", "containers[extract].image"),
        ('PAGE_SIZE: "500"', 'PAGE_SIZE: "250"', "containers[extract].environment.PAGE_SIZE"),
        ('PAGE_SIZE: "500"', 'PAGE_SIZE: "500"\n      NEW_FLAG: "on"', "containers[extract].environment.NEW_FLAG"),
        ('cpus: "0.5"', 'cpus: "1"', "cpu"),
        ("interval: 30s", "interval: 45s", "containers[api].healthCheck.interval"),
        ('      - "8000:8000"\n', "      []\n", "containers[api].portMappings[8000/tcp]"),
        ("ssm:/etl/warehouse/password", "ssm:/etl/warehouse/password-v2",
         "containers[load].secrets.WAREHOUSE_PASSWORD"),
    ],
    ids=["image", "variable", "new-variable", "cpu", "healthcheck", "removed-port", "secret-arn"],
)
def test_each_real_change_is_shown_then_registered_once(ecs, compose, old, new, path):
    ecsflow("sync", file=compose, endpoint=ecs)
    if old.startswith("      - "):
        edit(compose, "    ports:\n" + old, "    ports:\n" + new)
    else:
        edit(compose, old, new)

    diff = ecsflow("diff", "--format", "json", "--exit-code", file=compose, endpoint=ecs, expect=2)
    changed = [f for f in json.loads(diff.stdout)["families"] if f["status"] == "changed"]
    assert len(changed) == 1
    assert path in [c["path"] for c in changed[0]["changes"]]

    ecs.reset_counts()
    result, report = sync_json(ecs, compose)
    assert ecs.calls["RegisterTaskDefinition"] == 1
    assert [f["revision"] for f in report["families"] if f["status"] == "registered"] == [2]

    ecs.reset_counts()
    sync_json(ecs, compose)
    assert ecs.calls["RegisterTaskDefinition"] == 0


def test_diff_writes_nothing(ecs, compose):
    result = ecsflow("diff", "--format", "json", file=compose, endpoint=ecs)
    assert {f["status"] for f in json.loads(result.stdout)["families"]} == {"new"}
    assert set(ecs.calls) <= {"DescribeTaskDefinition", "DescribeServices", "ListServices",  # reads only
                              "DescribeScalableTargets"}


def test_json_diff_shape(ecs, compose):
    ecsflow("sync", "extract", file=compose, endpoint=ecs)
    edit(compose, 'PAGE_SIZE: "500"', 'PAGE_SIZE: "9"')
    result = ecsflow("diff", "--format", "json", "--no-services", "extract", "load", file=compose, endpoint=ecs)
    assert json.loads(result.stdout) == {"families": [
        {"service": "extract", "family": "etl-extract", "status": "changed", "live_revision": 1,
         "changes": [{"path": "containers[extract].environment.PAGE_SIZE", "old": "500", "new": "9"}]},
        {"service": "load", "family": "etl-load", "status": "new", "live_revision": None, "changes": []},
    ], "log_groups": []}
    ecs.fail("DescribeTaskDefinition", "AccessDeniedException",
             "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecs:DescribeTaskDefinition")
    result = ecsflow("diff", file=compose, endpoint=ecs, expect=1)
    assert "Traceback" not in result.stderr and "not authorized" in result.stderr
    assert "hint" in result.stderr


def test_secret_looking_values_are_masked_unless_asked(ecs, compose):
    edit(compose, 'PAGE_SIZE: "500"', 'PAGE_SIZE: "500"\n      API_TOKEN: "old-token-value"')
    ecsflow("sync", "extract", file=compose, endpoint=ecs)
    edit(compose, "old-token-value", "new-token-value")
    for fmt in ("text", "markdown", "json"):
        masked = ecsflow("diff", "--format", fmt, "extract", file=compose, endpoint=ecs)
        assert "containers[extract].environment.API_TOKEN" in masked.stdout
        assert "token-value" not in masked.stdout + masked.stderr
    shown = ecsflow("diff", "--format", "json", "--show-values", "extract", file=compose, endpoint=ecs)
    assert "new-token-value" in shown.stdout


def test_markdown_is_ready_for_a_pull_request(ecs, compose):
    ecsflow("sync", "extract", file=compose, endpoint=ecs)
    edit(compose, "etl/extract:1.4.2", "etl/extract:1.5.0")
    result = ecsflow("diff", "--format", "markdown", "--no-services", file=compose, endpoint=ecs)
    text = result.stdout
    assert text.startswith("### ecsflow diff")
    assert "**3 to register as new, 1 to register as changed, 0 unchanged.**" in text
    assert text.count("<details>") == 4 and text.count("</details>") == 4
    assert "| ~ | `containers[extract].image` |" in text


def test_a_failing_family_does_not_hide_the_others(ecs, compose):
    ecs.fail("RegisterTaskDefinition", "ClientException", "Invalid setting for container 'load'", family="etl-load")
    result, report = sync_json(ecs, compose, expect=1)
    statuses = {f["service"]: f["status"] for f in report["families"]}
    assert statuses == {"extract": "registered", "transform": "registered", "load": "failed", "api": "registered"}
    [failed] = [f for f in report["families"] if f["status"] == "failed"]
    assert "Invalid setting" in failed["error"]

    ecs.faults.clear()
    ecs.reset_counts()
    sync_json(ecs, compose)
    assert ecs.calls["RegisterTaskDefinition"] == 1  # converges: only the one that failed


def test_throttling_is_retried_not_reported_as_drift(ecs, compose, no_retry_waits):
    ecs.fail("DescribeTaskDefinition", "ThrottlingException", "Rate exceeded", times=3)
    ecs.fail("RegisterTaskDefinition", "ThrottlingException", "Rate exceeded", times=2)
    result, report = sync_json(ecs, compose)
    assert [f["status"] for f in report["families"]] == ["registered"] * 4


def test_every_service_is_validated_before_the_first_call(ecs, compose):
    edit(compose, "interval: 30s", "interval: 1s")
    result = ecsflow("sync", "--strict", file=compose, endpoint=ecs, expect=1)  # without it, 1s is clamped to 5
    assert "service 'api'" in result.stderr and "5 to 300" in result.stderr
    assert sum(ecs.calls.values()) == 0


def test_two_services_with_one_family_are_refused_before_any_call(ecs, compose):
    # One family per service is the builder's rule (ecsflow.taskdef); nothing is described or registered.
    edit(compose, "      execution_timeout: 2h", "      execution_timeout: 2h\n      family: shared")
    edit(compose, "      pool: warehouse", "      pool: warehouse\n      family: shared")
    result = ecsflow("sync", file=compose, endpoint=ecs, expect=1)
    assert "services 'transform' and 'load' both have family 'shared'" in result.stderr
    assert "x-ecsflow" in result.stderr and "hint" in result.stderr
    assert sum(ecs.calls.values()) == 0


def test_access_denied_is_one_clear_error(ecs, compose):
    ecs.fail("DescribeTaskDefinition", "AccessDeniedException",
             "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecs:DescribeTaskDefinition")
    result = ecsflow("diff", file=compose, endpoint=ecs, expect=1)
    assert "Traceback" not in result.stderr and "not authorized" in result.stderr
    assert "hint" in result.stderr


def test_missing_credentials_is_one_clear_error(ecs, compose, tmp_path):
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no"),
           "AWS_CONFIG_FILE": str(tmp_path / "no"), "AWS_EC2_METADATA_DISABLED": "true"}
    # --endpoint-url by hand: endpoint= would bring the dummy credentials.
    result = ecsflow("diff", "--endpoint-url", ecs.url, file=compose, env=env, expect=1)
    assert "credentials" in result.stderr.lower() and "Traceback" not in result.stderr


def test_sandbox_sync_then_diff(etl_project):
    """The README's first command: no AWS account, state kept next to the compose file between runs."""
    first = ecsflow("sync", "--sandbox", "--format", "json", cwd=etl_project)
    assert [f["status"] for f in json.loads(first.stdout)["families"]] == ["registered"] * 4
    assert (etl_project / ".ecsflow" / "sandbox").is_dir()
    diff = ecsflow("diff", "--sandbox", "--exit-code", "--no-services", env={"ECSFLOW_SANDBOX": "1"}, cwd=etl_project)
    assert "No changes" in diff.stdout
    again = ecsflow("sync", "--format", "json", env={"ECSFLOW_SANDBOX": "1"}, cwd=etl_project)
    assert [f["status"] for f in json.loads(again.stdout)["families"]] == ["unchanged"] * 4


REAL_SHAPE = Path(__file__).parent / "fixtures" / "real_shape" / "compose.yaml"
REAL_ANSWER = Path(__file__).parent / "fixtures" / "ecs" / "console_hiringcandidate_command.json"


def test_a_live_definition_in_real_ecs_shape_is_unchanged(ecs):
    """A real DescribeTaskDefinition answer (defaults filled, empty lists, requiresAttributes, registeredAt...)
    served for the family a compose file renders: diff sees no change and sync registers nothing."""
    task_definition = json.loads(REAL_ANSWER.read_text())
    tags = task_definition.pop("tags")
    ecs.respond("DescribeTaskDefinition", {"taskDefinition": task_definition, "tags": tags})
    diff = ecsflow("diff", "--exit-code", file=REAL_SHAPE, endpoint=ecs)
    assert "No changes" in diff.stdout
    sync = ecsflow("sync", "--format", "json", file=REAL_SHAPE, endpoint=ecs)
    [family] = json.loads(sync.stdout)["families"]
    assert (family["status"], family["revision"]) == ("unchanged", 22)
    assert ecs.calls["RegisterTaskDefinition"] == 0


def test_a_real_change_against_the_real_shape_is_shown(ecs, tmp_path):
    task_definition = json.loads(REAL_ANSWER.read_text())
    tags = task_definition.pop("tags")
    ecs.respond("DescribeTaskDefinition", {"taskDefinition": task_definition, "tags": tags})
    compose = tmp_path / "compose.yaml"
    compose.write_text(REAL_SHAPE.read_text().replace("|| exit 1", "|| exit 2"))
    diff = ecsflow("diff", "--format", "json", file=compose, endpoint=ecs)
    [family] = json.loads(diff.stdout)["families"]
    assert family["status"] == "changed"
    assert [c["path"] for c in family["changes"]] == ["containers[hiringcandidate-command].healthCheck.command"]


def test_runtime_env_from_the_shell_does_not_reach_the_definition(ecs, compose):
    """transform lists `- RUN_DATE` (bare) and RUN_DATE in x-ecsflow.runtime_env: a RUN_DATE in the shell
    must not make a new revision."""
    ecsflow("sync", file=compose, endpoint=ecs)
    ecs.reset_counts()
    ecsflow("sync", file=compose, endpoint=ecs, env={"RUN_DATE": "2026-01-01"})
    assert ecs.calls["RegisterTaskDefinition"] == 0


def test_sandbox_and_endpoint_url_exclude_each_other(compose):
    result = ecsflow("diff", "--sandbox", "--endpoint-url", "http://127.0.0.1:9", file=compose, expect=1)
    assert "exclude each other" in result.stderr


def test_dry_run_says_what_would_be_registered_and_registers_nothing(ecs, compose):
    ecsflow("sync", "extract", file=compose, endpoint=ecs)
    edit(compose, "etl/extract:1.4.2", "etl/extract:1.4.3")
    ecs.reset_counts()
    text = ecsflow("sync", "--dry-run", file=compose, endpoint=ecs)
    assert "would-register" in text.stdout and "dry run: 4 would be registered, 0 unchanged." in text.stdout
    result, report = sync_json(ecs, compose, "--dry-run")
    assert [f["status"] for f in report["families"]] == ["would-register"] * 4
    assert report["families"][0]["revision"] == 1  # the live revision it would replace
    assert ecs.calls["RegisterTaskDefinition"] == 0


def test_text_output_prints_values_verbatim(ecs, compose):
    """No emoji codes (`:secret:` in a Secrets Manager ARN) and no markup in values."""
    ecsflow("sync", "load", file=compose, endpoint=ecs)
    edit(compose, "WAREHOUSE_PASSWORD: ssm:/etl/warehouse/password",
         "WAREHOUSE_PASSWORD: ssm:/etl/warehouse/password\n        API_TOKEN: secretsmanager:etl/api:token")
    edit(compose, "WAREHOUSE_USER: etl_loader", "WAREHOUSE_USER: '[bold]etl :smile:[/x]'")
    result = ecsflow("diff", "load", file=compose, endpoint=ecs)
    assert '"arn:aws:secretsmanager:eu-west-1:123456789012:secret:etl/api:token::"' in result.stdout
    assert '"[bold]etl :smile:[/x]"' in result.stdout


def test_sandbox_state_that_is_a_file_is_a_clear_error(etl_project):
    (etl_project / ".ecsflow").mkdir(exist_ok=True)
    (etl_project / ".ecsflow" / "sandbox").write_text("not a folder")
    for command in ("diff", "sync"):
        result = ecsflow(command, "--sandbox", cwd=etl_project, expect=1)
        assert "it is a file" in result.stderr, result.stderr


EMPTY_ITEMS = """\
name: empties
x-ecsflow:
  region: eu-west-1
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
services:
  job:
    image: busybox
    command: ["echo", "", "x"]
    labels:
      traefik.enable: ""
    logging:
      driver: awslogs
      options:
        awslogs-datetime-format: ""
"""


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ('command: ["echo", "", "x"]', 'command: ["echo", "x"]', "containers[job].command"),
        ('traefik.enable: ""', 'traefik.enable: "x"', "containers[job].dockerLabels.traefik.enable"),
        ('      traefik.enable: ""\n', '      other: "1"\n', "containers[job].dockerLabels.traefik.enable"),
        ('awslogs-datetime-format: ""', 'awslogs-datetime-format: "%Y"',
         "containers[job].logConfiguration.options.awslogs-datetime-format"),
    ],
    ids=["command-item", "label-value", "label-removed", "log-option"],
)
def test_an_empty_item_label_or_option_is_part_of_the_definition(ecs, tmp_path, old, new, path):
    """An empty argument, an empty label value, an empty log option: each is what the container gets, so
    after sync diff sees no change, and a change to it is a change that sync registers."""
    compose = tmp_path / "compose.yaml"
    compose.write_text(EMPTY_ITEMS)
    ecsflow("sync", file=compose, endpoint=ecs)
    again = ecsflow("diff", "--exit-code", file=compose, endpoint=ecs)
    assert "No changes" in again.stdout, again.stdout + again.stderr
    compose.write_text(EMPTY_ITEMS.replace(old, new))
    diff = ecsflow("diff", "--format", "json", file=compose, endpoint=ecs)
    [family] = json.loads(diff.stdout)["families"]
    assert family["status"] == "changed"
    assert path in [c["path"] for c in family["changes"]]
    ecs.reset_counts()
    sync = ecsflow("sync", "--format", "json", file=compose, endpoint=ecs)
    assert [f["status"] for f in json.loads(sync.stdout)["families"]] == ["registered"]
    assert ecs.calls["RegisterTaskDefinition"] == 1


@pytest.mark.parametrize("command", ["render", "diff", "sync", "run", "gen-dag"])
def test_awslogs_without_an_execution_role_is_refused_before_any_write(ecs, tmp_path, command):
    """moto registers such a definition; real ECS refuses it. Every command says so before any ECS call."""
    compose = tmp_path / "compose.yaml"
    compose.write_text("x-ecsflow: {region: eu-west-1, subnets: [subnet-1]}\n"
                       "services:\n  extract:\n    image: busybox\n  load:\n    image: busybox\n")
    args = {"run": ["extract"], "gen-dag": ["--out", str(tmp_path / "dags")]}.get(command, [])
    result = ecsflow(command, *args, file=compose, endpoint=ecs if command in ("diff", "sync", "run") else None,
                     env=dummy_credentials_env(), expect=1)
    assert "Fargate requires task definition to have execution role ARN to support log driver awslogs" in result.stderr
    assert "execution role" in result.stderr and "--execution-role" in result.stderr
    assert ("services 'extract' and 'load'" if command != "run" else "service 'extract'") in result.stderr
    assert sum(ecs.calls.values()) == 0
    assert not (tmp_path / "dags").exists()
