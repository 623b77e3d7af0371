"""The commit of the git checkout that holds a compose file: the default tag of the images built from source.

The one place that runs git. Bounded: each git call has a timeout, and any failure (no git, not a checkout,
a checkout git refuses to read) is an answer saying why, never an exception.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Abbreviated to a fixed length, so that a shallow CI clone and a full clone on a laptop name one commit with
# one tag (git's default abbreviation grows with the number of objects it holds).
COMMIT_LENGTH = 12
GIT_TIMEOUT = 10  # seconds, for each git call


@dataclass(frozen=True)
class Commit:
    """``sha``: the abbreviated commit (None when there is none, and ``reason`` says why); ``dirty``: the
    checkout has changes to tracked files that the commit does not hold."""

    sha: str | None
    dirty: bool = False
    reason: str = ""


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # No pager, no prompt, no lock taken by a read (`git status` would otherwise refresh the index).
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "GIT_PAGER": "cat"}
    return subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, env=env,
                          timeout=GIT_TIMEOUT, stdin=subprocess.DEVNULL, check=False)


def checkout_commit(directory: Path) -> Commit:
    """The commit checked out in the git checkout that holds ``directory``."""
    try:
        head = _git(directory, "rev-parse", f"--short={COMMIT_LENGTH}", "--verify", "HEAD")
    except FileNotFoundError:
        return Commit(None, reason="git is not installed")
    except subprocess.TimeoutExpired:
        return Commit(None, reason=f"git did not answer within {GIT_TIMEOUT} seconds")
    except OSError as exc:
        return Commit(None, reason=f"git cannot run ({exc.strerror or exc})")
    if head.returncode != 0:
        said = (head.stderr.strip().splitlines() or [""])[0].removeprefix("fatal: ")
        if "not a git repository" in said:
            return Commit(None, reason=f"{directory} is not in a git checkout")
        return Commit(None, reason=f"git cannot name the commit of {directory}" + (f" ({said})" if said else ""))
    sha = head.stdout.strip()
    try:
        status = _git(directory, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):
        return Commit(sha)
    return Commit(sha, dirty=status.returncode == 0 and bool(status.stdout.strip()))
