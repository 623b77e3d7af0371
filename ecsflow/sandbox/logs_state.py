"""The sandbox's CloudWatch Logs groups on disk (their names and retentions, never their events), so that
`sync --sandbox` run twice writes nothing the second time: one file, ``logs/<region>.json`` of the state folder,
read with the task definitions' files and under the same lock, restored into moto's logs backend, saved with
them (the rules of every state file are ``state_files``')::

    {"format": 1, "region": "eu-west-1",
     "groups": [{"logGroupName": "/ecs/etl/extract", "retentionInDays": 30}, ...]}

A group without a retention has ``"retentionInDays": null``. The file is written only when the groups changed.
Only the session's region is kept (a group another awslogs-region names is not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ecsflow.errors import EcsflowError
from ecsflow.retention import RETENTION_DAYS
from ecsflow.sandbox.state_files import FORMAT, file_name, read_document, reading, write_document

FOLDER = "logs"


def _backend(region: str) -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.logs.models import logs_backends

    return logs_backends[DEFAULT_ACCOUNT_ID][region]


def load(state_dir: Path, region: str) -> list[dict[str, Any]]:
    """The groups kept for ``region`` (none when there is no file)."""
    path = state_dir / FOLDER / file_name(region)
    hint = f"delete {path} to start the sandbox without log groups"
    if not path.exists():
        return []
    with reading(path, hint):
        document = read_document(path)
        groups = document["groups"]
        if document.get("region") != region or not isinstance(groups, list):
            raise ValueError(f"it holds no log groups of region {region}")
        for group in groups:
            if not isinstance(group, dict) or not isinstance(group.get("logGroupName"), str):
                raise ValueError(f"a log group without a name: {str(group)[:80]}")
            if group.get("retentionInDays") not in (None, *RETENTION_DAYS):
                raise ValueError(f"log group {group['logGroupName']!r} has the retention "
                                 f"{group.get('retentionInDays')!r}, which CloudWatch Logs does not accept")
    names = [group["logGroupName"] for group in groups]
    if len(set(names)) != len(names):
        raise ValueError(f"it holds log group {next(n for n in names if names.count(n) > 1)!r} twice")
    return sorted(groups, key=lambda g: g["logGroupName"])


def replay(region: str, groups: list[dict[str, Any]]) -> None:
    """Put the kept groups into moto's logs backend of ``region`` (empty until now)."""
    backend = _backend(region)
    for group in groups:
        backend.create_log_group(group["logGroupName"], {})
        if group.get("retentionInDays") is not None:
            backend.put_retention_policy(group["logGroupName"], group["retentionInDays"])


def save(region: str, state_dir: Path, stored: list[dict[str, Any]]) -> None:
    """Write the groups of ``region`` if they changed in this session (``stored``: what was read)."""
    now = sorted(({"logGroupName": name, "retentionInDays": group.retention_in_days}
                  for name, group in _backend(region).groups.items()), key=lambda g: g["logGroupName"])
    if now == stored:
        return
    folder = state_dir / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_document(folder / file_name(region), {"format": FORMAT, "region": region, "groups": now})
    except OSError as exc:
        raise EcsflowError(
            f"cannot save the sandbox state: {exc.strerror or exc}; the log groups this run made are not kept",
            file=str(folder), hint="make the folder writable (a read-only project or file system?) and run again",
        ) from None
    stored[:] = now
