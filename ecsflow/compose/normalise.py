"""Normalise one merged compose service into the shape `docker compose config --format json` prints.

Commands become lists, healthcheck tests become lists, environment becomes a map with env_file merged in,
labels a map with label_file merged in,
ports become long-form mappings, sizes become byte strings, depends_on becomes a map. Durations stay
as written (the model parses both `90s` and Compose's `1m30s`).
"""

from __future__ import annotations

import ipaddress
import math
import shlex
from collections import ChainMap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ecsflow.compose.consistency import check_service_values
from ecsflow.compose.envfile import read_env_file, read_raw_env_file
from ecsflow.compose.merge import key_values_to_map
from ecsflow.compose.positions import position_in
from ecsflow.compose.references import dependencies
from ecsflow.compose.scalars import go_text, timestamps_as_text
from ecsflow.compose.units import CastError, ignored_size, parse_duration, parse_size, to_float32
from ecsflow.compose.volumes import normalise_volumes
from ecsflow.errors import ComposeError

_HEALTHCHECK_DURATIONS = ("interval", "timeout", "start_period", "start_interval")


def split_command(value: Any) -> list[str] | None:
    """A string is split as a shell would split words (no expansion); a list is kept as is."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_scalar_text(item) for item in value]
    try:
        return shlex.split(str(value), posix=True)
    except ValueError as exc:
        raise ValueError(f"cannot split the command into words: {exc}") from None


def _scalar_text(value: Any) -> str:
    """Compose renders YAML scalars as text the way Go prints them (`1e3` is `1000`, `true`, `1e+06`)."""
    return go_text(value)


def parse_cpus(value: Any) -> float:
    """A CPU count as Compose keeps it (a float32); Docker and ECS need a finite number, not below zero."""
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise ValueError("cpus must be a finite number of CPUs, such as 0.5 or 2")
    if number < 0:
        raise ValueError("cpus must not be negative (Docker refuses it, and ECS has no such size)")
    try:
        return to_float32(number)
    except CastError:
        raise ValueError("cpus is too large") from None


def parse_ports(value: Any) -> list[dict[str, Any]]:
    """Short (`[ip:][host:]container[/proto]`, with ranges) or long syntax → long-form mappings."""
    result: list[dict[str, Any]] = []
    for index, item in enumerate(value or []):
        try:
            result.extend(_parse_port(item))
        except ValueError as exc:
            raise ValueError(f"ports.{index}: {exc}") from None  # the value itself is not shown: it may be anything
    return result


def _parse_port(item: Any) -> list[dict[str, Any]]:
    if not isinstance(item, dict):
        return _parse_short_port(str(item))
    target = int(item.get("target") or 0)
    if not 0 <= target <= 65535:
        raise ValueError("a port's target must be a port number, 0-65535")
    port = {"mode": item.get("mode", "ingress"), "target": target}
    if isinstance(item.get("published"), float):  # Compose reads it as text or a whole number only
        raise ValueError("a port's published port must be text or a whole number")
    if item.get("published") not in (None, ""):
        port["published"] = str(item["published"])
    port["protocol"] = item.get("protocol", "tcp")
    for extra in ("host_ip", "name", "app_protocol"):
        if item.get(extra) is not None:
            port[extra] = item[extra]
    return [port]


def _parse_short_port(spec: str) -> list[dict[str, Any]]:
    """`[IP:][HOST:]CONTAINER[/PROTOCOL]` with ranges, as Docker's nat.ParsePortSpec reads it."""
    rest, _, protocol = spec.partition("/")
    protocol = (protocol or "tcp").lower()
    parts = rest.split(":")
    target = parts[-1]
    host_ip = ":".join(parts[:-2]) if len(parts) > 2 else ""
    published = parts[-2] if len(parts) > 1 else ""
    if host_ip.startswith("[") and host_ip.endswith("]"):  # [::1]:8080:80
        host_ip = host_ip[1:-1]
    if host_ip and not _is_ip(host_ip):
        raise ValueError("invalid port: the host IP is not an IP address")
    if not target:
        raise ValueError("invalid port: no container port")
    start, end = _port_range(target)
    if published:
        host_start, host_end = _port_range(published)
        if end - start != host_end - host_start and end != start:
            raise ValueError("invalid port: the container and host ranges differ in size")
    if protocol not in ("tcp", "udp", "sctp"):
        raise ValueError("invalid port: the protocol must be tcp, udp or sctp")
    if start == 0:
        raise ValueError("invalid port: it is missing a target port (the container port must not be 0)")
    ports = []
    for offset, target_port in enumerate(range(start, end + 1)):
        port: dict[str, Any] = {"mode": "ingress", "target": target_port}
        if published:
            if end == start and host_start != host_end:
                port["published"] = f"{host_start}-{host_end}"
            else:
                port["published"] = str(host_start + offset)
        port["protocol"] = protocol
        if host_ip:
            port["host_ip"] = host_ip
        ports.append(port)
    return ports


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text  # Go's net.ParseIP takes no IPv6 zone


