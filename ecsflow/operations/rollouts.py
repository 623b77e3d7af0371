"""Following the rollouts `deploy` started, until each one ends (design/services.md section 4.5).

One ``Watcher`` follows every rollout under way: at each poll it describes the services whose turn it is, ten a
DescribeServices call (``Services.describe``), reports each new event once and the tracked deployment's counts
when they change, and judges each deployment by its id (``ecsflow.service.rollout.judge``). Each rollout is
polled every ``poll`` seconds at first, backing off by half each time to three times that (5 s to 15 s against
AWS), with a little jitter so that many rollouts do not all poll at once. A rollout not done ``timeout``
seconds after its write is `timeout`, with the last failure events and why the tasks its deployment started
stopped (ListTasks/DescribeTasks).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ecsflow.errors import AwsError
from ecsflow.service.rollout import Counts, Tracked, failure_events, judge, new_events

BACKOFF = 1.5
CEILING = 3.0  # the longest interval, in polls of the first interval
JITTER = 0.1
MAX_EVENTS = 20  # events kept in an outcome (the newest)
FAILED_POLLS = 3  # consecutive polls that could not describe the service before its rollout is given up


@dataclass
class Watch:
    """One rollout: the outcome it ends as when all goes well (``outcome``, a ServiceOutcome), what is tracked,
    and what was seen of it."""

    outcome: Any
    tracked: Tracked
    deadline: float
    seen: set[str] = field(default_factory=set)  # the ids of the events already reported
    messages: list[str] = field(default_factory=list)
    counts: Counts | None = None
    interval: float = 0.0
    due: float = 0.0
    errors: int = 0


class Watcher:
    def __init__(self, api: Any, poll: float, timeout: float, *, on_event: Callable[[str, str], None],
                 on_progress: Callable[[str, str], None], clock: Callable[[], float] = time.monotonic) -> None:
        self.api, self.poll, self.timeout = api, poll, timeout
        self.on_event, self.on_progress, self.clock = on_event, on_progress, clock
        self.watches: dict[str, Watch] = {}

    def add(self, name: str, outcome: Any, tracked: Tracked, seen: set[str]) -> None:
        now = self.clock()
        self.watches[name] = Watch(outcome, tracked, now + self.timeout, set(seen), interval=self.poll,
                                   due=now + self.poll)

    def seconds_to_next(self) -> float | None:
        if not self.watches:
            return None
        return max(0.0, min(w.due for w in self.watches.values()) - self.clock())

    def poll_due(self) -> list[tuple[str, Any]]:
        """Describe the rollouts whose turn it is; the outcomes of those that ended, by compose service."""
        now = self.clock()
        due = {name: watch for name, watch in self.watches.items() if watch.due <= now}
        ended: list[tuple[str, Any]] = []
        for cluster in dict.fromkeys(w.outcome.cluster for w in due.values()):
            names = [name for name, w in due.items() if w.outcome.cluster == cluster]
            try:
                items = self.api.describe(cluster, [due[n].outcome.ecs_service for n in names], tags=False)
            except AwsError as error:
                ended += self._unreadable(names, error)
                continue
            for name in names:
                result = self._judge(due[name], items.get(due[name].outcome.ecs_service))
                if result is not None:
                    ended.append((name, result))
        for name, _ in ended:
            self.watches.pop(name, None)
        return ended

    def stop_all(self, note: str) -> list[tuple[str, Any]]:
        """Every rollout still followed, as `started` (Ctrl-C: ECS goes on with them)."""
        ended = [(name, replace(w.outcome, status="started", note=_join(w.outcome.note, note),
                                events=tuple(w.messages[-MAX_EVENTS:]))) for name, w in self.watches.items()]
        self.watches.clear()
        return ended

    def _judge(self, watch: Watch, item: dict | None):
        outcome = watch.outcome
        if item is None or item.get("status") not in (None, "ACTIVE"):
            state = "no longer listed" if item is None else item.get("status")
            return replace(outcome, status="failed", error=f"ECS service {outcome.ecs_service} is {state}: someone "
                           "deleted it while it was being deployed", events=tuple(watch.messages[-MAX_EVENTS:]))
        watch.errors = 0
        for event in new_events(item, watch.seen):
            message = str(event.get("message") or "")
            watch.messages.append(message)
            self.on_event(outcome.ecs_service, message)
        verdict = judge(item, watch.tracked)
        watch.tracked = verdict.tracked
        if verdict.counts != watch.counts:
            watch.counts = verdict.counts
            self.on_progress(outcome.ecs_service, verdict.counts.line())
        done = replace(outcome, deployment_id=watch.tracked.deployment, events=tuple(watch.messages[-MAX_EVENTS:]),
                       note=_join(outcome.note, watch.tracked.followed))
        if verdict.state == "completed":
            return done
        if verdict.state == "rolled-back":
            back = _short(watch.tracked.previous_task_definition) or "the previous task definition"
            return replace(done, status="rolled-back", error=f"ECS rolled {outcome.ecs_service} back to {back}: "
                           f"{verdict.reason}", events=self._why(watch))
        if verdict.state in ("failed", "superseded"):
            return replace(done, status=verdict.state, error=verdict.reason,
                           events=self._why(watch) if verdict.state == "failed" else done.events)
        now = self.clock()
        if now >= watch.deadline:
            return replace(done, status="timeout", events=self._why(watch), error=(
                f"the rollout of {outcome.ecs_service} did not complete within {self.timeout:g} s "
                f"({verdict.counts.line()}); ECS goes on with it (the circuit breaker may need many failed tasks "
                "before it rolls back)"))
        watch.interval = min(watch.interval * BACKOFF, self.poll * CEILING)
        watch.due = min(watch.deadline, now + watch.interval * random.uniform(1 - JITTER, 1 + JITTER))
        return None

    def _why(self, watch: Watch) -> tuple[str, ...]:
        """The last failure events, and why the tasks of the tracked deployment stopped."""
        events = failure_events(watch.messages)
        try:
            stopped = self.api.stopped_tasks(watch.outcome.cluster, watch.outcome.ecs_service,
                                             watch.tracked.deployment)
        except AwsError as error:
            stopped = [f"(the stopped tasks could not be listed: {error.message})"]
        return tuple(events + stopped)

    def _unreadable(self, names: list[str], error: AwsError) -> list[tuple[str, Any]]:
        ended = []
        for name in names:
            watch = self.watches[name]
            watch.errors += 1
            if watch.errors >= FAILED_POLLS:
                ended.append((name, replace(watch.outcome, status="failed", error=(
                    f"cannot follow the rollout of {watch.outcome.ecs_service}: {error.message}; ECS goes on with it"),
                    events=tuple(watch.messages[-MAX_EVENTS:]))))
            else:
                watch.due = self.clock() + watch.interval
        return ended


def _short(arn: str | None) -> str | None:
    return arn.rsplit("/", 1)[-1] if arn and ":task-definition/" in arn else arn


def _join(*notes: str | None) -> str | None:
    return "; ".join(n for n in notes if n) or None
