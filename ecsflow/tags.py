"""The tags ecsflow puts on what it manages, and the one rule that reads them back.

Whatever ecsflow creates for a compose service carries three tags: ``ecsflow:managed=true``, the project
and the service (task definitions today: the builder adds them to every request, so that `render` prints what
`sync` registers; an ECS service would carry the same). A resource is ecsflow's when it carries
``ecsflow:managed=true``: `prune` leaves the others alone, and the convergence after a race deregisters only
ecsflow's duplicates. No compose file or setting may set a tag under the reserved prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

RESERVED_TAG_PREFIX = "ecsflow:"
MANAGED_TAG = "ecsflow:managed"
PROJECT_TAG = "ecsflow:project"
SERVICE_TAG = "ecsflow:service"


def managed_tags(project: str, service: str) -> dict[str, str]:
    """The tags of what ecsflow creates for ``service`` of ``project``."""
    return {MANAGED_TAG: "true", PROJECT_TAG: project, SERVICE_TAG: service}


def is_managed(tags: Mapping[str, str]) -> bool:
    """Whether a resource with these tags (key -> value) is ecsflow's."""
    return tags.get(MANAGED_TAG) == "true"


def reserved_keys(keys: Iterable[str]) -> list[str]:
    """The keys among ``keys`` that only ecsflow sets, sorted."""
    return sorted(key for key in keys if key.startswith(RESERVED_TAG_PREFIX))
