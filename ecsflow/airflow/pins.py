"""The revisions that generated DAGs pin (`gen-dag --pin`), so that `prune` keeps them, and the record of the
folders gen-dag wrote to.

gen-dag records each `--out` folder in the project's `.ecsflow/dags.json` (beside the compose file, where the
sandbox keeps its state; relative to the project's folder when inside it): a record that cannot be written
is a warning, never a failure of gen-dag. prune reads the recorded folders and those given with `--dags`,
finds the files gen-dag generated (by their `# ecsflow: sha256` header, edited or not; they are read as text,
never imported) in them and in the folders below, and keeps every `family:revision` whose task definition ARN
such a file names. A recorded folder that is gone is a note; a file that cannot be read is an error, since
what it pins is unknown and prune would otherwise deregister it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ecsflow.airflow.files import parse_header
from ecsflow.errors import EcsflowError

RECORD = Path(".ecsflow") / "dags.json"
MAX_FILES = 50_000  # files and folders looked at under one folder: a folder of DAGs, not a whole disk
_HEAD = 64 * 1024  # the header is in the first lines
MAX_SIZE = 32 * 1024 * 1024
_ARN = re.compile(r"arn:aws[a-z-]*:ecs:[a-z0-9-]*:[0-9]*:task-definition/([A-Za-z0-9_-]{1,255}):([0-9]{1,9})\b")


@dataclass(frozen=True)
class Pins:
    """(family, revision) -> the generated files that pin it (as shown: relative to this folder when under it);
    and notes (a recorded folder that is gone)."""

    files: Mapping[tuple[str, int], tuple[str, ...]]
    notes: tuple[str, ...] = ()

    def of(self, family: str) -> dict[int, tuple[str, ...]]:
        return {revision: files for (name, revision), files in self.files.items() if name == family}


def record_folder(project_dir: Path, folder: Path) -> str | None:
    """Add `folder` to the project's record of gen-dag's folders; a warning when that cannot be done."""
    path = project_dir / RECORD
    try:
        folders = _read_record(path)
        entry = _entry(project_dir, folder)
        if entry in folders:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".dags.", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"folders": [*folders, entry]}, handle, indent=2)
                handle.write("\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except (OSError, EcsflowError) as exc:
        why = exc.message if isinstance(exc, EcsflowError) else exc.strerror or str(exc)
        return (f"cannot record {folder} in {path} ({why}): `ecsflow prune` will not know that this DAG pins "
                f"revisions unless it is given --dags {folder}")
    return None


def recorded_folders(project_dir: Path) -> list[Path]:
    """The folders gen-dag recorded for the project (absolute), in the order they were recorded."""
    return [project_dir / entry for entry in _read_record(project_dir / RECORD)]


def find_pins(folders: Iterable[Path], given: Iterable[Path] = ()) -> Pins:
    """The revisions the generated files under `folders` (recorded: one that is gone is a note) and `given`
    (--dags: one that is not a folder is an error) pin."""
    found: dict[tuple[str, int], list[str]] = {}
    notes: list[str] = []
    given = list(given)
    for folder in given:
        if not folder.is_dir():
            raise EcsflowError(f"--dags {folder} is not a folder", hint="give the folder of the generated DAGs")
    seen: set[Path] = set()
    for folder in [*folders, *given]:
        if not folder.is_dir():
            notes.append(f"{folder}, where gen-dag wrote DAGs (recorded in {RECORD}), is gone: nothing there to keep")
            continue
        for path in _python_files(folder):
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            for pin in _pins_in(path):
                shown = _shown(path)
                if shown not in found.setdefault(pin, []):
                    found[pin].append(shown)
    return Pins({pin: tuple(files) for pin, files in found.items()}, tuple(notes))


def _python_files(folder: Path) -> Iterable[Path]:
    """The .py files under `folder` (not in hidden folders; symbolic links to folders are not followed)."""
    count = 0
    for root, dirs, files in os.walk(folder):
        count += len(dirs) + len(files)
        if count > MAX_FILES:
            raise EcsflowError(f"more than {MAX_FILES} files and folders under {folder}: not a folder of DAGs",
                               hint="give the folder of the generated DAGs with --dags")
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        yield from (Path(root) / name for name in sorted(files) if name.endswith(".py"))


def _pins_in(path: Path) -> list[tuple[str, int]]:
    """(family, revision) of every task definition ARN a generated file names; [] for another file."""
    try:
        if not path.is_file():
            return []
        with path.open("rb") as handle:
            head = handle.read(_HEAD).decode("utf-8", "surrogateescape")
            if parse_header(head) is None:
                return []
            if path.stat().st_size > MAX_SIZE:
                raise EcsflowError(f"{path} is larger than {MAX_SIZE // 2**20} MiB: prune cannot tell which revisions "
                                   "it pins", hint="move it out of the DAG folders prune reads")
            text = (head.encode("utf-8", "surrogateescape") + handle.read()).decode("utf-8", "surrogateescape")
    except OSError as exc:
        raise EcsflowError(f"cannot read {path}: {exc.strerror or exc}; prune cannot tell which revisions it pins",
                           hint="make it readable, or move it out of the DAG folders prune reads") from None
    return [(family, int(revision)) for family, revision in _ARN.findall(text)]


def _read_record(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise EcsflowError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        folders = json.loads(text)["folders"]
        if not isinstance(folders, list) or not all(isinstance(f, str) and f for f in folders):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise EcsflowError(f"{path} is not gen-dag's record of DAG folders",
                           hint='fix it ({"folders": ["dags"]}) or delete it (gen-dag writes it again)') from None
    return folders


def _entry(project_dir: Path, folder: Path) -> str:
    """The folder as recorded: relative to the project's folder when inside it (the record moves with it)."""
    folder = folder.resolve()
    try:
        return folder.relative_to(project_dir.resolve()).as_posix() or "."
    except ValueError:
        return str(folder)


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path.resolve())
