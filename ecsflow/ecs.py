"""The boto3 adapter: the only module that talks to AWS (DESIGN.md sections 2 and 6).

- ``make_ecs_client`` / ``make_logs_client``: a client from boto3's usual chain (botocore's session: profile,
  region, credentials, ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_ECS``, which it honours by itself; an explicit
  ``endpoint_url`` wins), with botocore's ``adaptive`` retries, so ThrottlingException and 5xx answers are
  retried, never reported as drift. An unknown region is refused before any call.
- ``describe_families``: one ``describe_task_definition(include=["TAGS"])`` per family through a bounded
  thread pool; a family ECS does not know is ``None`` (new), not an error.
- ``register_families``: one ``register_task_definition`` per family, at most once per family per run, through
  the same bounded pool; tags merged, the ``ecsflow:*`` ones added here (see ``RegisterItem``); "Too many
  concurrent attempts to create a new revision" retried with backoff; one family's failure is reported in its
  outcome and does not stop the others.
- ``ensure_cluster``, ``run_task``, ``describe_task``, ``follow_task`` (status changes and new log lines until
  STOPPED), ``LogTail`` (GetLogEvents by forward token), ``stop_task``, ``wait_stopped``: ``ecsflow run``.
- ``aws_error``: any boto3/botocore exception as an ``AwsError`` with a hint; never with a secret value.

botocore clients are thread-safe (sessions are not), so one client is made on the calling thread and shared by
the pool's workers.
"""

from __future__ import annotations

import functools
import math
import random
import re
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ecsflow import __version__
from ecsflow.errors import AwsError, EcsflowError

# Tags every registered revision carries, so people and tools can tell what ecsflow manages. The builder
# puts them in the request (so render shows them); they are set here again, so no caller can forget them.
from ecsflow.taskdef import MANAGED_TAG, PROJECT_TAG, SERVICE_TAG

DEFAULT_CONCURRENCY = 8

# What real ECS and moto answer for a family (or family:revision) with no ACTIVE revision:
# ClientException, HTTP 400, "Unable to describe task definition." (real ECS: the error quoted in
# strvcom/terraform-aws-fargate#45 and terraform-aws-modules/terraform-aws-atlantis#59; moto 5:
# moto/ecs/exceptions.py TaskDefinitionNotFoundException). Matched without the final period.
_MISSING_FAMILY = "unable to describe task definition"
# Real ECS, when another RegisterTaskDefinition of the same family is in progress (ClientException, 400;
# quoted in hashicorp/terraform-provider-aws#9777, dagster-io/dagster#11192). botocore does not retry it.
_CONCURRENT_REVISION = "too many concurrent attempts to create a new revision"


# ---------------------------------------------------------------------------------------------------------
# clients


