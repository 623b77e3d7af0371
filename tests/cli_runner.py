"""Running ecsflow as a user does, for the tests: ``ecsflow(...)`` runs the command in this process (typer's
CliRunner, stdout and stderr apart); ``ecsflow_process(...)`` runs ``python -m ecsflow`` as a process of its
own, for what needs one (another process beside it, the interpreter's start-up); ``ecsflow_started(...)``
starts that process without waiting (to signal it). They take the same arguments; the first two fail the test
when the command ends with an exit code it did not expect (``expect``: 0 unless told, or a set of codes),
showing the code, stdout and stderr (as httpie's ``http()`` and pipx's ``run_pipx_cli``).

``clean_env`` keeps this machine's AWS and ecsflow settings out of a command. ``assert_clean_error`` is what
every refusal must look like: exit 1, nothing on stdout, one ``error:`` message with no traceback and nothing
"unexpected"."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import pytest
from ecs_server import dummy_credentials_env

Env = Mapping[str, str | None]


@dataclass(frozen=True)
class Ran:
    """What a command did: the same fields as click's Result, which ``ecsflow()`` returns."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def ecsflow(*args: str | os.PathLike, file: os.PathLike | Sequence[os.PathLike] | None = None,
            endpoint: object | None = None, env: Env | None = None, cwd: os.PathLike | None = None,
            input: str | None = None, expect: int | Collection[int] = 0):
    """``ecsflow ARGS`` in this process; its click Result (``exit_code``, ``stdout``, ``stderr``, ``output``).

    ``file``: compose file(s), passed as ``-f`` after the command's name. ``endpoint``: a test endpoint
    (tests/ecs_server.py, or its URL) passed as ``--endpoint-url``, with the dummy credentials it accepts in
    the environment beneath ``env``. ``env`` is laid over this process's environment (``None`` removes a
    variable), ``cwd`` is the folder the command runs in, ``input`` its stdin."""
    __tracebackhide__ = True
    from typer.testing import CliRunner

    from ecsflow.cli import app

    command = _command(args, file, endpoint)
    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        result = CliRunner().invoke(app, command, input=input, env=_environment(endpoint, env))
    _check(command, result.exit_code, result.stdout, result.stderr, expect, result.exc_info)
    return result


def ecsflow_process(*args: str | os.PathLike, file: os.PathLike | Sequence[os.PathLike] | None = None,
                    endpoint: object | None = None, env: Env | None = None, cwd: os.PathLike | None = None,
                    input: str | None = None, expect: int | Collection[int] = 0,
                    prefix: Sequence[str] = (), timeout: float = 120) -> Ran:
    """``python -m ecsflow ARGS`` as a process of its own, with ``ecsflow()``'s arguments; ``prefix`` is a
    command that runs it (``unshare ...``, ``setpriv ...``)."""
    __tracebackhide__ = True
    command = _command(args, file, endpoint)
    done = subprocess.run([*prefix, sys.executable, "-m", "ecsflow", *command], cwd=cwd, input=input,
                          env=_process_environment(endpoint, env), capture_output=True, text=True, timeout=timeout)
    _check(command, done.returncode, done.stdout, done.stderr, expect)
    return Ran(done.returncode, done.stdout, done.stderr)


def ecsflow_started(*args: str | os.PathLike, file: os.PathLike | Sequence[os.PathLike] | None = None,
                    endpoint: object | None = None, env: Env | None = None,
                    cwd: os.PathLike | None = None) -> subprocess.Popen:
    """``python -m ecsflow ARGS`` started, not waited for (to signal it, or to run another beside it): its
    stdout and stderr are pipes of text. The test waits for it and judges its exit code."""
    return subprocess.Popen([sys.executable, "-m", "ecsflow", *_command(args, file, endpoint)], cwd=cwd,
                            env=_process_environment(endpoint, env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def clean_env(*, credentials: bool = False, **extra: str | None) -> dict[str, str | None]:
    """For ``env=``: no AWS or ecsflow variable of this shell's, no AWS configuration file, no colour; the dummy
    credentials if ``credentials`` (an ``endpoint=`` brings them only beneath ``env``, which unsets them here);
    ``extra`` on top."""
    unset = {name: None for name in os.environ if name.startswith(("AWS_", "ECSFLOW_"))}
    return {**unset, **(dummy_credentials_env() if credentials else {}), "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "NO_COLOR": "1", **extra}


def assert_clean_error(result, *fragments: str) -> None:
    """Exit 1, nothing on stdout, an ``error:`` message naming every fragment, no traceback, not "unexpected"."""
    __tracebackhide__ = True
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error:") and "error: unexpected" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def _command(args: Sequence[str | os.PathLike], file, endpoint) -> list[str]:
    words = [str(a) for a in args]
    files = [] if file is None else [file] if isinstance(file, str | os.PathLike) else list(file)
    options = [word for path in files for word in ("-f", str(path))]
    if endpoint is not None:
        options += ["--endpoint-url", endpoint if isinstance(endpoint, str) else endpoint.url]
    return [*words[:1], *options, *words[1:]]


def _environment(endpoint, env: Env | None) -> dict[str, str | None]:
    return {**(dummy_credentials_env() if endpoint is not None else {}), **(env or {})}


def _process_environment(endpoint, env: Env | None) -> dict[str, str]:
    """This process's environment with ``_environment``'s laid over it, as CliRunner lays it."""
    laid = {**os.environ, **_environment(endpoint, env)}
    return {name: value for name, value in laid.items() if value is not None}


def _check(command: list[str], code: int, stdout: str, stderr: str, expect: int | Collection[int],
           exc_info=None) -> None:
    __tracebackhide__ = True
    expected = {expect} if isinstance(expect, int) else set(expect)
    if code in expected:
        return
    said = f"`ecsflow {' '.join(command)}` exited {code}, expected {' or '.join(map(str, sorted(expected)))}"
    for name, text in (("stdout", stdout), ("stderr", stderr)):
        said += f"\n--- {name}\n{text.rstrip(chr(10)) if text else '(nothing)'}"
    if exc_info is not None and not isinstance(exc_info[1], SystemExit):
        import traceback

        said += "\n--- exception\n" + "".join(traceback.format_exception(*exc_info))
    pytest.fail(said)

