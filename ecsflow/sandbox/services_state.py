"""The sandbox's ECS services on disk, so that `deploy --sandbox` then `diff --sandbox` agree across commands:
one file per cluster in ``services/`` of the state folder (the rules of every state file are ``state_files``'),
read with the task definitions' files and under the same lock, restored into moto after the task definitions,
saved at the same time as they are::

    {"format": 1, "cluster": "data-jobs",
     "services": [{"serviceName": "etl-api",
                   "request": {<CreateService's members as they now are, UpdateServices merged in; taskDefinition
                               the ARN the PRIMARY deployment runs; no cluster, tags or clientToken>},
                   "tags": {"ecsflow:managed": "true", ...},
                   "clientToken": "...", "createdRequest": "<sha256 of the CreateService that made it>",
                   "createdAt": "2026-05-01T12:00:00+00:00", "platformFamily": "Linux",
                   "deployment": {"id": "ecs-svc/...", "rolloutState": "COMPLETED", "rolloutStateReason": "...",
                                  "failedTasks": 0}}]}

On open each cluster is created (with the Fargate capacity providers, as `run --sandbox` creates one) and its
services restored settled: one PRIMARY deployment, COMPLETED with running = desired (a rollout that was in progress
has finished since; a FAILED one stays FAILED), no events. Only ACTIVE services are kept: a deleted one drains and
is gone by the next command (its cluster stays). A file whose services did not change is not rewritten.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ecsflow.errors import BuildError, EcsflowError
from ecsflow.sandbox import service_life
from ecsflow.sandbox.moto_services import add_service, backend_of, identities, state_of
from ecsflow.sandbox.service_life import Deployment, EcsService
from ecsflow.sandbox.state_files import FORMAT, file_name, json_files, read_document, reading, write_document

FOLDER = "services"
_FARGATE_PROVIDERS = ["FARGATE", "FARGATE_SPOT"]


@dataclass
class StoredCluster:
    path: Path
    services: list[dict[str, Any]]  # the records, sorted by name


def load(state_dir: Path) -> dict[str, StoredCluster]:
    """The services kept in ``state_dir``, by cluster name."""
    folder = state_dir / FOLDER
    hint = f"delete {folder} to start the sandbox without services"
    stored: dict[str, StoredCluster] = {}
    for path in json_files(folder, hint):
        with reading(path, hint):
            cluster, records = _read(path)
        if cluster in stored:
            raise EcsflowError(f"two sandbox state files hold the services of cluster '{cluster}'", file=str(path),
                               hint=f"keep one of {stored[cluster].path.name} and {path.name}, or {hint}")
        stored[cluster] = StoredCluster(path, records)
    return stored


def _read(path: Path) -> tuple[str, list[dict[str, Any]]]:
    document = read_document(path)
    cluster, records = document["cluster"], document["services"]
    if not isinstance(cluster, str) or not cluster:
        raise ValueError(f"its cluster is {cluster!r}, not a name")
    if not isinstance(records, list):
        raise ValueError("its services are not a list")
    for record in records:
        _check(record)
    return cluster, sorted(records, key=lambda r: r["serviceName"])


def _check(record: Any) -> None:
    from ecsflow.ecs.validate import check_create_service_request

    if not isinstance(record, dict) or not isinstance(record.get("serviceName"), str):
        raise ValueError(f"a service without a name: {str(record)[:80]}")
    name, request = record["serviceName"], record.get("request")
    if not isinstance(request, dict) or request.get("serviceName") != name:
        raise ValueError(f"service {name!r} has no CreateService request of that name")
    if not str(request.get("taskDefinition", "")).startswith("arn:"):
        raise ValueError(f"service {name!r} names no task definition ARN")
    if not isinstance(record.get("tags", {}), dict) or not isinstance(record.get("deployment", {}), dict):
        raise ValueError(f"service {name!r}: its tags or deployment are not objects")
    try:
        datetime.fromisoformat(record.get("createdAt"))
    except (TypeError, ValueError):
        raise ValueError(f"service {name!r}: its createdAt {record.get('createdAt')!r} is not a time") from None
    try:
        check_create_service_request(request)
    except BuildError as exc:
        raise ValueError(exc.message.replace(" for ECS service", " of service")) from None


def replay(region: str, stored: dict[str, StoredCluster]) -> None:
    """Put the kept services into moto's ECS of ``region`` (in this session's moto, empty until now)."""
    backend = backend_of(region)
    for name, cluster in stored.items():
        found = backend.clusters.get(name) or backend.create_cluster(name, capacity_providers=_FARGATE_PROVIDERS)
        for record in cluster.services:
            state = _restored(record, found.arn)
            tags = [{"key": k, "value": v} for k, v in sorted(record.get("tags", {}).items())]
            add_service(backend, found, {**state.request, "tags": tags}, state)


def save(region: str, state_dir: Path, stored: dict[str, StoredCluster]) -> None:
    """Write the files of the clusters whose services changed in this session (``stored``: what was read)."""
    now = moto_records(region)
    changed = {name: records for name in dict.fromkeys([*stored, *now])
               if (records := now.get(name, [])) != (stored[name].services if name in stored else [])}
    if not changed:
        return
    folder = state_dir / FOLDER
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, records in changed.items():
            path = stored[name].path if name in stored else folder / file_name(name)
            write_document(path, {"format": FORMAT, "cluster": name, "services": records})
            stored[name] = StoredCluster(path, records)
    except OSError as exc:
        raise EcsflowError(
            f"cannot save the sandbox state: {exc.strerror or exc}; the services this run deployed are not kept",
            file=str(folder), hint="make the folder writable (a read-only project or file system?) and run again",
        ) from None


def moto_records(region: str) -> dict[str, list[dict[str, Any]]]:
    """The ACTIVE services of each cluster that has had services in this session."""
    by_cluster: dict[str, list[dict[str, Any]]] = {}
    for service in backend_of(region).services.values():
        state = state_of(service)
        if state is not None:
            records = by_cluster.setdefault(service.cluster_name, [])
            if state.status == "ACTIVE":
                records.append(_record(state, service.tags))
    return {name: sorted(records, key=lambda r: r["serviceName"]) for name, records in by_cluster.items()}


def _record(state: EcsService, tags: list[dict[str, str]] | None) -> dict[str, Any]:
    """What the next command sees of ``state``: a rollout still in progress has completed by then."""
    primary = state.primary
    failed = primary.rollout == "FAILED"
    return {
        "serviceName": state.name,
        "request": {**copy.deepcopy(state.request), "taskDefinition": primary.revision["taskDefinition"]},
        "tags": {tag["key"]: tag["value"] for tag in tags or []},
        "clientToken": state.client_token,
        "createdRequest": state.created_digest,
        "createdAt": state.created_at.isoformat(),
        "platformFamily": primary.platform_family,
        "deployment": {"id": primary.id, "rolloutState": primary.rollout if failed else "COMPLETED",
                       "rolloutStateReason": primary.reason if failed else f"ECS deployment {primary.id} completed.",
                       "failedTasks": primary.failed_tasks if failed else 0},
    }


def _restored(record: dict[str, Any], cluster_arn: str) -> EcsService:
    """The service ``record`` keeps, settled (see the module docstring)."""
    request = copy.deepcopy(record["request"])
    created = datetime.fromisoformat(record["createdAt"])
    role, caller = identities(cluster_arn, request.get("role"))
    state = EcsService(record["serviceName"], cluster_arn, "", request, created, caller, role,
                       record.get("clientToken"), record.get("createdRequest", ""))
    kept = record.get("deployment") or {}
    failed = kept.get("rolloutState") == "FAILED"
    deployment_id = kept.get("id") or service_life.new_deployment_id()
    revision = {key: copy.deepcopy(request[key]) for key in service_life.REVISION if key in request}
    state.deployments = [Deployment(
        deployment_id, "PRIMARY", revision, state.desired, 0 if failed else state.desired, created, created,
        record.get("platformFamily") or "Linux", rollout="FAILED" if failed else "COMPLETED",
        reason=kept.get("rolloutStateReason") if failed else f"ECS deployment {deployment_id} completed.",
        failed_tasks=int(kept.get("failedTasks") or 0) if failed else 0)]
    return state
