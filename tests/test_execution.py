"""The sandbox executes nothing on this machine unless the user opts in (docs/design.md section 12,
ecsflow/execution.py): `run --sandbox` validates and registers as on ECS, then reports the task as not
executed, with the command it would have run and how to opt in; `--execute-locally` or ECSFLOW_EXECUTE_LOCALLY
runs it. Real processes, a real sandbox: a command that would create a file proves whether anything ran."""

from __future__ import annotations

import json
import time

import pytest
from cli_runner import ecsflow
from ecs_server import EcsEndpoint

from ecsflow.ecs.client import make_ecs_client
from ecsflow.execution import LocalExecution, MeaninglessOptIn, decide
from ecsflow.sandbox.session import sandbox_session

PLAIN = {"NO_COLOR": "1"}
COMPOSE = """\
name: jobs
x-ecsflow: {{region: eu-west-1, subnets: [subnet-1], security_groups: [sg-1],
             execution_role: "arn:aws:iam::123456789012:role/exec"}}
services:
  init:
    image: example/init:1
    command: {command}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project whose service, when executed, creates `proof` next to it (as an init service's `mkdir` would
    change this machine); the shell has no opt-in of its own."""
    monkeypatch.delenv("ECSFLOW_EXECUTE_LOCALLY", raising=False)
    monkeypatch.delenv("ECSFLOW_SANDBOX", raising=False)
    monkeypatch.chdir(tmp_path)
    job = "import pathlib; pathlib.Path('proof').write_text('ran'); print('created proof')"
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(command=json.dumps(
        ["python", "-c", job, "--db-password", "hunter2-not-shown"])))
    return tmp_path


def test_without_the_opt_in_nothing_is_executed_but_the_family_is_registered(project):
    result = ecsflow("run", "init", "--sandbox", env=PLAIN)
    assert not (project / "proof").exists()  # no process was started
    assert (project / ".ecsflow" / "sandbox" / "jobs-init.json").is_file()  # registered: the sandbox is ECS
    assert "registered jobs-init:1 (new)" in result.stderr and result.stdout == ""
    said = " ".join(result.stderr.split())
    assert "sandbox: not executed: the task would run `python -c" in said
    assert f"as a process on this machine, in {project}" in said
    assert "pass --execute-locally (or set ECSFLOW_EXECUTE_LOCALLY=1) to run it on this machine" in said
    assert "hunter2-not-shown" not in result.stderr and "--db-password (sensitive)" in said  # masked as all else
    assert "runs on this machine in" not in said  # the note of a task that does run


def test_without_the_opt_in_the_json_document_says_not_executed(project):
    result = ecsflow("run", "init", "--sandbox", "--format", "json", env=PLAIN)
    document = json.loads(result.stdout)
    assert document["status"] == "not-executed" and document["executed"] is False
    assert (document["task_arn"], document["exit_code"], document["stopped_reason"]) == (None, None, None)
    assert (document["family"], document["revision"]) == ("jobs-init", 1)
    command = document["would_run"]["command"]
    assert command[0] == "python" and command[-2:] == ["--db-password", "(sensitive)"]
    assert "--execute-locally" in document["would_run"]["note"]
    assert not (project / "proof").exists()


@pytest.mark.parametrize("how", [("--execute-locally",), {"ECSFLOW_EXECUTE_LOCALLY": "1"},
                                 {"ECSFLOW_EXECUTE_LOCALLY": "true"}, {"ECSFLOW_EXECUTE_LOCALLY": "YES"},
                                 {"ECSFLOW_EXECUTE_LOCALLY": "on"}], ids=["flag", "1", "true", "YES", "on"])
def test_the_opt_in_runs_the_command_here(project, how):
    flags, env = (how, {}) if isinstance(how, tuple) else ((), how)
    result = ecsflow("run", "init", "--sandbox", *flags, "--format", "json", env={**PLAIN, **env})
    assert (project / "proof").read_text() == "ran"
    document = json.loads(result.stdout)
    assert document["executed"] is True and document["would_run"] is None
    assert (document["status"], document["exit_code"]) == ("STOPPED", 0)


@pytest.mark.parametrize("value", ["0", "false", "off", ""])
def test_a_false_variable_is_no_opt_in(project, value):
    result = ecsflow("run", "init", "--sandbox", env={**PLAIN, "ECSFLOW_EXECUTE_LOCALLY": value})
    assert not (project / "proof").exists() and "not executed" in result.stderr


