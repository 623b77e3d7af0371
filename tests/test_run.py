"""`ecsflow run` end to end through the CLI, against moto's ThreadedMotoServer behind the counting proxy
(tests/ecs_server.py) with ecsflow's local task runner active: tasks reach STOPPED with the exit code of a real
local process, and its output lines are CloudWatch Logs events. In the sandbox: test_run_sandbox.py; the pure
pieces and the help: test_run_pieces.py."""

import json
import time

import pytest
from ecs_server import EcsEndpoint, dummy_credentials_env
from project_files import edit
from run_support import run

from ecsflow import operations
from ecsflow.ecs.tasks import LogTail, LogTarget

COMPOSE = """\
name: jobs
x-ecsflow:
  region: us-east-1
  cluster: jobs
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
  subnets: [subnet-0a1b2c3d4e5f60001]
  security_groups: [sg-0123456789abcdef0]
services:
  job:
    image: example/job:1.0
    command: ["python", "job.py"]
    environment:
      FROM_DEFINITION: "yes"
    x-ecsflow:
      runtime_env: [GREETING]
"""

# What the container runs: behaviour chosen with -e, so each test needs no file of its own.
JOB = """\
import os, sys, time
for i in range(1, int(os.environ.get("JOB_LINES", "0")) + 1):
    print(f"line {i}", flush=True)
    time.sleep(float(os.environ.get("JOB_PAUSE", "0")))
    if str(i) == os.environ.get("JOB_WAIT_AFTER"):  # until ecsflow has shown a line (the test says so)
        deadline = time.monotonic() + 60
        while not os.path.exists(os.environ["JOB_WAIT_FOR"]) and time.monotonic() < deadline:
            time.sleep(0.01)
for name in filter(None, os.environ.get("JOB_SHOW", "").split(",")):
    print(f"{name}={os.environ.get(name, '<unset>')}", flush=True)
time.sleep(float(os.environ.get("JOB_SLEEP", "0")))
sys.exit(int(os.environ.get("JOB_EXIT", "0")))
"""


@pytest.fixture(scope="module")
def endpoint():
    with EcsEndpoint(run_tasks=True) as running:
        yield running


@pytest.fixture
def project(tmp_path):
    target = tmp_path / "jobs"
    target.mkdir()
    (target / "docker-compose.yml").write_text(COMPOSE)
    (target / "job.py").write_text(JOB)
    return target


@pytest.fixture
def ecs(endpoint, project):
    endpoint.reset()
    endpoint.runner.workdir = project
    endpoint.create_cluster("jobs")
    endpoint.reset_counts()
    yield endpoint
    endpoint.runner.check_network = False


def describe(ecs, arn):
    return ecs.client("ecs").describe_tasks(cluster="jobs", tasks=[arn])["tasks"][0]


def only_task(ecs):
    [arn] = ecs.client("ecs").list_tasks(cluster="jobs")["taskArns"]
    return describe(ecs, arn)


# --- exit codes and logs ---------------------------------------------------------------------------------


def test_success_streams_logs_and_exits_0(ecs, project):
    result = run(ecs, project, "-e", "JOB_LINES=3", "-e", "GREETING=hi")
    assert result.stdout == "line 1\nline 2\nline 3\n"  # stdout holds the container's output, nothing else
    assert "registered jobs-job:1 (new)" in result.stderr
    for status in ("PROVISIONING", "RUNNING", "STOPPED"):
        assert f": {status}" in result.stderr
    assert "exited with code 0" in result.stderr
    task = only_task(ecs)
    assert task["lastStatus"] == "STOPPED" and task["containers"][0]["exitCode"] == 0
    assert task["stoppedReason"] == "Essential container in task exited"
    assert task["launchType"] == "FARGATE" and task["startedBy"] == "ecsflow-run"
    [local] = ecs.runner.runs  # what the runner ran: the definition's command, in the project's folder
    assert local.argv[1:] == ["job.py"] and local.cwd == str(project)


@pytest.mark.parametrize("code", [1, 3, 42])
def test_the_containers_exit_code_is_the_exit_code(ecs, project, code):
    result = run(ecs, project, "-e", f"JOB_EXIT={code}", "-e", "GREETING=hi", expect=code)
    assert f"exited with code {code}" in result.stderr


