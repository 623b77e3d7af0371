"""Exit statuses, and the one place that maps an exception to one (as httpie's `status.py` and `core.main`)."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    SUCCESS = 0  # and, for `diff`, no changes
    ERROR = 1  # an EcsflowError, or anything unexpected
    CHANGES = 2  # `diff --exit-code` found something to register (typer's usage errors are 2 as well)
    TIMEOUT = 124  # `run --timeout` reached, as timeout(1)
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT
    TERMINATED = 143  # SIGTERM: 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (a cancelled CI job, `kill`), handled as Ctrl-C is: tasks are asked to stop, then exit 143."""


def raise_terminated(signum: int, frame: object) -> None:
    """A SIGTERM handler that takes the Ctrl-C path."""
    raise Terminated()


def status_of(exc: BaseException) -> ExitStatus:
    """The exit status for an exception that ends a command. An interrupt raised again with what was done
    (``raise ... from`` the KeyboardInterrupt) keeps its signal's status."""
    if isinstance(exc, KeyboardInterrupt) and isinstance(exc.__cause__, KeyboardInterrupt):
        return status_of(exc.__cause__)
    if isinstance(exc, Terminated):
        return ExitStatus.TERMINATED
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    return ExitStatus.ERROR  # an EcsflowError (one clear message) or, the last line of defence, anything else


def interrupt_name(exc: BaseException) -> str:
    """What interrupted a command, in the user's words: "SIGTERM" or "Ctrl-C"."""
    return "SIGTERM" if status_of(exc) == ExitStatus.TERMINATED else "Ctrl-C"
