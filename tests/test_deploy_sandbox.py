"""`ecsflow deploy --sandbox`, through the CLI as a user runs it: the services persist between commands, a second
deploy is all `unchanged` and `diff` right after shows no changes; the official Airflow docker-compose.yaml
becomes five ECS services after airflow-init (not executed without the opt-in); a job runs on this machine
with --execute-locally; the sandbox's failure switch makes a deployment fail and ECS roll it back."""

from __future__ import annotations

import json
from pathlib import Path

from cli_runner import clean_env, ecsflow
from project_files import edit

SERVERS = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
           "airflow-triggerer"]


def sandbox(folder: Path, *args: str, env: dict | None = None, expect: int = 0):
    """`ecsflow ARGS --sandbox` in ``folder`` (no AWS variable, no ECSFLOW_ one but ``env``'s). In this process:
    each command's moto starts empty (mock_aws resets it), so what one command leaves to the next is the folder's
    state, as between processes."""
    return ecsflow(*args, "--sandbox", cwd=folder, env=clean_env(**(env or {})), expect=expect)


def statuses(done) -> dict[str, str]:
    return {s["service"]: s["status"] for s in json.loads(done.stdout)["services"]}


def test_the_example_deploys_once_then_is_unchanged_and_diff_agrees(etl_project):
    first = sandbox(etl_project, "deploy", "--format", "json")
    assert statuses(first) == {"api": "created"}
    assert (etl_project / ".ecsflow" / "sandbox" / "services").is_dir()
    again = sandbox(etl_project, "deploy", "--format", "json")
    assert statuses(again) == {"api": "unchanged"}
    diff = sandbox(etl_project, "diff", "--exit-code", "api")  # the jobs' families are sync's to register
    assert "No changes. 1 task definition(s) match ECS." in diff.stdout
    assert "ECS services: 0 to create, 0 to update, 1 unchanged." in diff.stdout


def test_the_official_airflow_file_becomes_five_services_after_airflow_init(airflow_official):
    files = ("-f", "docker-compose.yaml", "-f", "compose.ecs.yaml")
    first = sandbox(airflow_official, "deploy", *files, "--format", "json")
    document = json.loads(first.stdout)
    assert [(s["service"], s["status"]) for s in document["services"]] == [(name, "created") for name in SERVERS]
    [init] = document["jobs"]
    assert (init["service"], init["status"]) == ("airflow-init", "not-executed")
    assert "--execute-locally" in init["note"]
    again = sandbox(airflow_official, "deploy", *files, "--format", "json")
    assert set(statuses(again).values()) == {"unchanged"}
    assert json.loads(again.stdout)["jobs"][0]["status"] == "skipped"  # nothing after it changed
    diff = sandbox(airflow_official, "diff", *files, "--exit-code")
    assert "ECS services: 0 to create, 0 to update, 5 unchanged." in diff.stdout


MIGRATING = """\
name: shop
x-ecsflow:
  execution_role: arn:aws:iam::123456789012:role/ecs-exec
  subnets: [subnet-1]
services:
  migrate:
    image: acme/api:1
    command: ["python", "-c", "open('migrated', 'w').write('yes')"]
  api:
    image: acme/api:1
    ports: ["8000:8000"]
    depends_on:
      migrate: {condition: service_completed_successfully}
"""


def test_a_job_runs_on_this_machine_only_with_execute_locally(tmp_path):
    (tmp_path / "compose.yaml").write_text(MIGRATING)
    without = ecsflow("deploy", "--sandbox", "--format", "json", env={"NO_COLOR": "1"}, cwd=tmp_path)
    assert json.loads(without.stdout)["jobs"][0]["status"] == "not-executed"
    assert not (tmp_path / "migrated").exists()
    edit(tmp_path / "compose.yaml", "acme/api:1\n    ports", "acme/api:2\n    ports")
    opted = ecsflow("deploy", "--sandbox", "--execute-locally", "--format", "json", env={"NO_COLOR": "1"},
                    cwd=tmp_path)
    document = json.loads(opted.stdout)
    assert (document["jobs"][0]["status"], document["jobs"][0]["exit_code"]) == ("succeeded", 0)
    assert document["services"][0]["status"] == "updated"
    assert (tmp_path / "migrated").read_text() == "yes"


