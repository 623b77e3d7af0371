"""RegisterTaskDefinition paced to ECS's rate, so that a first sync of hundreds of families does not bounce on
throttling errors.

ECS throttles each API action per account and region with a token bucket: RegisterTaskDefinition allows a
burst of about 20 calls, then about one a second. Retrying throttled calls (the register loop's backoff,
``ecsflow.ecs.register``) gets there too, but each throttled call is an attempt spent, and with 8 workers
about half the calls of a first sync of 100 families bounce; a sync that knows the rate sends each call when
ECS will accept it.

``TokenBucket`` is that bucket on the client's side, as a GCRA ("virtual scheduling": one theoretical time per
bucket, no timer): ``take()`` reserves the next free slot and sleeps until it, so concurrent workers queue in
order. It leaves a tenth of the burst (at least one call) unused: calls reach ECS a few milliseconds earlier or
later than they were sent, and once the burst is spent, a call that arrives early finds ECS's bucket a fraction
of a token short; the tokens left over absorb that. ``drain()`` empties it after a throttling answer (other
clients of the same account share ECS's bucket, so ours may have been fuller than ECS's); ``seconds_for(n)``
says when ``n`` more calls will all have been sent (the progress bar's estimate); ``stop()`` (Ctrl-C) wakes
every call waiting for a token and makes it, and every later one, raise ``Stopped`` instead of being sent.

``pace(client, bucket)`` hooks a bucket into one botocore client's events (``ecsflow.ecs.client.Ecs``: its
RegisterTaskDefinition client), for RegisterTaskDefinition only: every attempt (the register loop's retries
too) waits for a token before it is sent (``before-send``), and a throttling answer drains the bucket
(``response-received``). The register loop itself does not change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ecsflow.ecs.errors import _THROTTLED
from ecsflow.ecs.limits import Rate

REGISTER = "RegisterTaskDefinition"


class Stopped(Exception):
    """The bucket was stopped (``TokenBucket.stop``): the call waiting for a token is not sent."""


class TokenBucket:
    def __init__(self, rate: Rate, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.rate = rate
        self._interval = 1.0 / rate.per_second
        self.burst = max(1, rate.burst - max(1, rate.burst // 10))  # the headroom: see the module's docstring
        self._tolerance = (self.burst - 1) * self._interval  # how far ahead of the rate a burst may run
        self._clock, self._sleep = clock, sleep  # sleep None: wait on _stopped, which stop() sets
        self._stopped = threading.Event()
        self._tat = clock()  # theoretical arrival time of the next call: now means a full bucket
        self._lock = threading.Lock()
        self.taken = 0
        self.waited = 0.0  # seconds spent waiting for tokens, all calls together

    def take(self) -> float:
        """Wait for a token (in turn with the other threads taking one); the seconds waited. Raises
        ``Stopped`` once the bucket is stopped, at once, even in the middle of a wait."""
        if self._stopped.is_set():
            raise Stopped()
        with self._lock:
            now = self._clock()
            tat = max(self._tat, now)
            wait = max(0.0, tat - self._tolerance - now)
            self._tat = tat + self._interval
            self.taken += 1
            self.waited += wait
        if wait:
            self._sleep(wait) if self._sleep is not None else self._stopped.wait(wait)
        if self._stopped.is_set():
            raise Stopped()
        return wait

    def stop(self) -> None:
        """No more calls: those waiting for a token, and all later ones, raise ``Stopped`` (Ctrl-C in a sync)."""
        self._stopped.set()

    def drain(self) -> None:
        """ECS said it throttled: its bucket is empty, whatever ours says. The next call waits one interval."""
        with self._lock:
            self._tat = max(self._tat, self._clock() + self._tolerance + self._interval)

    def seconds_for(self, calls: int) -> float:
        """Seconds from now until ``calls`` more calls (after those already waiting) will all have been sent."""
        with self._lock:
            now = self._clock()
            last_start = max(self._tat, now) + (calls - 1) * self._interval - self._tolerance
            if calls <= 0:  # the last of those already waiting
                last_start = self._tat - self._interval - self._tolerance
            return max(0.0, last_start - now)


def pace(client: Any, bucket: TokenBucket | None) -> None:
    """Pace ``client``'s RegisterTaskDefinition attempts with ``bucket`` (None: not paced)."""
    if bucket is None:
        return
    event = f"{client.meta.service_model.service_id.hyphenize()}.{REGISTER}"

    def before_send(**_: Any) -> None:
        bucket.take()  # None: botocore sends the request as usual; Stopped: it is never sent

    def response_received(parsed_response: dict | None = None, **_: Any) -> None:
        if ((parsed_response or {}).get("Error") or {}).get("Code") in _THROTTLED:
            bucket.drain()

    client.meta.events.register(f"before-send.{event}", before_send)
    client.meta.events.register(f"response-received.{event}", response_received)
