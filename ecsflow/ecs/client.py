"""The botocore clients, made from ``AwsOptions`` (``ecsflow.ecs.options``), and ``Ecs``: what the rest of
ecsflow calls instead of a client.

``make_ecs_client`` / ``make_logs_client``: a client from boto3's usual chain (botocore's session: profile,
region, credentials, ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_ECS``, which it honours by itself; an explicit
``endpoint_url`` wins), with botocore's ``adaptive`` retries, so ThrottlingException and 5xx answers are
retried, never reported as drift. An unknown region is refused before any call.

Every client is bounded (``ecsflow.ecs.limits``): connect and read timeouts, and a call that got no answer at
all (timeout, refused or broken connection) is tried ``NO_ANSWER_ATTEMPTS`` times, not ``max_attempts``. A 2xx
answer that is not JSON is an ``UnreadableAnswer``, not an empty result. RegisterTaskDefinition goes through
a client of its own that botocore never retries (``Ecs.register_families``: it is not idempotent).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from ecsflow import __version__
from ecsflow.ecs import definitions, logs, pacing, prune, register, tasks, validate
from ecsflow.ecs.definitions import Ref, RegisterItem
from ecsflow.ecs.errors import UnreadableAnswer, aws_error, credentials_error, translated
from ecsflow.ecs.limits import CONNECT_TIMEOUT, NO_ANSWER_ATTEMPTS, READ_TIMEOUT
from ecsflow.ecs.options import AwsOptions
from ecsflow.ecs.pacing import TokenBucket
from ecsflow.ecs.pool import DEFAULT_CONCURRENCY
from ecsflow.ecs.prune import FamilyRevisions, RevisionResult
from ecsflow.ecs.register import DEFAULT_BACKOFF, Backoff, RegisterOutcome
from ecsflow.ecs.services import Read, Services, read_together
from ecsflow.ecs.shapes import first_mismatch
from ecsflow.ecs.tasks import FollowOptions, LogTail, TaskState
from ecsflow.errors import AwsError


def make_ecs_client(options: AwsOptions, concurrency: int = DEFAULT_CONCURRENCY) -> Any:
    return _client("ecs", options, concurrency)


def make_logs_client(options: AwsOptions, concurrency: int = DEFAULT_CONCURRENCY) -> Any:
    return _client("logs", options, concurrency)


def make_client(service: str, options: AwsOptions, concurrency: int = DEFAULT_CONCURRENCY) -> Any:
    """A client of any AWS service, made as the ECS client is (`ecsflow verify`: ECR, IAM, SSM, ...)."""
    return _client(service, options, concurrency)


def _client(service: str, options: AwsOptions, concurrency: int) -> Any:
    if options.before_connect is not None:
        options.before_connect()
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, CredentialRetrievalError

    config = Config(
        # total_max_attempts counts the first attempt; the "max_attempts" key would count retries only.
        retries={"mode": options.retry_mode, "total_max_attempts": options.max_attempts},
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        # One connection per worker, or urllib3 discards connections and warns "Connection pool is full".
        max_pool_connections=max(10, concurrency),
        user_agent_extra=f"ecsflow/{__version__}",
    )
    try:
        # A fresh session each time (credentials and profile are read again), sharing only the loader of
        # botocore's static data files: parsing the service model and endpoints again costs ~0.1 s a client.
        session = botocore.session.Session(profile=options.profile)
        session.register_component("data_loader", _data_loader(session.get_config_variable("data_path")))
        try:
            # Resolved here (create_client would do it anyway; the session keeps them) to say which profile
            # failed: a credential_process that cannot run raises OSError, one that prints no JSON ValueError.
            session.get_credentials()
        except CredentialRetrievalError as exc:
            raise credentials_error(exc, session.profile) from exc
        except (OSError, ValueError) as exc:
            raise credentials_error(exc, session.profile) from None
        try:
            client = session.create_client(service, region_name=options.region, endpoint_url=options.endpoint_url,
                                           config=config)
        except ValueError as exc:  # botocore: "Invalid endpoint: ..."
            if isinstance(exc, BotoCoreError):  # InvalidRegionError is a ValueError too
                raise
            raise AwsError(f"the endpoint URL {options.endpoint_url or ''} cannot be used: {exc}",
                           hint="give --endpoint-url (or AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECS) as "
                           "http(s)://host[:port]") from None
        _bound(client)
        region = client.meta.region_name
        known = _known_regions(session, service)  # empty for a global service (IAM): its region is aws-global
        if ".amazonaws.com" in client.meta.endpoint_url and known and region not in known:
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


_SERVICE_NAMES = {"ecs": "ECS", "logs": "CloudWatch Logs", "ecr": "ECR", "ssm": "SSM",
                  "secretsmanager": "Secrets Manager", "ec2": "EC2", "sts": "STS",
                  "elasticloadbalancing": "Elastic Load Balancing", "elbv2": "Elastic Load Balancing",
                  "application-autoscaling": "Application Auto Scaling"}


def _bound(client: Any) -> None:
    """Hook the two bounds botocore has no setting for into ``client``'s events (see the module docstring)."""
    event = client.meta.service_model.service_id.hyphenize()
    name = _SERVICE_NAMES.get(client.meta.service_model.endpoint_prefix, "AWS")
    # First: botocore's own retry handler (same event) would otherwise decide on a retry before us.
    client.meta.events.register_first(f"needs-retry.{event}", _give_up_without_answers)
    protocol = client.meta.service_model.protocol
    if protocol in ("json", "query", "ec2"):  # ECS, Logs, ECR, SSM, Secrets Manager; STS, IAM; EC2
        client.meta.events.register_first(f"before-parse.{event}", functools.partial(
            _check_answer, service=name, endpoint_url=client.meta.endpoint_url, xml=protocol != "json"))


