"""The sandbox keeps its ECS services between commands (ecsflow/sandbox/services_state.py): what one process
deploys, the next sees, settled, so that `deploy --sandbox` then `diff --sandbox` agree; under the sandbox's
lock, and with the rules of every state file (a stray, unreadable or foreign file is a clear error naming it)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest
from cli_runner import ecsflow
from project_files import edit
from service_support import HEAD, TG_ARN, load

from ecsflow.ecs.client import Ecs
from ecsflow.errors import EcsflowError
from ecsflow.operations.services import project_kinds
from ecsflow.sandbox.session import sandbox_session
from ecsflow.service.build import build_service_specs
from ecsflow.service.compare import compare_service
from ecsflow.settings import resolve_settings
from ecsflow.taskdef import build_task_definitions

REGION, CLUSTER = "eu-west-1", "apps"  # test_service_build's HEAD
NETWORK = {"awsvpcConfiguration": {"subnets": ["subnet-0a1"]}}
DEFINITION = {"family": "shop-api", "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc", "cpu": "256",
              "memory": "512", "containerDefinitions": [{"name": "api", "image": "acme/api:1"}]}
DESCRIBE = """
import json, sys, boto3
from ecsflow.sandbox.session import sandbox_session
with sandbox_session(sys.argv[1], "eu-west-1") as sandbox:
    client = boto3.client("ecs", region_name="eu-west-1")
    answer = client.describe_services(cluster="apps", services=sys.argv[2:], include=["TAGS"])
    clusters = client.describe_clusters(clusters=["apps"])["clusters"]
print(json.dumps({"answer": answer, "clusters": clusters}, default=str))
"""


def client() -> object:
    return boto3.client("ecs", region_name=REGION)


def in_another_process(state: Path, *names: str) -> dict:
    done = subprocess.run([sys.executable, "-c", DESCRIBE, str(state), *names], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def deploy_one(state: Path, name: str = "shop-api", **members) -> dict:
    with sandbox_session(state, REGION):
        ecs = client()
        ecs.create_cluster(clusterName=CLUSTER)
        ecs.register_task_definition(**DEFINITION)
        ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition="shop-api", desiredCount=2,
                           launchType="FARGATE", networkConfiguration=NETWORK, **members)
        return ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0]


def test_another_process_sees_the_services_settled_and_their_cluster(tmp_path):
    state = tmp_path / "sandbox"
    with sandbox_session(state, REGION):
        ecs = client()
        ecs.create_cluster(clusterName=CLUSTER)
        ecs.register_task_definition(**DEFINITION)
        arn = ecs.create_service(cluster=CLUSTER, serviceName="shop-api", taskDefinition="shop-api", desiredCount=2,
                                 launchType="FARGATE", networkConfiguration=NETWORK, clientToken="t-1",
                                 tags=[{"key": "ecsflow:managed", "value": "true"}])["service"]["serviceArn"]
        ecs.describe_services(cluster=CLUSTER, services=["shop-api"])
        ecs.register_task_definition(**{**DEFINITION, "containerDefinitions": [{"name": "api", "image": "acme/api:2"}]})
        ecs.update_service(cluster=CLUSTER, service="shop-api", taskDefinition="shop-api", desiredCount=3)
        ecs.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "data"}])  # --no-wait: still rolling out
    kept = state / "services" / f"{CLUSTER}.json"
    written = kept.read_bytes(), kept.stat().st_mtime_ns

    seen = in_another_process(state, "shop-api")
    [found] = seen["answer"]["services"]
    [deployment] = found["deployments"]
    assert (deployment["status"], deployment["rolloutState"], deployment["runningCount"]) == ("PRIMARY", "COMPLETED", 3)
    assert found["taskDefinition"].endswith("task-definition/shop-api:2") and found["runningCount"] == 3
    assert found["events"] == [] and found["serviceArn"] == arn
    assert {t["key"]: t["value"] for t in found["tags"]} == {"ecsflow:managed": "true", "team": "data"}
    assert found["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "DISABLED"
    [cluster] = seen["clusters"]  # created by neither process: it is the sandbox's
    assert cluster["status"] == "ACTIVE" and cluster["capacityProviders"] == ["FARGATE", "FARGATE_SPOT"]
    assert (kept.read_bytes(), kept.stat().st_mtime_ns) == written  # a session that changed nothing wrote nothing
    again = in_another_process(state, "shop-api")["answer"]["services"][0]
    assert again["deployments"][0]["id"] == deployment["id"] and again["createdAt"] == found["createdAt"]

    with sandbox_session(state, REGION):  # the clientToken holds across commands: a retry is the same service
        retried = client().create_service(cluster=CLUSTER, serviceName="shop-api", taskDefinition="shop-api",
                                          desiredCount=2, launchType="FARGATE", networkConfiguration=NETWORK,
                                          clientToken="t-1", tags=[{"key": "ecsflow:managed", "value": "true"}])
        assert retried["service"]["deployments"][0]["id"] == deployment["id"]


SERVER = f"""\
api:
  image: acme/api:1
  restart: always
  ports: ["8080:8080"]
  healthcheck: {{test: [CMD, curl, -f, localhost:8080], start_period: 20s}}
  deploy: {{replicas: 2}}
  x-ecsflow:
    capacity_provider: FARGATE_SPOT
    service: {{target_group: {TG_ARN}, exec: true}}