def test_fifty_lines_arrive_in_order_without_duplicates(ecs, project, monkeypatch, tmp_path):
    """Lines are shown while the task runs, not only at the end: the job prints 25 lines, then waits until
    ecsflow has written some (whatever the machine's load), then prints 25 more."""
    from ecsflow import output

    shown_while_running, marker = [], tmp_path / "shown"
    write = output.write_log_lines

    def write_and_tell(lines, **kwargs):
        shown_while_running.append(not ecs.runner.runs[-1].done.is_set())
        marker.touch()
        write(lines, **kwargs)

    monkeypatch.setattr(output, "write_log_lines", write_and_tell)
    result = run(ecs, project, "-e", "JOB_LINES=50", "-e", "JOB_PAUSE=0.002", "-e", "JOB_WAIT_AFTER=25",
                 "-e", f"JOB_WAIT_FOR={marker}", "-e", "GREETING=hi")
    assert result.stdout.splitlines() == [f"line {i}" for i in range(1, 51)]
    assert shown_while_running[0] and len(shown_while_running) >= 2
    assert ecs.calls["GetLogEvents"] >= 2 and ecs.calls["DescribeTasks"] >= 2


def test_log_tail_pages_by_forward_token(ecs):
    logs = ecs.client("logs")
    logs.create_log_group(logGroupName="/g")
    logs.create_log_stream(logGroupName="/g", logStreamName="s")
    tail = LogTail(logs, LogTarget("/g", "s"), limit=7)
    assert LogTail(logs, LogTarget("/g", "missing")).read() == []  # not created yet: nothing, no error
    assert tail.read() == []
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/g", logStreamName="s",
                        logEvents=[{"timestamp": now, "message": f"m{i}"} for i in range(20)])
    assert tail.read() == [f"m{i}" for i in range(20)]  # three pages of at most 7
    assert tail.read() == []
    logs.put_log_events(logGroupName="/g", logStreamName="s",
                        logEvents=[{"timestamp": now + 1, "message": "late"}])
    assert tail.read() == ["late"]


# --- overrides -------------------------------------------------------------------------------------------


def test_env_values_reach_the_process_and_only_them(ecs, project):
    result = run(ecs, project, "-e", "GREETING=hello world", "-e", "FROM_SHELL",
                 "-e", "JOB_SHOW=GREETING,FROM_DEFINITION,FROM_SHELL,HOST_ONLY,AWS_EXECUTION_ENV",
                 env={"FROM_SHELL": "shell value", "HOST_ONLY": "not for the container"})
    assert result.stdout.splitlines() == [
        "GREETING=hello world", "FROM_DEFINITION=yes", "FROM_SHELL=shell value", "HOST_ONLY=<unset>",
        "AWS_EXECUTION_ENV=AWS_ECS_FARGATE",
    ]
    [override] = only_task(ecs)["overrides"]["containerOverrides"]
    assert override["name"] == "job"
    assert {"name": "GREETING", "value": "hello world"} in override["environment"]


def test_runtime_values_not_given_get_their_defaults(ecs, project):
    """As a scheduled DAG run: the default of each runtime value not given with -e; a Jinja default rendered
    for a run now (ds is today, UTC)."""
    import datetime

    edit(project / "docker-compose.yml", "      runtime_env: [GREETING]\n",
         '      runtime_env: {GREETING: "", MODE: full, DAY: "{{ ds }}", BEFORE: "{{ macros.ds_add(ds, -1) }}"}\n')
    today = datetime.datetime.now(datetime.UTC).date()
    result = run(ecs, project, "-e", "MODE=partial", "-e", "JOB_SHOW=GREETING,MODE,DAY,BEFORE")
    if datetime.datetime.now(datetime.UTC).date() != today:  # midnight passed during the run
        return
    assert result.stdout.splitlines() == [
        "GREETING=", "MODE=partial", f"DAY={today}", f"BEFORE={today - datetime.timedelta(days=1)}"]
    assert f"note: DAY='{today}': its default in x-ecsflow.runtime_env (pass -e DAY=... for another value)" in (
        result.stderr)
    assert "MODE=" not in result.stderr  # given: no note


@pytest.mark.parametrize("default, says", [
    ("{{ dag_run.conf['day'] }}", "'dag_run' is undefined"),
    ("{{ ds", "cannot be rendered"),
])
def test_a_default_run_cannot_render_is_refused_before_any_call(ecs, project, default, says):
    edit(project / "docker-compose.yml", "      runtime_env: [GREETING]\n",
         f"      runtime_env: {{DAY: {json.dumps(default)}}}\n")
    result = run(ecs, project, expect=1)
    assert "service 'job'" in result.stderr and "x-ecsflow.runtime_env.DAY" in result.stderr
    assert says in result.stderr and "-e DAY=VALUE" in result.stderr
    assert sum(ecs.calls.values()) == 0
    run(ecs, project, "-e", "DAY=2024-01-01")  # given: no default to render


