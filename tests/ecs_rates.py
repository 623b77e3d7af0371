"""Two modes of the test endpoint's proxy (tests/ecs_server.py), for the pacing tests and the benchmarks.

- ``Throttle``: ECS's request throttling. ECS gives each API action a token bucket per account and region
  (RegisterTaskDefinition: a burst of about 20, then about one call a second); a call that finds the bucket
  empty is answered HTTP 400 ``ThrottlingException`` "Rate exceeded" and does nothing. Here: one bucket per
  throttled action, of the given burst and refill rate (scaled up in tests, to keep them short).
- ``Memo``: answers from memory. The first call of a remembered action goes to moto; every later call with the
  very same body gets moto's answer again without moto. A benchmark's no-op sync asks the same
  DescribeTaskDefinition questions every time, so this is an endpoint that costs next to no CPU: what is left
  of the time is the client's and the proxy's (ecsflow's own share, with moto's taken out).

``Rates`` holds both for one endpoint (``endpoint.rates``; a ``reset()`` turns both off), ``RatesControl``
drives them in an endpoint run in another process (``RemoteEndpoint.set_throttle``, ``set_memo``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

REGISTER = "RegisterTaskDefinition"
Answer = tuple[int, dict, bytes]
THROTTLED: Answer = (400, {"Content-Type": "application/x-amz-json-1.1"},
                     json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}).encode())


class Throttle:
    def __init__(self, burst: int, per_second: float, actions: tuple[str, ...] = ()) -> None:
        """``actions``: those throttled (none given: RegisterTaskDefinition)."""
        self.burst, self.per_second = burst, per_second
        now = time.monotonic()
        self._tokens = {action: (float(burst), now) for action in actions or (REGISTER,)}
        self._lock = threading.Lock()
        self.throttled: Counter[str] = Counter()

    def allow(self, action: str) -> bool:
        """Take a token for ``action`` if its bucket has one (actions not throttled always pass)."""
        with self._lock:
            if action not in self._tokens:
                return True
            tokens, then = self._tokens[action]
            now = time.monotonic()
            tokens = min(float(self.burst), tokens + (now - then) * self.per_second)
            allowed = tokens >= 1
            self._tokens[action] = (tokens - 1 if allowed else tokens, now)
            if not allowed:
                self.throttled[action] += 1
            return allowed


class Memo:
    def __init__(self, actions: tuple[str, ...] = ()) -> None:
        self.actions = set(actions)
        self._answers: dict[tuple[str, bytes], Answer] = {}

    def get(self, action: str, body: bytes) -> Answer | None:
        return self._answers.get((action, body)) if action in self.actions else None

    def keep(self, action: str, body: bytes, answer: Answer) -> None:
        if action in self.actions and answer[0] == 200:
            self._answers[(action, body)] = answer


class Rates:
    def __init__(self) -> None:
        self.throttle: Throttle | None = None
        self.memo = Memo()

    def before(self, action: str, body: bytes) -> Answer | None:
        """The answer without moto: throttled, or remembered; None: ask moto."""
        if self.throttle is not None and not self.throttle.allow(action):
            return THROTTLED
        return self.memo.get(action, body)

    def after(self, action: str, body: bytes, answer: Answer) -> None:
        self.memo.keep(action, body, answer)

    def control(self, command: str) -> bool:
        """``throttle=BURST,PER_SECOND[,ACTION...]`` (``throttle=``: off), ``memo=ACTION,...`` (``memo=``: off)."""
        name, _, value = command.partition("=")
        values = [v for v in value.split(",") if v]
        if name == "throttle":
            self.throttle = Throttle(int(values[0]), float(values[1]), tuple(values[2:])) if values else None
        elif name == "memo":
            self.memo = Memo(tuple(values))
        else:
            return False
        return True

    def stats(self) -> dict:
        return {"throttled": dict(self.throttle.throttled) if self.throttle else {}, "cpu_s": time.process_time()}


class RatesControl:
    """``Rates`` of an endpoint in another process, through its control paths (``self._post``)."""

    def set_throttle(self, burst: int | None, per_second: float = 1.0, actions: tuple[str, ...] = ()) -> None:
        """Throttle ``actions`` (RegisterTaskDefinition by default) as ECS does; ``None``: stop throttling."""
        self._post("throttle=" + (",".join([str(burst), str(per_second), *actions]) if burst else ""))

    def set_memo(self, *actions: str) -> None:
        """Answer repeated calls of ``actions`` from memory, without moto; none: stop."""
        self._post("memo=" + ",".join(actions))

    def _post(self, command: str) -> dict:
        raise NotImplementedError