def _port_range(text: str) -> tuple[int, int]:
    """`8000` or `8000-9000` (Docker reads the first two numbers of `1-2-3`); each 0-65535, low before high."""
    bounds = text.split("-")[:2] if "-" in text else [text, text]
    if not all(bound.isascii() and bound.isdigit() and int(bound) <= 65535 for bound in bounds):
        raise ValueError("invalid port: not a port number or range (0-65535)")
    start, end = int(bounds[0]), int(bounds[1])
    if end < start:
        raise ValueError("invalid port: a range runs backwards")
    return start, end


def env_value_text(value: Any) -> str | None:
    return None if value is None else _scalar_text(value)


def _with_service(name: str, service: Mapping[str, Any], key: str, read: Callable[[], Any]) -> Any:
    """``read()``; an error about a file it read (it names that file) also says which service, and which
    compose file, asked for it."""
    try:
        return read()
    except ComposeError as exc:
        exc.service = exc.service or name
        source = getattr(service, "file", None)
        if source:
            listed = f"listed in the {key} of service '{name}' in {source}"
            exc.hint = f"{exc.hint} ({listed})" if exc.hint else listed
        raise


def resolve_environment(
    service: Mapping[str, Any],
    base_dir: Path,
    lookup: Mapping[str, str],
    warn: Callable[[str], None] | None,
) -> dict[str, str | None]:
    """env_file contents, then `environment` over them; a bare KEY takes the value from `lookup` or None."""
    environment: dict[str, str | None] = {}
    for entry in _env_file_entries(service.get("env_file")):
        path = Path(entry["path"])
        path = path if path.is_absolute() else base_dir / path
        if not path.exists():
            if entry.get("required", True):
                raise ComposeError("env file not found", file=str(path), key="env_file",
                                   hint="create it, or mark it `required: false` in the long syntax")
            continue
        if entry.get("format") == "raw":
            environment.update(read_raw_env_file(path))
        else:
            # Later env files see the project's variables first, then what earlier env files set.
            environment.update(read_env_file(path, ChainMap(dict(lookup), dict(environment)), warn))
    for key, value in key_values_to_map(service.get("environment")).items():
        if value is None:
            environment[key] = lookup.get(key)
        else:
            environment[key] = env_value_text(value)
    return environment


def resolve_labels(service: Mapping[str, Any], base_dir: Path, warn: Callable[[str], None] | None,
                   *, read_files: bool = True) -> dict[str, str]:
    """label_file contents, then `labels` over them, as Compose reads them: a label file is a dotenv file whose
    `${VAR}` sees the labels of the files before it and its own, not the shell nor `labels`."""
    labels: dict[str, str] = {}
    files = service.get("label_file") if read_files else None
    for entry in [files] if isinstance(files, str) else files or []:
        path = Path(entry) if Path(entry).is_absolute() else base_dir / entry
        labels.update(read_env_file(path, dict(labels), warn, what="label file"))
    for key, value in key_values_to_map(service.get("labels")).items():
        labels[key] = env_value_text(value) or ""
    return labels


