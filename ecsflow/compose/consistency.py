"""Rules Docker Compose checks beyond its JSON Schema, in its own words, each found by asking the binary
(`tests/test_compose_consistency.py`): how a device request counts, what an extra host must hold (checked on every
service, as Compose decodes every one), and what a secret, a config or an external volume must (not) declare
(checked on the top-level definitions, used or not)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ecsflow.errors import ComposeError


def check_service_values(service: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, Compose's message) for each value of one service that Compose refuses when it decodes it."""
    problems: list[tuple[str, str]] = []
    deploy = service.get("deploy")
    resources = deploy.get("resources") if isinstance(deploy, Mapping) else None
    reservations = resources.get("reservations") if isinstance(resources, Mapping) else None
    devices = reservations.get("devices") if isinstance(reservations, Mapping) else None
    for key, requests in (("deploy.resources.reservations.devices", devices), ("gpus", service.get("gpus"))):
        for index, request in enumerate(requests if isinstance(requests, list) else []):
            if not isinstance(request, Mapping):
                continue
            if "count" in request and request.get("device_ids"):
                problems.append((f"{key}.{index}",
                                 f'services.{{name}}.{key}.[]: "count" and "device_ids" attributes are exclusive'))
            count = request.get("count")
            if isinstance(count, str) and count.lower() != "all" and not (count.isascii() and count.isdigit()):
                problems.append((f"{key}.{index}.count", f"'services[{{name}}].{key}[{index}].count' invalid "
                                 f"value {_go_quoted(count)}, the only value allowed is 'all' or a number"))
    hosts = service.get("extra_hosts")
    for entry in hosts if isinstance(hosts, list) else []:
        text = str(entry)
        separator = "=" if "=" in text else ":" if ":" in text else None
        if separator is None:
            problems.append(("extra_hosts", f"'services[{{name}}].extra_hosts' invalid additional host, missing "
                                            f"IP: {text}"))
        elif not text.split(separator, 1)[0]:
            problems.append(("extra_hosts", "'services[{name}].extra_hosts' bad host name ''"))
    return problems


def check_top_level(top: Mapping[str, Any], first_file: Path) -> None:
    """The secrets, configs and volumes the project defines, as Compose checks them."""
    for kind, sources in (("secrets", ("file", "environment")), ("configs", ("file", "environment", "content"))):
        definitions = top.get(kind)
        for name, definition in (definitions.items() if isinstance(definitions, Mapping) else ()):
            if not isinstance(definition, Mapping) or definition.get("external"):
                continue
            given = [key for key in sources if key in definition]
            if len(given) > 1:
                raise _error(f"{kind}.{name}: {'|'.join(sources)} attributes are mutually exclusive", definitions,
                             name, kind, first_file)
            if kind == "secrets" and (definition.get("driver") and not given
                                      or given == ["environment"] and not definition["environment"]):
                raise _error(f'secret "{name}" must declare either `file` or `environment`', definitions, name,
                             kind, first_file)
            if not given and not (kind == "secrets" and definition.get("driver")):
                raise _error(f"{kind}.{name}: one of {'|'.join(sources)} must be set", definitions, name, kind,
                             first_file)
    volumes = top.get("volumes")
    for name, definition in (volumes.items() if isinstance(volumes, Mapping) else ()):
        if isinstance(definition, Mapping) and definition.get("external"):
            for key in ("driver", "driver_opts", "labels"):
                if definition.get(key):
                    raise _error(f'volumes.{name}: conflicting parameters "external" and "{key}" specified',
                                 volumes, name, "volumes", first_file,
                                 hint="an external volume is made outside Compose: drop the other keys")


def _go_quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _error(message: str, mapping: Any, name: str, kind: str, first_file: Path,
           hint: str | None = None) -> ComposeError:
    line_of, file_of = getattr(mapping, "line_of", None), getattr(mapping, "file_of", None)
    return ComposeError(message, file=(file_of(name) if file_of else None) or str(first_file),
                        line=line_of(name) if line_of else None, key=f"{kind}.{name}", hint=hint)
