"""Which compose services are servers (ECS services, for `deploy`) and which are jobs (one-off tasks, for
`gen-dag` and `run`): one rule, shared by every command (design/services.md section 4.1). First match wins:

1. `x-ecsflow.kind: service|job`;
2. `deploy.mode: replicated-job|global-job` makes a job; `deploy.mode: global` is an error (Fargate has no
   DAEMON scheduling);
3. `restart: always|unless-stopped` or `deploy.restart_policy.condition: any` makes a service;
4. `ports` or `expose` make a service;
5. anything else is a job.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ecsflow.compose.model import Service
from ecsflow.errors import ComposeError

KIND_KEY = "x-ecsflow.kind"
_MODES = ("replicated", "global", "replicated-job", "global-job")  # the Compose Specification's deploy.mode
_SERVER_RESTARTS = ("always", "unless-stopped")


@dataclass(frozen=True)
class Kind:
    """A service's kind, why (``reason``: "it publishes ports", "x-ecsflow.kind: service", ...), and whether
    the compose file says so (``explicit``: x-ecsflow.kind) or the rule inferred it."""

    kind: Literal["service", "job"]
    reason: str
    explicit: bool = False

    @property
    def is_service(self) -> bool:
        return self.kind == "service"


def workload_kind(service: Service) -> Kind:
    """The kind of one compose service (see the module docstring). `deploy.mode: global` without
    x-ecsflow.kind, and a deploy.mode that is none of Compose's, are a ComposeError naming the key."""
    written = service.x_ecsflow.kind
    if written is not None:
        return Kind(written, f"{KIND_KEY}: {written}", explicit=True)  # type: ignore[arg-type]
    deploy = service.raw.get("deploy") or {}
    mode = deploy.get("mode")
    if mode in ("replicated-job", "global-job"):
        return Kind("job", f"deploy.mode: {mode}")
    if mode == "global":
        raise _error(service, "deploy.mode: global runs one task on every instance (ECS's DAEMON scheduling), "
                     "which Fargate does not have", "deploy.mode",
                     "use mode: replicated with deploy.replicas for a server, or set x-ecsflow.kind: job to run "
                     "it as a one-off task (x-ecsflow.skip leaves it out of ECS)")
    if mode is not None and mode != "replicated":
        close = difflib.get_close_matches(str(mode), _MODES, n=1)
        raise _error(service, f"deploy.mode {mode!r} is not a Compose deploy mode"
                     + (f" (did you mean '{close[0]}'?)" if close else ""), "deploy.mode",
                     f"write one of {', '.join(_MODES)}")
    restart = service.raw.get("restart")
    if restart in _SERVER_RESTARTS:
        return Kind("service", f"it has restart: {restart}")
    if (deploy.get("restart_policy") or {}).get("condition") == "any":
        return Kind("service", "it has deploy.restart_policy.condition: any")
    if service.ports:
        return Kind("service", "it publishes ports")
    if service.expose:
        return Kind("service", "it exposes ports")
    return Kind("job", "nothing marks it as a server (no restart: always, ports or expose)")


def kinds_note(kinds: Iterable[tuple[str, Kind]]) -> str | None:
    """One note for a list of (compose service, kind), grouped: "kinds: services (inferred): api (it publishes
    ports); services: web; jobs (inferred): extract, load". A reason is shown where the rule, not the file, decided,
    except for a job by default (the last rule). None when there is nothing to say."""
    groups: dict[tuple[str, bool], list[str]] = {}
    for name, kind in kinds:
        shown = name if kind.explicit or kind.reason.startswith("nothing marks") else f"{name} ({kind.reason})"
        groups.setdefault((kind.kind, kind.explicit), []).append(shown)
    parts = []
    for (kind, explicit), label in (
        (("service", False), "services (inferred)"), (("service", True), "services"),
        (("job", False), "jobs (inferred)"), (("job", True), "jobs"),
    ):
        if (kind, explicit) in groups:
            parts.append(f"{label}: {', '.join(groups[kind, explicit])}")
    if not parts:
        return None
    inferred = any(explicit is False for _, explicit in groups)
    advice = f". Where a guess is wrong, set {KIND_KEY}: service or job" if inferred else ""
    return "kinds: " + "; ".join(parts) + advice


def not_a_job_error(service: Service, kind: Kind, command: str, what: str) -> ComposeError:
    """A service named on a command that runs jobs only (gen-dag), or the other way round; ``what`` says what
    the command does with the other kind."""
    other = "job" if kind.is_service else "service"
    return _error(service, f"{service.name!r} is a {kind.kind} ({kind.reason}): {command} {what}", KIND_KEY,
                  f"set {KIND_KEY}: {other} on it if it is a {other}, or do not name it")


def _error(service: Service, message: str, key: str, hint: str) -> ComposeError:
    return ComposeError(message, file=service.source_file, line=_line(service.raw, key) or service.source_line,
                        service=service.name, key=key, hint=hint)


def _line(raw: Any, key: str) -> int | None:
    """The line of a dotted key, when the loader kept it (its mappings remember their keys' lines)."""
    parts = key.split(".")
    node = raw.get(parts[0]) if key.startswith("deploy") else None
    line_of = getattr(node, "line_of", None)
    return line_of(parts[-1]) if line_of and len(parts) == 2 else None
