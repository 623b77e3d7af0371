"""Why an ECS task stopped, in its user's words, and which RunTask refusals are a lack of capacity. Pure.

ECS says why a task stopped in three places of a DescribeTasks answer: the task's ``stopCode`` (an enum),
its ``stoppedReason`` (text) and the essential container's ``reason`` (text), beside the container's
``exitCode``. `ecsflow run` sorts a stop into one of three kinds, so that a job's own failure is never
mistaken for the platform's, nor the other way round:

- ``container``: the job ended by itself: its container exited (its exit code is the result, 0 or not), or
  its own command or memory failed it (``CannotStartContainerError``, ``OutOfMemoryError``);
- ``infrastructure``: the task stopped, or never ran, for a reason outside the job: Spot took its capacity
  back (``stopCode: SpotInterruption``, no exit code), Fargate retired its host (``TerminationNotice``), the
  image could not be pulled (``CannotPullContainerError``), the task's resources could not be set up
  (``ResourceInitializationError``: secrets, registry credentials, the network interface, a volume), or ECS
  had no capacity to start it (``RunTask`` failures: `is_capacity_failure`). An exit code the container gave
  while it was being stopped (a job that exits 0 on SIGTERM) is not its result: `run` exits 1;
- ``requested``: StopTask asked for it (``UserInitiated``: `run`'s own --timeout or Ctrl-C, someone else, a
  deployment's ``ServiceSchedulerInitiated``).

The infrastructure causes are ECS's own words (the stop codes, and the error names its reasons start with:
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html).
"""

from __future__ import annotations

from dataclasses import dataclass

CONTAINER, INFRASTRUCTURE, REQUESTED = "container", "infrastructure", "requested"
SPOT_INTERRUPTION = "SpotInterruption"
CAPACITY = "Capacity"  # the cause named for a RunTask refused for lack of capacity
# Stop codes that are the platform's doing.
_INFRASTRUCTURE_CODES = (SPOT_INTERRUPTION, "TerminationNotice")
# Error names that ECS's stop reasons start with when the platform failed the task.
_INFRASTRUCTURE_ERRORS = ("CannotPullContainerError", "ResourceInitializationError", "CannotCreateVolumeError")
_REQUESTED_CODES = ("UserInitiated", "ServiceSchedulerInitiated")


@dataclass(frozen=True)
class Stop:
    """How a task stopped: ``kind`` (CONTAINER, INFRASTRUCTURE or REQUESTED) and, for INFRASTRUCTURE, the
    ``cause`` in ECS's words (``SpotInterruption``, ``CannotPullContainerError``, ...)."""

    kind: str
    cause: str | None = None

    @property
    def infrastructure(self) -> bool:
        return self.kind == INFRASTRUCTURE


def classify_stop(stop_code: str | None, *reasons: str | None) -> Stop:
    """The kind of a stop, from the task's ``stopCode`` and its reasons (the task's, the container's)."""
    if stop_code in _INFRASTRUCTURE_CODES:
        return Stop(INFRASTRUCTURE, stop_code)
    for reason in filter(None, reasons):
        for error in _INFRASTRUCTURE_ERRORS:
            if error in reason:
                return Stop(INFRASTRUCTURE, error)
    if stop_code in _REQUESTED_CODES:
        return Stop(REQUESTED)
    return Stop(CONTAINER)


def is_capacity_failure(reason: str | None) -> bool:
    """True for a RunTask refusal that only says there is no capacity now: a ``failures`` reason
    ``RESOURCE:MEMORY`` / ``RESOURCE:CPU`` / ``RESOURCE:...`` (a cluster or account limit), or Fargate's
    "Capacity is unavailable at this time. Please try again later or in a different availability zone"."""
    text = (reason or "").strip()
    return text.upper().startswith("RESOURCE:") or "capacity is unavailable" in text.lower()