def test_a_deployment_the_sandbox_fails_is_rolled_back_and_exit_1(etl_project):
    sandbox(etl_project, "deploy")
    edit(etl_project / "docker-compose.yml", "metrics-api:2.3.0", "metrics-api:2.4.0")
    failed = sandbox(etl_project, "deploy", "--format", "json", env={"ECSFLOW_SANDBOX_FAIL_DEPLOYMENTS": "etl-api"},
                     expect=1)
    [api] = json.loads(failed.stdout)["services"]
    assert api["status"] == "rolled-back"
    assert api["error"] == ("ECS rolled etl-api back to etl-api:1: ECS deployment circuit breaker: tasks failed to "
                            "start.")
    diff = sandbox(etl_project, "diff", "--format", "json")
    [service] = json.loads(diff.stdout)["services"]
    assert service["status"] == "changed" and service["live_task_definition"].endswith("etl-api:1")


def test_a_target_group_named_is_taken_as_given_in_the_sandbox(etl_project):
    edit(etl_project / "docker-compose.yml", "    stop_grace_period: 30s\n",
         "    stop_grace_period: 30s\n    x-ecsflow: {service: {target_group: etl-api}}\n")
    first = sandbox(etl_project, "deploy", "--format", "json")
    assert statuses(first) == {"api": "created"}
    assert "sandbox: target group etl-api of api is taken as given" in first.stderr
    again = sandbox(etl_project, "deploy", "--format", "json")
    assert statuses(again) == {"api": "unchanged"}  # the live ARN holds the name: no change


BUILT_WITH_VOLUMES = """\
name: shop
x-ecsflow:
  execution_role: arn:aws:iam::123456789012:role/ecs-exec
  registry: 123456789012.dkr.ecr.us-east-1.amazonaws.com
  subnets: [subnet-1]
services:
  web:
    build: .
    ports: ["8000:8000"]
    volumes: [uploads:/srv/uploads, cache:/srv/cache]
  worker:
    build: {context: ., dockerfile: Dockerfile.worker}
    restart: always
    volumes: ["uploads:/srv/uploads:ro"]
volumes:
  uploads:
    x-ecsflow: {efs: {file_system_id: fs-0123456789abcdef0, access_point: fsap-0fedcba9876543210, iam: true}}
  cache: {}
"""


def test_servers_built_from_source_with_named_volumes_deploy_then_a_new_tag_updates_them(tmp_path):
    """awesome-compose's shape (`build:` only, named volumes) as ECS services: the image Compose builds, in the
    registry, at the tag CI pushed; the EFS and task-storage volumes; a second deploy and diff find nothing."""
    (tmp_path / "compose.yaml").write_text(BUILT_WITH_VOLUMES)
    tag = {"ECSFLOW_IMAGE_TAG": "a1b2c3"}
    rendered = {r["family"]: r for r in json.loads(ecsflow("render", cwd=tmp_path, env=clean_env(**tag)).stdout)}
    [web] = rendered["shop-web"]["containerDefinitions"]
    assert web["image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop-web:a1b2c3"
    assert {v["name"]: sorted(v) for v in rendered["shop-web"]["volumes"]} == {
        "uploads": ["efsVolumeConfiguration", "name"], "cache": ["name"]}
    first = sandbox(tmp_path, "deploy", "--format", "json", env=tag)
    assert statuses(first) == {"web": "created", "worker": "created"}
    assert "named volume 'cache' is task storage on Fargate" in first.stderr
    again = sandbox(tmp_path, "deploy", "--format", "json", env=tag)
    assert set(statuses(again).values()) == {"unchanged"}
    sandbox(tmp_path, "diff", "--exit-code", env=tag)  # what ECS runs is the image and the volumes rendered
    newer = sandbox(tmp_path, "deploy", "--format", "json", env={"ECSFLOW_IMAGE_TAG": "d4e5f6"})
    services = {s["service"]: s for s in json.loads(newer.stdout)["services"]}
    assert {name: s["status"] for name, s in services.items()} == {"web": "updated", "worker": "updated"}
    assert services["web"]["task_definition"].endswith("shop-web:2")


def test_strict_deploy_refuses_task_storage_and_an_unknown_tag_before_any_write(tmp_path):
    (tmp_path / "compose.yaml").write_text(BUILT_WITH_VOLUMES)  # not a git checkout: no commit to tag images with
    strict = sandbox(tmp_path, "deploy", "--strict", "--image-tag", "v1", expect=1)
    assert "service 'web', key 'volumes'" in strict.stderr and "cache" in strict.stderr
    untagged = sandbox(tmp_path, "deploy", expect=1)
    assert "key 'image_tag'" in untagged.stderr and "--image-tag" in untagged.stderr
    assert "Traceback" not in strict.stderr + untagged.stderr
    assert not (tmp_path / ".ecsflow").exists()
