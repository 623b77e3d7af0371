"""Where a service and each of its keys were written: the file, line and column that errors name.

The YAML reader keeps a position for every key of every mapping (``yamlfile.PositionedMap``), merging keeps
the position of the file that wrote a key (``merge.py``: with `-f a -f b`, a key of b names b and its own line),
and `extends` and `<<` keep the position of the key they copied. The loader then reads off one ``Positions`` per
service, before normalisation turns its mappings into plain ones; ``Positions.of(key)`` is where an error about
that key points, or the service's own position (its name under `services:`) when the key was not written there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecsflow.compose.yamlfile import Override, PositionedMap

Position = tuple[str | None, int | None, int | None]  # file, line, column (1-based; None: not known)
MAX_DEPTH = 6  # deploy.resources.reservations.devices is 4 deep; x-ecsflow.service.autoscaling.* a few more


@dataclass(frozen=True)
class Positions:
    """The position of a service's name (``service``) and of its keys, by dotted path (``keys``)."""

    service: Position = (None, None, None)
    keys: Mapping[str, Position] = field(default_factory=dict)

    def of(self, key: str | None = None) -> dict[str, Any]:
        """``file``, ``line`` and ``column`` (as ``EcsflowError`` takes them) of ``key`` (dotted: `healthcheck.test`),
        else of the nearest enclosing key written, else of the service."""
        parts = key.split(".") if key else []
        while parts:
            position = self.keys.get(".".join(parts))
            if position is not None:
                return _where(position)
            parts.pop()
        return _where(self.service)


def _where(position: Position) -> dict[str, Any]:
    file, line, column = position
    return {"file": file, "line": line, "column": column}


def position_in(mapping: Any, key: str) -> Position | None:
    """Where the dotted ``key`` was written in ``mapping`` (as the YAML reader returned it), or its nearest
    enclosing key; None when not known."""
    found = None
    for part in key.split("."):
        if isinstance(mapping, Override):
            mapping = mapping.value
        if not isinstance(mapping, PositionedMap) or part not in mapping:
            break
        found = mapping.position_of(part) or found
        mapping = mapping[part]
    return found


def service_positions(services: Any, name: str) -> Positions:
    """The positions of service ``name`` of a (merged) `services:` mapping as the YAML reader returned it."""
    service = services.get(name) if isinstance(services, Mapping) else None
    own = services.position_of(name) if isinstance(services, PositionedMap) else None
    if own is None and isinstance(service, PositionedMap):  # the name's position is unknown: its first key's
        own = (service.file, service.line, None)
    keys: dict[str, Position] = {}
    stack: list[tuple[str, Any, int]] = [("", service, 0)]
    while stack:
        prefix, mapping, depth = stack.pop()
        if not isinstance(mapping, PositionedMap) or depth >= MAX_DEPTH:
            continue
        for key, value in mapping.items():
            path = f"{prefix}{key}"
            position = mapping.position_of(key)
            if position is not None:
                keys[path] = position
            stack.append((f"{path}.", value.value if isinstance(value, Override) else value, depth + 1))
    return Positions(own or (None, None, None), keys)