def test_an_unreadable_variable_is_a_usage_error_before_anything_is_written(project):
    result = ecsflow("run", "init", "--sandbox", env={**PLAIN, "ECSFLOW_EXECUTE_LOCALLY": "please"}, expect=2)
    assert "Invalid value for '--execute-locally' (env var: 'ECSFLOW_EXECUTE_LOCALLY')" in result.stderr
    assert not (project / ".ecsflow").exists() and not (project / "proof").exists()


def test_the_flag_without_the_sandbox_is_a_usage_error_before_any_call(project):
    """Whoever forgot --sandbox expects a local run: a task on ECS, with their credentials, would surprise them."""
    with EcsEndpoint() as endpoint:
        result = ecsflow("run", "init", "--execute-locally", endpoint=endpoint, env=PLAIN, expect=2)
        assert "--execute-locally only applies with --sandbox" in " ".join(result.stderr.split())
        assert sum(endpoint.calls.values()) == 0


def test_the_variable_without_the_sandbox_is_a_note_only(project):
    """A CI job sets ECSFLOW_EXECUTE_LOCALLY for all its steps: a real run goes on (here it fails to connect)."""
    result = ecsflow("run", "init", endpoint="http://127.0.0.1:9", env={**PLAIN, "ECSFLOW_EXECUTE_LOCALLY": "1"},
                     expect=1)
    assert "ECSFLOW_EXECUTE_LOCALLY is set but means nothing outside the sandbox: the task runs on ECS" in result.stderr
    assert "cannot reach ECS at http://127.0.0.1:9" in result.stderr


def test_decide():
    assert decide(sandbox=True, asked=False) == decide(sandbox=False, asked=False) == LocalExecution(False)
    assert decide(sandbox=True, asked=True) == LocalExecution(True)
    assert decide(sandbox=True, asked=True, from_variable=True) == LocalExecution(True)
    with pytest.raises(MeaninglessOptIn):
        decide(sandbox=False, asked=True)
    assert decide(sandbox=False, asked=True, from_variable=True).allowed is False


def test_the_sandboxs_runner_starts_no_process_without_consent(project, monkeypatch):
    """The last guard: a task that reaches the sandbox's runner without the opt-in (a RunTask made by any code
    path) stops before its process would start, and says how to opt in."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with sandbox_session(project / "state", "eu-west-1", task_workdir=project) as sandbox:
        ecs = make_ecs_client(sandbox.options)
        ecs.create_cluster(clusterName="c")
        ecs.register_task_definition(family="f", requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
                                     cpu="256", memory="512", containerDefinitions=[{
                                         "name": "init", "image": "x", "memory": 512, "command": [
                                             "python", "-c", "open('proof', 'w').write('ran')"]}])
        arn = ecs.run_task(cluster="c", taskDefinition="f", launchType="FARGATE", networkConfiguration={
            "awsvpcConfiguration": {"subnets": ["subnet-1"]}})["tasks"][0]["taskArn"]
        deadline = time.monotonic() + 30
        while (task := ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0])["lastStatus"] != "STOPPED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert task["stopCode"] == "TaskFailedToStart" and "--execute-locally" in task["stoppedReason"]
    assert task["containers"][0].get("exitCode") is None
    assert not (project / "proof").exists()


def test_a_long_multi_line_command_is_shown_by_its_first_words(tmp_path, monkeypatch):
    """A compose init service's script (the official Airflow file's is 1,800 characters over 40 lines) is not
    poured into the note: its first whole words, and how much is left out."""
    monkeypatch.delenv("ECSFLOW_EXECUTE_LOCALLY", raising=False)
    monkeypatch.chdir(tmp_path)
    script = "\n".join(f"echo step {n}; mkdir -p /opt/airflow/{n}" for n in range(40))
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(command=json.dumps(["bash", "-c", script])))
    result = ecsflow("run", "init", "--sandbox", env=PLAIN)
    said = " ".join(result.stderr.split())
    assert f"would run `bash -c …` (1 more argument, {len(script):,} characters; `ecsflow render` shows the " \
        "whole command) as a process on this machine" in said
    assert "step 1;" not in said
