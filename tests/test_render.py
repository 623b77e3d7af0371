"""`ecsflow render` as a user runs it: JSON (or YAML) list on stdout and nothing else, messages on stderr,
offline, and every corpus project either renders to requests botocore accepts or fails with a clear error."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cli_runner import ecsflow
from compose_oracle import CORPUS, case_inputs, parse_global_args

from ecsflow.compose.loader import load_project
from ecsflow.ecs.validate import check_register_request
from ecsflow.errors import EcsflowError
from ecsflow.settings import Settings
from ecsflow.taskdef import build_task_definitions

ROOT = Path(__file__).parent.parent
ETL = ROOT / "examples" / "etl" / "docker-compose.yml"


# Fargate definitions that log with awslogs need an execution role (ECS refuses them otherwise).
ROLE_BLOCK = "x-ecsflow: {execution_role: arn:aws:iam::123456789012:role/exec}\n"


def test_render_prints_one_request_per_service_in_compose_order():
    result = ecsflow("render", "-f", str(ETL))
    requests = json.loads(result.stdout)
    assert [r["family"] for r in requests] == ["etl-extract", "etl-transform", "etl-load", "etl-api"]
    for request in requests:
        check_register_request(request)
    # Notes (Fargate rounding) go to stderr, never into the JSON.
    assert "note:" in result.stderr and "note:" not in result.stdout


def test_render_selected_services_and_yaml():
    result = ecsflow("render", "-f", str(ETL), "--format", "yaml", "api", "extract")
    requests = yaml.safe_load(result.stdout)
    assert [r["family"] for r in requests] == ["etl-extract", "etl-api"]


def test_render_unknown_service_is_a_clear_error():
    result = ecsflow("render", "-f", str(ETL), "nosuch", expect=1)
    assert "nosuch" in result.stderr and result.stdout == ""


def test_flags_override_compose_settings():
    result = ecsflow("render", "-f", str(ETL), "--execution-role", "arn:aws:iam::999999999999:role/other", "extract")
    [request] = json.loads(result.stdout)
    assert request["executionRoleArn"] == "arn:aws:iam::999999999999:role/other"


def test_environment_variable_setting_is_used():
    result = ecsflow("render", "-f", str(ETL), "extract", env={"ECSFLOW_REGISTRY": "registry.example.com/team"})
    [request] = json.loads(result.stdout)
    assert request["containerDefinitions"][0]["image"] == "registry.example.com/team/etl/extract:1.4.2"


def test_strict_turns_fargate_impossibilities_into_errors(tmp_path):
    (tmp_path / "compose.yaml").write_text(f"{ROLE_BLOCK}services:\n  job:\n    image: x\n    privileged: true\n")
    lenient = ecsflow("render", "-f", str(tmp_path / "compose.yaml"))
    assert "privileged" in lenient.stderr
    strict = ecsflow("render", "-f", str(tmp_path / "compose.yaml"), "--strict", expect=1)
    assert "privileged" in strict.stderr and strict.stdout == ""


def test_render_needs_no_aws_credentials_or_network(tmp_path):
    """Offline: run in a subprocess with no AWS configuration at all and an unroutable endpoint."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    proc = subprocess.run([sys.executable, "-m", "ecsflow.cli", "render", "-f", str(ETL)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == 4


CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir() and (p / "expected.config.json").exists()) \
    if CORPUS.is_dir() else []


@pytest.mark.skipif(not CASES, reason="shared compose corpus not present")
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_corpus_services_render_or_fail_clearly(case):
    """Every service with an image renders to a request botocore accepts, or fails with an EcsflowError
    that names the service (e.g. a health check outside ECS's ranges)."""
    args, env = case_inputs(case)
    project = load_project(cwd=case, environ={"PATH": "/usr/bin:/bin", **env}, **parse_global_args(args))
    settings = Settings(region="us-east-1", account="123456789012",
                        execution_role="arn:aws:iam::123456789012:role/exec")
    for service in project.services:
        if not service.image:
            continue
        try:
            [build] = build_task_definitions(project, settings, [service.name])
        except EcsflowError as exc:
            assert exc.service == service.name, str(exc)
            continue
        check_register_request(build.request)
        assert build.request["containerDefinitions"][0]["name"]


def test_a_service_named_on_the_command_line_is_enabled_whatever_its_profile(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        f"{ROLE_BLOCK}services:\n  app:\n    image: a\n  backfill:\n    image: b\n    profiles: [batch]\n")
    everything = json.loads(ecsflow("render", "-f", str(tmp_path / "compose.yaml")).stdout)
    assert [r["containerDefinitions"][0]["name"] for r in everything] == ["app"]
    named = ecsflow("render", "-f", str(tmp_path / "compose.yaml"), "backfill")
    assert [r["containerDefinitions"][0]["name"] for r in json.loads(named.stdout)] == ["backfill"]


@pytest.mark.parametrize("command", ["render", "config", "diff", "sync", "run"])
def test_an_unknown_format_is_a_usage_error(command):
    args = [command, "--format", "xml"] + (["extract"] if command == "run" else [])
    result = ecsflow(*args, "-f", ETL, expect=2)
    assert "Invalid value for '--format'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("tags", "fragment"), [('{"aws:team": data}', "do not start with aws:"),
                                                ('{"": data}', "tag keys are not empty")])
def test_a_tag_key_ecs_refuses_in_a_services_x_ecsflow_is_one_clear_error(tmp_path, tags, fragment):
    (tmp_path / "compose.yaml").write_text(f"{ROLE_BLOCK}services:\n  job:\n    image: x\n"
                                           f"    x-ecsflow:\n      tags: {tags}\n")
    result = ecsflow("render", "-f", str(tmp_path / "compose.yaml"), expect=1)
    assert result.stdout == ""
    assert "service 'job', key 'x-ecsflow.tags'" in result.stderr and fragment in result.stderr
    assert "bug" not in result.stderr and "Traceback" not in result.stderr
