"""Guarded writes of a generated DAG and its pools file: a file edited by hand is never overwritten unawares.

The DAG file's header records a sha256 of the DAG text below it and one of the pools file (`hash_lines`);
`write_dag` compares what is on disk with them, refuses to replace a file that was edited since ecsflow wrote
it (or that ecsflow did not write) unless forced, and replaces files atomically.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from ecsflow.airflow.model import GeneratedDag, WriteResult

_HASH_LINE = re.compile(r"^# ecsflow: sha256 ([0-9a-f]{64})$")
_POOLS_HASH_LINE = re.compile(r"^# ecsflow: pools sha256 ([0-9a-f]{64})$")


def write_dag(generated: GeneratedDag, out_dir: Path, *, force: bool = False) -> WriteResult:
    """Write `<dag_id>.py` and `<dag_id>.pools.json` into out_dir (created if missing).

    A file that already holds the generated text is left alone ("unchanged"). A file that was changed since
    ecsflow wrote it (its text no longer matches the hash in the DAG file's header), or that ecsflow did not
    write, is refused unless `force`; when one file is refused, neither is written.
    """
    out_dir = Path(out_dir)
    dag_path = out_dir / generated.file_name
    pools_path = out_dir / generated.pools_file_name
    existing_dag = _read(dag_path)
    existing_pools = _read(pools_path)
    recorded = parse_header(existing_dag) if existing_dag is not None else None

    plans: list[tuple[Path, str, str | None]] = []  # (path, text, why it is refused)
    plans.append((dag_path, generated.source, _dag_refusal(existing_dag, recorded)))
    pools_text = generated.pools_source
    pools_refusal = None
    if existing_pools is not None and existing_pools != pools_text:
        if recorded is None:
            pools_refusal = (
                f"it differs from what ecsflow generates, and {dag_path.name} "
                + ("does not exist" if existing_dag is None else "has no ecsflow hash")
                + " to tell whether ecsflow wrote it"
            )
        elif _sha(existing_pools) != recorded[1]:
            pools_refusal = f"it was edited since ecsflow generated it (hash in {dag_path.name})"
    plans.append((pools_path, pools_text, pools_refusal))

    written: list[Path] = []
    unchanged: list[Path] = []
    refused: list[Path] = []
    skipped: list[Path] = []
    messages: list[str] = []
    blocked = not force and any(why for _, _, why in plans)
    for path, text, why in plans:
        current = existing_dag if path == dag_path else existing_pools
        if current == text:
            unchanged.append(path)
            messages.append(f"unchanged {path}")
        elif why and not force:
            refused.append(path)
            messages.append(f"refused {path}: {why}; use --force to overwrite it")
        elif blocked:
            skipped.append(path)
            messages.append(f"not written {path}: another file was refused")
        else:
            verb = "created" if current is None else "overwrote" if why else "updated"
            _write_atomic(path, text)
            written.append(path)
            messages.append(f"{verb} {path}" + (f" ({why}; --force)" if why else ""))
    return WriteResult(
        written=tuple(written),
        unchanged=tuple(unchanged),
        refused=tuple(refused),
        skipped=tuple(skipped),
        messages=tuple(messages),
    )


def parse_header(text: str) -> tuple[str, str] | None:
    """(sha256 of the DAG body, sha256 of the pools file) recorded in a generated DAG file's header, or None."""
    split = _split(text)
    return split[0] if split else None


def is_edited(text: str) -> bool:
    """True when a DAG file's text after the hash line no longer matches that hash (or there is none)."""
    split = _split(text)
    return split is None or _sha(split[1]) != split[0][0]


def _split(text: str) -> tuple[tuple[str, str], str] | None:
    """((DAG hash, pools hash), the text the DAG hash covers) when the leading comments hold both hash lines:
    `# ecsflow: sha256 H` then `# ecsflow: pools sha256 P`; the DAG hash covers the text after the second."""
    lines = text.split("\n")
    offset = 0
    for index, line in enumerate(lines[:12]):
        offset += len(line) + 1
        match = _HASH_LINE.match(line)
        if match:
            pools = _POOLS_HASH_LINE.match(lines[index + 1]) if index + 1 < len(lines) else None
            if pools is None:
                return None
            offset += len(lines[index + 1]) + 1
            return (match.group(1), pools.group(1)), text[offset:]
        if not line.startswith("#"):
            break
    return None


def hash_lines(body: str, pools_text: str) -> list[str]:
    """The two header lines of a DAG file that protect `body` (the text after them) and its pools file."""
    return [f"# ecsflow: sha256 {_sha(body)}", f"# ecsflow: pools sha256 {_sha(pools_text)}"]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None


def _dag_refusal(existing: str | None, recorded: tuple[str, str] | None) -> str | None:
    if existing is None:
        return None
    if recorded is None:
        return "it has no ecsflow hash header, so ecsflow did not generate it"
    if is_edited(existing):
        return "it was edited since ecsflow generated it"
    return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)  # mkstemp makes it 0600; the scheduler may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
