"""``--sandbox``: ECS without an AWS account. moto answers in this process; registrations persist in a folder.

The sandbox is the same code path as real ECS: the caller connects (``ecsflow.ecs.client.Ecs.connect``)
with the ``AwsOptions`` that ``sandbox_session`` yields, and botocore serialises, signs, retries and parses
as usual; moto's ``mock_aws`` only answers the HTTP requests instead of AWS.

While the session is open, and only then, the environment is made safe for moto: fake credentials, no AWS
profile, no AWS config or credentials file, no ``AWS_ENDPOINT_URL*`` (moto answers AWS's own endpoints, so a
custom endpoint would bypass it). Everything is restored on exit.

On disk (``state_dir``, usually ``.ecsflow/sandbox/`` next to the compose file), one JSON file per family,
``<family>.json``::

    {"format": 1, "family": "etl-api",
     "revisions": [{"revision": 1, "request": {<RegisterTaskDefinition kwargs, without tags>},
                    "tags": {"ecsflow:managed": "true", ...}, "status": "INACTIVE"}, ...]}

(``status`` only for a deregistered revision.) At start every stored revision is registered into moto again
through the API, family by family in revision order, so moto hands out the same revision numbers; those
stored INACTIVE are deregistered again. A gap in the numbers (a deleted revision) is filled with a placeholder
revision that is deregistered and deleted again, so the later numbers still line up. At the end, each ACTIVE
revision moto holds that is not on disk yet is described and appended to its family's file; its request is
the described definition cut down to RegisterTaskDefinition's input members (botocore's model), so replaying
it gives moto the very same definition. A stored revision deregistered during the session (`ecsflow prune`)
is marked INACTIVE, one deleted is dropped. Delete the folder to start from an empty ECS.

RunTask works in the sandbox: ``ecsflow.sandbox.runner`` runs the task's command as a process on this machine
(no Docker, the image is not pulled), writes its output to the sandbox's CloudWatch Logs and stops the task
with the process's exit code. Subnets and security groups are taken as given, not checked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from ecsflow.ecs.client import AwsOptions, Ecs
from ecsflow.errors import AwsError, EcsflowError

FORMAT = 1
DEFAULT_REGION = "us-east-1"
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
}
# Variables that would send calls elsewhere or make boto3 look for a real profile or credentials.
_CLEARED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECS",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
_PLACEHOLDER_CONTAINER = {"name": "placeholder", "image": "placeholder", "memory": 128}


@contextmanager
def sandbox_session(
    state_dir: Path, region: str = DEFAULT_REGION, task_workdir: Path | None = None
) -> Iterator[AwsOptions]:
    """Open the sandbox: yields the ``AwsOptions`` to make clients with. Saves new registrations on exit,
    also when the body raised (what was registered is registered; re-running converges).

    Tasks started with RunTask run as local processes in ``task_workdir`` (the compose project's folder;
    None: the current folder), through ``ecsflow.sandbox.runner``; any still running when the session closes
    is stopped. Clusters, tasks and logs are not kept between sessions, only task definitions."""
    try:
        from moto import mock_aws
    except ImportError as exc:
        raise EcsflowError("--sandbox needs moto, which is not installed",
                           hint="pip install 'ecsflow[sandbox]'") from exc
    from ecsflow.sandbox.runner import LocalTaskRunner

    state_dir = Path(state_dir)
    if state_dir.exists() and not state_dir.is_dir():
        raise EcsflowError("the sandbox keeps its state in this folder, but it is a file", file=str(state_dir),
                           hint="move the file away (or delete it) and run again")
    with _sandbox_environment(region), mock_aws(), LocalTaskRunner(task_workdir, step_delay=0.1):
        options = AwsOptions(region=region, profile=None, endpoint_url=None)
        ecs = Ecs.connect(options)
        stored = _load(state_dir)
        try:
            _replay(ecs, stored)
        except AwsError as exc:
            raise EcsflowError(f"cannot replay the sandbox state into moto: {exc.message}",
                               file=str(state_dir), hint="delete the folder to start from an empty ECS") from exc
        try:
            yield options
        finally:
            _save_new(ecs, state_dir, stored)


@contextmanager
def _sandbox_environment(region: str) -> Iterator[None]:
    patched = {**_FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
               "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    with mock.patch.dict(os.environ, patched):
        for name in _CLEARED:
            os.environ.pop(name, None)  # patch.dict restores the whole mapping on exit
        yield


# ---------------------------------------------------------------------------------------------------------
# disk


def _load(state_dir: Path) -> dict[str, list[dict]]:
    """Stored revisions per family, sorted by revision number."""
    stored: dict[str, list[dict]] = {}
    if not state_dir.is_dir():
        return stored
    for path in sorted(state_dir.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != FORMAT:
                raise ValueError(f"unknown format {document.get('format')!r}, expected {FORMAT}")
            family = document["family"]
            revisions = sorted(document["revisions"], key=lambda r: int(r["revision"]))
            for r in revisions:
                if not isinstance(r["request"], dict) or r["request"].get("family") != family:
                    raise ValueError(f"revision {r['revision']} is not a request of family {family!r}")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EcsflowError(
                f"cannot read the sandbox state: {exc}", file=str(path),
                hint=f"delete {state_dir} to start the sandbox from an empty ECS",
            ) from exc
        stored[family] = revisions
    return stored


def _save_new(ecs: Ecs, state_dir: Path, stored: dict[str, list[dict]]) -> None:
    known = {(family, int(r["revision"])) for family, revisions in stored.items() for r in revisions}
    active = ecs.active_revisions()
    changed = _status_changes(ecs, stored, {_family_and_revision(arn) for arn in active})
    unsaved = [arn for arn in active if _family_and_revision(arn) not in known]
    new: dict[str, list[dict]] = {}
    for arn, answer in ecs.describe_families(unsaved).items():  # ARNs name one revision each
        family, revision = _family_and_revision(arn)
        if answer is None:  # deregistered since it was listed
            continue
        new.setdefault(family, []).append(
            {
                "revision": revision,
                "request": ecs.as_register_request(answer["taskDefinition"]),
                "tags": {t["key"]: t["value"] for t in answer.get("tags") or []},
            }
        )
    if not new and not changed:
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    for family in dict.fromkeys([*new, *changed]):
        document = {
            "format": FORMAT,
            "family": family,
            "revisions": sorted([*changed.get(family, stored.get(family, [])), *new.get(family, [])],
                                key=lambda r: r["revision"]),
        }
        path = state_dir / f"{family}.json"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)  # atomic: an interrupted save leaves the previous file whole


def _status_changes(ecs: Ecs, stored: dict[str, list[dict]], active: set[tuple[str, int]]) -> dict[str, list[dict]]:
    """The stored families whose revisions were deregistered or deleted in this session, as they now are."""
    inactive = {_family_and_revision(arn) for arn in ecs.inactive_revisions()} if stored else set()
    changed: dict[str, list[dict]] = {}
    for family, revisions in stored.items():
        now = []
        for r in revisions:
            ref = (family, int(r["revision"]))
            if ref in active:
                now.append({k: v for k, v in r.items() if k != "status"})
            elif ref in inactive:
                now.append({**r, "status": "INACTIVE"})  # else deleted: dropped
        if now != revisions:
            changed[family] = now
    return changed


def _family_and_revision(arn: str) -> tuple[str, int]:
    family, revision = arn.rsplit("/", 1)[1].rsplit(":", 1)
    return family, int(revision)


# ---------------------------------------------------------------------------------------------------------
# moto


def _replay(ecs: Ecs, stored: dict[str, list[dict]]) -> None:
    # moto starts empty (mock_aws resets it) and numbers each family's revisions 1, 2, 3, ...
    for family, revisions in stored.items():
        next_number, placeholders = 1, []
        inactive = [int(r["revision"]) for r in revisions if r.get("status") == "INACTIVE"]
        for stored_revision in revisions:
            number = int(stored_revision["revision"])
            if number < next_number:
                raise EcsflowError(
                    f"the sandbox state of family '{family}' lists revision {number} twice",
                    file=f"{family}.json", hint="delete that file to start the family again",
                )
            while next_number < number:  # a gap: keep the numbering with a revision deregistered below
                placeholders.append(next_number)
                ecs.register_revision({"family": family, "containerDefinitions": [_PLACEHOLDER_CONTAINER]})
                next_number += 1
            tags = [{"key": k, "value": v} for k, v in sorted(stored_revision.get("tags", {}).items())]
            request = {**stored_revision["request"], **({"tags": tags} if tags else {})}
            got = ecs.register_revision(request)
            if got != number:
                raise EcsflowError(f"sandbox replay of family '{family}' gave revision {got}, not {number}",
                                   hint="delete the sandbox folder to start from an empty ECS")
            next_number += 1
        for number in [*placeholders, *inactive]:
            ecs.deregister_revision(f"{family}:{number}")
        failed = [r for r in ecs.delete_revisions((family, number) for number in placeholders) if r.error]
        if failed:
            raise AwsError(f"cannot delete revision {failed[0].revision} of '{family}': {failed[0].error}")
