"""A compose file written for a laptop, as users have them (tests/fixtures/builder/local-dev): read as Docker
Compose reads it (the real binary, run live), mapped to Fargate instead of refused, and synced with no
spurious revision afterwards, on moto and against a live definition in the shape real ECS returns.

In it: health-check timings outside ECS's ranges, `app_protocol: smtp`, `platform: linux/386`,
`entrypoint: []` / `entrypoint: ""`, a variable that is also a secret, a plain value whose name looks
secret, a local-only postgres with `x-ecsflow.skip`, and a `provider:` service.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from builder_oracle import built_container, expected_container
from cli_runner import ecsflow
from compose_oracle import compare_configs, run_compose_config
from ecs_server import dummy_credentials_env
from project_files import edit

from ecsflow.compose.loader import load_config, load_project
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

LOCAL_DEV = Path(__file__).parent / "fixtures" / "builder" / "local-dev"
REAL_ANSWER = Path(__file__).parent / "fixtures" / "ecs" / "console_hiringcandidate_command.json"
SECRET_NAMES = {"api": ("DB_PASSWORD",), "worker": ("DB_PASSWORD",)}
LOCAL_VALUE = "local-dev-password"  # DB_PASSWORD's compose value: never sent, never printed


CREDENTIALS = dummy_credentials_env()  # for every command, as for those that call AWS


@pytest.fixture
def compose(tmp_path):
    target = tmp_path / "shop"
    shutil.copytree(LOCAL_DEV, target)
    return target / "compose.yaml"


def key_position(path: Path, service: str, key: str) -> str:
    """Where errors about a key of a service point: the key's own line and column (1-based)."""
    lines = path.read_text().splitlines()
    start = lines.index(f"  {service}:")
    offset = next(i for i, line in enumerate(lines[start:]) if line.startswith(f"    {key}:"))
    return f"{start + offset + 1}:5"


def builds(compose: Path):
    project = load_project([compose], environ={})
    settings = resolve_settings(compose=project.x_ecsflow.settings,
                                compose_interpolated=project.x_ecsflow.interpolated).settings
    return {b.service: b for b in build_task_definitions(project, settings)}


# -- Docker Compose's reading, and the mapping of it ---------------------------------------------------


def test_docker_compose_reads_the_file_as_ecsflow_does(compose_bin):
    code, live, stderr = run_compose_config(LOCAL_DEV, [], {})
    assert code == 0, stderr
    assert compare_configs(load_config(cwd=LOCAL_DEV, environ={"PATH": "/usr/bin:/bin"}), live) == []
    # Compose accepts each local-development setting as written: these are not errors for a compose file.
    api = live["services"]["api"]
    assert (api["platform"], api["entrypoint"], api["healthcheck"]["retries"]) == ("linux/386", [], 50)
    assert live["services"]["worker"]["entrypoint"] == []  # `entrypoint: ""` reads as [], as in Compose
    assert "provider" in live["services"]["mail"] and "image" not in live["services"]["mail"]


def test_each_service_with_an_image_maps_as_documented_from_composes_own_output(compose_bin):
    _, live, _ = run_compose_config(LOCAL_DEV, [], {})
    built = builds(LOCAL_DEV / "compose.yaml")
    assert sorted(built) == ["api", "worker"]  # postgres (skip) and mail (provider) are left out
    for name, build in built.items():
        assert built_container(build.request) == expected_container(live["services"][name], SECRET_NAMES[name]), name


def test_what_the_api_service_becomes():
    build = builds(LOCAL_DEV / "compose.yaml")["api"]
    [c] = build.request["containerDefinitions"]
    assert c["entryPoint"] == ["python", "-m", "shop.api", "--port", "8000"] and "command" not in c
    assert c["healthCheck"] == {"command": ["CMD", "curl", "-f", "http://localhost:8000/health"],
                                "interval": 5, "timeout": 2, "retries": 10, "startPeriod": 300}
    assert c["portMappings"] == [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"},
                                 {"containerPort": 25, "hostPort": 25, "protocol": "tcp", "name": "smtp"}]
    assert [e["name"] for e in c["environment"]] == ["DBT_API_KEY", "LOG_LEVEL"]
    assert [s["name"] for s in c["secrets"]] == ["DB_PASSWORD"]
    assert build.request["runtimePlatform"]["cpuArchitecture"] == "X86_64"
    assert LOCAL_VALUE not in json.dumps(build.request)


# -- render --------------------------------------------------------------------------------------------


