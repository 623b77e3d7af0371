"""ECS answers of an unexpected shape (a string where an object belongs, a number where a string does, a task
without its ARN), scripted by the test endpoint (tests/ecs_server.py `respond`): every command ends with one clear
error naming the endpoint and the operation, or reports what it could not do, never "unexpected ..."."""

from __future__ import annotations

import pytest
from cli_runner import ecsflow
from ecs_server import EcsEndpoint

from ecsflow.ecs.shapes import first_mismatch

DESCRIBE = "DescribeTaskDefinition"
PLAIN = {"NO_COLOR": "1"}
COMPOSE = """\
name: jobs
x-ecsflow:
  region: us-east-1
  cluster: jobs
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
  subnets: [subnet-0a1b2c3d4e5f60001]
services:
  job:
    image: example/job:1.0
    command: ["python", "job.py"]
"""


@pytest.fixture(scope="module")
def server():
    with EcsEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def ecs(server, tmp_path, monkeypatch):
    server.reset()
    server.canned.clear()
    server.create_cluster("jobs")
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    monkeypatch.chdir(tmp_path)
    return server


def td(**fields) -> dict:
    return {"family": "jobs-job", "revision": 1, "containerDefinitions": [], **fields}


def assert_one_clear_error(result, ecs, operation: str, what: str) -> None:
    said = " ".join(result.stderr.split())
    assert result.exit_code == 1, result.output
    assert f"error: ECS at {ecs.url} answered {operation} with {what}" in said, said
    assert "unexpected" not in said and "Traceback" not in result.output and result.stdout == ""


DESCRIBED = {
    "a string for the task definition": ({"taskDefinition": "oops"},
                                         "JSON of another shape (taskDefinition: a string where an object belongs)"),
    "a string for a container": ({"taskDefinition": td(containerDefinitions=["job"])},
                                 "JSON of another shape (taskDefinition.containerDefinitions[0]: a string where an "
                                 "object belongs)"),
    "a string for the environment": (
        {"taskDefinition": td(containerDefinitions=[{"name": "job", "environment": "A=1"}])},
        "JSON of another shape (taskDefinition.containerDefinitions[0].environment: a string where a list belongs)"),
    "a string for the tags": ({"taskDefinition": td(), "tags": "managed"},
                              "JSON of another shape (tags: a string where a list belongs)"),
    "a string for the revision": ({"taskDefinition": td(revision="1")},
                                  "JSON of another shape (taskDefinition.revision: a string where a whole number "
                                  "belongs)"),
    "no revision": ({"taskDefinition": {"family": "jobs-job", "containerDefinitions": []}},
                    "a task definition without its revision"),
}


@pytest.mark.parametrize("command", ["diff", "sync", "prune", "run"])
@pytest.mark.parametrize(("answer", "what"), DESCRIBED.values(), ids=DESCRIBED.keys())
def test_a_describe_answer_of_another_shape_is_one_clear_error(ecs, command, answer, what):
    ecs.respond(DESCRIBE, answer)
    args = {"run": ["run", "job"], "prune": ["prune", "--yes"]}.get(command, [command])
    assert_one_clear_error(ecsflow(*args, endpoint=ecs, env=PLAIN, expect=1), ecs, DESCRIBE, what)
    assert "RegisterTaskDefinition" not in ecs.calls and "RunTask" not in ecs.calls  # nothing written


LISTS = {
    "ListTaskDefinitions": ({"taskDefinitionArns": "arn:aws:ecs:us-east-1:123456789012:task-definition/jobs-job:1"},
                            "taskDefinitionArns: a string where a list belongs"),
    "ListServices": ({"serviceArns": [7]}, "serviceArns[0]: a number where a string belongs"),
    "ListTasks": ({"taskArns": {"arn": "x"}}, "taskArns: an object where a list belongs"),
}


@pytest.mark.parametrize("action", LISTS, ids=LISTS.keys())
def test_prunes_list_answers_of_another_shape_are_one_clear_error(ecs, action):
    ecsflow("sync", endpoint=ecs, env=PLAIN)
    answer, what = LISTS[action]
    ecs.respond(action, answer)
    result = ecsflow("prune", "--yes", endpoint=ecs, env=PLAIN, expect=1)
    assert_one_clear_error(result, ecs, action, f"JSON of another shape ({what})")
    assert "DeregisterTaskDefinition" not in ecs.calls


def sync_three_revisions(ecs, folder) -> None:
    for image in ("example/job:1.1", "example/job:1.2", "example/job:1.0"):
        (folder / "compose.yaml").write_text(COMPOSE.replace("example/job:1.0", image))
        ecsflow("sync", endpoint=ecs, env=PLAIN)


