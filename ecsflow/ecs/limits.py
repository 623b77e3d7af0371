"""How long, and how often, ecsflow waits for AWS: the bounds that keep every call finite (docs/design.md section 11).

An endpoint that accepts the connection and never answers must end in a clear error within about a minute,
not after botocore's defaults (60 s a read, up to 10 attempts: over ten minutes). ECS and CloudWatch Logs
answer the calls ecsflow makes in well under a second, so 25 s of silence is not a slow answer but a broken
one. Throttling and 5xx answers keep botocore's full retries (``AwsOptions.max_attempts``): AWS did answer.

And the rate at which sync registers (``ecsflow.ecs.pacing``): ECS's, unless ``sync --register-rate`` says
otherwise (an ECS-compatible endpoint with other limits, or none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CONNECT_TIMEOUT = 10.0  # seconds to open a connection
READ_TIMEOUT = 25.0  # seconds of silence, once the request is sent, before the attempt is given up
# Attempts (the first included) when no answer came at all (a timeout, a refused or broken connection):
# one retry covers a dropped kept-alive connection; more would only multiply the wait.
NO_ANSWER_ATTEMPTS = 2


@dataclass(frozen=True)
class Rate:
    """A token bucket's size: ``burst`` calls at once, then ``per_second``."""

    burst: int
    per_second: float

    def __post_init__(self) -> None:
        if self.burst < 1 or not 0 < self.per_second < math.inf:  # (nan fails both comparisons)
            raise ValueError("a rate needs a burst of at least 1 and a positive, finite rate")


# ECS's published request throttling for RegisterTaskDefinition (per account and region).
ECS_REGISTER_RATE = Rate(burst=20, per_second=1.0)


def parse_rate(text: str) -> Rate | None:
    """``BURST,PER_SECOND`` (``20,1``: ECS's rate; ``5,0.5``) → a Rate; ``off`` → None (no pacing)."""
    if text.strip().lower() == "off":
        return None
    burst, comma, per_second = text.partition(",")
    try:
        if comma:
            return Rate(int(burst), float(per_second))
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a rate: write BURST,PER_SECOND (ECS's is 20,1; a burst of at least 1 "
                     "and a positive number a second), or off")
