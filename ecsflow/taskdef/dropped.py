"""What a compose file says that never reaches ECS, said once for the project: the keys that only Docker Compose on
one machine reads (the mapping leaves them out quietly: docs/reference/mapping.md), and the services that
profiles leave out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ecsflow.compose.model import ComposeProject, Service

# The keys left out quietly, in the order they are named; `restart` is named only on a job (a server's restart
# policy is how ecsflow knows it is one, and an ECS service replaces a task that stops).
DROPPED_KEYS = ("networks", "container_name", "links", "external_links", "stdin_open", "tty", "restart", "scale",
                "pull_policy", "attach", "annotations", "develop")


def dropped_note(project: ComposeProject, services: Iterable[Service], jobs: Iterable[str]) -> str | None:
    """One note naming the keys of ``services`` (those built) that ECS never sees, and the services of
    profiles not enabled; None when there are none. ``jobs``: the names of the services that are jobs."""
    jobs = set(jobs)
    users: dict[str, list[str]] = {}  # key -> the services that set it
    fixed_addresses: list[str] = []
    for service in services:
        for key in DROPPED_KEYS:
            value = service.raw.get(key)
            if value in (None, False, "", [], {}) or key == "restart" and (service.name not in jobs or value == "no"):
                continue
            users.setdefault(key, []).append(service.name)
        if _has_fixed_address(service.raw.get("networks")):
            fixed_addresses.append(service.name)
    parts = []
    by_services: dict[tuple[str, ...], list[str]] = {}  # keys set by the same services are named together
    for key, names in users.items():
        by_services.setdefault(tuple(names), []).append("restart on a job" if key == "restart" else key)
    for names, keys in by_services.items():
        part = f"{', '.join(keys)} ({', '.join(names)})"
        if "networks" in keys and fixed_addresses:
            part += (f"; a fixed ipv4_address/ipv6_address ({', '.join(fixed_addresses)}) does not carry over: a "
                     "Fargate task takes its address from its subnet")
        parts.append(part)
    text = f"not used on ECS: {'; '.join(parts)}" if parts else ""
    if project.profiled_out:
        left = ", ".join(f"{name} (profile {', '.join(profiles)})" for name, profiles in project.profiled_out.items())
        text += ("; " if text else "") + f"services of profiles not enabled are left out: {left}; --profile NAME " \
            "enables one"
    return text or None


def _has_fixed_address(networks: object) -> bool:
    if not isinstance(networks, Mapping):
        return False
    return any(isinstance(spec, Mapping) and (spec.get("ipv4_address") or spec.get("ipv6_address"))
               for spec in networks.values())
