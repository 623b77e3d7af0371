"""Registrations paced to ECS's rate (ecsflow/ecs/pacing.py): the bucket's arithmetic on a fake clock, then a
first sync against an endpoint that throttles RegisterTaskDefinition as ECS does (tests/ecs_rates.py), at
rates scaled up so that the tests stay short, through the adapter and through the CLI."""

from __future__ import annotations

import io
import threading
import time

import pytest
from cli_runner import ecsflow
from ecs_rates import Throttle
from ecs_requests import request
from rich.console import Console

from ecsflow.ecs import pacing
from ecsflow.ecs.client import Ecs
from ecsflow.ecs.definitions import RegisterItem
from ecsflow.ecs.options import AwsOptions
from ecsflow.ecs.pacing import Rate, TokenBucket
from ecsflow.ecs.register import Backoff
from ecsflow.output import bars

REGISTER = "RegisterTaskDefinition"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_then_one_call_per_interval():
    clock = FakeClock()
    bucket = TokenBucket(Rate(burst=4, per_second=2.0), clock=clock, sleep=clock.sleep)
    assert bucket.burst == 3  # one call of ECS's burst of 4 is left as headroom
    assert bucket.seconds_for(3) == 0  # a full bucket: three at once
    assert [bucket.take() for _ in range(3)] == [0, 0, 0]
    assert bucket.seconds_for(2) == pytest.approx(1.0)  # then one every half second
    assert [bucket.take() for _ in range(2)] == [pytest.approx(0.5)] * 2
    assert clock.now == pytest.approx(101.0) and bucket.taken == 5
    clock.now += 10  # idle: the bucket fills up again, to its burst and no more
    assert [bucket.take() for _ in range(4)] == [0, 0, 0, pytest.approx(0.5)]
    assert [TokenBucket(Rate(b, 1.0)).burst for b in (1, 2, 10, 20, 40)] == [1, 1, 9, 18, 36]


def test_concurrent_takers_queue_in_turn():
    bucket = TokenBucket(Rate(burst=3, per_second=20.0))
    sent: list[float] = []
    start = time.monotonic()

    def worker() -> None:
        bucket.take()
        sent.append(time.monotonic() - start)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 2 at once, then one every 50 ms: the last one is sent after about 6 x 50 ms, not earlier.
    assert sorted(sent)[1] < 0.04 and 0.28 <= max(sent) < 1.0
    assert 0.8 < bucket.waited <= sum(0.05 * i for i in range(1, 7)) + 0.01  # 50 + 100 + ... + 300 ms


def test_stop_wakes_the_waiting_takers_at_once_and_refuses_later_ones():
    """Ctrl-C in a paced sync: the workers waiting for their turn are not sent, and not a second later."""
    bucket = TokenBucket(Rate(burst=2, per_second=0.2))  # one token, then one every 5 s
    bucket.take()
    stopped: list[float] = []
    start = time.monotonic()

    def worker() -> None:
        with pytest.raises(pacing.Stopped):
            bucket.take()
        stopped.append(time.monotonic() - start)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    bucket.stop()
    for thread in threads:
        thread.join(5)
    assert len(stopped) == 3 and max(stopped) < 1.0
    with pytest.raises(pacing.Stopped):
        bucket.take()


def test_a_throttling_answer_empties_the_bucket():
    clock = FakeClock()
    bucket = TokenBucket(Rate(burst=20, per_second=1.0), clock=clock, sleep=clock.sleep)
    bucket.take()
    bucket.drain()  # another client of the account used ECS's burst
    assert bucket.seconds_for(1) == pytest.approx(1.0) and bucket.take() == pytest.approx(1.0)
    assert bucket.seconds_for(3) == pytest.approx(3.0)


def test_no_rate_means_no_pacing():
    with pytest.raises(ValueError):
        Rate(burst=0, per_second=1.0)
    assert pacing.pace(object(), None) is None  # no bucket: the client is left as it is


@pytest.fixture
def throttled(ecs):
    """ECS's throttling of RegisterTaskDefinition, scaled: a burst of 5, then 4 a second (an interval of 250 ms,
    well above the time the endpoint takes to handle a call on a loaded machine)."""
    ecs.rates.throttle = Throttle(burst=5, per_second=4.0)
    return ecs


def first_sync(endpoint, count: int, rate: Rate | None) -> tuple[list, float]:
    """Register ``count`` new families; a throttled call is retried after a short wait (the register loop's
    backoff, scaled down as the rates are), at most 5 times."""
    ecs = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url=endpoint.url, register_rate=rate))
    items = [RegisterItem(f"s{n}", f"fam-{n}", request(f"fam-{n}")) for n in range(count)]
    start = time.perf_counter()
    outcomes = ecs.register_families(items, backoff=Backoff(attempts=6, base=0.02, cap=0.1))
    return outcomes, time.perf_counter() - start


