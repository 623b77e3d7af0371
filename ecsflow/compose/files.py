"""Reading the files a compose project names: compose files (`-f`, `include`, `extends`), `.env`, `--env-file`
and `env_file`. Each must be a regular file of bounded size, so that `/dev/zero` cannot read for ever, a FIFO
cannot block, and `/proc/self/environ` cannot print the whole process environment.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ecsflow.errors import ComposeError

MIB = 1024 * 1024
# Far above any real file (ECS refuses a task definition over 64 KiB), far below what costs real time to parse.
COMPOSE_FILE_LIMIT = 4 * MIB
ENV_FILE_LIMIT = 4 * MIB
# Pseudo-filesystems whose "regular" files are views of the machine, not files someone wrote.
_PSEUDO_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


def read_text(path: Path, what: str, limit: int, *, hint: str | None = None) -> str:
    """The UTF-8 text of `path`, a regular file of at most `limit` bytes; `what` names it in errors
    ("compose file", "env file")."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ComposeError(f"{what} not found", file=str(path), hint=hint) from None
    except OSError as exc:
        raise ComposeError(f"cannot read {what}: {exc.strerror}", file=str(path), hint=hint) from None
    real = Path(os.path.realpath(path))
    if not stat.S_ISREG(info.st_mode) or any(real.is_relative_to(root) for root in _PSEUDO_ROOTS):
        raise ComposeError(f"{what} is not a regular file", file=str(path),
                           hint="give the path of a regular file on disk (not a device, FIFO, /proc or /sys entry)")
    if info.st_size > limit:
        raise ComposeError(f"{what} is larger than the {limit // MIB} MiB ecsflow reads", file=str(path),
                           hint=hint)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise ComposeError(f"cannot read {what}: {exc.strerror}", file=str(path), hint=hint) from None
    if len(data) > limit:  # it grew while we looked
        raise ComposeError(f"{what} is larger than the {limit // MIB} MiB ecsflow reads", file=str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ComposeError(f"not UTF-8 text (byte {exc.start})", file=str(path),
                           hint="save the file as UTF-8, as Docker Compose expects") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as text mode reads them
