"""Docker Compose's rules for merging compose files (`-f a -f b`) and `extends`.

Mappings merge key by key; `command`, `entrypoint` and `healthcheck.test` are replaced; `environment`,
`labels` and friends merge as KEY=VALUE sets; other sequences are appended and de-duplicated the way
Compose de-duplicates them (ports by their spec, `expose`/`dns`/... by value). `!reset` removes an
inherited value and `!override` replaces it whole.
"""

from __future__ import annotations

from typing import Any

from ecsflow.compose.yamlfile import Override, PositionedMap, Reset, tree_copy

# Service keys replaced whole rather than merged (Compose's `override` rule).
_REPLACED = {"command", "entrypoint"}
# Service keys merged as KEY=VALUE sets: Compose turns both sides into sequences, so overrides win per key.
_KEY_VALUE = {"environment", "labels", "sysctls", "annotations"}
# Service keys merged as mappings of names (a list form is a list of names).
_NAME_MAPS = {"networks", "depends_on"}


def merge_services(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge one service's `override` mapping onto a copy of `base`."""
    merged = _copy_map(base)
    for key, value in override.items():
        if isinstance(value, Reset):
            merged.pop(key, None)
        elif isinstance(value, Override):
            merged[key] = tree_copy(value.value)
        elif key not in merged or merged[key] is None:
            merged[key] = tree_copy(value)
        elif value is None:
            continue
        elif key in _REPLACED:
            merged[key] = tree_copy(value)
        elif key in _KEY_VALUE:
            merged[key] = _merge_key_values(merged[key], value)
        elif key in _NAME_MAPS:
            default = {"condition": "service_started", "required": True} if key == "depends_on" else None
            merged[key] = merge_mappings(_names_to_map(merged[key], default), _names_to_map(value, default))
        elif key == "healthcheck" and isinstance(value, dict) and isinstance(merged[key], dict):
            merged[key] = merge_mappings(merged[key], value, replace={"test"})
        elif key == "logging" and isinstance(value, dict) and isinstance(merged[key], dict):
            same_driver = "driver" not in value or "driver" not in merged[key] or \
                value["driver"] == merged[key]["driver"]
            merged[key] = merge_mappings(merged[key], value) if same_driver else tree_copy(value)
        elif key == "build":
            merged[key] = merge_mappings(_build_map(merged[key]), _build_map(value))
        elif key == "ports":
            merged[key] = _dedupe(list(merged[key]) + list(value), key=_port_key)
        elif key == "env_file":
            merged[key] = _dedupe(_as_list(merged[key]) + _as_list(value), key=_env_file_key)
        elif key in ("volumes", "devices"):
            merged[key] = _dedupe_last(list(merged[key]) + list(value), key=_mount_key)
        elif key in ("secrets", "configs"):
            merged[key] = _dedupe_last(list(merged[key]) + list(value), key=_secret_key)
        elif isinstance(merged[key], list) and isinstance(value, list | str):
            merged[key] = _dedupe(merged[key] + _as_list(value), key=_plain_key)
        elif isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = merge_mappings(merged[key], value)
        else:
            merged[key] = tree_copy(value)
    _copy_line(merged, override)
    return merged


def merge_documents(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge one whole compose document (a file, or one `---` document of it) onto another."""
    merged = PositionedMap(base).copy_positions(base)
    for key, value in override.items():
        if key == "services" and (value is None or isinstance(value, dict)):
            services = PositionedMap(merged.get("services") or {}).copy_positions(merged.get("services"))
            for name, service in (value or {}).items():
                if isinstance(service, Reset):
                    services.pop(name, None)
                elif isinstance(services.get(name), dict) and isinstance(service, dict):
                    services[name] = merge_services(services[name], service)
                else:
                    services[name] = service
                    _copy_line_of(services, value, name)  # defined here: its name's position is this file's
            merged["services"] = services
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            combined = PositionedMap(merged[key]).copy_positions(merged[key])
            for name, entry in value.items():
                if isinstance(entry, dict) and isinstance(combined.get(name), dict):
                    combined[name] = merge_services(combined[name], entry)
                else:
                    combined[name] = entry
                    _copy_line_of(combined, value, name)
            merged[key] = combined
        else:
            merged[key] = value
            _copy_line_of(merged, override, key)
    return merged


def _copy_line_of(target: dict, source: Any, key: str) -> None:
    if isinstance(target, PositionedMap) and isinstance(source, PositionedMap) and key in source.key_lines:
        target.take_position(key, source)


def merge_mappings(base: Any, override: Any, replace: set[str] = frozenset()) -> Any:
    """Recursive mapping merge: override wins for scalars, sequences are appended."""
    if isinstance(override, Reset):
        return None
    if isinstance(override, Override):
        return tree_copy(override.value)
    if not isinstance(base, dict) or not isinstance(override, dict):
        if isinstance(base, list) and isinstance(override, list):
            return base + tree_copy(override)
        return tree_copy(override) if override is not None else base
    merged = _copy_map(base)
    for key, value in override.items():
        if isinstance(value, Reset):
            merged.pop(key, None)
        elif key in merged and key not in replace:
            merged[key] = merge_mappings(merged[key], value)
        else:
            merged[key] = tree_copy(value.value if isinstance(value, Override) else value)
    _copy_line(merged, override)
    return merged


def strip_tags(value: Any) -> Any:
    """Remove `!reset`/`!override` markers once nothing is left to merge with."""
    if isinstance(value, Override):
        return strip_tags(value.value)
    if isinstance(value, dict):
        out = _copy_map(value)
        for key in list(out):
            if isinstance(out[key], Reset):
                del out[key]
            else:
                out[key] = strip_tags(out[key])
        return out
    if isinstance(value, list):
        return [strip_tags(item) for item in value if not isinstance(item, Reset)]
    return value


def _copy_map(value: dict) -> dict:
    result = PositionedMap(value)
    return result.copy_positions(value)


def _copy_line(target: dict, source: Any) -> None:
    """The keys ``source`` wrote were written there: its file, line and column (the map stays where it was
    first written, so that the keys it keeps from there still name their own file)."""
    if isinstance(target, PositionedMap) and isinstance(source, PositionedMap):
        for key in source:
            if key in source.key_lines:
                target.take_position(key, source)


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list) else [value]


def key_values_to_map(value: Any) -> dict[str, Any]:
    """`["A=1", "B"]` or `{"A": 1}` → ordered mapping (a bare KEY maps to None)."""
    if isinstance(value, dict):
        return dict(value)
    result: dict[str, Any] = {}
    for item in value or []:
        text = str(item)
        key, sep, val = text.partition("=")
        result[key] = val if sep else None
    return result


def _merge_key_values(base: Any, override: Any) -> dict[str, Any]:
    merged = key_values_to_map(base)
    merged.update(key_values_to_map(override))
    return merged


def _names_to_map(value: Any, default: dict | None) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return {name: tree_copy(default) for name in value or []}


def _build_map(value: Any) -> dict[str, Any]:
    return {"context": value} if isinstance(value, str) else value


def _dedupe(items: list, key) -> list:
    seen: set = set()
    out = []
    for item in items:
        marker = key(item)
        if marker not in seen:
            seen.add(marker)
            out.append(item)
    return out


def _dedupe_last(items: list, key) -> list:
    """Keep one entry per key, the last one written, at the place of the first."""
    order: dict = {}
    for item in items:
        order[key(item)] = item
    return list(order.values())


def _plain_key(item: Any) -> Any:
    return repr(item)


def _port_key(item: Any) -> Any:
    if isinstance(item, dict):
        return ("long", str(item.get("host_ip", "")), str(item.get("published", "")), str(item.get("target")),
                str(item.get("protocol", "tcp")))
    return ("short", str(item))


def _env_file_key(item: Any) -> Any:
    return item.get("path") if isinstance(item, dict) else item


def _mount_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target")
    parts = str(item).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _secret_key(item: Any) -> Any:
    if isinstance(item, dict):
        return item.get("target") or item.get("source")
    return item
