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
- ``aws_error``: any boto3/botocore exception as an ``AwsError`` with a hint; never with a secret value.

botocore clients are thread-safe (sessions are not), so one client is made on the calling thread and shared by
the pool's workers. The ``run`` command's calls (run, wait, logs) will live here too; ``make_logs_client``
is their start.
"""

from __future__ import annotations

import functools
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

DEFAULT_CONCURRENCY = 8

# Tags every registered revision carries, so people and tools can tell what ecsflow manages. They are set
# here, not by the caller, so no code path can forget them, and they win over user tags of the same key.
MANAGED_TAG = "ecsflow:managed"
PROJECT_TAG = "ecsflow:project"
SERVICE_TAG = "ecsflow:service"

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
        return AwsError("no AWS region set", hint="pass --region, set AWS_REGION, or set `region` in the AWS profile")
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
            hint="the identity in use needs ecs:DescribeTaskDefinition, ecs:RegisterTaskDefinition, "
            "ecs:TagResource and iam:PassRole on the task and execution roles; check which identity that is "
            "(`aws sts get-caller-identity`, --aws-profile / AWS_PROFILE)",
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