def test_a_delete_answer_that_names_no_revision_is_reported_per_revision(ecs, tmp_path):
    """A well-shaped answer whose ARN names no revision: the revisions asked for are not said to be deleted."""
    sync_three_revisions(ecs, tmp_path)
    ecs.respond("DeleteTaskDefinitions", {"taskDefinitions": [{"taskDefinitionArn": "garbage"}], "failures": []})
    result = ecsflow("prune", "--yes", "--delete", "--keep", "1", endpoint=ecs, env=PLAIN, expect=1)
    assert "unexpected" not in result.stderr and "Traceback" not in result.output
    assert "jobs-job: deregistered 2: 1-2" in result.stdout
    assert "jobs-job: failed 2: ECS neither deleted it nor said why" in result.stdout


def test_a_delete_answer_of_another_shape_may_have_deleted(ecs, tmp_path):
    sync_three_revisions(ecs, tmp_path)
    ecs.respond("DeleteTaskDefinitions", {"taskDefinitions": [], "failures": [{"arn": 42}]})
    result = ecsflow("prune", "--yes", "--delete", "--keep", "1", endpoint=ecs, env=PLAIN, expect=1)
    said = " ".join(result.stdout.split())
    assert "JSON of another shape (failures[0].arn: a number where a string belongs)" in said
    assert "it may have been deleted; run prune again to see" in said


RUN_ANSWERS = {
    "a string for a task": ("RunTask", {"tasks": ["arn:aws:ecs:us-east-1:123456789012:task/jobs/1"]},
                            "JSON of another shape (tasks[0]: a string where an object belongs)"),
    "a task without its ARN": ("RunTask", {"tasks": [{"lastStatus": "PROVISIONING"}]}, "a task without its taskArn"),
    "a number for the status": ("RunTask", {"tasks": [{"taskArn": "arn:aws:ecs:us-east-1:1:task/jobs/1",
                                                       "lastStatus": 3}]},
                                "JSON of another shape (tasks[0].lastStatus: a number where a string belongs)"),
}


@pytest.mark.parametrize(("action", "answer", "what"), RUN_ANSWERS.values(), ids=RUN_ANSWERS.keys())
def test_run_task_answers_of_another_shape_are_one_clear_error(ecs, action, answer, what):
    ecs.respond(action, answer)
    result = ecsflow("run", "job", endpoint=ecs, env=PLAIN, expect=1)
    said = " ".join(result.stderr.split())
    assert f"error: ECS at {ecs.url} answered {action} with {what}" in said, said
    assert "unexpected" not in said and "Traceback" not in result.output


def test_first_mismatch_follows_the_service_model():
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    output = model.operation_model("DescribeTaskDefinition").output_shape
    good = {"taskDefinition": td(cpu="256", registeredAt=1.7e9, containerDefinitions=[
        {"name": "job", "essential": True, "cpu": 0, "dockerLabels": {"a": "b"}, "unknownField": [1]}]),
        "tags": [{"key": "k", "value": "v"}], "extra": "ignored"}
    assert first_mismatch(output, good) is None
    assert first_mismatch(output, {"taskDefinition": td(cpu=256)}) == (
        "taskDefinition.cpu: a number where a string belongs")
    assert first_mismatch(output, {"taskDefinition": td(containerDefinitions=[{"essential": "yes"}])}) == (
        "taskDefinition.containerDefinitions[0].essential: a string where true or false belongs")
    assert first_mismatch(output, {"taskDefinition": td(containerDefinitions=[{"dockerLabels": {"a": 1}}])}) == (
        "taskDefinition.containerDefinitions[0].dockerLabels.a: a number where a string belongs")
    assert first_mismatch(output, {"taskDefinition": td(revision=True)}).endswith("true where a whole number belongs")
    assert first_mismatch(output, {"taskDefinition": None}) is None  # null: botocore leaves it out


def test_real_ecs_answers_have_the_models_shape():
    """The fixtures of real DescribeTaskDefinition answers (tests/fixtures/ecs/SOURCES.md) pass the check."""
    import json
    from pathlib import Path

    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    fixtures = sorted((Path(__file__).parent / "fixtures" / "ecs").glob("*.json"))
    assert len(fixtures) >= 5
    for path in fixtures:
        document = json.loads(path.read_text())
        operation = "RegisterTaskDefinition" if "register" in path.name else DESCRIBE
        answer = document if "taskDefinition" in document else {"taskDefinition": document}
        assert first_mismatch(model.operation_model(operation).output_shape, answer) is None, path.name
