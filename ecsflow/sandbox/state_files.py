"""The sandbox's files on disk: how a state file is named, listed, read and written, and what makes one
unreadable. Shared by the task definitions' files (``session``) and the services' (``services_state``), so that
both keep the same rules:

- a file in a state folder that ecsflow did not write (not a regular file, not UTF-8, not JSON, too large) is an
  error naming it, never ignored: a state file broken by hand would be dropped, then overwritten;
- a file of another format (written by a newer or an older ecsflow) is an error that says so, not a loss;
- a file (or folder) this user may not read is a permission to fix: the error names its mode, its owner and who
  ecsflow runs as, and never says to delete the state;
- a save is atomic (a temporary file renamed over the old one): an interrupted save leaves the previous file whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ecsflow.errors import EcsflowError

FORMAT = 1  # of every state file this ecsflow writes
MAX_STATE_BYTES = 256 * 1024 * 1024  # per file: 4,000 revisions of ECS's largest definitions
_PLAIN_NAME_MAX = 200  # longer names get a hashed file name (file names hold 255 bytes, ".tmp" included)


class NotOurs(ValueError):
    """A file in a state folder that ecsflow did not write: not a regular file, not UTF-8, not JSON."""


def file_name(name: str) -> str:
    """The file that holds ``name`` (a family, a cluster): ``<name>.json``, or, for a name longer than 200
    characters (ECS allows 255), its start and a hash of the whole name."""
    if len(name) <= _PLAIN_NAME_MAX:
        return f"{name}.json"
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"{name[:_PLAIN_NAME_MAX - 20]}-{digest}.json"


def json_files(folder: Path, hint: str) -> list[Path]:
    """The ``*.json`` entries of ``folder``, sorted (none when it does not exist)."""
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise EcsflowError("the sandbox keeps its state in this folder, but it is a file", file=str(folder),
                           hint="move the file away (or delete it) and run again")
    try:
        # Not glob(), which reads a folder it may not list as an empty one (and the next save would start over).
        return sorted(folder / name for name in os.listdir(folder) if name.endswith(".json"))
    except PermissionError:
        raise permission_error(folder) from None
    except OSError as exc:
        raise EcsflowError(f"cannot read the sandbox state folder: {exc.strerror}", file=str(folder),
                           hint=hint) from None


def read_document(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``, of this ecsflow's format. A file ecsflow did not write is ``NotOurs``."""
    if not path.is_file():
        raise NotOurs("not a regular file (a stray folder, device or pipe)")
    if path.stat().st_size > MAX_STATE_BYTES:
        raise NotOurs(f"larger than {MAX_STATE_BYTES // 2**20} MiB: not a file ecsflow wrote")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise NotOurs("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise NotOurs(f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    got = document.get("format") if isinstance(document, dict) else type(document).__name__
    if isinstance(got, int) and not isinstance(got, bool) and got != FORMAT:
        raise OtherFormat(got)
    if not isinstance(document, dict) or got != FORMAT:
        raise NotOurs(f"not a sandbox state file (format {got!r}, expected {FORMAT})")
    return document


class OtherFormat(ValueError):
    """A state file of another format: written by a newer or an older ecsflow."""

    def __init__(self, found: int) -> None:
        self.found = found
        which = "a newer" if found > FORMAT else "an older"
        super().__init__(f"it is of format {found}, written by {which} ecsflow (this one reads format {FORMAT})")


@contextmanager
def reading(path: Path, hint: str) -> Iterator[None]:
    """Turn what can go wrong while reading and checking the state file ``path`` into one clear error naming it
    (``hint``: how to start over)."""
    try:
        yield
    except NotOurs as exc:
        raise EcsflowError(f"cannot read the sandbox state: {exc}", file=str(path),
                           hint=f"this folder holds ecsflow's sandbox state only: move {path.name} elsewhere, or "
                           f"{hint}") from None
    except OtherFormat as exc:
        raise EcsflowError(f"cannot read the sandbox state: {exc}", file=str(path),
                           hint=f"use the ecsflow that wrote it, or move {path.name} elsewhere (what it holds is "
                           "then not in the sandbox)") from None
    except PermissionError:
        raise permission_error(path) from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise EcsflowError(f"cannot read the sandbox state: {reason}", file=str(path), hint=hint) from exc


def write_document(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` atomically (``OSError`` when it cannot)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: an interrupted save leaves the previous file whole


def permission_error(path: Path) -> EcsflowError:
    """This user may not read a state file (or list the folder): a permission to fix, not a state to drop. The
    hint names the file's mode and owner and who this process is (never "delete the folder": that would drop
    every family's revisions for one file's permission)."""
    try:
        info = path.stat()
        found = f"it is {stat.filemode(info.st_mode)}, owned by {_user(info.st_uid)}"
    except OSError:
        found = "its mode cannot be read either"
    action, what, grant = ("list", "folder", "a+rx") if path.is_dir() else ("read", "file", "a+r")
    user = _user(os.geteuid())
    return EcsflowError(f"cannot {action} the sandbox state: permission denied ({found}; ecsflow runs as {user})",
                        file=str(path), hint=f"let {user} read the {what} (chown it, or chmod {grant}), or run ecsflow "
                        "as its owner; the state itself is intact: do not delete it")


def _user(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"
