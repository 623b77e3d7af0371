"""`ecsflow run` runs a job once and finishes (issue 27), end to end through the CLI against moto's server
behind the test proxy (tests/ecs_server.py), with ecsflow's local task runner: a task on FARGATE_SPOT that Spot
interrupts (the runner's switch: DescribeTasks then answers `stopCode: SpotInterruption` and no exit code, as
ECS does) is started again once on FARGATE; RunTask refused for lack of capacity is tried again, boundedly;
`--idempotency-key` attaches to the task that a run with the key started, and never starts a second copy; an
infrastructure stop is told apart from the container's own exit."""

import json
import threading

import pytest
from ecs_server import EcsEndpoint, dummy_credentials_env
from run_support import run

from ecsflow import operations
from ecsflow.ecs.register import Backoff
from ecsflow.operations import run_once

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
    x-ecsflow:
      capacity_provider: FARGATE_SPOT
  other:
    image: example/job:1.0
    command: ["python", "job.py"]
"""

# The container: says where it runs (ECS has no such variable: the run's -e gives it), then works.
JOB = """\
import os, sys, time
print("working", os.environ.get("WHO", ""), flush=True)
time.sleep(float(os.environ.get("JOB_SLEEP", "0")))
print("done", flush=True)
sys.exit(int(os.environ.get("JOB_EXIT", "0")))
"""
CAPACITY = "Capacity is unavailable at this time. Please try again later or in a different availability zone"


@pytest.fixture(scope="module")
def endpoint():
    with EcsEndpoint(run_tasks=True) as running:
        yield running


@pytest.fixture
def project(tmp_path):
    (tmp_path / "docker-compose.yml").write_text(COMPOSE)
    (tmp_path / "job.py").write_text(JOB)
    return tmp_path


@pytest.fixture
def ecs(endpoint, project, monkeypatch):
    endpoint.reset()
    endpoint.runner.workdir = project
    endpoint.runner.spot_interrupt_after = None
    endpoint.create_cluster("jobs")
    endpoint.reset_counts()
    monkeypatch.setattr(run_once, "CAPACITY_BACKOFF", Backoff(attempts=3, base=0.01, cap=0.02))
    yield endpoint
    endpoint.runner.spot_interrupt_after = None


def tasks(ecs, **filters):
    client = ecs.client("ecs")
    arns = client.list_tasks(cluster="jobs", **filters)["taskArns"]
    described = client.describe_tasks(cluster="jobs", tasks=arns)["tasks"] if arns else []
    return sorted(described, key=lambda task: (task["createdAt"], task["taskArn"]))  # run_once's order


# --- Spot interruption -----------------------------------------------------------------------------------


def test_a_spot_interruption_starts_the_task_again_once_on_fargate(ecs, project):
    ecs.runner.spot_interrupt_after = 0.3
    # exits 3, the second task's exit code
    result = run(ecs, project, "-e", "JOB_SLEEP=1.5", "-e", "JOB_EXIT=3", "--format", "json", expect=3)
    first, second = tasks(ecs)
    # What ECS answers for an interrupted Spot task: its stop code, its reason, no exit code.
    assert first["capacityProviderName"] == "FARGATE_SPOT" and first["stopCode"] == "SpotInterruption"
    assert first["stoppedReason"] == "Your Spot Task was interrupted."
    assert "exitCode" not in first["containers"][0]
    assert second["capacityProviderName"] == "FARGATE" and second["containers"][0]["exitCode"] == 3
    assert second["overrides"] == first["overrides"] and second["startedBy"] == first["startedBy"]
    said = " ".join(result.stderr.split())
    assert (f"task {first['taskArn'].rsplit('/', 1)[-1]} was interrupted by Spot (SpotInterruption: Your Spot Task "
            "was interrupted.): starting it again, once, on FARGATE (on-demand)") in said
    document = json.loads(result.stdout)
    assert (document["task_arn"], document["exit_code"], document["capacity_provider"]) == (
        second["taskArn"], 3, "FARGATE")
    assert document["stop_kind"] == "container" and document["infrastructure_cause"] is None
    assert document["interrupted_tasks"] == [{"task_arn": first["taskArn"], "capacity_provider": "FARGATE_SPOT",
                                             "stop_code": "SpotInterruption",
                                             "stopped_reason": "Your Spot Task was interrupted."}]
    assert result.stderr.count("working") == 2 and result.stderr.count("done") == 1  # both tasks' logs


def test_the_text_output_says_the_task_replaced_the_interrupted_one(ecs, project):
    ecs.runner.spot_interrupt_after = 0.2
    result = run(ecs, project, "-e", "JOB_SLEEP=1")
    first, second = tasks(ecs)
    last = " ".join(result.stderr.strip().splitlines()[-1].split())
    assert (f"task {second['taskArn'].rsplit('/', 1)[-1]} exited with code 0 (on FARGATE, after Spot interrupted "
            f"task {first['taskArn'].rsplit('/', 1)[-1]})") in last
    assert result.stdout.count("working") == 2


@pytest.mark.parametrize("how", ["flag", "x-ecsflow"])
def test_without_the_fallback_the_interruption_is_the_result(ecs, project, how):
    if how == "x-ecsflow":
        path = project / "docker-compose.yml"
        path.write_text(path.read_text().replace("capacity_provider: FARGATE_SPOT",
                                                 "capacity_provider: FARGATE_SPOT\n      spot_fallback: false"))
    ecs.runner.spot_interrupt_after = 0.2
    result = run(ecs, project, "-e", "JOB_SLEEP=5", *(["--no-spot-fallback"] if how == "flag" else []), expect=1)
    [task] = tasks(ecs)
    assert task["stopCode"] == "SpotInterruption"
    said = " ".join(result.stderr.split())
    assert (f"task {task['taskArn'].rsplit('/', 1)[-1]} was interrupted by Spot (SpotInterruption: Your Spot Task "
            "was interrupted.): --no-spot-fallback (or x-ecsflow.spot_fallback: false) makes that the run's result; "
            "exit 1") in said
    assert "starting it again" not in said


def test_an_exit_code_given_while_spot_stops_the_task_is_not_its_result(ecs, project):
    """A job that exits 0 on SIGTERM did not finish: with the fallback off the run exits 1, not 0. (The Amazon
    provider's operator only reads exit codes: such a try would pass there; docs/how-to/airflow.md says so.)"""
    (project / "job.py").write_text("import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
                                    "print('working', flush=True)\ntime.sleep(5)\n")
    ecs.runner.spot_interrupt_after = 0.2
    result = run(ecs, project, "--no-spot-fallback", "--format", "json", expect=1)
    document = json.loads(result.stdout)
    assert (document["stop_kind"], document["infrastructure_cause"]) == ("infrastructure", "SpotInterruption")


def test_a_task_on_fargate_is_never_interrupted(ecs, project):
    ecs.runner.spot_interrupt_after = 0.1
    run(ecs, project, "-e", "JOB_SLEEP=0.5", service="other")
    [task] = tasks(ecs)
    assert task["stopCode"] == "EssentialContainerExited"


# --- capacity --------------------------------------------------------------------------------------------


def capacity_failures(ecs, times):
    ecs.respond("RunTask", {"tasks": [], "failures": [
        {"arn": "arn:aws:ecs:us-east-1:123456789012:cluster/jobs", "reason": CAPACITY}]}, times=times)


def test_no_capacity_on_fargate_is_tried_again_then_runs(ecs, project):
    capacity_failures(ecs, 2)
    result = run(ecs, project, "--format", "json", service="other")
    assert ecs.calls["RunTask"] == 3 and len(tasks(ecs)) == 1
    assert result.stderr.count("no capacity to start the task") == 2 and "(2 of 3)" in result.stderr
    assert json.loads(result.stdout)["capacity_retries"] == 2


def test_no_capacity_for_ever_ends_after_the_last_attempt(ecs, project):
    ecs.respond("RunTask", {"tasks": [], "failures": [{"reason": "RESOURCE:MEMORY"}]})
    result = run(ecs, project, service="other", expect=1)
    assert ecs.calls["RunTask"] == 3  # CAPACITY_BACKOFF.attempts, here 3
    assert "RESOURCE:MEMORY" in result.stderr and "RunTask was tried 3 times" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_spot_capacity_starts_the_task_on_fargate_at_once(ecs, project):
    capacity_failures(ecs, 1)
    result = run(ecs, project)
    [task] = tasks(ecs)
    assert task["capacityProviderName"] == "FARGATE" and ecs.calls["RunTask"] == 2
    assert "no FARGATE_SPOT capacity" in result.stderr and "starting the task on FARGATE" in result.stderr


def test_no_spot_capacity_without_the_fallback_stays_on_spot(ecs, project):
    capacity_failures(ecs, 1)
    run(ecs, project, "--no-spot-fallback")
    [task] = tasks(ecs)
    assert task["capacityProviderName"] == "FARGATE_SPOT" and ecs.calls["RunTask"] == 2


# --- the idempotency key ---------------------------------------------------------------------------------


def test_the_key_is_the_tasks_started_by(ecs, project):
    result = run(ecs, project, "--idempotency-key", "ci-1234-job", service="other")
    [task] = tasks(ecs)
    assert task["startedBy"] == "ci-1234-job"
    assert "attached" not in result.stderr


def test_a_running_task_of_another_key_or_of_none_is_not_attached_to(ecs, project):
    """ListTasks is asked by startedBy: the same family running under another key, or under none (a run
    without a key, an Airflow task), is another job's run, not this key's."""
    for key in (["--idempotency-key", "nightly-2026-01-01"], []):
        run(ecs, project, *key, "--no-wait", "-e", "JOB_SLEEP=2", service="other")
    result = run(ecs, project, "--idempotency-key", "nightly-2026-01-02", "--format", "json", service="other")
    assert ecs.calls["RunTask"] == 3 and "attached to task" not in result.stderr
    document = json.loads(result.stdout)
    assert document["attached"] is False
    [ours] = [t for t in tasks(ecs, desiredStatus="STOPPED") if t["taskArn"] == document["task_arn"]]
    assert ours["startedBy"] == "nightly-2026-01-02"


def test_a_run_with_the_key_of_a_running_task_follows_it_instead_of_starting_another(ecs, project):
    """A CI job re-run after its runner was lost: the first run's task is still running."""
    started = run(ecs, project, "--idempotency-key", "deploy-42", "--no-wait", "-e", "JOB_SLEEP=1.5",
                  "-e", "JOB_EXIT=4", "-e", "WHO=first", service="other")
    arn = started.stdout.strip()
    result = run(ecs, project, "--idempotency-key", "deploy-42", "-e", "WHO=second", "--format", "json",
                 service="other", expect=4)  # the first task's exit code
    assert ecs.calls["RunTask"] == 1 and [t["taskArn"] for t in tasks(ecs)] == [arn]
    said = " ".join(result.stderr.split())
    assert (f"attached to task {arn.rsplit('/', 1)[-1]} (jobs-other:1), which an earlier run with idempotency key "
            "'deploy-42' started: following it instead of starting another") in said
    assert "working first" in result.stderr and "done" in result.stderr  # its logs, followed
    document = json.loads(result.stdout)
    assert (document["task_arn"], document["attached"], document["idempotency_key"]) == (arn, True, "deploy-42")


def test_an_attached_task_of_an_older_revision_is_followed_in_its_own_log_group(ecs, project):
    """The compose file changed since the first run (a new log group: revision 2): the task attached to runs
    revision 1, whose awslogs group holds its log, not the current revision's."""
    run(ecs, project, "--idempotency-key", "backfill-7", "--no-wait", "-e", "JOB_SLEEP=1.5",
        "-e", "WHO=first", service="other")
    result = run(ecs, project, "--idempotency-key", "backfill-7", service="other",
                 env={"ECSFLOW_LOG_GROUP": "/ecs/moved/{service}"})
    assert "registered jobs-other:2" in result.stderr
    assert "attached to task" in result.stderr and "(jobs-other:1)" in result.stderr
    assert "working first" in result.stdout and "done" in result.stdout  # read from revision 1's log group


def test_the_key_may_come_from_the_environment(ecs, project):
    started = run(ecs, project, "--no-wait", "-e", "JOB_SLEEP=1", service="other",
                  env={"ECSFLOW_IDEMPOTENCY_KEY": "from-ci"})
    again = run(ecs, project, service="other", env={"ECSFLOW_IDEMPOTENCY_KEY": "from-ci"})
    assert "attached to task" in again.stderr and [t["taskArn"] for t in tasks(ecs)] == [started.stdout.strip()]


def test_a_stopped_task_with_the_key_is_said_and_a_new_one_starts(ecs, project):
    run(ecs, project, "--idempotency-key", "nightly", "-e", "JOB_EXIT=5", service="other", expect=5)
    result = run(ecs, project, "--idempotency-key", "nightly", service="other")
    first, second = tasks(ecs, desiredStatus="STOPPED")
    said = " ".join(result.stderr.split())
    assert (f"task {first['taskArn'].rsplit('/', 1)[-1]}, started with idempotency key 'nightly', has stopped (exit "
            "code 5): a stopped task is not attached to; starting a new one") in said
    assert second["startedBy"] == "nightly"


def test_a_key_running_another_family_is_an_error(ecs, project):
    run(ecs, project, "--idempotency-key", "shared", "--no-wait", "-e", "JOB_SLEEP=2", service="other")
    result = run(ecs, project, "--idempotency-key", "shared", "--no-spot-fallback", expect=1)
    assert "runs family 'jobs-other', not 'jobs-job': a key names one job" in " ".join(result.stderr.split())
    assert ecs.calls["RunTask"] == 1


@pytest.mark.parametrize("key", ["has space", "a/b", "ü", "x" * 129, ""])
def test_a_key_ecs_cannot_take_is_a_usage_error_before_any_call(ecs, project, key):
    result = run(ecs, project, "--idempotency-key", key, expect=2)
    assert "Invalid value for '--idempotency-key'" in result.stderr
    assert sum(ecs.calls.values()) == 0


def test_two_runs_with_one_key_at_once_end_with_one_task(ecs, project):
    """Both list no task and call RunTask (held until both have: the race of two CI re-runs): right after, each
    lists the key's tasks again, and the younger task's run stops its own and follows the older one."""
    ecs.hold("RunTask", 2, timeout=20)
    options = operations.ProjectOptions(files=(project / "docker-compose.yml",))
    aws = operations.AwsFlags(endpoint_url=ecs.url)
    how = operations.RunOptions(service="other", environment=("JOB_SLEEP=1", "JOB_EXIT=6"), poll_interval=0.02,
                                idempotency_key="race")
    results, messages = [None, None], [[], []]

    def one(index):
        callbacks = operations.RunCallbacks(message=lambda kind, text: messages[index].append(text))
        results[index] = operations.run(options, aws, how, callbacks)

    with pytest.MonkeyPatch.context() as patch:
        for key, value in dummy_credentials_env().items():
            patch.setenv(key, value)
        threads = [threading.Thread(target=one, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert ecs.calls["RunTask"] == 2
    # the oldest as ecsflow orders them: createdAt, then the ARN (the two held RunTasks often share a createdAt)
    older, younger = sorted(tasks(ecs, desiredStatus="STOPPED"), key=lambda t: (t["createdAt"], t["taskArn"]))
    assert [r.task_arn for r in results] == [older["taskArn"]] * 2
    assert [r.exit_status for r in results] == [6, 6]
    assert older["containers"][0]["exitCode"] == 6
    assert younger["stopCode"] == "UserInitiated" and "started first" in younger["stoppedReason"]
    assert sorted(r.attached for r in results) == [False, True]
    assert sum("this run follows" in text for texts in messages for text in texts) == 1


# --- how a task stopped ----------------------------------------------------------------------------------

TASK = "arn:aws:ecs:us-east-1:123456789012:task/jobs/0123456789abcdef0123456789abcdef"


def scripted(ecs, stop_code, reason, container):
    """RunTask and DescribeTasks answered as ECS answers for a task that the platform failed."""
    task = {"taskArn": TASK, "lastStatus": "PROVISIONING", "desiredStatus": "RUNNING", "launchType": "FARGATE",
            "containers": [{"name": "other", "lastStatus": "PENDING"}]}
    ecs.respond("RunTask", {"tasks": [task], "failures": []})
    ecs.respond("DescribeTasks", {"tasks": [{**task, "lastStatus": "STOPPED", "desiredStatus": "STOPPED",
                                             "stopCode": stop_code, "stoppedReason": reason,
                                             "containers": [{"name": "other", "lastStatus": "STOPPED", **container}]}],
                                  "failures": []})


@pytest.mark.parametrize("stop_code, reason, container, cause", [
    ("TaskFailedToStart", "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to "
     "resolve ref example/job:1.0: not found", {}, "CannotPullContainerError"),
    ("TaskFailedToStart", "ResourceInitializationError: unable to pull secrets or registry auth: execution "
     "resource retrieval failed", {}, "ResourceInitializationError"),
    ("SpotInterruption", "Your Spot Task was interrupted.", {}, "SpotInterruption"),
    # an exit code the container gave while it was stopped (its SIGTERM handler exited 0) is not its result
    ("SpotInterruption", "Your Spot Task was interrupted.", {"exitCode": 0}, "SpotInterruption"),
    ("TerminationNotice", "Your task was stopped because of a Fargate task retirement", {"exitCode": 0},
     "TerminationNotice"),
])
def test_an_infrastructure_stop_is_told_apart_from_the_containers_exit(ecs, project, stop_code, reason, container,
                                                                       cause):
    scripted(ecs, stop_code, reason, container)
    result = run(ecs, project, "--format", "json", service="other", expect=1)
    document = json.loads(result.stdout)
    assert (document["stop_code"], document["stop_kind"], document["infrastructure_cause"]) == (
        stop_code, "infrastructure", cause)
    text = run(ecs, project, service="other", expect=1)
    assert (f"task 0123456789abcdef0123456789abcdef was stopped by the infrastructure, not by its container "
            f"({reason if cause in reason else cause + ': ' + reason}); exit 1") in " ".join(text.stderr.split())


def test_the_containers_own_failure_is_its_own(ecs, project):
    result = run(ecs, project, "-e", "JOB_EXIT=9", "--format", "json", service="other", expect=9)
    document = json.loads(result.stdout)
    assert (document["stop_code"], document["stop_kind"], document["infrastructure_cause"]) == (
        "EssentialContainerExited", "container", None)
    cannot_start = run(ecs, project, "--format", "json", "--", "no-such-command-ecsflow", service="other", expect=1)
    assert json.loads(cannot_start.stdout)["stop_kind"] == "container"  # its own command: not the platform's


def test_a_stop_asked_for_is_requested(ecs, project):
    result = run(ecs, project, "-e", "JOB_SLEEP=10", "--timeout", "0.3", "--format", "json", service="other",
                 expect=124)
    assert json.loads(result.stdout)["stop_kind"] == "requested"
