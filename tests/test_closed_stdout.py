"""A closed stdout (`ecsflow diff --format markdown | head -1`, a reader that went away) ends a command quietly,
as git and other CLIs end: no traceback, no message, exit status 1 (click's and rich's, and the one Python's
documentation gives for EPIPE: the output was not all delivered). Real processes, a real pipe whose reader is
closed before the command writes, so the write fails every time (a reader that closes after a short read is
the same case, won only sometimes)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project_files import copy_example

ECSFLOW = Path(sys.executable).with_name("ecsflow")
NOISE = ("unexpected", "Traceback", "Exception ignored", "BrokenPipe", "Broken pipe", "report it")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the example project (the sandbox's state goes beside it)."""
    return copy_example(tmp_path_factory.mktemp("closed-stdout") / "etl", dags=True)


def run_with_closed_stdout(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    """`ecsflow ARGS` with stdout a pipe nobody reads any more: its reader is closed before the command starts."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
        return subprocess.run([str(ECSFLOW), *args], cwd=cwd, stdout=writer, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=env, text=True, timeout=timeout)
    finally:
        os.close(writer)


SANDBOX = ["-f", "docker-compose.yml", "--sandbox"]


@pytest.mark.parametrize("args", [
    ["render", "-f", "docker-compose.yml"],  # a JSON document
    ["render", "-f", "docker-compose.yml", "--format", "yaml"],
    ["diff", *SANDBOX, "--format", "markdown"],  # plain text
    ["diff", *SANDBOX],  # rich's table
    ["config", "-f", "docker-compose.yml", "--format", "json"],
    ["sync", *SANDBOX, "--format", "json"],
    ["prune", *SANDBOX],
    ["run", "transform", *SANDBOX, "--execute-locally", "-e", "RUN_DATE=2026-01-01"],  # the job's log lines
    ["--help"],
    ["--version"],
], ids=lambda args: " ".join(a for a in args if a not in SANDBOX and a != "docker-compose.yml"))
def test_a_closed_stdout_ends_the_command_quietly(project, args):
    done = run_with_closed_stdout(args, project)
    assert done.returncode == 1, done.stderr
    assert not any(noise in done.stderr for noise in NOISE), done.stderr


def test_a_run_whose_stdout_closes_does_not_wait_for_the_job(project):
    """The log line that cannot be written ends `run` (the sandbox's task with it), not the job's end."""
    started = time.monotonic()
    done = run_with_closed_stdout(["run", "transform", *SANDBOX, "--execute-locally", "--", "python", "-c",
                                   "import time; print('first', flush=True); time.sleep(60)"], project, timeout=50)
    assert done.returncode == 1, done.stderr
    assert not any(noise in done.stderr for noise in NOISE), done.stderr
    assert time.monotonic() - started < 30