def _env_file_entries(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [item if isinstance(item, dict) else {"path": str(item)} for item in items]


def normalise_healthcheck(value: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(value)
    test = result.get("test")
    if isinstance(test, str):
        result["test"] = ["CMD-SHELL", test]
    elif isinstance(test, list):
        result["test"] = [_scalar_text(item) for item in test]
    if "retries" in result and result["retries"] is not None:
        result["retries"] = _retries(result["retries"])
    return result


def _retries(value: Any) -> int:
    """A whole number of retries; Compose truncates a fraction (3.5 is 3), as Go converts a float."""
    number = float(value) if isinstance(value, float) else int(value)
    if isinstance(number, float) and not math.isfinite(number):
        raise ValueError("healthcheck retries must be a whole number")
    if number < 0:
        raise ValueError("healthcheck retries must not be negative")
    if number >= 2**64:
        raise ValueError("healthcheck retries is too large")
    return int(number)


def normalise_service(
    name: str,
    service: Mapping[str, Any],
    base_dir: Path,
    lookup: Mapping[str, str],
    warn: Callable[[str], None] | None = None,
    *,
    enabled: bool = True,
) -> dict[str, Any]:
    """One merged, interpolated service mapping → Compose's normalised mapping (the parts ecsflow reads).

    A service of a profile that is not enabled is checked too, as Compose decodes every service: its values
    must read (durations, sizes, ports, commands), but its env files are not read nor its CPU count judged."""
    out: dict[str, Any] = {k: timestamps_as_text(v) if k.startswith("x-") else v
                           for k, v in service.items() if k not in ("env_file", "label_file", "extends")}
    key = ""
    try:
        for key in ("stop_grace_period", *(f"healthcheck.{part}" for part in _HEALTHCHECK_DURATIONS)):
            holder = service.get("healthcheck") if key.startswith("healthcheck.") else service
            value = holder.get(key.rsplit(".", 1)[-1]) if isinstance(holder, Mapping) else None
            if value is not None:
                parse_duration(value)
        key = "command"
        out["command"] = split_command(service.get("command"))
        key = "entrypoint"
        out["entrypoint"] = split_command(service.get("entrypoint"))
        key = "environment"
        out["environment"] = _with_service(name, service, "env_file", lambda: resolve_environment(
            service, base_dir, lookup, warn) if enabled else {})
        # Compose drops repeated entries of these lists even within one file.
        key = "ports"
        if "ports" in service:
            out["ports"] = _unique(parse_ports(service["ports"]))
        key = "expose"
        if "expose" in service:
            out["expose"] = _unique([_expose_text(item) for item in service["expose"] or []])
        key = "volumes"
        if service.get("volumes") is not None:
            out["volumes"] = normalise_volumes(service["volumes"])
        key = "healthcheck"
        if isinstance(service.get("healthcheck"), dict):
            out["healthcheck"] = normalise_healthcheck(service["healthcheck"])
        key = "labels"
        if "labels" in service or (enabled and service.get("label_file")):
            out["labels"] = _with_service(name, service, "label_file",
                                          lambda: resolve_labels(service, base_dir, warn, read_files=enabled))
        key = "depends_on"
        depends_on = dependencies(service)  # with what links, volumes_from and `service:` imply, as Compose
        if depends_on:
            out["depends_on"] = depends_on
        # A zero size or CPU count means "not set" to Docker; Compose leaves it out of its output.
        for size_key in ("mem_limit", "mem_reservation", "memswap_limit", "shm_size"):
            key = size_key
            out.pop(size_key, None)
            size = service.get(size_key)
            if ignored_size(size):
                if warn:
                    warn(f"service '{name}': {size_key} {_scalar_text(size)} is ignored, as Docker Compose ignores a "
                         "size written as a fraction or exponent (write 1000, 512m or 1g)")
            elif size is not None and parse_size(size) != 0:
                out[size_key] = str(parse_size(size))
        key = "cpus"
        out.pop("cpus", None)
        if enabled and service.get("cpus") is not None and parse_cpus(service["cpus"]) != 0:
            out["cpus"] = parse_cpus(service["cpus"])
        key = "deploy.resources"
        resources = (service.get("deploy") or {}).get("resources")
        if isinstance(resources, dict):
            out["deploy"] = dict(service["deploy"])
            out["deploy"]["resources"] = {
                level: _normalise_resources(values, enabled) for level, values in resources.items()
                if values is not None
            }
        if out.get("read_only") is False:
            del out["read_only"]  # false is Docker's default: Compose leaves it out
        key = "ulimits"
        for limit in (service.get("ulimits") or {}).values():
            for number in (limit.values() if isinstance(limit, Mapping) else [limit]):
                if isinstance(number, float):
                    raise ValueError("a ulimit must be a whole number")
        key = "user"
        if service.get("user") is not None:
            out["user"] = _scalar_text(service["user"])
        problems = check_service_values(service)
        if problems:
            key, message = problems[0]
            raise ValueError(message.replace("{name}", name))
    except ValueError as exc:
        file, line, column = position_in(service, key) or (getattr(service, "file", None), None, None)
        raise ComposeError(str(exc), service=name, key=key, file=file, line=line, column=column) from None
    return out


def _expose_text(item: Any) -> str:
    if isinstance(item, float):  # Compose's own check: a port is text or a whole number
        raise ValueError("unsupported expose value: write a port number or range, not a fraction")
    return _scalar_text(item)


def _unique(items: list) -> list:
    result: list = []
    for item in items:
        if item not in result:
            result.append(item)
    return result


def _normalise_resources(values: Mapping[str, Any], enabled: bool) -> dict[str, Any]:
    result = dict(values)
    if result.get("cpus") is not None:
        result["cpus"] = parse_cpus(result["cpus"]) if enabled else float(result["cpus"])
    if result.get("memory") is not None:
        result["memory"] = str(parse_size(result["memory"]))
    # Zero means "not set", as for the service-level keys.
    return {key: value for key, value in result.items() if not (key in ("cpus", "memory") and not float(value))}

