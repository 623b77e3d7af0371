"""Compare a desired task definition with the live one, without spurious revisions (docs/design.md section 7).

Both sides are put in one canonical form and compared: first for strict equality (``strictly_equal``: the answer
for almost every family of a sync, in microseconds), then, only when they differ, with deepdiff, which says where:

- desired: the kwargs of ``ecs.register_task_definition``;
- live: the answer of ``describe_task_definition(..., include=["TAGS"])``, or None when the family is missing.

ECS returns more than it was given, in its own shape, so the canonical form:

- drops what ECS adds about the definition itself (ARN, revision, status, requiresAttributes,
  compatibilities, registeredAt/By, deregisteredAt, deleteRequestedAt);
- drops tags on both sides. Tags are metadata on a revision, not part of what runs: ECS changes them in
  place (TagResource), and the adapter adds its own ``ecsflow:*`` tags. A tag change alone must not
  register a revision, so tags are not compared at all;
- fills the defaults ECS fills (see ``_container``), so omitting a field and sending its default agree;
- drops empty fields (``[]``, ``{}``, ``""``, None) and ``False`` flags, which all mean "not set" in the
  API (every boolean of a task definition defaults to false, except ``essential``, filled with true); but
  never an item of a list (``command: ["echo", "", "x"]``) nor a value of a label or option map
  (``traefik.enable: ""``): ECS keeps those, and the container gets them;
- turns name-keyed lists into maps, so their order does not matter: environment (name -> value; an empty
  value equals an absent variable, since ECS drops those), secrets (name -> valueFrom), portMappings
  ("8080/tcp" -> the rest), containers (name -> definition), and the lists in ``_KEYED``;
- keeps the order of everything else (command, entryPoint, healthCheck.command, ...): there order is
  meaning. Container order is not compared: it does not change how ECS runs the task (dependsOn does),
  and ECS keeps the order it was given anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["new", "changed", "unchanged"]

# Fields ECS adds about the definition itself; never part of what was registered.
_ECS_ADDED = frozenset(
    {
        "taskDefinitionArn",
        "revision",
        "status",
        "requiresAttributes",
        "compatibilities",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "deleteRequestedAt",
        "tags",
    }
)

# Lists of objects whose order has no meaning: compared as maps keyed by this field. The key is shown in
# brackets in change paths, e.g. containers[etl].mountPoints[/data].
_KEYED = {
    "ulimits": "name",
    "mountPoints": "containerPath",
    "volumesFrom": "sourceContainer",
    "dependsOn": "containerName",
    "systemControls": "namespace",
    "resourceRequirements": "type",
    "extraHosts": "hostname",
    "volumes": "name",
}
_BRACKETED = frozenset({"containers", "portMappings", *_KEYED})
_NAMED_MAPS = _BRACKETED | {"environment", "secrets", "dockerLabels", "options"}
# Maps of the user's own names and values (labels, log and volume driver options): ECS keeps them as given,
# an empty value included.
_DATA_MAPS = frozenset({"dockerLabels", "options", "driverOpts", "labels"})

# Defaults from the ECS API reference (botocore's service model carries the same text):
# HealthCheck "interval ... The default value is 30 seconds", "timeout ... The default value is 5",
# "retries ... The default value is 3", "By default, the startPeriod is off" (off = a 0 s grace period).
_HEALTH_CHECK_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}

@dataclass(frozen=True)
class Change:
    """One field-level difference. ``old`` is None when added, ``new`` is None when removed."""

    path: str
    old: Any
    new: Any


@dataclass(frozen=True)
class FamilyDiff:
    service: str
    family: str
    status: Status
    live_revision: int | None
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class ChangeSet:
    families: tuple[FamilyDiff, ...]

    @property
    def has_changes(self) -> bool:
        """True when sync would register something (a new or changed family)."""
        return any(f.status != "unchanged" for f in self.families)

    @property
    def counts(self) -> dict[str, int]:
        counts = {"new": 0, "changed": 0, "unchanged": 0}
        for f in self.families:
            counts[f.status] += 1
        return counts

    def with_status(self, status: Status) -> tuple[FamilyDiff, ...]:
        return tuple(f for f in self.families if f.status == status)


# ---------------------------------------------------------------------------------------------------------
# normalisation


def normalise_desired(request: dict) -> dict:
    """Canonical form of a RegisterTaskDefinition request."""
    return _canonical(request)


def normalise_live(describe_answer: dict) -> dict:
    """Canonical form of a DescribeTaskDefinition answer (the response's tags are ignored)."""
    return _canonical(describe_answer["taskDefinition"])


def _canonical(td: dict) -> dict:
    network_mode = td.get("networkMode")
    out: dict[str, Any] = {}
    for key, value in td.items():
        if key in _ECS_ADDED:
            continue
        if key == "containerDefinitions":
            out["containers"] = {
                c.get("name", str(i)): _container(c, network_mode) for i, c in enumerate(value or [])
            }
        elif key in ("cpu", "memory"):
            out[key] = _task_size(value, unit="vcpu" if key == "cpu" else "gb")
        elif key == "requiresCompatibilities":
            out[key] = sorted(value or [])
        elif key == "placementConstraints":
            out[key] = sorted(value or [], key=repr)
        elif key == "volumes":
            out[key] = _keyed([_volume(v) for v in value] if isinstance(value, list) else value, "name")
        elif key in _KEYED:
            out[key] = _keyed(value, _KEYED[key])
        else:
            out[key] = value
    return _prune(out)


def _volume(volume: Any) -> Any:
    """A task volume with the defaults of an EFS volume filled (ECS API reference, EFSVolumeConfiguration:
    rootDirectory "If this parameter is omitted, the root of the Amazon EFS volume will be used. Specifying /
    will have the same effect"; transitEncryption and authorizationConfig.iam: "If this parameter is omitted, the
    default value of DISABLED is used"); ECS answers with rootDirectory "/" where none was sent."""
    efs = volume.get("efsVolumeConfiguration") if isinstance(volume, dict) else None
    if not isinstance(efs, dict):
        return volume
    efs = {"rootDirectory": "/", "transitEncryption": "DISABLED", **{k: v for k, v in efs.items() if v is not None}}
    if isinstance(efs.get("authorizationConfig"), dict):
        efs["authorizationConfig"] = {"iam": "DISABLED", **efs["authorizationConfig"]}
    return {**volume, "efsVolumeConfiguration": efs}


def _container(c: dict, network_mode: str | None) -> dict:
    out: dict[str, Any] = {}
    for key, value in c.items():
        if key == "environment":
            # ECS drops a variable whose value is empty, so empty and absent are the same.
            out[key] = {e["name"]: e.get("value") for e in value or [] if e.get("value") not in (None, "")}
        elif key == "secrets":
            out[key] = {s["name"]: s.get("valueFrom") for s in value or []}
        elif key == "portMappings":
            out[key] = dict(_port_mapping(pm, network_mode) for pm in value or [])
        elif key == "healthCheck" and value:
            out[key] = {**_HEALTH_CHECK_DEFAULTS, **{k: v for k, v in value.items() if v is not None}}
        elif key in _KEYED:
            out[key] = _keyed(value, _KEYED[key])
        else:
            out[key] = value
    # Filled by ECS when omitted: "If this parameter is omitted, a container is assumed to be essential";
    # container cpu comes back as 0; image tags are resolved to digests unless versionConsistency is disabled.
    for key, default in (("essential", True), ("cpu", 0), ("versionConsistency", "enabled")):
        if out.get(key) is None:
            out[key] = default
    return out


def _port_mapping(pm: dict, network_mode: str | None) -> tuple[str, dict]:
    # API reference: "Valid values are tcp and udp ... The default is tcp. Amazon ECS treats any other
    # specified value as tcp."
    protocol = str(pm.get("protocol") or "tcp").lower()
    if protocol not in ("tcp", "udp"):
        protocol = "tcp"
    port = pm.get("containerPort", pm.get("containerPortRange"))
    rest = {k: v for k, v in pm.items() if k not in ("containerPort", "containerPortRange", "protocol")}
    if "containerPort" in pm and rest.get("hostPort") in (None, 0):
        # awsvpc/host: "the hostPort is set to the same value as the containerPort";
        # bridge: an omitted hostPort is 0, a dynamic port.
        rest["hostPort"] = pm["containerPort"] if network_mode in ("awsvpc", "host") else 0
    return f"{port}/{protocol}", rest


def _keyed(items: Any, field: str) -> Any:
    if not isinstance(items, list) or not all(isinstance(i, dict) and field in i for i in items):
        return items  # not the shape we know: compare as given rather than guess
    keyed = {str(i[field]): {k: v for k, v in i.items() if k != field} for i in items}
    # Two items with one key (two extraHosts lines for one hostname) would become one: compare as given.
    return keyed if len(keyed) == len(items) else items


_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$", re.IGNORECASE)


def _task_size(value: Any, unit: str) -> Any:
    """Task cpu/memory as a number of CPU units / MiB: "1 vCPU" -> 1024, "2 GB" -> 2048, "512" -> 512.

    ECS accepts these forms at register time and returns units; moto echoes them back unconverted.
    """
    if isinstance(value, int | float) or value is None:
        return value
    m = _SIZE.match(str(value))
    if not m or m.group(2).lower() not in ("", *_SIZE_UNITS[unit]):
        return value  # an unknown form is compared as given, so a real difference still shows
    number = float(m.group(1)) * (1024 if m.group(2) else 1)
    return int(number) if number.is_integer() else number


_SIZE_UNITS = {"vcpu": ("vcpu",), "gb": ("gb", "gib")}


def _prune(value: Any, key: str | None = None) -> Any:
    """Drop what means "not set" in ECS's API: None, "", [], {}, and false flags, as fields of an object.

    Never inside what the user wrote as data: an item of a list (`command: ["echo", "", "x"]` passes an empty
    argument) or a value of a label or option map (`traefik.enable: ""`) is kept as it is, since ECS keeps it
    and the container gets it. (An empty environment value is dropped in `_container`: ECS drops those.)"""
    if isinstance(value, dict):
        if key in _DATA_MAPS:
            return value if value else _GONE
        out = {}
        for k, v in value.items():
            v = _prune(v, k)
            if v is _GONE:
                if key not in _BRACKETED:
                    continue
                v = {}  # an entry of a keyed map stays, even with nothing more to say than its key
            out[k] = v
        return out if out else _GONE
    if isinstance(value, list):
        return [_prune_item(v) for v in value] if value else _GONE
    if value is None or value == "" or (value is False and key != "essential"):
        return _GONE
    return value


def _prune_item(item: Any) -> Any:
    """An item of a list, pruned inside but never dropped: its place in the list is meaning."""
    pruned = _prune(item)
    if pruned is not _GONE:
        return pruned
    return {} if isinstance(item, dict) else [] if isinstance(item, list) else item


_GONE = object()


# ---------------------------------------------------------------------------------------------------------
# comparison


def diff_family(service: str, family: str, desired_request: dict, live_answer: dict | None) -> FamilyDiff:
    """Compare one family; ``live_answer`` is None when ECS has no ACTIVE revision of it."""
    if live_answer is None:
        return FamilyDiff(service, family, "new", None, ())
    live = normalise_live(live_answer)
    desired = normalise_desired(desired_request)
    revision = live_answer["taskDefinition"].get("revision")
    changes = () if strictly_equal(live, desired) else _changes(live, desired)
    return FamilyDiff(service, family, "changed" if changes else "unchanged", revision, changes)


def build_changeset(items: Iterable[tuple[str, str, dict, dict | None]]) -> ChangeSet:
    """A ChangeSet from ``(service, family, desired_request, live_answer_or_None)`` tuples."""
    return ChangeSet(tuple(diff_family(*item) for item in items))


def strictly_equal(a: Any, b: Any) -> bool:
    """True when deepdiff would find no difference between two canonical forms (JSON values), at a fraction of
    its cost. deepdiff's rules, which a property test holds this to: values of different types differ (``1``
    is not ``1.0`` nor ``True``), except inside a list of plain values, which it compares with ``==``."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(strictly_equal(value, b[key]) for key, value in a.items())
    if isinstance(a, list):
        if len(a) != len(b):
            return False
        if all(isinstance(x, _PLAIN) for x in a) and all(isinstance(y, _PLAIN) for y in b):
            return a == b
        return all(strictly_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


_PLAIN = (str, int, float, type(None))  # bool is an int


def _changes(live: dict, desired: dict) -> tuple[Change, ...]:
    from deepdiff import DeepDiff  # only to say what differs: importing it costs ~50 ms

    # threshold_to_diff_deeper=0: always go into dicts; by default deepdiff reports a dict with few keys in
    # common (a port whose protocol changed) as one replaced value.
    result = DeepDiff(live, desired, view="tree", verbose_level=2, threshold_to_diff_deeper=0)
    paths: dict[tuple, None] = {}
    for levels in result.values():
        for level in levels:
            path = level.path(output_format="list")
            # Order-sensitive lists are shown whole: "command: [a, b] -> [b, a]" reads better than by index.
            cut = next((i for i, p in enumerate(path) if isinstance(p, int)), len(path))
            paths[tuple(path[:cut])] = None
    changes = []
    for path in paths:
        old, new = _get(live, path), _get(desired, path)
        if path and path[-1] in _NAMED_MAPS and all(isinstance(v, dict | None) for v in (old, new)):
            # A whole map of named things appeared or went away: show each thing, as for one of them.
            old_map, new_map = old or {}, new or {}
            for key in sorted(old_map.keys() | new_map.keys()):
                if old_map.get(key) != new_map.get(key):
                    changes.append(Change(_render((*path, key)), old_map.get(key), new_map.get(key)))
        else:
            changes.append(Change(_render(path), old, new))
    return tuple(sorted(changes, key=lambda c: c.path))


def _get(tree: Any, path: tuple) -> Any:
    for p in path:
        if not isinstance(tree, dict) or p not in tree:
            return None
        tree = tree[p]
    return tree


def _render(path: tuple) -> str:
    text = ""
    for i, p in enumerate(path):
        if i and path[i - 1] in _BRACKETED:
            text += f"[{p}]"
        else:
            text += f".{p}" if text else str(p)
    return text


# ---------------------------------------------------------------------------------------------------------
# output helpers


def to_json_dict(changeset: ChangeSet) -> dict:
    """The documented ``--format json`` shape, with a stable key order. Values as they are: the printer masks
    the change set first (``ecsflow.masking``)."""
    return {
        "families": [
            {
                "service": f.service,
                "family": f.family,
                "status": f.status,
                "live_revision": f.live_revision,
                "changes": [{"path": c.path, "old": c.old, "new": c.new} for c in f.changes],
            }
            for f in changeset.families
        ]
    }
