"""Compose's service names as hosts on ECS: Service Connect (design/services.md sections 4.3 and 4.9).

With a `namespace` setting every ECS service joins it; a service with TCP ports answers under its compose name
on each port (`redis://redis:6379`, `postgresql://...@postgres/airflow` work as they did locally), the others
join as clients. The task definition names its port mappings then (`ecsflow.taskdef.container.port_name`), and
`serviceConnectConfiguration` refers to them by name. Without a namespace, a service whose environment names
another compose service as a host gets one warning: that name does not resolve on ECS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ecsflow.compose.model import Service
from ecsflow.messages import Message

# A variable whose plain value may be a host name ("DB_HOST: postgres"); URLs and host:port are read anywhere.
_HOST_VARIABLE = re.compile(r"HOST|ADDR|SERVER|ENDPOINT|BROKER", re.IGNORECASE)


def service_connect(service: Service, container: Mapping[str, Any], namespace: str,
                    notes: list[str]) -> dict[str, Any]:
    """The serviceConnectConfiguration of one service, from its container definition's named port mappings."""
    dns = service.name.lower()
    tcp = [pm for pm in container.get("portMappings") or [] if pm.get("protocol", "tcp") == "tcp" and pm.get("name")]
    udp = [str(pm["containerPort"]) for pm in container.get("portMappings") or [] if pm.get("protocol") == "udp"]
    if udp:
        notes.append(f"service '{service.name}': UDP port {', '.join(udp)} is not reachable through Service Connect, "
                     "which carries TCP only")
    config: dict[str, Any] = {"enabled": True, "namespace": namespace}
    if tcp:
        # The Cloud Map service name must be unique in the namespace: the compose name, with the port when several.
        discovery = re.sub(r"[^a-z0-9_-]", "-", dns).lstrip("-")[:58] or "service"
        config["services"] = [
            {"portName": pm["name"],
             "discoveryName": discovery if len(tcp) == 1 else f"{discovery}-{pm['containerPort']}",
             "clientAliases": [{"port": pm["containerPort"], "dnsName": dns}]}
            for pm in tcp
        ]
    return config


def host_references(service: Service, others: Iterable[str]) -> dict[str, list[str]]:
    """The other compose services that ``service``'s environment names as a host: host -> the variables naming
    it (by name only: values are never shown)."""
    found: dict[str, list[str]] = {}
    for host in others:
        if host == service.name:
            continue
        escaped = re.escape(host)
        # After :// or @ (a URL's host), or host:port at the start of a word.
        in_url = re.compile(rf"(?:(?:://|@)(?:[^/@\s]*@)?{escaped}(?=$|:\d|[/?,;])|^{escaped}:\d)", re.IGNORECASE)
        for variable, value in service.environment.items():
            if not value:
                continue
            bare = value.strip().lower() == host.lower() and _HOST_VARIABLE.search(variable)
            url = any(in_url.search(part) for part in re.split(r"[\s,;]+", value) if part)
            if bare or (url and value.strip().lower() != host.lower()):
                found.setdefault(host, []).append(variable)
    return found


def host_warning(service: Service, references: Mapping[str, list[str]], namespace: str | None,
                 answering: Mapping[str, str]) -> Message | None:
    """One warning for the hosts ``service`` names that will not resolve on ECS (a Message: the services whose
    environment names the same hosts in the same variables are said once). ``answering``: the compose services
    that would answer under their name with Service Connect -> "" (they do), or why they do not."""
    if namespace is None:
        unresolved = dict(references)
        why = ("which do not resolve on ECS without a Service Connect namespace (set the namespace setting, and the "
               "ECS services answer under their compose names; or point the variables at the real hosts)")
    else:
        unresolved = {host: names for host, names in references.items() if answering.get(host, "not deployed")}
        reasons = sorted({answering.get(host, "not deployed") for host in unresolved})
        why = f"which Service Connect cannot answer ({'; '.join(reasons)}; point the variables at the real hosts)"
    if not unresolved:
        return None
    listed = "; ".join(f"{host} in {', '.join(names)}" for host, names in sorted(unresolved.items()))
    return Message(f"the environment names compose services as hosts ({listed}), {why}", (service.name,))