def test_a_capacity_provider_replaces_the_launch_type(ecs, project):
    edit(project / "docker-compose.yml", "      runtime_env: [GREETING]\n",
         "      runtime_env: [GREETING]\n      capacity_provider: FARGATE_SPOT\n")
    run(ecs, project, "-e", "GREETING=hi")
    # (RunTask refuses a launch type with a capacity provider strategy, as ECS does.)
    assert only_task(ecs).get("capacityProviderName") == "FARGATE_SPOT"


def test_bad_env_values_are_refused_before_any_call(ecs, project):
    for value in ("=x", "NO SPACE=1", "UNSET_IN_SHELL"):
        result = run(ecs, project, "-e", value, expect=1)
        assert "-e" in result.stderr, result.stderr
    assert sum(ecs.calls.values()) == 0


@pytest.mark.parametrize("how", ["-e", "command", "both"])
def test_overrides_over_ecss_8192_characters_are_refused_before_any_call(ecs, project, how):
    """ECS refuses RunTask overrides over 8,192 characters of JSON; moto takes them. Nothing is registered first."""
    big = "B1g-" * 2100  # 8,400 characters
    args = {"-e": ["-e", "GREETING=hi", "-e", f"BIG={big}"],
            "command": ["-e", "GREETING=hi", "--", "python", "-c", f"print({big!r})"],
            "both": ["-e", "GREETING=hi", "-e", f"HALF={big[:4300]}", "--", "python", "-c", big[:4300]]}[how]
    result = run(ecs, project, *args, expect=1)
    assert "8192" in result.stderr and "characters" in result.stderr and "Traceback" not in result.stderr
    assert ("-e BIG" if how == "-e" else "the command after --") in result.stderr
    assert big[:40] not in result.stderr + result.stdout  # lengths and names, never the values
    assert sum(ecs.calls.values()) == 0


def test_overrides_at_ecss_limit_still_run(ecs, project):
    from ecsflow.runtask import MAX_OVERRIDES_CHARACTERS, overrides_size, run_overrides

    base = overrides_size(run_overrides("job", {"GREETING": "hi", "FILL": ""}, (), None))
    fill = "x" * (MAX_OVERRIDES_CHARACTERS - base)
    assert overrides_size(run_overrides("job", {"GREETING": "hi", "FILL": fill}, (), None)) == 8192
    run(ecs, project, "-e", "GREETING=hi", "-e", f"FILL={fill}")
    with pytest.raises(Exception, match="8193 characters"):
        run_overrides("job", {"GREETING": "hi", "FILL": fill + "x"}, (), None)
    # Non-ASCII counts as botocore sends it (é is \u00e9, six characters).
    with pytest.raises(Exception, match="8193 characters"):
        run_overrides("job", {"GREETING": "hi", "FILL": fill[:-5] + "é"}, (), None)


def test_command_after_double_dash_replaces_the_command(ecs, project):
    result = run(ecs, project, "-e", "GREETING=hi", "--", "python", "-c", "print('override ran'); raise SystemExit(5)",
                 expect=5)
    assert result.stdout == "override ran\n"
    [override] = only_task(ecs)["overrides"]["containerOverrides"]
    assert override["command"] == ["python", "-c", "print('override ran'); raise SystemExit(5)"]


def test_size_override_is_validated_then_sent(ecs, project):
    bad = run(ecs, project, "--cpu", "1024", "--memory", "3000", expect=1)
    assert "--memory 3000 MiB is not valid with --cpu 1024" in bad.stderr
    assert "2048, 3072, 4096, 5120, 6144, 7168, 8192" in bad.stderr
    assert "--cpu 300" in run(ecs, project, "--cpu", "300", expect=1).stderr
    only_cpu = run(ecs, project, "--cpu", "2048", expect=1)  # the definition's 512 MiB is not valid with 2048
    assert "add --memory" in only_cpu.stderr
    assert sum(ecs.calls.values()) == 0  # all refused before the first call

    run(ecs, project, "-e", "GREETING=hi", "--cpu", "1024", "--memory", "3072")
    task = only_task(ecs)
    assert (task["overrides"]["cpu"], task["overrides"]["memory"]) == ("1024", "3072")
    assert (task["cpu"], task["memory"]) == ("1024", "3072")


