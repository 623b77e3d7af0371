"""`ecsflow init`: propose the top-level x-ecsflow block from the AWS account the credentials can see, and with
``write`` add it to the compose file (atomically, every other byte kept), only where there is none yet."""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ecsflow.errors import ComposeError
from ecsflow.operations.core import AwsFlags, ProjectOptions, _Messages, aws_session, load, resolve


@dataclass(frozen=True)
class InitResult:
    block: str  # the proposed block, as YAML text with its comments
    file: Path  # the compose file it is for (the first one)
    written: bool
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def init(options: ProjectOptions, aws: AwsFlags, write: bool = False) -> InitResult:
    from ecsflow.ecs.discover import read_account
    from ecsflow.proposal import PROPOSED, block_text, check_block, insert_block, propose, values_of
    from ecsflow.settings import resolve_settings

    messages = _Messages()
    project = load(options, messages)
    resolved = resolve(project, options)
    target = project.files[0]
    has_block = "x-ecsflow" in project.extensions
    if write and has_block:  # said before any AWS call: there is nothing init would write
        raise ComposeError("the project has a top-level x-ecsflow block already: init adds one only where there is "
                           "none", file=str(target), key="x-ecsflow",
                           hint="run `ecsflow init` without --write to compare its proposal with the block")
    if write:
        _check_writable(target)
    with aws_session(aws, project, resolved.settings.region) as ecs:
        facts = read_account(ecs.options, sandbox=aws.sandbox)
    given = {name: (getattr(resolved.settings, name), resolved.origins[name]) for name in PROPOSED
             if resolved.origins.get(name, "default") != "default"}
    # The region read is the session's: the setting when set (its origin says so), else boto3's chain's.
    region_set = given.pop("region", None)
    region_origin = (f"as set already: {region_set[1]}" if region_set else
                     "the sandbox's region" if aws.sandbox else "")
    proposed = propose(facts, project.name, given, region_origin)
    block = block_text(proposed)
    check_block(block, proposed)
    values = values_of(proposed)
    resolve_settings(compose=values, compose_file=target.name, environ={}, flags={})  # each value parses
    notes = [f"read from account {facts.account} in {facts.region}" + (" (the sandbox)" if aws.sandbox else "")]
    if facts.unread:
        notes.append("not read: " + ", ".join(f"{action} ({code})" for action, code in facts.unread.items()))
    if not write:
        notes.append(f"{target.name} has a top-level x-ecsflow already: compare" if has_block else
                     f"to add it to {target.name}: ecsflow init --write (or paste it there)")
        return InitResult(block, target, False, tuple(messages.warnings), tuple(notes))
    original = target.read_bytes()
    text = insert_block(original.decode("utf-8"), block, str(target), values)
    _replace(target, original, text.encode("utf-8"))
    notes.append(f"added to {target}: `ecsflow render` shows what ECS would get")
    return InitResult(block, target, True, tuple(messages.warnings), tuple(notes))


def _check_writable(path: Path) -> None:
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        raise ComposeError(f"cannot add the x-ecsflow block: the compose file is {what}", file=str(path),
                           hint="give the file itself with -f, or add the block by hand (init without --write "
                           "prints it)")


def _replace(path: Path, original: bytes, text: bytes) -> None:
    """Write ``text`` to ``path`` atomically (a file beside it, then a rename), keeping its mode, and only if the
    file still holds ``original``."""
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        if path.read_bytes() != original:
            raise ComposeError("the compose file changed while init was reading the account: nothing written",
                               file=str(path), hint="run ecsflow init --write again")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
