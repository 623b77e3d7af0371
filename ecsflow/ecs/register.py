"""Register task definitions in ECS, many families at once, through the bounded pool (``ecsflow.ecs.pool``).

``register_families``: one ``register_task_definition`` per family, of the request as the builder made it
(its ``ecsflow:*`` tags included: ``ecsflow.tags``); one family's failure is reported in its
outcome and does not stop the others.

RegisterTaskDefinition is not idempotent (docs/design.md section 8), so it is sent through a client botocore never
retries, and retried here only when ECS cannot have acted: a 4xx answer (throttling, "Too many concurrent
attempts to create a new revision": with ``Backoff``) or a connection that was never made. After an ambiguous
failure (a read timeout, a connection closed before the answer, an unreadable answer, a 5xx) the family is
described: when its latest ACTIVE revision is newer than the one the plan compared against and holds the
desired content, that is the registration (this run's, or a concurrent one's); otherwise it is registered
again, once. When ECS cannot even be asked, the outcome says the family may have been registered. Every
registration then goes through ``ecsflow.ecs.converge``, which removes what a race duplicated.

Ctrl-C (or SIGTERM) while families are registered stops new registrations at once: a family not started yet,
or waiting for its turn in the pace (``ecsflow.ecs.pacing``), is ``not-started`` and never sent; a call in
flight is waited for, boundedly (its answer, or the lost-answer logic above, decides; a second Ctrl-C stops
waiting and the family "may have been registered"); then ``RegistrationInterrupted`` carries every family's
outcome.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Literal

from ecsflow.ecs.converge import deduplicate
from ecsflow.ecs.definitions import RegisterItem, describe_definition
from ecsflow.ecs.errors import (
    aws_error,
    http_status,
    is_ambiguous,
    is_boto_error,
    is_concurrent_revision,
    is_throttling,
    lost_answer_reason,
    translated,
    unreadable_answer,
)
from ecsflow.ecs.limits import NO_ANSWER_ATTEMPTS
from ecsflow.ecs.pacing import Stopped
from ecsflow.ecs.pool import DEFAULT_CONCURRENCY
from ecsflow.errors import AwsError


@dataclass(frozen=True)
class RegisterOutcome:
    """``revision`` is the one that holds the desired content once the run is over; ``note`` says what else
    happened (a lost answer, a duplicate deregistered)."""

    service: str
    family: str
    # not-started: interrupted before its request was sent; interrupted: cut short while it was under way
    status: Literal["registered", "failed", "not-started", "interrupted"]
    revision: int | None = None
    arn: str | None = None
    error: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Backoff:
    """Jittered exponential backoff for the errors botocore does not retry by itself."""

    attempts: int = 6  # all attempts, the first one included: waits of up to 0.5+1+2+4+8 s
    base: float = 0.5
    cap: float = 8.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, ...): "equal jitter", so two CI jobs that
        collided once spread apart, yet each always waits a little."""
        ceiling = min(self.cap, self.base * 2 ** (retry - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


DEFAULT_BACKOFF = Backoff()


class RegistrationInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM (its ``__cause__``) during ``register_families``: ``outcomes``, one per item in order,
    say what was registered, what was not started and what was cut short."""

    def __init__(self, outcomes: list[RegisterOutcome]) -> None:
        super().__init__("interrupted while registering")
        self.outcomes = outcomes


def register_families(
    reader: Any,
    writer: Any,
    items: Iterable[RegisterItem],
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[RegisterOutcome], None] | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    on_stop: Callable[[], None] | None = None,
) -> list[RegisterOutcome]:
    """Register one new revision per item; outcomes in the order of ``items``.

    ``writer`` sends RegisterTaskDefinition and must not retry by itself; ``reader`` (with botocore's retries)
    makes every other call. ``on_done`` is called with each outcome as it completes, on the calling thread
    (safe for a progress bar). Each family is listed once: the builder refuses two services with one family
    (``taskdef.build_task_definitions``). On KeyboardInterrupt, ``on_stop()`` (the pace's ``stop``) is called,
    no new registration starts, and ``RegistrationInterrupted`` is raised (see the module docstring).
    """
    items = list(items)
    if not items:
        return []
    outcomes: dict[str, RegisterOutcome] = {}
    stop = threading.Event()

    def work(item: RegisterItem) -> RegisterOutcome:
        return _not_started(item) if stop.is_set() else _register(reader, writer, item, backoff, stop)

    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="ecsflow-aws")
    try:
        futures = {pool.submit(work, item): item for item in items}
        try:
            for future in as_completed(futures):
                outcome = future.result()
                outcomes[outcome.family] = outcome
                if on_done is not None:
                    on_done(outcome)
        except KeyboardInterrupt as exc:
            stop.set()
            if on_stop is not None:
                on_stop()
            _wait_for_those_under_way(futures, outcomes)
            raise RegistrationInterrupted([outcomes[item.family] for item in items]) from exc
    finally:
        # Normal end: nothing left. An error (from on_done too): drop what has not started; the calls under
        # way finish on their own.
        pool.shutdown(wait=True, cancel_futures=True)
    return [outcomes[item.family] for item in items]


def _wait_for_those_under_way(futures: dict[Future, RegisterItem], outcomes: dict[str, RegisterOutcome]) -> None:
    """After an interrupt: the items not started are ``not-started``; those under way are waited for (a
    second interrupt stops waiting: they may have been registered)."""
    under_way = [future for future, item in futures.items() if item.family not in outcomes and not future.cancel()]
    try:
        for future in as_completed(under_way):
            item = futures[future]
            error = future.exception()
            outcomes[item.family] = future.result() if error is None else _failed(item, f"{type(error).__name__}: "
                                                                                  f"{error}")
    except KeyboardInterrupt:
        pass
    for future, item in futures.items():
        if item.family in outcomes:
            continue
        if future.cancelled():
            outcomes[item.family] = _not_started(item)
        else:
            outcomes[item.family] = RegisterOutcome(
                item.service, item.family, "interrupted", error=f"interrupted while RegisterTaskDefinition was "
                f"under way: {item.family} may have been registered (hint: run `ecsflow diff` to see; running "
                "sync again converges)")


def _not_started(item: RegisterItem) -> RegisterOutcome:
    return RegisterOutcome(item.service, item.family, "not-started",
                           error="interrupted before it was sent: not registered (run sync again)")


def _register(reader: Any, writer: Any, item: RegisterItem, backoff: Backoff,
              stop: threading.Event | None = None) -> RegisterOutcome:
    stop = stop or threading.Event()
    attempt, unanswered, lost, recovered = 0, 0, None, False
    while True:
        attempt += 1
        try:
            td = writer.register_task_definition(**item.request).get("taskDefinition") or {}
            if not isinstance(td.get("revision"), int):
                raise unreadable_answer(writer, "RegisterTaskDefinition", "a JSON object without the new revision")
            revision, arn = td["revision"], td.get("taskDefinitionArn")
            break
        except Stopped:  # the pace was stopped (Ctrl-C) before this attempt was sent
            if attempt == 1:
                return _not_started(item)
            return RegisterOutcome(item.service, item.family, "interrupted", error=f"interrupted between two "
                                   f"attempts ({lost or 'the last was refused'}): not registered (run sync again)")
        except Exception as exc:
            if not is_boto_error(exc):
                raise
            # No answer at all costs up to a read timeout an attempt: those are bounded apart.
            no_answer = _is_connection(exc) or (is_ambiguous(exc) and http_status(exc) is None)
            unanswered += no_answer
            if is_ambiguous(exc):
                # ECS may have registered it: ask before sending it again.
                lost = lost_answer_reason(exc)
                try:
                    found = _holds_desired(reader, item)
                except AwsError as error:
                    return _failed(item, f"RegisterTaskDefinition got {lost}, and ECS could not be asked what it "
                                   f"holds ({error.message}): {item.family} may have been registered",
                                   hint="run `ecsflow diff` to see; running sync again converges")
                if found is not None:
                    (revision, arn), recovered = found, True
                    break
            retry = is_throttling(exc) or is_concurrent_revision(exc) or is_ambiguous(exc) or _is_connection(exc)
            if retry and attempt < backoff.attempts and (not no_answer or unanswered < NO_ANSWER_ATTEMPTS):
                if not stop.wait(backoff.delay(attempt)):
                    continue
                return RegisterOutcome(item.service, item.family, "interrupted", error="interrupted before ECS "
                                       f"registered it ({lost or aws_error(exc, client=writer).message}): not "
                                       "registered (run sync again)")
            error = aws_error(exc, client=writer)
            if is_ambiguous(exc):
                return _failed(item, f"RegisterTaskDefinition got {lost} (last: {error.message}), and ECS holds no "
                               f"new revision of {item.family}: it was not registered", hint=error.hint)
            return _failed(item, error.message + (" (not registered)" if _is_connection(exc) else ""),
                           hint=error.hint)
    kept = deduplicate(reader, item, revision, arn, lost=lost)
    note = None
    if recovered:
        note = f"the answer to RegisterTaskDefinition was lost ({lost})"
        if kept.revision == revision:
            note += f": ECS holds this content as {item.family}:{revision} (registered by this run or a concurrent one)"
    note = "; ".join(n for n in (note, kept.note) if n) or None
    return RegisterOutcome(item.service, item.family, "registered", kept.revision, kept.arn, note=note)


def _holds_desired(reader: Any, item: RegisterItem) -> tuple[int, str | None] | None:
    """``(revision, arn)`` of the family's latest ACTIVE revision when it is newer than the one the plan
    compared with and holds the desired content; None otherwise."""
    from ecsflow.diff import diff_family

    with translated(reader):
        live = describe_definition(reader, item.family)
    if live is None:
        return None
    td = live["taskDefinition"]
    if td["revision"] <= (item.live_revision or 0):
        return None
    if diff_family(item.service, item.family, dict(item.request), live).status != "unchanged":
        return None
    return td["revision"], td.get("taskDefinitionArn")


def _is_connection(exc: BaseException) -> bool:
    from botocore.exceptions import ConnectionError

    return isinstance(exc, ConnectionError)


def _failed(item: RegisterItem, message: str, hint: str | None = None) -> RegisterOutcome:
    return RegisterOutcome(item.service, item.family, "failed", error=f"{message} (hint: {hint})" if hint else message)