def test_render_maps_what_it_used_to_refuse_and_says_what_it_did(compose):
    result = ecsflow("render", file=compose, env=CREDENTIALS)
    assert [r["family"] for r in json.loads(result.stdout)] == ["shop-api", "shop-worker"]
    err = result.stderr
    for expected in (
        "service 'api': healthcheck interval 3s is outside ECS's range (5 to 300 seconds): interval 5 is used",
        "service 'api': healthcheck timeout 500ms is outside ECS's range (2 to 60 seconds): timeout 2 is used",
        "service 'api': healthcheck retries 50 is outside ECS's range (1 to 10): retries 10 is used",
        "service 'api': healthcheck start_period 10m is outside ECS's range (0 to 300 seconds): startPeriod 300",
        "service 'api': platform 'linux/386' runs on Fargate as X86_64",
        "service 'api': port 25: app_protocol 'smtp' is not one ECS knows",
        "services 'api' and 'worker': DB_PASSWORD is both an environment variable and a secret",
        "service 'api': environment variable DBT_API_KEY is registered in plain text",
        "services 'api' and 'worker': entrypoint: [] clears the image's ENTRYPOINT: the command becomes the ECS "
        "entryPoint",
    ):
        assert err.count(expected) == 1, (expected, err)
    assert err.count("service 'postgres': left out of ECS and Airflow (x-ecsflow.skip: true)") == 1
    assert err.count("service 'mail': left out of ECS and Airflow: it is a provider service") == 1
    assert LOCAL_VALUE not in result.stdout + err and "s3cr3t-plain" not in err
    assert "Traceback" not in err


def test_strict_refuses_with_one_message_naming_file_line_service_and_key(compose):
    result = ecsflow("render", "--strict", file=compose, env=CREDENTIALS, expect=1)
    assert result.stdout == ""
    assert f"{compose}:{key_position(compose, 'mail', 'provider')}, service 'mail', key 'provider'" in result.stderr
    assert result.stderr.count("error:") == 1 and "Traceback" not in result.stderr
    # Skipping it explicitly is the way out; then api's first adaptation is refused, named the same way.
    edit(compose, "  mail:\n", "  mail:\n    x-ecsflow: {skip: true}\n")
    again = ecsflow("render", "--strict", file=compose, env=CREDENTIALS, expect=1)
    assert again.stdout == "" and again.stderr.count("error:") == 1
    assert f"{compose}:{key_position(compose, 'api', 'ports')}, service 'api', key 'ports'" in again.stderr
    assert "app_protocol 'smtp'" in again.stderr and "without --strict" in again.stderr


def test_naming_a_skipped_service_is_an_error(compose):
    result = ecsflow("render", "api", "postgres", file=compose, env=CREDENTIALS, expect=1)
    assert result.stdout == ""
    assert "service 'postgres'" in result.stderr and "left out of ECS" in result.stderr
    assert "key 'x-ecsflow.skip'" in result.stderr and "Traceback" not in result.stderr
    ecsflow("render", "api", file=compose, env=CREDENTIALS)


def test_profiles_and_named_services_keep_working_with_skip(compose):
    edit(compose, "    x-ecsflow:\n      skip: true\n", "    profiles: [local]\n    x-ecsflow:\n      skip: true\n")
    edit(compose, "    depends_on: [postgres]\n", "")
    quiet = ecsflow("render", file=compose, env=CREDENTIALS)
    # not enabled: only the note on what profiles leave out names it, not the skip's warning
    assert "service 'postgres'" not in quiet.stderr
    assert "services of profiles not enabled are left out: postgres (profile local)" in quiet.stderr
    enabled = ecsflow("render", "--profile", "local", file=compose, env=CREDENTIALS)
    assert enabled.stderr.count("service 'postgres': left out") == 1
    assert [r["family"] for r in json.loads(enabled.stdout)] == ["shop-api", "shop-worker"]
    only = ecsflow("render", "worker", file=compose, env=CREDENTIALS)
    assert [r["family"] for r in json.loads(only.stdout)] == ["shop-worker"]


# -- diff and sync: left out, said once, nothing spurious -------------------------------------------------


