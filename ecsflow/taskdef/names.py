"""What ECS allows in the names ecsflow makes from compose names (families, containers, volumes)."""

from __future__ import annotations

import re

# Letters, digits, '-' and '_', at most 255: ECS's rule for a family, a container name and a volume name.
INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def ecs_name(name: str) -> str:
    """``name`` with what ECS does not allow in it made '-', cut to 255 characters."""
    return INVALID_NAME_CHARS.sub("-", name)[:255]