def _give_up_without_answers(attempts: int, caught_exception: Exception | None = None, **_: Any) -> None:
    """Stop retrying a call that got no answer at all once it was tried ``NO_ANSWER_ATTEMPTS`` times. Raising
    the attempt's exception is how a botocore handler ends the retries (it is what botocore raises after its
    last attempt); returning None lets botocore's own handler decide, as for answers (throttling, 5xx)."""
    from botocore.exceptions import ConnectionError, HTTPClientError

    if isinstance(caught_exception, ConnectionError | HTTPClientError) and attempts >= NO_ANSWER_ATTEMPTS:
        raise caught_exception


def _check_answer(operation_model: Any, response_dict: Mapping[str, Any], service: str, endpoint_url: str,
                  xml: bool, **_: Any) -> None:
    """A 2xx answer must be the service's: a JSON object (every JSON operation ecsflow calls answers one) of the
    operation's output shape (``ecsflow.ecs.shapes``), or an XML document whose root is ``<OperationResponse>``.
    botocore reads an HTML page or an empty body as an empty JSON answer, fails on a JSON list, on a string
    where an object belongs with an AttributeError, and on HTML in place of XML with a KeyError."""
    import json
    import re

    status = response_dict.get("status_code") or 0
    output = operation_model.output_shape
    if not 200 <= status < 300 or output is None or not output.members:
        return
    body = response_dict.get("body") or b""
    text = bytes(body[:512]).lstrip().lower()
    what = ("an empty body" if not body else
            "an HTML page" if text.startswith((b"<!doctype html", b"<html")) or b"<body" in text else None)
    if xml:
        root = re.match(rb"\s*(?:<\?xml[^>]*\?>\s*)?<([\w:]+)", body[:1024])
        if what is None and root and root.group(1).decode().lower() == f"{operation_model.name}Response".lower():
            return
        what = what or "a document that is not its XML answer"
    else:
        try:
            document = json.loads(body)
            mismatch = first_mismatch(output, document) if isinstance(document, dict) else "not an object"
            if mismatch is None:
                return
            what = f"JSON of another shape ({mismatch})" if isinstance(document, dict) else "JSON that is not an object"
        except ValueError:
            what = what or ("JSON cut short" if text.startswith((b"{", b"[")) else "text that is not JSON")
    raise UnreadableAnswer(service=service, endpoint_url=endpoint_url, operation=operation_model.name,
                           what=f"{what} (HTTP {status}, {len(body)} bytes)", expected="XML" if xml else "JSON")


