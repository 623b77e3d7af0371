"""The sandbox's Spot switch (ECSFLOW_SANDBOX_SPOT_INTERRUPT_AFTER, ecsflow/execution.py): in `run --sandbox`
a task on FARGATE_SPOT whose command runs is interrupted as Spot interrupts one, so that the fallback to
FARGATE can be seen without AWS; without --execute-locally nothing runs, and `run` says what would happen."""

import json

import pytest
from cli_runner import ecsflow

SWITCH = "ECSFLOW_SANDBOX_SPOT_INTERRUPT_AFTER"


@pytest.fixture
def etl(etl_project, monkeypatch):
    """The example (its transform runs on FARGATE_SPOT), copied; the shell has no opt-in or switch of its own."""
    for name in ("ECSFLOW_EXECUTE_LOCALLY", "ECSFLOW_SANDBOX", SWITCH):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(etl_project)
    return etl_project


def run(*args, expect=0, **env):
    return ecsflow("run", "transform", "--sandbox", "-e", "RUN_DATE=2026-01-01", *args, env={"NO_COLOR": "1", **env},
                   expect=expect)


def test_the_switch_interrupts_the_spot_task_and_run_falls_back_to_fargate(etl):
    result = run("--execute-locally", "--format", "json", **{SWITCH: "0"})
    document = json.loads(result.stdout)
    assert document["capacity_provider"] == "FARGATE" and document["exit_code"] == 0
    [interrupted] = document["interrupted_tasks"]
    assert (interrupted["capacity_provider"], interrupted["stop_code"]) == ("FARGATE_SPOT", "SpotInterruption")
    said = " ".join(result.stderr.split())
    assert "was interrupted by Spot (SpotInterruption: Your Spot Task was interrupted.)" in said
    assert "RUN_DATE 2026-01-01: reading s3://acme-raw/orders/2026-01-01/" in result.stderr  # the second task's


def test_without_the_fallback_the_switch_makes_the_run_fail(etl):
    result = run("--execute-locally", "--no-spot-fallback", expect=1, **{SWITCH: "0"})
    assert "was interrupted by Spot" in result.stderr and "--no-spot-fallback" in result.stderr


def test_without_the_opt_in_no_task_starts_and_run_says_what_the_fallback_would_do(etl):
    result = run("--format", "json", **{SWITCH: "0"})
    document = json.loads(result.stdout)
    assert document["executed"] is False and document["task_arn"] is None
    note = " ".join(document["would_run"]["note"].split())
    assert "On ECS it would start on FARGATE_SPOT, and if Spot interrupted it, once more on FARGATE (on-demand)" in note
    assert f"{SWITCH} interrupts only a task whose command runs (with --execute-locally): here no task was started" in (
        note)
    plain = run()
    assert "On ECS it would start on FARGATE_SPOT" in " ".join(plain.stderr.split())
    assert SWITCH not in plain.stderr  # unset: not mentioned


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_a_bad_switch_is_an_error_before_anything_is_written(etl, value):
    result = run("--execute-locally", expect=1, **{SWITCH: value})
    assert f"{SWITCH} must be a number of seconds" in result.stderr and "Traceback" not in result.stderr
    assert not (etl / ".ecsflow").exists()
