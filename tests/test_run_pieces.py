"""`ecsflow run`'s pure pieces (following a task, the size and environment of a run) and its command line (a
--timeout that is not positive, the help's exit statuses)."""


import pytest
from cli_runner import ecsflow

from ecsflow.errors import EcsflowError
from ecsflow.runtask import parse_environment, run_size

# --- pure pieces -----------------------------------------------------------------------------------------


def test_follow_task_waits_for_a_task_ecs_does_not_know_yet():
    from ecsflow.ecs.tasks import FollowOptions, follow_task

    answers = [
        {"tasks": [], "failures": [{"arn": "t", "reason": "MISSING"}]},
        {"tasks": [{"taskArn": "arn:aws:ecs:r:1:task/c/t", "lastStatus": "RUNNING", "containers": []}]},
        {"tasks": [{"taskArn": "arn:aws:ecs:r:1:task/c/t", "lastStatus": "STOPPED",
                    "stopCode": "EssentialContainerExited", "stoppedReason": "Essential container in task exited",
                    "containers": [{"name": "other", "exitCode": 9}, {"name": "job", "exitCode": 4}]}]},
    ]

    class Client:
        def describe_tasks(self, cluster, tasks):
            return answers.pop(0)

    seen, sleeps = [], []
    how = FollowOptions(container="job", poll_interval=2, on_status=lambda s: seen.append(s.last_status))
    state, timed_out = follow_task(Client(), "c", "arn:aws:ecs:r:1:task/c/t", how, known_status="PROVISIONING",
                                   sleep=sleeps.append, clock=lambda: 0.0)
    assert (state.exit_code, timed_out, seen) == (4, False, ["RUNNING", "STOPPED"])
    assert sleeps == [2, 2]


@pytest.mark.parametrize(("started_at", "expected"), [(1.0, ["PENDING", "RUNNING", "STOPPED"]),
                                                      (None, ["PENDING", "STOPPED"])])
def test_a_running_status_between_two_polls_is_still_reported(started_at, expected):
    """A short job (or a slow poll) goes from PENDING to STOPPED between two polls: its startedAt says it ran; a
    task that never started (no startedAt) is not said to have run."""
    from ecsflow.ecs.tasks import FollowOptions, follow_task

    arn = "arn:aws:ecs:r:1:task/c/t"
    answers = [{"tasks": [{"taskArn": arn, "lastStatus": "PENDING", "containers": []}]},
               {"tasks": [{"taskArn": arn, "lastStatus": "STOPPED", "startedAt": started_at,
                           "containers": [{"name": "job", "exitCode": 0}]}]}]

    class Client:
        def describe_tasks(self, cluster, tasks):
            return answers.pop(0)

    seen = []
    how = FollowOptions(container="job", poll_interval=0, on_status=lambda s: seen.append((s.last_status, s.exit_code)))
    state, _ = follow_task(Client(), "c", arn, how, known_status="PROVISIONING", sleep=lambda _: None)
    assert [status for status, _ in seen] == expected and state.exit_code == 0
    assert all(code is None for status, code in seen if status != "STOPPED")


def test_run_size_fills_in_the_definitions_half():
    assert run_size(None, None, 256, 512) is None
    assert run_size(512, None, 256, 1024) == (512, 1024)
    assert run_size(None, 2048, 256, 512) == (256, 2048)
    with pytest.raises(Exception, match="not valid with the task definition's cpu 256"):
        run_size(None, 4096, 256, 512)


def test_run_size_holds_the_containers_own_limits():
    containers = [{"name": "app", "cpu": 512, "memory": 1024}, {"name": "proxy", "cpu": 256, "memoryReservation": 512}]
    assert run_size(1024, 2048, 256, 512, containers) == (1024, 2048)
    assert run_size(1024, None, 1024, 2048, containers) == (1024, 2048)
    with pytest.raises(EcsflowError, match="--cpu 512 is less than the 768 CPU units its containers ask together "
                                           r"\(app 512 units, proxy 256 units\)") as cpu:
        run_size(512, 1024, 256, 512, containers)
    assert cpu.value.key == "--cpu" and cpu.value.hint.startswith("give --cpu 1024 or more")
    with pytest.raises(EcsflowError, match="--memory 1024 MiB is less than the 1536 MiB its containers reserve"):
        run_size(512, 1024, 256, 512, [{"name": "app", "memory": 1024}, {"name": "proxy", "memory": 512}])
    with pytest.raises(EcsflowError, match="--memory 512 MiB is less than container 'app's memory limit 1024 MiB"):
        run_size(256, 512, 256, 512, [{"name": "app", "memory": 1024}])
    assert run_size(256, 512, 1024, 2048, [{"name": "app"}]) == (256, 512)  # no limits of its own: the task's


def test_parse_environment():
    assert parse_environment(("A=1", "B=x=y", "C=", "D", "A=2"), {"D": "from shell"}) == {
        "A": "2", "B": "x=y", "C": "", "D": "from shell"}


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_timeout_that_is_not_positive_is_a_usage_error(value):
    result = ecsflow("run", "job", "--timeout", value, expect=2)
    assert "Invalid value for '--timeout'" in result.stderr


# --- run's help ------------------------------------------------------------------------------------------


def test_runs_help_names_every_exit_status_of_its_own():
    """`ecsflow run --help` says what each of run's own exit statuses means: 124, 130 and 143 (SIGTERM)."""
    result = ecsflow("run", "--help", env={"COLUMNS": "200", "NO_COLOR": "1"})
    text = " ".join(result.stdout.split())
    assert "124 on --timeout" in text and "130 on Ctrl-C" in text and "143 on SIGTERM" in text, text
