"""A service's `volumes` as Docker Compose reads them: the short syntax `[SOURCE:]TARGET[:OPTIONS]` parsed as
compose-go's ParseVolume parses it, each entry in the long form `docker compose config` prints, bind-mount sources
made absolute against the folder of the file that wrote them, one entry per target (the last wins)."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_WINDOWS_ABSOLUTE = re.compile(r"[A-Za-z]:[\\/]|\\\\")
_PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
_SELINUX = ("z", "Z")


def _is_drive(buffer: str, char: str) -> bool:
    """`C:` of a Windows path: a colon right after one letter is part of the path, not a separator."""
    return char == ":" and len(buffer) == 1 and buffer.isalpha()


def is_file_path(source: str) -> bool:
    """Whether a short-syntax source names a host path (a bind mount) rather than a named volume."""
    if not source:
        return False
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) > 1 and _is_drive(source[0], source[1])


def parse_volume_spec(spec: str) -> dict[str, Any]:
    """One short-syntax entry in the long form. Raises ValueError in Compose's words."""
    if not spec:
        raise ValueError("invalid empty volume spec")
    if len(spec.encode()) <= 2:
        return {"type": "volume", "target": spec}
    source = target = ""
    options: list[str] = []
    buffer = ""
    for char in [*spec, None]:
        if char is not None and (_is_drive(buffer, char) or char != ":"):
            buffer += char
            continue
        if not buffer:
            raise ValueError("empty section between colons")
        if not source and char is None:
            target = buffer  # an anonymous volume: the target alone
        elif not source:
            source = buffer
        elif not target:
            target = buffer
        elif char == ":":
            raise ValueError("too many colons")
        else:
            options = buffer.split(",")
        buffer = ""
    volume: dict[str, Any] = {"type": "bind" if is_file_path(source) else "volume"}
    if source:
        volume["source"] = source
    volume["target"] = target
    bind: dict[str, Any] = {}
    for option in options:  # Compose ignores an option it does not know
        if option in ("ro", "rw"):
            volume["read_only"] = option == "ro"
        elif option == "nocopy":
            volume["volume"] = {"nocopy": True}
        elif option in _PROPAGATIONS:
            bind["propagation"] = option
        elif option in _SELINUX:
            bind["selinux"] = option
    if not volume.get("read_only"):
        volume.pop("read_only", None)
    if volume["type"] == "bind":
        volume["bind"] = {**bind, "create_host_path": True}  # the short syntax creates a missing host path
    else:
        volume.setdefault("volume", {})
    return volume


def absolute_source(source: str, base_dir: Path, home: str | None) -> str:
    """A bind mount's host path as Compose resolves it: `~` is HOME (left as written without one), a relative
    path is below ``base_dir``, cleaned of `.` and `..` as Go's filepath.Join cleans it."""
    if home and (source == "~" or source.startswith("~/")):
        source = home + source[1:]
    if _WINDOWS_ABSOLUTE.match(source):
        return source  # an absolute Windows path (`C:\\x`, `\\\\host\\share`): Compose leaves it as written
    # An absolute path is kept as written; a relative one is joined to the folder and cleaned.
    return source if os.path.isabs(source) else os.path.normpath(os.path.join(base_dir, source))


def clean_target(target: str) -> str:
    """A path in the container cleaned as Go's path.Clean cleans it (`/data/` is `/data`), as Compose does."""
    cleaned = posixpath.normpath(target)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def resolve_volume_paths(items: Any, base_dir: Path, home: str | None) -> Any:
    """``items`` (a service's `volumes`, as written) with every bind mount's source made absolute, relative
    sources being relative to ``base_dir`` (the folder of the file that wrote them). A short-syntax bind entry
    becomes its long form; what does not parse, or is not a list, is left for the checks that report it."""
    if not isinstance(items, list):
        return items
    resolved = []
    for item in items:
        if isinstance(item, str):
            try:
                parsed = parse_volume_spec(item)
            except ValueError:
                resolved.append(item)
                continue
            if parsed["type"] == "bind":
                item = {**parsed, "source": absolute_source(parsed["source"], base_dir, home)}
        elif isinstance(item, Mapping) and item.get("type") == "bind" and isinstance(item.get("source"), str):
            item = {**item}
            item["source"] = absolute_source(item["source"], base_dir, home)
        resolved.append(item)
    return resolved


def normalise_volumes(items: Any) -> list[dict[str, Any]]:
    """Every entry in the long form, one per target (a later entry replaces an earlier one, as Compose
    merges them). Raises ValueError naming the entry's index."""
    by_target: dict[Any, dict[str, Any]] = {}
    for index, item in enumerate(items or []):
        try:
            volume = parse_volume_spec(item) if isinstance(item, str) else dict(item)
        except ValueError as exc:
            raise ValueError(f"volumes.{index}: invalid volume spec: {exc} (the short syntax is "
                             "[SOURCE:]TARGET[:OPTIONS])") from None
        if volume.get("type") == "bind" and "source" not in volume:
            raise ValueError(f'volumes.{index}: invalid mount config for type "bind": field Source must not be '
                             "empty")
        if not volume.get("target"):
            raise ValueError(f"volumes.{index}: a volume needs a target (the path in the container)")
        volume["target"] = clean_target(str(volume["target"]))
        by_target.pop(volume["target"], None)
        by_target[volume["target"]] = volume
    return list(by_target.values())