def _known_regions(session: Any, service: str) -> set[str]:
    return {r for p in session.get_available_partitions() for r in session.get_available_regions(service, p)}


_T = TypeVar("_T")
_data_loader = validate.data_loader  # the one the requests were validated with: the ECS model parsed once


class Ecs:
    """ECS for one command (and CloudWatch Logs for `ecsflow run`): the calls the rest of ecsflow makes, as
    methods that answer plain values and raise ``AwsError`` s, so that no code outside ``ecsflow.ecs`` holds
    a botocore client.

    ``concurrency`` bounds the describe and register pool and sizes the client's connection pool to match.
    """

    def __init__(self, client: Any, options: AwsOptions, concurrency: int = DEFAULT_CONCURRENCY, *,
                 on_done_registering: Callable[[], None] | None = None) -> None:
        self._client = client
        self._on_done_registering = on_done_registering
        self._writer: Any = None  # RegisterTaskDefinition's client, never retried by botocore; made when needed
        # RegisterTaskDefinition paced to ECS's rate (ecsflow.ecs.pacing); the writer takes its tokens.
        self._pacer = TokenBucket(options.register_rate) if options.register_rate else None
        self._logs: dict[str | None, Any] = {}  # CloudWatch Logs clients by region, made when first needed
        self._services: Services | None = None
        self.options = options
        self.concurrency = concurrency

    @classmethod
    def connect(cls, options: AwsOptions, concurrency: int = DEFAULT_CONCURRENCY, *,
                on_done_registering: Callable[[], None] | None = None) -> Ecs:
        return cls(make_ecs_client(options, concurrency), options, concurrency,
                   on_done_registering=on_done_registering)

    def done_registering(self) -> None:
        """This command registers nothing more: the sandbox saves its task definitions now and lets other
        ecsflow processes use it (`ecsflow run`, before its task runs). Nothing to do against AWS."""
        if self._on_done_registering is not None:
            self._on_done_registering()

    # -- task definitions ---------------------------------------------------------------------------------

    def describe_families(self, families: Iterable[str]) -> dict[str, dict | None]:
        """See ``definitions.describe_families``: the live answer per family, None when ECS has none."""
        return definitions.describe_families(self._client, families, self.concurrency)

    def register_families(
        self,
        items: Iterable[RegisterItem],
        on_done: Callable[[RegisterOutcome], None] | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
    ) -> list[RegisterOutcome]:
        """See ``register.register_families``: one outcome per item, failures included; Ctrl-C stops the pace
        at once and raises ``RegistrationInterrupted`` with every item's outcome."""
        if self._writer is None:
            # botocore would retry a RegisterTaskDefinition whose answer was lost, and register twice.
            self._writer = make_ecs_client(replace(self.options, max_attempts=1), self.concurrency)
            pacing.pace(self._writer, self._pacer)
        return register.register_families(self._client, self._writer, items, self.concurrency, on_done, backoff,
                                          on_stop=self._pacer.stop if self._pacer else None)

    def registration_eta(self, count: int) -> Callable[[], float] | None:
        """For a progress bar, while ``count`` families are registered from now on: the seconds until the last
        of them is sent, as the pace allows (None when registrations are not paced)."""
        if self._pacer is None:
            return None
        pacer, taken = self._pacer, self._pacer.taken
        return lambda: pacer.seconds_for(count - (pacer.taken - taken))

    def register_revision(self, request: Mapping[str, Any]) -> int:
        """Register ``request`` as it is, once, and return the revision number (the sandbox's replay)."""
        with translated(self._client):
            return self._client.register_task_definition(**request)["taskDefinition"]["revision"]

    def deregister_revision(self, task_definition: str) -> None:
        with translated(self._client):
            self._client.deregister_task_definition(taskDefinition=task_definition)

    def active_revisions(self) -> list[str]:
        """The ARN of every ACTIVE task definition revision, all families."""
        return self._revisions("ACTIVE")

    def inactive_revisions(self) -> list[str]:
        """The ARN of every INACTIVE (deregistered, not deleted) task definition revision, all families."""
        return self._revisions("INACTIVE")

    def _revisions(self, status: str) -> list[str]:
        with translated(self._client):
            return definitions.revision_arns(self._client, status)

    def as_register_request(self, task_definition: Mapping[str, Any]) -> dict[str, Any]:
        """A described definition as RegisterTaskDefinition kwargs: only the operation's input members (this
        drops the ARN, revision, status, compatibilities, registeredAt, ...), tags kept apart."""
        members = self._client.meta.service_model.operation_model("RegisterTaskDefinition").input_shape.members
        return {k: v for k, v in task_definition.items() if k in members and k != "tags" and v is not None}

    def describe_revision(self, task_definition: str) -> dict | None:
        """DescribeTaskDefinition of one revision (``family:N`` or its ARN), with its tags; None when ECS has
        no such ACTIVE revision (``definitions.describe_definition``)."""
        with translated(self._client):
            return definitions.describe_definition(self._client, task_definition)

    def describe_revisions(self, names: Iterable[str]) -> dict[str, dict | None]:
        """``describe_revision`` of each name, through the bounded pool."""
        return definitions.describe_families(self._client, names, self.concurrency)

    # -- services (`ecsflow deploy`, `diff`, `verify`) ----------------------------------------------------

    def services(self) -> Services:
        """The calls about ECS services (``ecsflow.ecs.services``), on this ECS's client."""
        if self._services is None:
            options, concurrency = self.options, self.concurrency
            self._services = Services(self._client, lambda service: make_client(service, options, concurrency),
                                      concurrency)
        return self._services

    def read_with_services(self, families: Iterable[str], services: Mapping[str, list[str]], *,
                           scalable: bool) -> Read:
        """See ``services.read_together``: the families' and the services' describes in one bounded pool."""
        return read_together(self._client, self.services(), families, services, scalable)

    # -- revisions (`ecsflow prune`) ----------------------------------------------------------------------

    def list_revisions(self, families: Iterable[str], *, inactive: bool = False,
                       managed_only: Callable[[dict[str, str]], bool] | None = None,
                       on_done: Callable[[FamilyRevisions], None] | None = None) -> dict[str, FamilyRevisions]:
        """See ``prune.list_families``: each family's revision numbers and latest tags, or its error."""
        return prune.list_families(self._client, families, inactive=inactive, managed_only=managed_only,
                                   concurrency=self.concurrency, on_done=on_done)

    def family_names(self, prefix: str | None = None) -> list[str]:
        """See ``prune.family_names``: the families with an ACTIVE revision, of ``prefix``."""
        return prune.family_names(self._client, prefix)

    def revisions_in_use(self, cluster: str, *, missing_cluster_ok: bool = False) -> dict[Ref, tuple[str, ...]]:
        """See ``prune.revisions_in_use``: what the cluster's services and tasks use."""
        return prune.revisions_in_use(self._client, cluster, missing_cluster_ok=missing_cluster_ok,
                                      concurrency=self.concurrency)

    def deregister_revisions(self, refs: Iterable[Ref],
                             on_done: Callable[[RevisionResult], None] | None = None) -> list[RevisionResult]:
        return prune.deregister_revisions(self._client, refs, self.concurrency, on_done)

    def delete_revisions(self, refs: Iterable[Ref],
                         on_done: Callable[[RevisionResult], None] | None = None) -> list[RevisionResult]:
        return prune.delete_revisions(self._client, refs, self.concurrency, on_done)

    # -- tasks (`ecsflow run`) ----------------------------------------------------------------------------

    def check_run_request(self, request: Mapping[str, Any]) -> None:
        validate.check_run_request(request)

    def ensure_cluster(self, cluster: str, *, create: bool = False) -> bool:
        return tasks.ensure_cluster(self._client, cluster, create=create)

    def run_task(self, request: Mapping[str, Any], container: str | None = None) -> TaskState:
        return tasks.run_task(self._client, request, container)

    def tasks_started_by(self, cluster: str, started_by: str, desired_status: str = "RUNNING",
                         container: str | None = None) -> list[TaskState]:
        """See ``tasks.tasks_started_by``: the tasks of one startedBy (`run --idempotency-key`), oldest first."""
        return tasks.tasks_started_by(self._client, cluster, started_by, desired_status, container)

    def stop_task(self, cluster: str, task_arn: str, reason: str) -> None:
        tasks.stop_task(self._client, cluster, task_arn, reason)

    def follow_to_end(self, cluster: str, started: TaskState, how: FollowOptions, *, timeout: float | None,
                      stop_timeout: float) -> tuple[TaskState, bool]:
        """See ``tasks.follow_to_end``: ``(state, timed_out)``; the task is stopped on a timeout or an interrupt."""
        return tasks.follow_to_end(self._client, cluster, started, how, timeout=timeout, stop_timeout=stop_timeout)

    def log_tail(self, container_definition: Mapping[str, Any], task_id: str) -> LogTail | None:
        """The reader of the container's awslogs stream; None when it does not log to CloudWatch Logs."""
        target = tasks.log_target(container_definition, task_id)
        if target is None:
            return None
        return LogTail(self._logs_client(target.region), target)

    def _logs_client(self, region: str | None) -> Any:
        region = region or self.options.region
        if region not in self._logs:
            # The endpoint ECS uses (a local endpoint serves both), unless AWS_ENDPOINT_URL_CLOUDWATCH_LOGS
            # says otherwise; the sandbox clears both while open, so there moto's own answers.
            endpoint = os.environ.get("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS") or self.options.endpoint_url
            self._logs[region] = make_logs_client(replace(self.options, region=region, endpoint_url=endpoint),
                                                  self.concurrency)
        return self._logs[region]

    # -- log groups (`log_retention`: sync, run, deploy, diff) ------------------------------------------

    def _logs_clients(self, keys: Iterable[logs.GroupKey]) -> Callable[[str | None], Any]:
        """Each region's client made here, on the calling thread (sessions are not thread-safe)."""
        clients = {region: self._logs_client(region) for _, region in keys}
        return clients.__getitem__

    def describe_log_groups(self, keys: Iterable[logs.GroupKey]) -> dict[logs.GroupKey, Any]:
        """See ``logs.describe_groups``: each (name, region) as a ``LiveGroup``, None when there is none."""
        keys = list(keys)
        return logs.describe_groups(self._logs_clients(keys), keys, self.concurrency) if keys else {}

    def apply_log_groups(self, changes: Iterable[Any]) -> list[logs.GroupOutcome]:
        """See ``logs.apply_changes``: the groups of a ``GroupPlan`` created and given their retention."""
        changes = list(changes)
        client_of = self._logs_clients((c.name, c.region) for c in changes)
        return logs.apply_changes(client_of, changes, self.concurrency)

    def with_log_groups(self, read: Callable[[], _T], keys: Iterable[logs.GroupKey]) -> tuple[_T, dict]:
        """``read()`` and the groups' describes at once: the groups on a thread of their own, so that their
        round trips overlap the families' (no thread when there is no group to read)."""
        keys = list(keys)
        if not keys:
            return read(), {}
        from concurrent.futures import ThreadPoolExecutor

        client_of = self._logs_clients(keys)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ecsflow-logs") as side:
            groups = side.submit(logs.describe_groups, client_of, keys, self.concurrency)
            first = read()
            return first, groups.result()