"""


def ecsflow_specs(tmp_path: Path, replicas: int = 2):
    project = load(tmp_path, SERVER.replace("replicas: 2", f"replicas: {replicas}"), HEAD + "  namespace: shop.local\n")
    settings = resolve_settings(compose=project.x_ecsflow.settings, compose_interpolated=project.x_ecsflow.interpolated,
                                environ={}, flags={}).settings
    builds = build_task_definitions(project, settings)
    [spec] = build_service_specs(project, settings, builds, project_kinds(project))
    return spec, builds[0]


def test_what_ecsflow_created_compares_unchanged_in_the_next_command(tmp_path):
    """The rule of docs/design.md section 7 for services, on the sandbox: after a deploy, a diff in another
    command finds no change; after an update of what changed, neither."""
    state = tmp_path / "sandbox"
    spec, build = ecsflow_specs(tmp_path)
    with sandbox_session(state, REGION) as sandbox:
        ecs = Ecs.connect(sandbox.options)
        ecs.ensure_cluster(CLUSTER, create=True)
        revision = ecs.register_revision(build.request)
        client().create_service(**spec.create_request(f"{build.family}:{revision}"))

    def live() -> dict:
        with sandbox_session(state, REGION):
            return client().describe_services(cluster=CLUSTER, services=[spec.ecs_service],
                                              include=["TAGS"])["services"][0]

    diff = compare_service(spec, live())
    assert (diff.status, diff.changes, diff.tags_changed) == ("unchanged", (), False)

    scaled, _ = ecsflow_specs(tmp_path, replicas=4)
    diff = compare_service(scaled, live())
    assert diff.status == "changed" and [c.path for c in diff.changes] == ["desiredCount"]
    with sandbox_session(state, REGION):
        client().update_service(**scaled.update_request(diff.changes))
    assert compare_service(scaled, live()).status == "unchanged"


def test_a_deleted_service_is_gone_in_the_next_command_its_cluster_stays(tmp_path):
    state = tmp_path / "sandbox"
    deploy_one(state)
    with sandbox_session(state, REGION):
        client().delete_service(cluster=CLUSTER, service="shop-api", force=True)
    assert json.loads((state / "services" / f"{CLUSTER}.json").read_text())["services"] == []
    seen = in_another_process(state, "shop-api")
    assert seen["answer"]["services"] == [] and [f["reason"] for f in seen["answer"]["failures"]] == ["MISSING"]
    assert [c["status"] for c in seen["clusters"]] == ["ACTIVE"]


def test_a_failed_rollout_is_still_failed_in_the_next_command(tmp_path, monkeypatch):
    monkeypatch.setenv("ECSFLOW_SANDBOX_FAIL_DEPLOYMENTS", "shop-api")
    failed = deploy_one(tmp_path, deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True,
                                                                                        "rollback": True}})
    assert failed["deployments"][0]["rolloutState"] == "FAILED"
    monkeypatch.delenv("ECSFLOW_SANDBOX_FAIL_DEPLOYMENTS")
    [later] = in_another_process(tmp_path, "shop-api")["answer"]["services"][0]["deployments"]
    assert (later["id"], later["rolloutState"], later["rolloutStateReason"], later["runningCount"]) == (
        failed["deployments"][0]["id"], "FAILED", "ECS deployment circuit breaker: tasks failed to start.", 0)


CONCURRENT = """
import sys, time, boto3
from ecsflow.sandbox.session import sandbox_session
with sandbox_session(sys.argv[1], "eu-west-1") as sandbox:
    ecs = boto3.client("ecs", region_name="eu-west-1")
    ecs.create_cluster(clusterName="apps")
    ecs.register_task_definition(family="shop-api", requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                                 cpu="256", memory="512", containerDefinitions=[{"name": "api", "image": "a"}])
    ecs.create_service(cluster="apps", serviceName=sys.argv[2], taskDefinition="shop-api", desiredCount=1,
                       networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-0a1"]}})
    time.sleep(0.5)  # the other process starts meanwhile, and must wait for this one's save
"""


def test_two_processes_deploying_at_once_keep_both_services(tmp_path):
    state = tmp_path / "sandbox"
    running = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(state), name], stderr=subprocess.PIPE,
                                text=True) for name in ("shop-api", "shop-worker")]
    for process in running:
        assert process.wait(timeout=120) == 0, process.stderr.read()
    found = in_another_process(state, "shop-api", "shop-worker")["answer"]["services"]
    assert sorted(s["serviceName"] for s in found) == ["shop-api", "shop-worker"]


# ---------------------------------------------------------------------------------------------------------
# files that cannot be read


def good_record(state: Path) -> dict:
    deploy_one(state)
    return json.loads((state / "services" / f"{CLUSTER}.json").read_text())


BROKEN = {
    "a folder": (lambda path, doc: path.mkdir(), "not a regular file"),
    "not JSON": (lambda path, doc: path.write_text("notes\n"), "not JSON (Expecting value at line 1"),
    "other JSON": (lambda path, doc: path.write_text('{"cluster": "apps"}'), "not a sandbox state file"),
    "a newer format": (lambda path, doc: path.write_text(json.dumps({**doc, "format": 2})),
                       "it is of format 2, written by a newer ecsflow (this one reads format 1)"),
    "no request": (lambda path, doc: path.write_text(json.dumps({**doc, "services": [{"serviceName": "x"}]})),
                   "service 'x' has no CreateService request of that name"),
    "a request ECS refuses": (
        lambda path, doc: path.write_text(json.dumps({**doc, "services": [
            {**doc["services"][0], "request": {**doc["services"][0]["request"], "desiredCount": "two"}}]})),
        "does not fit the ECS API"),
    "no time": (lambda path, doc: path.write_text(json.dumps({**doc, "services": [
        {**doc["services"][0], "createdAt": "yesterday"}]})), "its createdAt 'yesterday' is not a time"),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_services_file_that_cannot_be_read_is_a_clear_error_naming_it(tmp_path, name):
    document = good_record(tmp_path)
    make, said = BROKEN[name]
    path = tmp_path / "services" / ("stray.json" if name in ("a folder", "not JSON", "other JSON") else "apps.json")
    if path.exists():
        path.unlink()
    make(path, document)
    with pytest.raises(EcsflowError) as error, sandbox_session(tmp_path, REGION):
        pass
    assert error.value.file == str(path) and error.value.message.startswith("cannot read the sandbox state: ")
    assert said in error.value.message
    if name == "a newer format":  # not a state to drop: another ecsflow can read it
        assert error.value.hint.startswith("use the ecsflow that wrote it") and "delete" not in error.value.hint
    assert path.exists() or name == "a folder"  # never dropped


def test_a_family_file_of_another_format_says_which_ecsflow_wrote_it(tmp_path):
    (tmp_path / "shop-api.json").write_text(json.dumps({"format": 0, "family": "shop-api", "revisions": []}))
    with pytest.raises(EcsflowError) as error, sandbox_session(tmp_path, REGION):
        pass
    assert "it is of format 0, written by an older ecsflow (this one reads format 1)" in error.value.message
    assert "use the ecsflow that wrote it" in error.value.hint


def test_a_services_folder_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "services").write_text("x")
    with pytest.raises(EcsflowError) as error, sandbox_session(tmp_path, REGION):
        pass
    assert error.value.file == str(tmp_path / "services") and "but it is a file" in error.value.message


UNREADABLE = textwrap.dedent("""
    import sys
    from ecsflow.errors import EcsflowError
    from ecsflow.sandbox.session import sandbox_session
    try:
        with sandbox_session(sys.argv[1], "eu-west-1"):
            pass
    except EcsflowError as error:
        print(error.file, "|", error.message, "|", error.hint)
""")


def test_an_unreadable_services_file_names_the_permission_not_a_reset(tmp_path):
    good_record(tmp_path)
    kept = tmp_path / "services" / f"{CLUSTER}.json"
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root reads any file: drop that power (as tests/test_sandbox.py does)
        if shutil.which("setpriv") is None:
            pytest.skip("root, and no setpriv to drop CAP_DAC_OVERRIDE")
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
    kept.chmod(0)
    try:
        done = subprocess.run([*prefix, sys.executable, "-c", UNREADABLE, str(tmp_path)], capture_output=True,
                              text=True, timeout=120)
    finally:
        kept.chmod(0o644)
    assert done.returncode == 0, done.stderr
    file, message, hint = (part.strip() for part in done.stdout.split("|"))
    if "permission denied" not in message:
        pytest.skip(f"mode bits do not hold here: {done.stdout}")
    assert file == str(kept)
    assert message.startswith("cannot read the sandbox state: permission denied (it is ----------")
    assert "do not delete it" in hint


def test_prune_in_the_sandbox_keeps_what_a_kept_service_runs(etl_project):
    compose = etl_project / "docker-compose.yml"
    for tag in range(1, 4):  # three revisions of etl-api
        edit(compose, f"etl/metrics-api:2.3.{tag - 1}", f"etl/metrics-api:2.3.{tag}")
        ecsflow("sync", "--sandbox", "api", cwd=etl_project)
    with sandbox_session(etl_project / ".ecsflow" / "sandbox", "eu-west-1"):  # a service on revision 1
        ecs = boto3.client("ecs", region_name="eu-west-1")
        ecs.create_cluster(clusterName="data-jobs")
        ecs.create_service(cluster="data-jobs", serviceName="metrics", taskDefinition="etl-api:1", desiredCount=1,
                           networkConfiguration=NETWORK)
    result = ecsflow("prune", "--sandbox", "--keep", "1", "--yes", "api", cwd=etl_project)
    assert "etl-api: deregistered 1: 2" in result.stdout
    assert "only the revisions they run are in use there" in result.stderr