@pytest.mark.usefixtures("aws_env")
def test_a_paced_first_sync_is_not_throttled_and_takes_the_ideal_time(throttled):
    outcomes, seconds = first_sync(throttled, 20, Rate(burst=5, per_second=4.0))
    assert [o.status for o in outcomes] == ["registered"] * 20
    # Zero when the machine is idle; on a loaded 2-core machine a call may be held up long enough to bunch with
    # the next past the one token of headroom (ECS's interval is a second, this one 250 ms). The unpaced sync
    # below is throttled many times more.
    throttled_calls = throttled.rates.throttle.throttled[REGISTER]
    assert throttled_calls <= 2 and throttled.calls[REGISTER] == 20 + throttled_calls
    ideal = (20 - 5) / 4.0  # the burst at once, then the refill rate (pacing leaves one call of headroom)
    assert ideal <= seconds < ideal + 1.5


@pytest.mark.slow  # botocore's own pace: its adaptive retry mode's waits are real
@pytest.mark.usefixtures("aws_env")
def test_an_unpaced_first_sync_bounces_on_throttling(throttled):
    """What pacing avoids: the same sync, unpaced, makes throttled calls, retried (or failed in the end). At
    least the first wave's calls past the burst (8 workers, 5 tokens); then botocore's adaptive retry mode
    slows the client down, which is why it is not many more."""
    outcomes, _ = first_sync(throttled, 20, None)
    registered = sum(o.status == "registered" for o in outcomes)
    assert throttled.rates.throttle.throttled[REGISTER] >= 3
    assert throttled.calls[REGISTER] == registered + throttled.rates.throttle.throttled[REGISTER]


@pytest.mark.usefixtures("aws_env")
def test_pacing_recovers_when_another_client_used_the_burst(throttled):
    throttled.rates.throttle.allow(REGISTER)  # someone else took all 5 tokens of the account's bucket
    for _ in range(4):
        throttled.rates.throttle.allow(REGISTER)
    outcomes, _ = first_sync(throttled, 12, Rate(burst=5, per_second=20.0))
    assert [o.status for o in outcomes] == ["registered"] * 12
    # Thrown off at first (the register loop retries those), then drained and in step with ECS's bucket.
    assert 0 < throttled.rates.throttle.throttled[REGISTER] < 12


def test_the_cli_paces_registrations_and_shows_an_estimate(throttled, etl_project, monkeypatch):
    """An ECS-compatible endpoint with other limits than ECS's: --register-rate (ECSFLOW_REGISTER_RATE)."""
    throttled.rates.throttle = Throttle(burst=3, per_second=10.0)
    shown = io.StringIO()  # the progress bar, as a terminal would show it
    monkeypatch.setattr(bars, "stderr_console",
                        lambda no_color=False: Console(file=shown, force_terminal=True))
    ecsflow("sync", file=etl_project / "docker-compose.yml", endpoint=throttled, env={"ECSFLOW_REGISTER_RATE": "3,10"})
    # (a throttled call at most: see test_a_paced_first_sync_is_not_throttled_and_takes_the_ideal_time)
    throttled_calls = throttled.rates.throttle.throttled[REGISTER]
    assert throttled_calls <= 1 and throttled.calls[REGISTER] == 4 + throttled_calls
    assert "registering" in shown.getvalue() and "s left" in shown.getvalue()


def test_register_rate_off_sends_every_call_at_once(throttled, etl_project):
    """`--register-rate off` (an endpoint without ECS's limits): the four registrations go out together, so an
    endpoint with a burst of 3 throttles one of them (retried, as any throttled call)."""
    throttled.rates.throttle = Throttle(burst=3, per_second=2.0)
    ecsflow("sync", "--register-rate", "off", file=etl_project / "docker-compose.yml", endpoint=throttled)
    assert throttled.rates.throttle.throttled[REGISTER] >= 1
    assert throttled.calls[REGISTER] == 4 + throttled.rates.throttle.throttled[REGISTER]


@pytest.mark.parametrize("value", ["fast", "20", "0,1", "20,0", "20,-1", "20,x", "20,nan", "20,inf", ""])
def test_a_bad_register_rate_is_a_usage_error(value, etl_project):
    result = ecsflow("sync", "--register-rate", value, file=etl_project / "docker-compose.yml",
                     endpoint="http://127.0.0.1:9", expect=2)
    assert "--register-rate" in result.stderr
    assert "is not a rate: write BURST,PER_SECOND" in " ".join(result.stderr.split())
