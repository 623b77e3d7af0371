"""Whether the sandbox may execute a task's command on this machine: only when the user says so
(docs/design.md section 12).

The sandbox is a stand-in for AWS, not a container runtime. A task it starts has no image and no container:
its command would run as a process of the current user, here, in the compose project's folder, so a compose
file's init service (`mkdir /opt/airflow && chown -R 50000:0 /opt/airflow`) would change this machine. So the
sandbox executes nothing unless asked: ``--execute-locally`` on the commands that can start a sandbox task
(`run`), or ``ECSFLOW_EXECUTE_LOCALLY=1`` for CI (read as every boolean variable is: 1/0, true/false, yes/no,
on/off, t/f, y/n; another value is a usage error). Without it a command still validates and registers as it
would on ECS, and says what it did not run and how to opt in.

This module is the one place that decides (``decide``) and words what was not done (``not_executed``); the CLI
reads the flag and the variable, the operations act on the decision, and the sandbox's task runner enforces
it (``runner_refusal``: a task that reaches it without consent is stopped, never started).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

FLAG = "--execute-locally"
VARIABLE = "ECSFLOW_EXECUTE_LOCALLY"
HOW_TO_OPT_IN = f"pass {FLAG} (or set {VARIABLE}=1) to run it on this machine"


class MeaninglessOptIn(ValueError):
    """``--execute-locally`` given where it means nothing (outside the sandbox): a usage error."""


@dataclass(frozen=True)
class LocalExecution:
    """``allowed``: the sandbox may run its tasks' commands as processes on this machine. ``note``: what to
    tell the user about the opt-in (None: nothing)."""

    allowed: bool = False
    note: str | None = None


def decide(*, sandbox: bool, asked: bool, from_variable: bool = False) -> LocalExecution:
    """The decision for one command. ``asked``: the flag was given or the variable is true; ``from_variable``:
    it came from the variable, not the command line.

    Outside the sandbox the opt-in means nothing: tasks run on ECS, where they belong. Given on the command
    line, it is a usage error (whoever typed `run job --execute-locally` and forgot `--sandbox` expects a local
    run, and would start a task on ECS with their AWS credentials); set in the environment (a CI job's
    variables, shared by its sandbox and its real commands) it is a note, so that it cannot break a real run."""
    if not asked:
        return LocalExecution(False)
    if sandbox:
        return LocalExecution(True)
    if not from_variable:
        raise MeaninglessOptIn(f"{FLAG} only applies with --sandbox (or ECSFLOW_SANDBOX=1): without it the task "
                               "runs on ECS, not on this machine")
    return LocalExecution(False, note=f"{VARIABLE} is set but means nothing outside the sandbox: the task runs on "
                          "ECS")


def not_executed(argv: Sequence[str], folder: str) -> str:
    """What the sandbox did not do, for a task it did not run: the command (the caller's output masks it, as
    everything printed) and how to opt in."""
    return (f"sandbox: not executed: the task would run {_shown(argv)} as a process on this machine, in {folder} "
            f"(the sandbox has no containers); {HOW_TO_OPT_IN}")


_SHOWN_CHARACTERS = 160  # a compose init script runs to thousands of characters over many lines


def _shown(argv: Sequence[str]) -> str:
    """The command as a note shows it: whole words up to a line's worth (the masker then sees each word whole),
    the rest counted, never a word cut in two."""
    if not argv:
        return "`(no command)`"
    shown: list[str] = []
    for word in argv:
        if "\n" in word or len(shlex.join([*shown, word])) > _SHOWN_CHARACTERS:
            break
        shown.append(word)
    left = argv[len(shown):]
    if not left:
        return f"`{shlex.join(shown)}`"
    more = f"{len(left)} more argument{'s' if len(left) > 1 else ''}, {sum(map(len, left)):,} characters"
    return f"`{shlex.join(shown)} …` ({more}; `ecsflow render` shows the whole command)"


def runner_refusal() -> str:
    """The stop reason of a task that reached the sandbox's runner without consent (it is never started)."""
    return f"not executed: the sandbox runs nothing on this machine unless asked ({FLAG} or {VARIABLE}=1)"
