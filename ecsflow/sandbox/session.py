"""``--sandbox``: ECS without an AWS account. moto answers in this process; registrations persist in a folder.

The sandbox is the same code path as real ECS: the caller connects (``ecsflow.ecs.client.Ecs.connect``)
with the ``AwsOptions`` that ``sandbox_session`` yields, and botocore serialises, signs, retries and parses
as usual; moto's ``mock_aws`` only answers the HTTP requests instead of AWS.

While the session is open, and only then, the environment is made safe for moto: fake credentials, no AWS
profile, no AWS config or credentials file, no ``AWS_ENDPOINT_URL*`` (moto answers AWS's own endpoints, so a
custom endpoint would bypass it). Everything is restored on exit.

On disk (``state_dir``, usually ``.ecsflow/sandbox/`` next to the compose file), one JSON file per family,
``<family>.json`` (a family longer than 200 characters, up to ECS's 255, is cut and given a hash of its
name, as file names hold 255 bytes: ``etl-aaa...aaa-3f2a9c1b0d4e5f67.json``; the family is the one inside)::

    {"format": 1, "family": "etl-api",
     "revisions": [{"revision": 1, "request": {<RegisterTaskDefinition kwargs, without tags>},
                    "tags": {"ecsflow:managed": "true", ...}, "status": "INACTIVE"}, ...]}

One ecsflow process at a time uses a state folder: the session holds an exclusive ``flock`` on the folder
itself from the replay to the save, so that two concurrent `sync --sandbox` runs take turns (each sees what
the other registered) instead of both registering revision 1 and keeping one. Another process waits, with a
note after a second, for at most ``LOCK_WAIT`` seconds, then stops with a clear error. ``Sandbox.release``
saves and unlocks early: `ecsflow run` does, once its family is current, so that a long task does not keep
other commands waiting.

(``status`` only for a deregistered revision.) At start every stored revision is registered into moto again
through the API, family by family in revision order, so moto hands out the same revision numbers; those
stored INACTIVE are deregistered again. A gap in the numbers (a deleted revision) is filled with a placeholder
revision that is deregistered and deleted again, so the later numbers still line up. At the end, each ACTIVE
revision moto holds that is not on disk yet is described and appended to its family's file; its request is
the described definition cut down to RegisterTaskDefinition's input members (botocore's model), so replaying
it gives moto the very same definition. A stored revision deregistered during the session (`ecsflow prune`)
is marked INACTIVE, one deleted is dropped. Delete the folder to start from an empty ECS (but a file this user
may not read is a permission to fix: its error says so, and never to delete the folder).

moto starts when a command's session first needs it (``lazy``): the describes of an unchanged state are answered
from what moto answered them last (``answers.cache``, ``ecsflow.sandbox.answers``).

CloudWatch Logs groups (names and retentions, not events) are kept in ``logs/``
(``ecsflow.sandbox.logs_state``), so that `log_retention` meets the groups it made before.

ECS services are answered as ECS runs them (``ecsflow.sandbox.moto_services``) and kept too, in ``services/``
(``ecsflow.sandbox.services_state``): read with the families, restored after them (their clusters created),
saved with them, under the same lock.

RunTask works in the sandbox, and with ``execute_locally`` (the user's opt-in, ``ecsflow.execution``)
``ecsflow.sandbox.runner`` runs the task's command as a process on this machine (no Docker, the image is not
pulled), writes its output to the sandbox's CloudWatch Logs and stops the task
with the process's exit code; without it, the task is stopped before anything is executed. Subnets and
security groups are taken as given, not checked; the default VPC's are the same in every session of an account
and region (``moto_patches``: moto would make them anew), so the ones ``ecsflow init`` proposed are known.
``ECSFLOW_SANDBOX_SPOT_INTERRUPT_AFTER`` (seconds) makes the runner interrupt a FARGATE_SPOT task that long after
its process started, as Spot would.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from ecsflow.ecs.client import Ecs, make_ecs_client
from ecsflow.ecs.definitions import tag_map
from ecsflow.ecs.options import AwsOptions
from ecsflow.errors import AwsError, EcsflowError
from ecsflow.sandbox import moto_missing
from ecsflow.sandbox.state_files import (
    FORMAT,
    file_name,
    json_files,
    permission_error,
    read_document,
    reading,
    write_document,
)

DEFAULT_REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's: the account of every ARN the sandbox makes, and of its caller
LOCK_WAIT = 120.0  # seconds to wait for another ecsflow process using the same sandbox
LOCK_NOTE_AFTER = 1.0  # seconds of waiting before saying so
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


@dataclass(frozen=True)
class Sandbox:
    """An open sandbox: the ``options`` to make clients with, and ``release()``, which saves what was
    registered and lets other ecsflow processes use the sandbox; nothing registered after it is kept.
    ``ecs_client``: the command's ECS client (``answers.KeptAnswersClient``): the kept answers of an unchanged
    state, then the client the sandbox replayed its state with (clients are thread-safe; making another costs a
    botocore session and its handlers)."""

    options: AwsOptions
    release: Callable[[], None]
    ecs_client: Any = None


@contextmanager
def sandbox_session(
    state_dir: Path, region: str = DEFAULT_REGION, task_workdir: Path | None = None, *,
    lock_wait: float = LOCK_WAIT, on_note: Callable[[str], None] | None = None, execute_locally: bool = False,
    lazy: bool = False,
) -> Iterator[Sandbox]:
    """Open the sandbox. Saves new registrations on exit (or at ``release()``), also when the body raised
    (what was registered is registered; re-running converges), unless saving fails too: then the body's error
    is the one raised.

    Tasks started with RunTask run as local processes in ``task_workdir`` (the compose project's folder;
    None: the current folder), through ``ecsflow.sandbox.runner``, only with ``execute_locally`` (else they
    stop before they start); any still running when the session closes is stopped. Tasks and logs are not kept
    between sessions, only task definitions, services (and the clusters of those) and log groups. ``on_note`` receives
    "waiting for another ecsflow" (the CLI prints it as a note; None: it is not said).

    With ``lazy`` (a command's session: ``operations.core.aws_session``), moto starts when first needed: the reads
    kept with an unchanged state (``ecsflow.sandbox.answers``) are answered without it, and any other call, or any
    client made from the session's options, starts it. Else it starts at once, and boto3 clients made in the
    ``with`` reach it as well."""
    import importlib.util

    if importlib.util.find_spec("moto") is None:
        raise moto_missing()
    from ecsflow.execution import SPOT_INTERRUPT_VARIABLE, spot_interrupt_after
    from ecsflow.sandbox import answers

    try:  # the sandbox's Spot switch (ecsflow.execution): read before anything is written
        interrupt_after = spot_interrupt_after(os.environ.get(SPOT_INTERRUPT_VARIABLE))
    except ValueError as exc:
        raise EcsflowError(str(exc)) from None
    state_dir = Path(state_dir)
    if state_dir.exists() and not state_dir.is_dir():
        raise EcsflowError("the sandbox keeps its state in this folder, but it is a file", file=str(state_dir),
                           hint="move the file away (or delete it) and run again")
    lock = _lock(state_dir, lock_wait, on_note or (lambda text: None))
    try:
        digest = answers.state_digest(state_dir, region)
        moto = _Moto(state_dir, region, task_workdir, execute_locally, interrupt_after)
        client = answers.KeptAnswersClient(answers.read_kept(state_dir, digest), moto.ecs_client, lambda: moto.started)
        with _sandbox_environment(region), moto:
            if not lazy:
                moto.ecs_client()
            released = False

            def release() -> None:
                nonlocal released
                if not released:
                    released = True
                    try:
                        moto.save()
                        if moto.started and digest is not None:
                            _keep_answers(state_dir, region, digest, client, moto)
                    finally:
                        lock.release()

            options = AwsOptions(region=region, profile=None, endpoint_url=None, before_connect=moto.ecs_client)
            try:
                yield Sandbox(options, release, client)
            except BaseException:
                try:
                    release()
                except EcsflowError:
                    pass  # the body's error says more; what was not saved is lost with it
                raise
            release()
    finally:
        lock.release()


def _keep_answers(state_dir: Path, region: str, digest: str, client: Any, moto: _Moto) -> None:
    """After moto answered (the state saved, the lock still held): its answers kept for the next command, under the
    digest of the state as it is now (``ecsflow.sandbox.answers``). A session that wrote asks its questions again;
    DescribeServices only while the services are as the session found them, before and after."""
    from ecsflow.sandbox import answers

    now = answers.state_digest(state_dir, region)
    if now == digest:
        if client.recorded:
            answers.write_kept(state_dir, digest, client.all_answers())
        return
    if now is None:
        return
    steady = moto.services_unchanged()
    again = client.asked_again(answers.KEPT_OPERATIONS if steady else ("describe_task_definition",))
    if again and (not steady or moto.services_unchanged()):
        answers.write_kept(state_dir, now, again)


class _Moto:
    """moto in this process with the state replayed into it, started by the first ``ecs_client()`` (from any
    thread; the others wait for it) and stopped when the session's ``with`` ends."""

    def __init__(self, state_dir: Path, region: str, task_workdir: Path | None, execute_locally: bool,
                 interrupt_after: float | None) -> None:
        self._state_dir, self._region = state_dir, region
        self._runner_args = (task_workdir, execute_locally, interrupt_after)
        self._stack = ExitStack()
        self._lock = threading.Lock()
        self._client: Any = None
        self._ecs: Ecs | None = None
        self._state: tuple = ()
        self._services_replayed: dict = {}

    @property
    def started(self) -> bool:
        return self._client is not None

    def __enter__(self) -> _Moto:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def ecs_client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    self._start()
                except BaseException:
                    self._stack.close()
                    raise
            return self._client

    def _start(self) -> None:
        try:
            from ecsflow.sandbox.moto_import import import_mock_aws

            mock_aws = import_mock_aws()
        except ImportError as exc:
            raise moto_missing(exc.name) from exc
        from ecsflow.sandbox import logs_state, services_state
        from ecsflow.sandbox.runner import LocalTaskRunner

        workdir, execute, interrupt_after = self._runner_args
        runner = LocalTaskRunner(workdir, execute=execute, step_delay=0.1, spot_interrupt_after=interrupt_after)
        for context in (mock_aws(), runner, _ecs_semantics()):
            self._stack.enter_context(context)
        options = AwsOptions(region=self._region, profile=None, endpoint_url=None)
        client = make_ecs_client(options)
        ecs = Ecs(client, options)
        stored, files = _load(self._state_dir)
        services = services_state.load(self._state_dir)
        groups = logs_state.load(self._state_dir, self._region)
        try:
            _replay(ecs, stored, files)
        except AwsError as exc:
            raise EcsflowError(f"cannot replay the sandbox state into moto: {exc.message}", file=str(self._state_dir),
                               hint="delete the folder to start from an empty ECS") from exc
        services_state.replay(self._region, services)
        logs_state.replay(self._region, groups)
        self._services_replayed = services_state.moto_records(self._region)
        self._ecs, self._state, self._client = ecs, (stored, files, services, groups), client

    def services_unchanged(self) -> bool:
        """Whether moto's services are still those the state replayed (none created, updated or moved on)."""
        from ecsflow.sandbox import services_state

        return self._client is not None and services_state.moto_records(self._region) == self._services_replayed

    def save(self) -> None:
        """Keep what this session changed (nothing when moto never started: nothing could change)."""
        if self._ecs is None:
            return
        from ecsflow.sandbox import logs_state, services_state

        stored, files, services, groups = self._state
        _save_new(self._ecs, self._state_dir, stored, files)
        services_state.save(self._region, self._state_dir, services)
        logs_state.save(self._region, self._state_dir, groups)


@contextmanager
def _ecs_semantics() -> Iterator[None]:
    """moto's ECS answering task definitions and services as ECS does (``moto_patches``, ``moto_services``), and
    its default VPC the same in every command (``moto_patches``)."""
    from ecsflow.sandbox.moto_patches import (
        install_definition_semantics,
        install_network_semantics,
        uninstall_definition_semantics,
        uninstall_network_semantics,
    )
    from ecsflow.sandbox.moto_services import install_service_semantics, uninstall_service_semantics

    install_definition_semantics()
    try:
        install_service_semantics()
        try:
            install_network_semantics()
            try:
                yield
            finally:
                uninstall_network_semantics()
        finally:
            uninstall_service_semantics()
    finally:
        uninstall_definition_semantics()


@contextmanager
def _sandbox_environment(region: str) -> Iterator[None]:
    patched = {**_FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region, "AWS_REGION": region,
               "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    with mock.patch.dict(os.environ, patched):
        for name in _CLEARED:
            os.environ.pop(name, None)  # patch.dict restores the whole mapping on exit
        yield


# ---------------------------------------------------------------------------------------------------------
# the lock


class _Lock:
    """An exclusive flock on the state folder, held until ``release()`` (idempotent)."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock


def _lock(state_dir: Path, wait: float, on_note: Callable[[str], None]) -> _Lock:
    """Lock the state folder (created if missing). No lock where there is no flock (not POSIX) or the folder
    cannot be created (a read-only project: nothing is stored there, and a save will say why it cannot write)."""
    try:
        import fcntl
    except ImportError:
        return _Lock(None)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        return _Lock(None)
    try:
        fd = os.open(state_dir, os.O_RDONLY)
    except PermissionError:
        raise permission_error(state_dir) from None
    started = time.monotonic()
    noted = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return _Lock(fd)
        except BlockingIOError:
            waited = time.monotonic() - started
            if waited >= wait:
                os.close(fd)
                raise EcsflowError(
                    f"another ecsflow process has been using the sandbox for {wait:g} s", file=str(state_dir),
                    hint="wait for it to end (a long `ecsflow sync --sandbox`?) and run again") from None
            if not noted and waited >= LOCK_NOTE_AFTER:
                on_note(f"waiting for another ecsflow using the sandbox in {state_dir} (up to {wait:g} s)")
                noted = True
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------------------
# disk (the rules every state file follows are sandbox/state_files.py's)


def _load(state_dir: Path) -> tuple[dict[str, list[dict]], dict[str, Path]]:
    """Stored revisions per family, sorted by revision number, and the file each family is kept in."""
    stored: dict[str, list[dict]] = {}
    files: dict[str, Path] = {}
    if not state_dir.is_dir():
        return stored, files
    hint = f"delete {state_dir} to start the sandbox from an empty ECS"
    for path in json_files(state_dir, hint):
        with reading(path, hint):
            family, revisions = _read_state(path)
        if family in stored:
            raise EcsflowError(f"two sandbox state files hold family '{family}'", file=str(path),
                               hint=f"keep one of {files[family].name} and {path.name}, or {hint}")
        stored[family], files[family] = revisions, path
    return stored, files


def _read_state(path: Path) -> tuple[str, list[dict]]:
    """A stray file is an error, not ignored: a state file broken by hand would be dropped, then overwritten."""
    document = read_document(path)
    family = document["family"]
    if not isinstance(family, str) or not family:
        raise ValueError(f"its family is {family!r}, not a name")
    if not isinstance(document["revisions"], list):
        raise ValueError("its revisions are not a list")
    revisions = sorted(document["revisions"], key=lambda r: int(r["revision"]))
    for r in revisions:
        if not isinstance(r["request"], dict) or r["request"].get("family") != family:
            raise ValueError(f"revision {r['revision']} is not a request of family {family!r}")
    return family, revisions


def _save_new(ecs: Ecs, state_dir: Path, stored: dict[str, list[dict]], files: dict[str, Path]) -> None:
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
                "tags": tag_map(answer.get("tags")),
            }
        )
    if not new and not changed:
        return
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        for family in dict.fromkeys([*new, *changed]):
            document = {
                "format": FORMAT,
                "family": family,
                "revisions": sorted([*changed.get(family, stored.get(family, [])), *new.get(family, [])],
                                    key=lambda r: r["revision"]),
            }
            path = files.get(family) or state_dir / file_name(family)
            write_document(path, document)
            stored[family], files[family] = document["revisions"], path
    except OSError as exc:
        raise EcsflowError(
            f"cannot save the sandbox state: {exc.strerror or exc}; what this run registered is not kept",
            file=str(state_dir), hint="make the folder writable (a read-only project or file system?) and run again",
        ) from None


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


def _replay(ecs: Ecs, stored: dict[str, list[dict]], files: dict[str, Path]) -> None:
    # moto starts empty (mock_aws resets it) and numbers each family's revisions 1, 2, 3, ...
    for family, revisions in stored.items():
        next_number, placeholders = 1, []
        inactive = [int(r["revision"]) for r in revisions if r.get("status") == "INACTIVE"]
        for stored_revision in revisions:
            number = int(stored_revision["revision"])
            if number < next_number:
                raise EcsflowError(
                    f"the sandbox state of family '{family}' lists revision {number} twice",
                    file=str(files[family]), hint="delete that file to start the family again",
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
