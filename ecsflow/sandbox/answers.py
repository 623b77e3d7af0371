"""Answers kept with the sandbox's state: what moto answered to DescribeTaskDefinition and DescribeServices in a
session that left the state as it found it, so that the next command that reads the same state is answered
without starting moto (design.md, "The sandbox's kept answers").

Starting moto and replaying the state costs a `diff --sandbox` of the example about twice what its `render`
costs; a no-op `diff` or `sync` that finds its answers here costs neither. The rules that keep it true:

- The answers are kept under a digest of every file of the state folder, of the sandbox's own sources, of
  ecsflow's and moto's versions, of the region and of the ``ECSFLOW_SANDBOX_*`` switches. A state changed in any
  way (a registration, a service settled by a describe, a file edited by hand) finds no answers, and moto answers.
- A session whose state digest is the same at its end as at its start keeps every answer it gave: each is one
  that state gives. Both reads depend on nothing else the sandbox keeps (tasks are not kept).
- A session that changed the state (a `sync` that registered) asks moto again, once its writes are saved, the
  questions it asked and those kept before it (at most ``REASK_LIMIT``), and keeps those answers under the new
  state's digest: the `diff` that follows a `sync` is answered without moto too. DescribeServices is asked
  again only when no service changed in the session and none changes by being asked: in the sandbox a
  describe moves a rollout on, and a service the session changed answers from its life in the session (its
  deployment's times, its events), which the next command's replay of the saved service does not rebuild.
- ECS's error answers are kept as answers (a cluster not found); a question not kept (a new family, another
  service, any other call) starts moto as before, and that session's answers are kept in turn.
- It is a cache: an answers file that cannot be read or is not ours is ignored (and written again), never an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ecsflow import __version__

FILE_NAME = "answers.cache"  # not *.json: the state folder's *.json files are the families' (sandbox/session.py)
KEPT_OPERATIONS = ("describe_task_definition", "describe_services")
REASK_LIMIT = 64  # questions asked again after a write: a few ms each in moto, so a big project keeps none
_MAX_BYTES = 64 * 1024 * 1024
_SWITCHES = "ECSFLOW_SANDBOX_"


def state_digest(state_dir: Path, region: str) -> str | None:
    """The digest the answers of ``state_dir`` are kept under; None when the folder cannot be read whole."""
    digest = hashlib.sha256()
    for part in (__version__, _moto_version(), region, _sources_digest()):
        digest.update(f"{part}\0".encode())
    for name, value in sorted(os.environ.items()):
        if name.startswith(_SWITCHES):
            digest.update(f"{name}={value}\0".encode())
    try:
        for path in sorted(state_dir.rglob("*")):
            if path.is_file() and path.name != FILE_NAME and not path.name.endswith(".tmp"):
                digest.update(f"{path.relative_to(state_dir)}\0".encode())
                digest.update(path.read_bytes())
                digest.update(b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def read_kept(state_dir: Path, digest: str | None) -> dict[str, Any]:
    """The answers kept for ``digest`` (empty when none, or the file is unreadable or of another state)."""
    path = state_dir / FILE_NAME
    if digest is None:
        return {}
    try:
        if path.stat().st_size > _MAX_BYTES:
            return {}
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("digest") != digest or not isinstance(document.get("answers"),
                                                                                            dict):
        return {}
    return document["answers"]


def write_kept(state_dir: Path, digest: str, answers: Mapping[str, Any]) -> None:
    """Keep ``answers`` for ``digest``, atomically; a folder that cannot be written keeps none (it is a cache)."""
    path = state_dir / FILE_NAME
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps({"digest": digest, "answers": dict(answers)}, sort_keys=True), encoding="utf-8")
        tmp.replace(path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only folder: no answers kept, as none could be written


def question(operation: str, params: Mapping[str, Any]) -> str:
    return json.dumps([operation, params], sort_keys=True, default=str)


class KeptAnswersClient:
    """The sandbox's ECS client: a kept question is answered from ``kept`` while moto has not started; any other
    call goes to moto's client, which ``start()`` gives (starting moto the first time), and so does every call
    after it (moto's state may then differ from the kept answers': a write). The answers moto gives to kept
    operations are recorded in ``recorded``, for the session to keep."""

    def __init__(self, kept: Mapping[str, Any], start: Callable[[], Any], started: Callable[[], bool]) -> None:
        self._kept = dict(kept)
        self._start = start
        self._started = started
        self._lock = threading.Lock()
        self.recorded: dict[str, Any] = {}
        self._asked: set[str] = set()  # every question asked (its key: ``question``)

    def __getattr__(self, name: str) -> Any:
        if name in KEPT_OPERATIONS:
            return lambda **params: self._ask(name, params)
        return getattr(self._start(), name)

    def _ask(self, operation: str, params: dict[str, Any]) -> dict:
        key = question(operation, params)
        with self._lock:
            self._asked.add(key)
        kept = None if self._started() else self._kept.get(key)
        if kept is not None:
            if "$error" in kept:
                raise _client_error(kept["$error"])
            return _decoded(kept)
        from botocore.exceptions import ClientError  # moto is started: botocore is imported

        try:
            answer = getattr(self._start(), operation)(**params)
        except ClientError as exc:  # ECS's error answer (a cluster not found): kept as it is raised
            with self._lock:
                self.recorded[key] = _error_answer(exc)
            raise
        with self._lock:
            self.recorded[key] = _encoded(answer)
        return answer

    def all_answers(self) -> dict[str, Any]:
        return {**self._kept, **self.recorded}

    def asked_again(self, operations: tuple[str, ...] = KEPT_OPERATIONS) -> dict[str, Any] | None:
        """After this session's writes, saved: the questions it asked of ``operations``, answered by moto now
        (errors as kept errors); None when there are none, more than ``REASK_LIMIT``, or moto cannot answer one."""
        asked = {key: ask for key, ask in _questions([*self._kept, *self._asked]).items() if ask[0] in operations}
        if not asked or len(asked) > REASK_LIMIT:
            return None
        from botocore.exceptions import ClientError

        client, again = self._start(), {}
        for key, (operation, params) in asked.items():
            try:
                again[key] = _encoded(getattr(client, operation)(**params))
            except ClientError as exc:
                again[key] = _error_answer(exc)
            except Exception:  # noqa: BLE001 - a cache: a question moto cannot answer now keeps nothing
                return None
        return again


def _questions(keys: Iterable[str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Questions as (operation, params), read back from their keys (``question``)."""
    parsed = {}
    for key in keys:
        try:
            operation, params = json.loads(key)
        except (ValueError, TypeError):
            continue
        if operation in KEPT_OPERATIONS and isinstance(params, dict):
            parsed[key] = (operation, params)
    return parsed


