"""The pure rules of a run that happens once (issue 27): how a task stopped (ecsflow/stops.py), which RunTask
refusals are a lack of capacity, what an idempotency key may hold, and the sandbox's Spot switch."""

import pytest

from ecsflow.execution import spot_interrupt_after
from ecsflow.runtask import idempotency_key_problem, run_request
from ecsflow.stops import CONTAINER, INFRASTRUCTURE, REQUESTED, Stop, classify_stop, is_capacity_failure


@pytest.mark.parametrize("stop_code, reasons, expected", [
    ("SpotInterruption", ("Your Spot Task was interrupted.",), Stop(INFRASTRUCTURE, "SpotInterruption")),
    ("TerminationNotice", ("Task stopped due to a scheduled retirement",), Stop(INFRASTRUCTURE, "TerminationNotice")),
    ("TaskFailedToStart", ("CannotPullContainerError: pull image manifest has been retried 5 time(s)",),
     Stop(INFRASTRUCTURE, "CannotPullContainerError")),
    ("TaskFailedToStart", ("ResourceInitializationError: unable to pull secrets or registry auth",),
     Stop(INFRASTRUCTURE, "ResourceInitializationError")),
    # The container's reason may carry it while the task's says little.
    ("TaskFailedToStart", ("Task failed to start", "CannotPullContainerError: access denied"),
     Stop(INFRASTRUCTURE, "CannotPullContainerError")),
    ("TaskFailedToStart", ('CannotStartContainerError: exec: "job": executable file not found',), Stop(CONTAINER)),
    ("EssentialContainerExited", ("Essential container in task exited", "OutOfMemoryError: Container killed"),
     Stop(CONTAINER)),
    ("UserInitiated", ("ecsflow run: --timeout of 5 s reached",), Stop(REQUESTED)),
    ("ServiceSchedulerInitiated", ("Scaling activity initiated by deployment",), Stop(REQUESTED)),
    (None, (None,), Stop(CONTAINER)),
])
def test_a_stop_is_the_containers_the_infrastructures_or_asked_for(stop_code, reasons, expected):
    assert classify_stop(stop_code, *reasons) == expected


@pytest.mark.parametrize("reason, expected", [
    ("Capacity is unavailable at this time. Please try again later or in a different availability zone", True),
    ("RESOURCE:MEMORY", True), ("RESOURCE:CPU", True), ("resource:ENI", True),
    ("MISSING", False), ("ATTRIBUTE", False), ("AGENT", False), ("", False), (None, False),
])
def test_capacity_failures(reason, expected):
    assert is_capacity_failure(reason) is expected


def test_idempotency_keys():
    assert idempotency_key_problem("ci-1234_job-A") is None and idempotency_key_problem("x" * 128) is None
    assert "129 characters" in idempotency_key_problem("x" * 129)
    assert idempotency_key_problem("") == "the key is empty"
    for bad in ("a b", "a/b", "ü", "a=b", "$(rm -rf)"):
        problem = idempotency_key_problem(bad)
        assert "letters, digits, '-' and '_'" in problem and bad not in problem  # the key is not shown


def test_the_key_is_runs_started_by():
    network = {"awsvpcConfiguration": {"subnets": ["subnet-1"]}}
    assert run_request("c", "f:1", network, {})["startedBy"] == "ecsflow-run"
    assert run_request("c", "f:1", network, {}, "FARGATE_SPOT", started_by="key-1")["startedBy"] == "key-1"


@pytest.mark.parametrize("value, expected", [(None, None), ("", None), (" ", None), ("0", 0.0), ("2.5", 2.5),
                                             ("86400", 86400.0)])
def test_the_sandboxs_spot_switch(value, expected):
    assert spot_interrupt_after(value) == expected


@pytest.mark.parametrize("value", ["-1", "soon", "nan", "inf", "86401"])
def test_the_sandboxs_spot_switch_refuses_what_is_no_number_of_seconds(value):
    with pytest.raises(ValueError, match="ECSFLOW_SANDBOX_SPOT_INTERRUPT_AFTER must be a number of seconds"):
        spot_interrupt_after(value)
