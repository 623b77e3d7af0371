"""What ECS allows in the names ecsflow makes from compose names (families, containers, volumes)."""

from __future__ import annotations

import re

# Letters, digits, '-' and '_', at most 255: ECS's rule for a family, a container name and a volume name.
INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


def ecs_name(name: str) -> str:
    """``name`` with what ECS does not allow in it made '-', cut to 255 characters."""
    return INVALID_NAME_CHARS.sub("-", name)[:255]


def family_prefix(pattern: str, project: str) -> str:
    """What the project's families start with, as the ``family`` pattern names them: its head up to the project's
    name (``{project}-{service}`` of project shop: ``shop``, so that a family an older pattern named, such as
    ``shop-v1-api``, is found too), else up to the service; "" when the pattern starts with the service, or its
    head cannot be formatted alone."""
    head = pattern.partition("{service}")[0]
    if "{project}" in head:
        head = head[:head.index("{project}") + len("{project}")]
    try:
        return ecs_name(head.format(project=project))
    except (KeyError, IndexError, ValueError):
        return ""