def _error_answer(exc: Any) -> dict[str, Any]:
    """ECS's error answer (a botocore ClientError), as it is kept."""
    return {"$error": {"response": _encoded(exc.response), "operation": exc.operation_name}}


def _client_error(kept: Mapping[str, Any]) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(_decoded(kept["response"]), kept["operation"])


def _encoded(value: Any) -> Any:
    """A parsed answer as JSON: botocore's datetimes marked, so that they come back as datetimes."""
    if isinstance(value, dict):
        return {key: _metadata(item) if key == "ResponseMetadata" else _encoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encoded(item) for item in value]
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    return value


def _metadata(value: Any) -> Any:
    """botocore's ResponseMetadata, without what differs between two answers (request id, headers)."""
    return {"HTTPStatusCode": value.get("HTTPStatusCode"), "RetryAttempts": 0} if isinstance(value, dict) else value


def _decoded(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$datetime" in value:
            moment = datetime.fromisoformat(value["$datetime"])
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return {key: _decoded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decoded(item) for item in value]
    return value


def _moto_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("moto")
    except PackageNotFoundError:
        return "-"


_SOURCES: str | None = None


def _sources_digest() -> str:
    """The sandbox's own code: answers a changed sandbox would give differently are not reused."""
    global _SOURCES
    if _SOURCES is None:
        digest = hashlib.sha256()
        for path in sorted(Path(__file__).parent.glob("*.py")):
            digest.update(path.read_bytes())
        _SOURCES = digest.hexdigest()
    return _SOURCES