# --- the ways a run ends badly ---------------------------------------------------------------------------


def test_timeout_stops_the_task_and_exits_124(ecs, project):
    started = time.monotonic()
    result = run(ecs, project, "-e", "JOB_SLEEP=30", "-e", "JOB_LINES=1", "--timeout", "0.5", expect=124)
    assert time.monotonic() - started < 10
    assert result.stdout == "line 1\n"
    assert "--timeout of 0.5 s reached: stopping task" in result.stderr
    task = only_task(ecs)
    assert task["lastStatus"] == "STOPPED" and task["stopCode"] == "UserInitiated"
    assert "timeout" in task["stoppedReason"]
    assert task["containers"][0]["exitCode"] == 143  # SIGTERM, as Docker reports it
    assert ecs.calls["StopTask"] == 1


def test_timeout_json_reports_the_stop(ecs, project):
    result = run(ecs, project, "-e", "JOB_SLEEP=30", "--timeout", "0.3", "--format", "json", expect=124)
    document = json.loads(result.stdout)
    assert document["status"] == "STOPPED" and "timeout" in document["stopped_reason"]


def test_command_not_found_exits_1_with_the_reason(ecs, project):
    result = run(ecs, project, "-e", "GREETING=hi", "--", "no-such-command-ecsflow", "--flag", expect=1)
    assert "stopped without an exit code" in result.stderr
    assert 'CannotStartContainerError: exec: "no-such-command-ecsflow": executable file not found' in result.stderr
    task = only_task(ecs)
    assert task["stopCode"] == "TaskFailedToStart" and "exitCode" not in task["containers"][0]


def test_run_task_failures_answer_is_a_clear_error(ecs, project, monkeypatch):
    from ecsflow.ecs.register import Backoff
    from ecsflow.operations import run_once

    monkeypatch.setattr(run_once, "CAPACITY_BACKOFF", Backoff(attempts=2, base=0.01, cap=0.01))
    ecs.respond("RunTask", {"tasks": [], "failures": [
        {"arn": "arn:aws:ecs:us-east-1:123456789012:cluster/jobs", "reason": "RESOURCE:MEMORY",
         "detail": "no Fargate capacity"}]})
    result = run(ecs, project, "-e", "GREETING=hi", expect=1)
    assert "ECS could not start" in result.stderr and "RESOURCE:MEMORY (no Fargate capacity)" in result.stderr
    assert "capacity" in result.stderr.split("hint:", 1)[1]
    assert "Traceback" not in result.stderr


def test_run_task_error_is_a_clear_error(ecs, project):
    ecs.fail("RunTask", "InvalidParameterException", "Error retrieving subnet information for [subnet-bad]")
    result = run(ecs, project, expect=1)
    assert "RunTask: InvalidParameterException: Error retrieving subnet information" in result.stderr
    assert "network settings" in result.stderr


def test_unknown_subnet_when_the_network_is_checked(ecs, project):
    ecs.runner.check_network = True
    result = run(ecs, project, expect=1)
    assert "subnet-0a1b2c3d4e5f60001" in result.stderr

    subnet, group = ecs.network()
    result = run(ecs, project, "-e", "GREETING=hi", "--subnet", subnet, "--security-group", group)
    task = only_task(ecs)  # the first run failed: one task
    assert {"name": "subnetId", "value": subnet} in task["attachments"][0]["details"]


def test_no_subnets_is_an_error_before_any_call(ecs, project):
    edit(project / "docker-compose.yml", "  subnets: [subnet-0a1b2c3d4e5f60001]\n", "")
    result = run(ecs, project, expect=1)
    assert "no subnets" in result.stderr and "--subnet" in result.stderr
    assert sum(ecs.calls.values()) == 0


def test_missing_cluster_is_an_error_before_registering(ecs, project):
    result = run(ecs, project, "--cluster", "nope", expect=1)
    assert "cluster 'nope' does not exist" in result.stderr
    assert ecs.calls["RegisterTaskDefinition"] == 0 and ecs.calls["RunTask"] == 0


