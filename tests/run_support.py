"""What the tests of `ecsflow run` against the test endpoint share (tests/test_run.py, tests/test_run_once.py)."""

from __future__ import annotations

from cli_runner import ecsflow


def run(ecs, project, *args, env=None, service="job", expect=0):
    """``ecsflow run SERVICE ARGS`` of the project against the endpoint, polling every 20 ms."""
    __tracebackhide__ = True
    return ecsflow("run", service, "--poll-interval", "0.02", *args, file=project / "docker-compose.yml",
                   endpoint=ecs, env=env, expect=expect)