@dataclass(frozen=True)
class AwsOptions:
    """Where and as whom to call AWS. ``None`` means "boto3's usual chain decides"."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None
    retry_mode: Literal["adaptive", "standard", "legacy"] = "adaptive"
    max_attempts: int = 10  # all attempts, the first one included


def make_ecs_client(options: AwsOptions, concurrency: int = DEFAULT_CONCURRENCY) -> Any:
    return _client("ecs", options, concurrency)


def make_logs_client(options: AwsOptions, concurrency: int = DEFAULT_CONCURRENCY) -> Any:
    return _client("logs", options, concurrency)


def _client(service: str, options: AwsOptions, concurrency: int) -> Any:
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    config = Config(
        # total_max_attempts counts the first attempt; the "max_attempts" key would count retries only.
        retries={"mode": options.retry_mode, "total_max_attempts": options.max_attempts},
        # One connection per worker, or urllib3 discards connections and warns "Connection pool is full".
        max_pool_connections=max(10, concurrency),
        user_agent_extra=f"ecsflow/{__version__}",
    )
    try:
        # A fresh session each time (credentials and profile are read again), sharing only the loader of
        # botocore's static data files: parsing the service model and endpoints again costs ~0.1 s a client.
        session = botocore.session.Session(profile=options.profile)
        session.register_component("data_loader", _data_loader(session.get_config_variable("data_path")))
        client = session.create_client(service, region_name=options.region, endpoint_url=options.endpoint_url,
                                       config=config)
        region = client.meta.region_name
        if ".amazonaws.com" in client.meta.endpoint_url and region not in _known_regions(session, service):
            # Fail now: AWS's host for an unknown region does not resolve, and botocore would retry that
            # connection error for several seconds before saying so. A custom endpoint skips the check.
            raise AwsError(
                f"'{region}' is not an AWS region where {_SERVICE_NAMES.get(service, service)} exists",
                hint="pass a region such as eu-west-1 with --region or AWS_REGION; for a region newer than this "
                "botocore, upgrade boto3 or pass --endpoint-url",
            )
        return client
    except BotoCoreError as exc:  # unknown profile, no region, a malformed region name
        raise aws_error(exc, options) from exc


_SERVICE_NAMES = {"ecs": "ECS", "logs": "CloudWatch Logs"}


def _known_regions(session: Any, service: str) -> set[str]:
    return {r for p in session.get_available_partitions() for r in session.get_available_regions(service, p)}


@functools.cache
def _data_loader(data_path: str | None) -> Any:
    import botocore.loaders

    return botocore.loaders.create_loader(data_path)


# ---------------------------------------------------------------------------------------------------------
# describe


def describe_families(
    client: Any, families: Iterable[str], concurrency: int = DEFAULT_CONCURRENCY
) -> dict[str, dict | None]:
    """The live DescribeTaskDefinition answer (``taskDefinition`` and ``tags``) per family, None when missing.

    Any other error stops the whole call (a diff on partial knowledge would be wrong) and is raised as an
    ``AwsError``.
    """
    unique = list(dict.fromkeys(families))

    def describe(family: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            answer = client.describe_task_definition(taskDefinition=family, include=["TAGS"])
        except ClientError as exc:
            if is_missing_family(exc):
                return None
            raise
        answer.pop("ResponseMetadata", None)
        return answer

    results: dict[str, dict | None] = {}
    try:
        for family, answer in _bounded(describe, unique, concurrency):
            results[family] = answer
    except Exception as exc:
        if _is_boto_error(exc):
            raise aws_error(exc, client=client) from exc
        raise
    return {family: results[family] for family in unique}


def is_missing_family(exc: BaseException) -> bool:
    """True for the ClientException ECS answers when a family has no ACTIVE revision."""
    code, message = _code_and_message(exc)
    return code == "ClientException" and _MISSING_FAMILY in message.lower()


# ---------------------------------------------------------------------------------------------------------
# register


@dataclass(frozen=True)
class RegisterItem:
    """One family to register. ``request`` is the RegisterTaskDefinition kwargs; its own ``tags`` (user tags
    from settings and x-ecsflow) are kept, ``tags`` here are merged over them, and the adapter adds
    ``ecsflow:managed=true``, ``ecsflow:project=<project>`` and ``ecsflow:service=<service>`` over both."""

    service: str
    family: str
    request: Mapping[str, Any]
    project: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegisterOutcome:
    service: str
    family: str
    status: Literal["registered", "failed"]
    revision: int | None = None
    arn: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Backoff:
    """Jittered exponential backoff for the errors botocore does not retry by itself."""

    attempts: int = 6  # all attempts, the first one included: waits of up to 0.5+1+2+4+8 s
    base: float = 0.5
    cap: float = 8.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, ...): "equal jitter", so two CI jobs that
        collided once spread apart, yet each always waits a little."""
        ceiling = min(self.cap, self.base * 2 ** (retry - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


DEFAULT_BACKOFF = Backoff()


def register_families(
    client: Any,
    items: Iterable[RegisterItem],
    concurrency: int = DEFAULT_CONCURRENCY,
    on_done: Callable[[RegisterOutcome], None] | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> list[RegisterOutcome]:
    """Register one new revision per item; outcomes in the order of ``items``.

    ``on_done`` is called with each outcome as it completes, on the calling thread (safe for a progress bar).
    Two items of one family are refused before any call: registering a family twice in one run would make
    a spurious revision, and two services claiming one family is a configuration error.
    """
    items = list(items)
    _refuse_duplicates(items)
    outcomes: dict[str, RegisterOutcome] = {}
    done = _bounded(lambda item: _register(client, item, backoff), items, concurrency, key=lambda item: item.family)
    with closing(done):  # an exception from on_done still shuts the pool down at once
        for family, outcome in done:
            outcomes[family] = outcome
            if on_done is not None:
                on_done(outcome)
    return [outcomes[item.family] for item in items]


def register_request(item: RegisterItem) -> dict[str, Any]:
    """The exact kwargs sent for ``item``: its request with the merged tags (sorted by key)."""
    if item.request.get("family") != item.family:
        raise ValueError(f"request family {item.request.get('family')!r} is not {item.family!r}")
    tags = {t["key"]: t["value"] for t in item.request.get("tags") or []}
    tags.update(item.tags)
    tags.update({MANAGED_TAG: "true", PROJECT_TAG: item.project, SERVICE_TAG: item.service})
    return {**item.request, "tags": [{"key": k, "value": v} for k, v in sorted(tags.items())]}


def _refuse_duplicates(items: list[RegisterItem]) -> None:
    seen: dict[str, RegisterItem] = {}
    for item in items:
        if item.family in seen:
            first = seen[item.family]
            raise EcsflowError(
                f"services '{first.service}' and '{item.service}' would both register family '{item.family}'"
                if first.service != item.service
                else f"family '{item.family}' is listed twice",
                service=item.service,
                hint="each family is registered at most once per run; give each service its own "
                "`x-ecsflow: family:` (or a family pattern with {service} in it)",
            )
        seen[item.family] = item


def _register(client: Any, item: RegisterItem, backoff: Backoff) -> RegisterOutcome:
    from botocore.exceptions import BotoCoreError, ClientError

    request = register_request(item)
    for attempt in range(1, backoff.attempts + 1):
        try:
            answer = client.register_task_definition(**request)
        except ClientError as exc:
            if _is_concurrent_revision(exc) and attempt < backoff.attempts:
                time.sleep(backoff.delay(attempt))
                continue
            return _failed(item, exc)
        except BotoCoreError as exc:
            return _failed(item, exc)
        td = answer["taskDefinition"]
        return RegisterOutcome(item.service, item.family, "registered", td.get("revision"), td.get("taskDefinitionArn"))
    raise AssertionError("unreachable: the last attempt returns")


def _failed(item: RegisterItem, exc: Exception) -> RegisterOutcome:
    error = aws_error(exc)
    text = f"{error.message} (hint: {error.hint})" if error.hint else error.message
    return RegisterOutcome(item.service, item.family, "failed", error=text)


def _is_concurrent_revision(exc: BaseException) -> bool:
    code, message = _code_and_message(exc)
    return code == "ClientException" and _CONCURRENT_REVISION in message.lower()


# ---------------------------------------------------------------------------------------------------------
# the bounded pool

_T = TypeVar("_T")
_R = TypeVar("_R")


def _bounded(
    work: Callable[[_T], _R], items: list[_T], concurrency: int, key: Callable[[_T], Any] = lambda item: item
) -> Generator[tuple[Any, _R], None, None]:
    """``(key(item), work(item))`` as each completes, at most ``concurrency`` at a time.

    On the first exception the items not started yet are cancelled and the exception propagates.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    if not items:
        return
    pool = ThreadPoolExecutor(max_workers=min(concurrency, len(items)), thread_name_prefix="ecsflow-aws")
    try:
        futures = {pool.submit(work, item): key(item) for item in items}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        # Normal end: nothing left. Error (or the caller stopped early): drop what has not started; the few
        # calls in flight finish on their own, and their results are discarded.
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------------------------------------
# errors

_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
_BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}
_EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
_DEFINITION_PERMISSIONS = ("ecs:DescribeTaskDefinition, ecs:RegisterTaskDefinition, ecs:TagResource and "
                           "iam:PassRole on the task and execution roles")
_RUN_PERMISSIONS = ("ecs:RunTask, ecs:DescribeTasks, ecs:StopTask, ecs:DescribeClusters and iam:PassRole on the "
                    "task and execution roles (and, to see the logs, logs:GetLogEvents on the task's log group)")
_PERMISSIONS = {
    **{op: _RUN_PERMISSIONS for op in ("RunTask", "DescribeTasks", "StopTask", "DescribeClusters")},
    "GetLogEvents": "logs:GetLogEvents on the task's log group",
}
_CREDENTIALS_HINT = (
    "choose credentials with --aws-profile or AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), "
    "or try --sandbox to use a local ECS that needs no AWS account"
)
# botocore's ParamValidationError quotes the offending value ("..., value: s3cret, type: ..."): drop it, as
# it may be an environment value.
_QUOTED_VALUE = re.compile(r"value: .*?, type:", re.DOTALL)


def aws_error(exc: BaseException, options: AwsOptions | None = None, client: Any = None) -> AwsError:
    """One clear ``AwsError`` (message + hint) for an exception raised by boto3/botocore.

    ``options`` or ``client`` only make hints more precise (the region, the endpoint). Messages carry AWS's
    own text (an account or role ARN at most), never a request's values.
    """
    from botocore import exceptions as bx

    if isinstance(exc, AwsError):
        return exc
    region = options.region if options else None
    if region is None and client is not None:
        region = client.meta.region_name
    if isinstance(exc, bx.NoCredentialsError):
        return AwsError("no AWS credentials found", hint=_CREDENTIALS_HINT)
    if isinstance(exc, bx.PartialCredentialsError):
        return AwsError(f"incomplete AWS credentials: {exc}", hint=_CREDENTIALS_HINT)
    if isinstance(exc, bx.ProfileNotFound):
        return AwsError(
            f"AWS profile '{exc.kwargs.get('profile')}' not found",
            hint="use a profile from ~/.aws/config (`aws configure list-profiles`) with --aws-profile or "
            "AWS_PROFILE, or try --sandbox",
        )
    if isinstance(exc, bx.NoRegionError):
        return AwsError("no AWS region set", hint="pass --region, set ECSFLOW_REGION or AWS_REGION, or set `region` "
                        "in the compose file's x-ecsflow block or in the AWS profile")
    if isinstance(exc, bx.InvalidRegionError):
        return AwsError(f"'{exc.kwargs.get('region_name')}' is not an AWS region name",
                        hint="pass a region such as eu-west-1 with --region or AWS_REGION")
    if isinstance(exc, bx.UnauthorizedSSOTokenError | bx.TokenRetrievalError | bx.SSOTokenLoadError):
        return AwsError("the AWS SSO session has expired or is invalid",
                        hint="run `aws sso login` with the profile in use, then try again")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ConnectionClosedError
                  | bx.ReadTimeoutError):
        return _unreachable(exc, region)
    if isinstance(exc, bx.ParamValidationError):
        return AwsError(f"invalid request: {_QUOTED_VALUE.sub('type:', str(exc))}")
    if isinstance(exc, bx.ClientError):
        return _client_error(exc, region)
    if isinstance(exc, bx.BotoCoreError):
        return AwsError(str(exc))
    return AwsError(f"{type(exc).__name__}: {exc}")


def _client_error(exc: Any, region: str | None) -> AwsError:
    code, message = _code_and_message(exc)
    operation = getattr(exc, "operation_name", None) or "AWS call"
    where = f" in {region}" if region else ""
    if code in _DENIED:
        return AwsError(
            f"AWS denied {operation}{where}: {message}",
            hint=f"the identity in use needs {_PERMISSIONS.get(operation, _DEFINITION_PERMISSIONS)}; check which "
            "identity that is (`aws sts get-caller-identity`, --aws-profile / AWS_PROFILE)",
        )
    if code in _BAD_CREDENTIALS:
        return AwsError(f"AWS did not accept the credentials ({code}): {message}", hint=_CREDENTIALS_HINT)
    if code in _EXPIRED:
        return AwsError(f"the AWS credentials have expired ({code})",
                        hint="refresh them (`aws sso login`, or new session credentials) and try again")
    if code in _THROTTLED:
        return AwsError(f"AWS kept throttling {operation}{where} after all retries: {message}",
                        hint="lower --concurrency, or try again in a minute; re-running converges")
    return AwsError(f"{operation}: {code}: {message}" if code else f"{operation}: {message}")


def _unreachable(exc: Any, region: str | None) -> AwsError:
    url = exc.kwargs.get("endpoint_url", "")
    if region and f".{region}.amazonaws.com" in url:
        hint = f"check that '{region}' is a region where ECS exists (--region / AWS_REGION), and the network"
    else:
        hint = "check --endpoint-url / AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECS, --region, and the network"
    return AwsError(f"cannot reach the AWS endpoint {url}: {type(exc).__name__}", hint=hint)


def _code_and_message(exc: BaseException) -> tuple[str, str]:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", ""
    error = response.get("Error") or {}
    return str(error.get("Code") or ""), str(error.get("Message") or "")


def _is_boto_error(exc: BaseException) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)


# ---------------------------------------------------------------------------------------------------------
# run, wait, logs, stop (`ecsflow run`)
#
# boto3's `tasks_stopped` waiter cannot stream logs while it waits (it only sleeps and describes), so the
# wait for a task's end is a plain loop: DescribeTasks, then the new log events, every `poll_interval`
# seconds. The waiter is used where nothing else has to happen meanwhile: after StopTask (timeout). There is
# no botocore paginator for GetLogEvents (its forward token never runs out), so `LogTail` pages by hand.

NOT_FOUND_GRACE = 30.0  # seconds during which a task DescribeTasks does not know yet is waited for
# ECS's RunTask `failures[].reason` values, and what to do about them.
_FAILURE_HINTS = {
    "RESOURCE": "Fargate has no capacity for this size right now, or an account quota is reached: try again in "
    "a few minutes, a smaller --cpu/--memory, or other subnets (availability zones)",
    "MISSING": "ECS does not know the cluster or task definition named here: check --cluster and that the "
    "family is registered in this region",
    "AGENT": "the container instance's agent is disconnected (an EC2 cluster, not Fargate?)",
    "ATTRIBUTE": "no capacity in the cluster matches the task definition's requirements",
    "LOCATION": "no capacity in the requested subnets' availability zones",
}


@dataclass(frozen=True)
class TaskState:
    """What `ecsflow run` needs from a DescribeTasks answer. `exit_code` and `container_reason` are the
    essential container's (the one named `container`, else the first)."""

    arn: str
    last_status: str
    desired_status: str | None = None
    exit_code: int | None = None
    container_reason: str | None = None
    stopped_reason: str | None = None
    stop_code: str | None = None

    @property
    def task_id(self) -> str:
        return self.arn.rsplit("/", 1)[-1]

    @property
    def stopped(self) -> bool:
        return self.last_status == "STOPPED"

    @property
    def reason(self) -> str | None:
        """Why the task stopped, most precise first: the container's own reason names what failed
        (CannotPullContainerError, OutOfMemoryError, ...) where the task's may only say it stopped."""
        parts = [r for r in (self.stopped_reason, self.container_reason) if r]
        if len(parts) == 2 and parts[1] != parts[0] and parts[1] not in parts[0]:
            return f"{parts[0]} ({parts[1]})"
        return parts[0] if parts else None


def task_state(task: Mapping[str, Any], container: str | None = None) -> TaskState:
    containers = task.get("containers") or []
    chosen = next((c for c in containers if c.get("name") == container), containers[0] if containers else {})
    return TaskState(
        arn=task["taskArn"],
        last_status=task.get("lastStatus") or "UNKNOWN",
        desired_status=task.get("desiredStatus"),
        exit_code=chosen.get("exitCode"),
        container_reason=chosen.get("reason") or None,
        stopped_reason=task.get("stoppedReason") or None,
        stop_code=task.get("stopCode") or None,
    )


def ensure_cluster(client: Any, cluster: str, *, create: bool = False) -> bool:
    """True when the cluster is ACTIVE; with ``create`` (the sandbox) a missing one is created (True, too).
    Without it a missing or inactive cluster is an ``AwsError``."""
    try:
        answer = client.describe_clusters(clusters=[cluster])
        if any(c.get("status") == "ACTIVE" for c in answer.get("clusters") or []):
            return True
        if create:
            client.create_cluster(clusterName=cluster)
            return True
    except Exception as exc:
        if _is_boto_error(exc):
            raise aws_error(exc, client=client) from exc
        raise
    raise AwsError(
        f"the ECS cluster '{cluster}' does not exist (or is not ACTIVE) in {client.meta.region_name}",
        hint="create it (`aws ecs create-cluster --cluster-name ...`), or choose another with --cluster, "
        "ECSFLOW_CLUSTER or x-ecsflow.cluster (`ecsflow config` shows where the value comes from)",
    )


def run_task(client: Any, request: Mapping[str, Any], container: str | None = None) -> TaskState:
    """Start one task (``request`` is RunTask's kwargs); its state as RunTask answered. A ``failures``
    answer, or an error, is an ``AwsError`` that says what ECS said and what to do."""
    try:
        answer = client.run_task(**request)
    except Exception as exc:
        if not _is_boto_error(exc):
            raise
        error = aws_error(exc, client=client)
        code, _ = _code_and_message(exc)
        if code in ("InvalidParameterException", "ClientException") and not error.hint:
            error.hint = ("check the network settings (subnets, security groups: `ecsflow config`) and that "
                          "they belong to one VPC in this region; check the cluster and the task definition")
        raise error from exc
    tasks = answer.get("tasks") or []
    if tasks:
        return task_state(tasks[0], container)
    raise run_failures_error(answer.get("failures") or [], request)


def run_failures_error(failures: Iterable[Mapping[str, Any]], request: Mapping[str, Any]) -> AwsError:
    """RunTask answered without a task: each ``failures`` entry (reason, detail, arn) in one message."""
    failures = list(failures)
    what = request.get("taskDefinition", "the task")
    if not failures:
        return AwsError(f"ECS started no task for {what} and gave no reason")
    texts, hints = [], []
    for failure in failures:
        reason = str(failure.get("reason") or "unknown reason")
        detail = failure.get("detail")
        texts.append(reason + (f" ({detail})" if detail else ""))
        hint = _FAILURE_HINTS.get(reason.split(":", 1)[0].strip().upper())
        if hint and hint not in hints:
            hints.append(hint)
    return AwsError(f"ECS could not start {what}: {'; '.join(texts)}", hint="; ".join(hints) or None)


def describe_task(client: Any, cluster: str, task_arn: str, container: str | None = None) -> TaskState:
    try:
        answer = client.describe_tasks(cluster=cluster, tasks=[task_arn])
    except Exception as exc:
        if _is_boto_error(exc):
            raise aws_error(exc, client=client) from exc
        raise
    tasks = answer.get("tasks") or []
    if not tasks:
        reasons = ", ".join(str(f.get("reason")) for f in answer.get("failures") or []) or "not found"
        raise TaskNotFound(f"ECS does not know task {task_arn} in cluster '{cluster}' ({reasons})",
                           hint="ECS forgets stopped tasks after about an hour; check the cluster")
    return task_state(tasks[0], container)


class TaskNotFound(AwsError):
    """DescribeTasks does not know the task (MISSING): ECS is eventually consistent right after RunTask."""


def stop_task(client: Any, cluster: str, task_arn: str, reason: str) -> None:
    """Ask ECS to stop the task (SIGTERM, then SIGKILL after the container's stop timeout)."""
    try:
        client.stop_task(cluster=cluster, task=task_arn, reason=reason[:255])
    except Exception as exc:
        if _is_boto_error(exc):
            raise aws_error(exc, client=client) from exc
        raise


def wait_stopped(client: Any, cluster: str, task_arn: str, *, delay: float, max_wait: float) -> bool:
    """boto3's ``tasks_stopped`` waiter, bounded: True once STOPPED, False when ``max_wait`` ran out."""
    from botocore.exceptions import WaiterError

    attempts = max(1, math.ceil(max_wait / delay)) if delay > 0 else 1
    try:
        client.get_waiter("tasks_stopped").wait(cluster=cluster, tasks=[task_arn],
                                                WaiterConfig={"Delay": delay, "MaxAttempts": attempts})
        return True
    except WaiterError as exc:
        error = (exc.last_response or {}).get("Error") or {}
        if error:  # DescribeTasks itself failed (the waiter hands back its error answer)
            raise AwsError(f"DescribeTasks: {error.get('Code')}: {error.get('Message')}") from exc
        return False


@dataclass(frozen=True)
class LogTarget:
    """Where the awslogs driver writes a task's container output."""

    group: str
    stream: str
    region: str | None = None


def log_target(container_definition: Mapping[str, Any], task_id: str) -> LogTarget | None:
    """The awslogs group and stream (``PREFIX/CONTAINER/TASK_ID``) of a container, None without awslogs."""
    config = container_definition.get("logConfiguration") or {}
    options = config.get("options") or {}
    if config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
        return None
    prefix = options.get("awslogs-stream-prefix")
    name = container_definition.get("name")
    stream = f"{prefix}/{name}/{task_id}" if prefix else task_id
    return LogTarget(options["awslogs-group"], stream, options.get("awslogs-region"))


class LogTail:
    """New events of one log stream, each read once, in order: GetLogEvents from the head, then from the
    last ``nextForwardToken``. A stream that does not exist yet (the container has not started) has none."""

    max_pages = 100  # per read: 100 pages of up to 10,000 events; the rest comes at the next read

    def __init__(self, client: Any, target: LogTarget, limit: int | None = None) -> None:
        self.client, self.target, self.limit = client, target, limit
        self._token: str | None = None

    def read(self) -> list[str]:
        from botocore.exceptions import ClientError

        lines: list[str] = []
        for _ in range(self.max_pages):
            kwargs: dict[str, Any] = {"logGroupName": self.target.group, "logStreamName": self.target.stream,
                                      "startFromHead": True}
            if self._token:
                kwargs["nextToken"] = self._token
            if self.limit:
                kwargs["limit"] = self.limit
            try:
                page = self.client.get_log_events(**kwargs)
            except ClientError as exc:
                if _code_and_message(exc)[0] == "ResourceNotFoundException":
                    return lines
                raise aws_error(exc, client=self.client) from exc
            except Exception as exc:
                if _is_boto_error(exc):
                    raise aws_error(exc, client=self.client) from exc
                raise
            lines.extend(str(event.get("message", "")).rstrip("\n") for event in page.get("events") or [])
            token = page.get("nextForwardToken")
            # The end of the stream: the token comes back unchanged (pages may be empty before that).
            done = not token or token == self._token
            self._token = token or self._token
            if done:
                break
        return lines


def follow_task(
    client: Any,
    cluster: str,
    task_arn: str,
    *,
    container: str | None = None,
    tail: LogTail | None = None,
    poll_interval: float = 2.0,
    timeout: float | None = None,
    settle: float = 0.0,
    known_status: str | None = None,
    on_status: Callable[[TaskState], None] = lambda state: None,
    on_lines: Callable[[list[str]], None] = lambda lines: None,
    on_warning: Callable[[str], None] = lambda message: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[TaskState, bool]:
    """Poll the task until it is STOPPED, reporting each status change and the new log lines as they come.

    Returns ``(state, timed_out)``: ``timed_out`` is True when ``timeout`` seconds passed first (the task is
    left running: the caller decides). After STOPPED the log is read to its end, and once more after
    ``settle`` seconds (CloudWatch Logs may show the last lines a moment after the task stopped). A log that
    cannot be read (no permission) is a warning, and the task is still followed. ``known_status`` is the
    status already reported (RunTask's answer), so it is not reported twice."""
    deadline = clock() + timeout if timeout is not None else None
    last_status = known_status

    def read_logs() -> None:
        nonlocal tail
        if tail is None:
            return
        try:
            lines = tail.read()
        except AwsError as error:
            on_warning(f"cannot read the task's logs, no more are shown: {error.message}")
            tail = None
            return
        if lines:
            on_lines(lines)

    started = clock()
    while True:
        try:
            state = describe_task(client, cluster, task_arn, container)
        except TaskNotFound:
            # Just after RunTask, DescribeTasks may not know the task yet: give it a while, not forever.
            if clock() - started > NOT_FOUND_GRACE:
                raise
            sleep(poll_interval)
            continue
        if state.last_status != last_status:
            last_status = state.last_status
            on_status(state)
        read_logs()
        if state.stopped:
            if settle > 0 and tail is not None:
                sleep(settle)
                read_logs()
            return state, False
        now = clock()
        if deadline is not None and now >= deadline:
            return state, True
        sleep(poll_interval if deadline is None else max(0.0, min(poll_interval, deadline - now)))