def test_ctrl_c_stops_the_task_and_exits_130(ecs, project, monkeypatch):
    from ecsflow import output

    def interrupt(lines, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(output, "write_log_lines", interrupt)
    result = run(ecs, project, "-e", "JOB_LINES=1", "-e", "JOB_SLEEP=30", expect=130)
    assert "interrupted: asking ECS to stop task" in result.stderr
    assert ecs.runner.wait_idle(timeout=5)
    task = only_task(ecs)
    assert task["lastStatus"] == "STOPPED" and "interrupted" in task["stoppedReason"]


# --- what is registered, what is printed -----------------------------------------------------------------


def test_the_family_is_made_current_first(ecs, project):
    run(ecs, project, "-e", "GREETING=hi")
    again = run(ecs, project, "-e", "GREETING=hi")
    assert "jobs-job:1 is current" in again.stderr
    assert ecs.calls["RegisterTaskDefinition"] == 1
    edit(project / "docker-compose.yml", "example/job:1.0", "example/job:1.1")
    changed = run(ecs, project, "-e", "GREETING=hi")
    assert "registered jobs-job:2 (changed)" in changed.stderr
    assert only_task_count(ecs) == 3
    assert describe(ecs, ecs.runner.runs[-1].task_arn)["taskDefinitionArn"].endswith(":task-definition/jobs-job:2")


def only_task_count(ecs):
    return len(ecs.client("ecs").list_tasks(cluster="jobs")["taskArns"])


def test_json_output_shape(ecs, project):
    result = run(ecs, project, "-e", "JOB_LINES=2", "-e", "JOB_EXIT=7", "-e", "GREETING=hi", "--format", "json",
                 expect=7)
    document = json.loads(result.stdout)  # stdout is the document only: the logs went to stderr
    assert document == {
        "task_arn": document["task_arn"], "family": "jobs-job", "revision": 1, "status": "STOPPED",
        "exit_code": 7, "stopped_reason": "Essential container in task exited", "executed": True, "would_run": None,
        # (added by issue 27: tests/test_run_once.py checks them)
        "stop_code": "EssentialContainerExited", "stop_kind": "container", "infrastructure_cause": None,
        "capacity_provider": None, "attached": False, "idempotency_key": None, "spot_fallback": True,
        "interrupted_tasks": [], "capacity_retries": 0,
    }
    assert document["task_arn"].startswith("arn:aws:ecs:us-east-1:123456789012:task/jobs/")
    assert "line 1\nline 2\n" in result.stderr


def test_no_wait_returns_at_once_with_the_task_arn(ecs, project):
    started = time.monotonic()
    result = run(ecs, project, "-e", "JOB_SLEEP=20", "--no-wait")
    assert time.monotonic() - started < 5
    arn = result.stdout.strip()
    assert arn.startswith("arn:aws:ecs:") and describe(ecs, arn)["lastStatus"] != "STOPPED"
    assert ecs.calls["GetLogEvents"] == 0

    as_json = run(ecs, project, "-e", "JOB_SLEEP=20", "--no-wait", "--format", "json")
    document = json.loads(as_json.stdout)
    assert document["exit_code"] is None and document["stopped_reason"] is None
    assert document["status"] in ("PROVISIONING", "PENDING", "RUNNING")


def test_secrets_are_not_resolved_and_the_log_says_so(ecs, project):
    secret = "arn:aws:ssm:us-east-1:123456789012:parameter/jobs/token"
    edit(project / "docker-compose.yml", "      runtime_env: [GREETING]\n",
         f"      runtime_env: [GREETING]\n      secrets:\n        API_TOKEN: {secret}\n")
    result = run(ecs, project, "-e", "GREETING=hi", "-e", "JOB_SHOW=API_TOKEN")
    assert result.stdout.splitlines() == [
        "[ecsflow local runner] secrets are not resolved here; not set: API_TOKEN", "API_TOKEN=<unset>"]


def test_operations_run_stops_the_task_on_keyboard_interrupt(ecs, project):
    def lines(_lines):
        raise KeyboardInterrupt

    options = operations.ProjectOptions(files=(project / "docker-compose.yml",))
    aws = operations.AwsFlags(endpoint_url=ecs.url)
    run_options = operations.RunOptions(service="job", environment=("JOB_LINES=1", "JOB_SLEEP=30", "GREETING=x"),
                                        poll_interval=0.02)
    messages = []
    with pytest.MonkeyPatch.context() as patch:
        for key, value in dummy_credentials_env().items():
            patch.setenv(key, value)
        with pytest.raises(KeyboardInterrupt):
            operations.run(options, aws, run_options,
                           operations.RunCallbacks(message=lambda kind, text: messages.append(text), lines=lines))
    assert any("asked to stop" in m for m in messages)
    assert ecs.runner.wait_idle(timeout=5)
    assert only_task(ecs)["stopCode"] == "UserInitiated"