def test_sync_then_diff_is_a_no_op_and_the_skipped_services_are_never_sent(ecs, compose):
    first = ecsflow("sync", "--format", "json", file=compose, endpoint=ecs)
    assert [(f["service"], f["status"]) for f in json.loads(first.stdout)["families"]] == [
        ("api", "registered"), ("worker", "registered")]
    assert first.stderr.count("service 'postgres': left out of ECS and Airflow") == 1
    assert ecs.calls["RegisterTaskDefinition"] == 2
    assert LOCAL_VALUE not in first.stdout + first.stderr
    client = boto3.client("ecs", region_name="eu-west-1", endpoint_url=ecs.url, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    registered = client.describe_task_definition(taskDefinition="shop-api")["taskDefinition"]
    assert LOCAL_VALUE not in json.dumps(registered, default=str)
    [container] = registered["containerDefinitions"]
    assert [s["name"] for s in container["secrets"]] == ["DB_PASSWORD"]
    assert (container["entryPoint"], container["healthCheck"]["retries"]) == (
        ["python", "-m", "shop.api", "--port", "8000"], 10)

    ecs.reset_counts()
    diff = ecsflow("diff", "--exit-code", "--show-values", file=compose, endpoint=ecs)
    assert "No changes" in diff.stdout and diff.stderr.count("service 'postgres': left out") == 1
    assert LOCAL_VALUE not in diff.stdout + diff.stderr
    again = ecsflow("sync", "--format", "json", file=compose, endpoint=ecs)
    assert [f["status"] for f in json.loads(again.stdout)["families"]] == ["unchanged", "unchanged"]
    assert ecs.calls["RegisterTaskDefinition"] == 0


@pytest.mark.parametrize("command", ["sync", "diff", "run"])
def test_a_named_skipped_service_is_an_error_before_any_call(ecs, compose, command):
    result = ecsflow(command, "postgres", file=compose, endpoint=ecs, expect=1)
    assert "Traceback" not in result.stderr
    assert "service 'postgres'" in result.stderr and "left out of ECS: it has x-ecsflow.skip: true" in result.stderr
    assert sum(ecs.calls.values()) == 0


def test_a_platform_fargate_cannot_run_stops_sync_before_any_call_and_says_how_to_skip(ecs, compose):
    edit(compose, "    image: acme/shop-worker:1.0\n", "    image: acme/shop-worker:1.0\n    platform: wasi/wasm\n")
    result = ecsflow("sync", file=compose, endpoint=ecs, expect=1)
    assert "Traceback" not in result.stderr
    assert f"{compose}:{key_position(compose, 'worker', 'platform')}, service 'worker', key 'platform'" in result.stderr
    assert "x-ecsflow: {skip: true}" in result.stderr
    assert sum(ecs.calls.values()) == 0
    edit(compose, "    platform: wasi/wasm\n", "    platform: wasi/wasm\n    x-ecsflow: {skip: true}\n")
    edit(compose, "    environment:\n      DB_PASSWORD: local-dev-password\n    x-ecsflow:\n      secrets:\n"
                  "        DB_PASSWORD: ssm:/shop/db/password\n  postgres:", "  postgres:")
    skipped = ecsflow("sync", "--format", "json", file=compose, endpoint=ecs)
    assert [f["service"] for f in json.loads(skipped.stdout)["families"]] == ["api"]


def real_ecs_answer(request: dict) -> dict:
    """What real ECS returns for `request`: the request plus what real ECS adds, taken from a real answer
    (tests/fixtures/ecs/console_hiringcandidate_command.json): requiresAttributes, compatibilities,
    registeredAt/By, revision, status, empty lists, container cpu 0, filled hostPort/protocol."""
    real = json.loads(REAL_ANSWER.read_text())
    real.pop("tags")
    answer = {k: v for k, v in request.items() if k != "tags"}
    for key in ("taskDefinitionArn", "revision", "status", "requiresAttributes", "compatibilities", "registeredAt",
                "registeredBy", "volumes", "placementConstraints"):
        answer[key] = real[key]
    answer["containerDefinitions"] = []
    for c in request["containerDefinitions"]:
        shaped = {"cpu": 0, "environment": [], "environmentFiles": [], "mountPoints": [], "volumesFrom": [],
                  "ulimits": [], "systemControls": [], **c}
        shaped["portMappings"] = [{"hostPort": p["containerPort"], "protocol": "tcp", **p}
                                  for p in c.get("portMappings", [])]
        shaped["logConfiguration"] = {**c["logConfiguration"], "secretOptions": []}
        answer["containerDefinitions"].append(shaped)
    return {"taskDefinition": answer, "tags": request["tags"]}


@pytest.mark.parametrize("service", ["api", "worker"])
def test_a_live_definition_in_real_ecs_shape_is_unchanged(ecs, compose, service):
    """Clamped health-check timings and the entrypoint-as-command, served as real ECS returns them."""
    request = builds(compose)[service].request
    ecs.respond("DescribeTaskDefinition", real_ecs_answer(request))
    diff = ecsflow("diff", "--format", "json", service, file=compose, endpoint=ecs)
    [family] = json.loads(diff.stdout)["families"]
    assert (family["status"], family["changes"]) == ("unchanged", [])
    assert ecs.calls["RegisterTaskDefinition"] == 0


def test_a_real_change_to_a_clamped_value_is_still_shown(ecs, compose):
    ecs.respond("DescribeTaskDefinition", real_ecs_answer(builds(compose)["api"].request))
    edit(compose, "retries: 50", "retries: 4")
    diff = ecsflow("diff", "--format", "json", "api", file=compose, endpoint=ecs)
    [family] = json.loads(diff.stdout)["families"]
    assert family["changes"] == [{"path": "containers[api].healthCheck.retries", "old": 10, "new": 4}]


# -- gen-dag ---------------------------------------------------------------------------------------------


def test_gen_dag_leaves_skipped_services_out_and_says_so_once(compose, tmp_path):
    out = tmp_path / "dags"
    result = ecsflow("gen-dag", "--out", str(out), file=compose, env=CREDENTIALS)
    source = (out / "shop.py").read_text() + (out / "shop_tasks.py").read_text()
    assert "worker = tasks.worker()" in source  # api is left out as a long-running server (it publishes ports)
    assert "postgres" not in source and "mail" not in source
    assert result.stderr.count("service 'postgres': left out of ECS and Airflow") == 1
    named = ecsflow("gen-dag", "--out", str(out), "postgres", file=compose, env=CREDENTIALS, expect=1)
    assert "left out of ECS" in named.stderr and "Traceback" not in named.stderr
