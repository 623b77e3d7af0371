"""boto3/botocore exceptions and ECS's error answers as ``AwsError`` s: one message and a hint, never a secret.

- ``aws_error``: any boto3/botocore exception as an ``AwsError``; ``translated`` does it for a block of calls;
  ``credentials_error``: a credential provider (a profile's ``credential_process``) that failed;
- ``UnreadableAnswer``: a 2xx answer that is not the service's JSON (an HTML page, an empty or cut body);
  ``unreadable_answer``: an ECS answer without what it must hold (a task definition's revision, a task's ARN);
- ``is_missing_family``, ``is_concurrent_revision``, ``is_throttling``: the ``ClientException`` s and
  throttling answers the adapter handles itself; ``never_sent`` and ``is_ambiguous``: whether a failed
  call may have been carried out (what RegisterTaskDefinition, which is not idempotent, must know);
- ``run_failures_error``: a RunTask answer without a task (its ``failures``), with what to do about each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError

from ecsflow.ecs.limits import CONNECT_TIMEOUT, NO_ANSWER_ATTEMPTS, READ_TIMEOUT
from ecsflow.errors import AwsError

if TYPE_CHECKING:
    from ecsflow.ecs.options import AwsOptions

# What real ECS and moto answer for a family (or family:revision) with no ACTIVE revision:
# ClientException, HTTP 400, "Unable to describe task definition." (real ECS: the error quoted in
# strvcom/terraform-aws-fargate#45 and terraform-aws-modules/terraform-aws-atlantis#59; moto 5:
# moto/ecs/exceptions.py TaskDefinitionNotFoundException). Matched without the final period.
_MISSING_FAMILY = "unable to describe task definition"
# Real ECS, when another RegisterTaskDefinition of the same family is in progress (ClientException, 400;
# quoted in hashicorp/terraform-provider-aws#9777, dagster-io/dagster#11192). botocore does not retry it.
_CONCURRENT_REVISION = "too many concurrent attempts to create a new revision"

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
_PRUNE_PERMISSIONS = ("ecs:ListTaskDefinitions, ecs:DescribeTaskDefinition, ecs:ListServices, "
                      "ecs:DescribeServices, ecs:ListTasks, ecs:DescribeTasks, ecs:DeregisterTaskDefinition (and "
                      "ecs:DeleteTaskDefinitions for --delete)")
_DEPLOY_PERMISSIONS = ("ecs:DescribeServices, ecs:CreateService, ecs:UpdateService, ecs:TagResource, "
                       "ecs:UntagResource, ecs:ListTasks, ecs:DescribeTasks, iam:PassRole on the roles, "
                       "application-autoscaling:DescribeScalableTargets and elasticloadbalancing:DescribeTargetGroups "
                       "(docs/how-to/deploy.md)")
_PERMISSIONS = {
    **{op: _RUN_PERMISSIONS for op in ("RunTask", "DescribeTasks", "StopTask", "DescribeClusters")},
    **{op: _DEPLOY_PERMISSIONS for op in ("CreateService", "UpdateService", "TagResource", "UntagResource")},
    "GetLogEvents": "logs:GetLogEvents on the task's log group",
    **{op: _PRUNE_PERMISSIONS for op in ("ListTaskDefinitions", "ListServices", "DescribeServices", "ListTasks",
                                         "DeregisterTaskDefinition", "DeleteTaskDefinitions")},
    # `ecsflow verify`: each check needs its own read-only permission, and no other.
    **{op: f"{service}:{op}" for service, op in (
        ("ecr", "DescribeImages"), ("iam", "GetRole"), ("ssm", "DescribeParameters"),
        ("secretsmanager", "DescribeSecret"), ("logs", "DescribeLogGroups"), ("ec2", "DescribeSubnets"),
        ("ec2", "DescribeSecurityGroups"), ("application-autoscaling", "DescribeScalableTargets"),
        ("elasticloadbalancing", "DescribeTargetGroups"))},
}
_CREDENTIALS_HINT = (
    "choose credentials with --aws-profile or AWS_PROFILE (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), "
    "or try --sandbox to use a local ECS that needs no AWS account"
)
# botocore's ParamValidationError quotes the offending value ("..., value: s3cret, type: ..."): drop it, as
# it may be an environment value.
_QUOTED_VALUE = re.compile(r"value: .*?, type:", re.DOTALL)
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


class UnreadableAnswer(BotoCoreError):
    """A 2xx answer whose body is not the service's JSON: a proxy's or captive portal's HTML page, an empty
    body, JSON cut short. botocore would parse it as an empty answer (or fail on a JSON list)."""

    fmt = "{service} at {endpoint_url} answered {operation} with {what}, not {service}'s {expected}"


def unreadable_answer(client: Any, operation: str, what: str) -> UnreadableAnswer:
    """An ECS answer to ``operation`` that lacks what every such answer holds (``what``: "a task without its
    taskArn"); the shape of the rest is checked before botocore parses it (``ecsflow.ecs.shapes``)."""
    return UnreadableAnswer(service="ECS", endpoint_url=client.meta.endpoint_url, operation=operation, what=what,
                            expected="JSON")


_TIMES = {1: "once", 2: "twice"}


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
    if isinstance(exc, bx.CredentialRetrievalError):
        return credentials_error(exc, options.profile if options else None)
    if isinstance(exc, UnreadableAnswer):
        return AwsError(str(exc), hint="check --endpoint-url / AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECS: a proxy, "
                        "a login page or another service answered instead of AWS")
    if isinstance(exc, bx.ConnectionError | bx.HTTPClientError):
        return _unreachable(exc, region, client)
    if isinstance(exc, bx.ParamValidationError):
        return AwsError(f"invalid request: {_QUOTED_VALUE.sub('type:', str(exc))}")
    if isinstance(exc, bx.ClientError):
        return _client_error(exc, region, client)
    if isinstance(exc, bx.BotoCoreError):
        return AwsError(str(exc))
    if type(exc).__name__ == "ResponseParserError":
        return AwsError(f"cannot read the answer of {_service_of(client)}: {_first_line(str(exc))}",
                        hint="check --endpoint-url / AWS_ENDPOINT_URL: is it AWS that answers?")
    return AwsError(f"{type(exc).__name__}: {exc}")


@contextmanager
def translated(client: Any = None) -> Iterator[None]:
    """Raise any boto3/botocore exception of the block as its ``aws_error``; other exceptions pass as they are."""
    try:
        yield
    except Exception as exc:
        if is_boto_error(exc):
            raise aws_error(exc, client=client) from exc
        raise


def credentials_error(exc: BaseException, profile: str | None) -> AwsError:
    """A credential provider failed: name the profile and the reason, never the provider's output (it would
    hold the keys). ``exc`` is botocore's CredentialRetrievalError, or what running a ``credential_process``
    raised: OSError (it cannot be run), ValueError (its output is not JSON, or its command line does not
    parse)."""
    from botocore.exceptions import CredentialRetrievalError

    who = f"AWS profile '{profile or 'default'}'"
    hint = ("run the profile's credential_process by hand to see what it says, or choose other credentials "
            "with --aws-profile / AWS_PROFILE")
    if isinstance(exc, CredentialRetrievalError):
        provider = exc.kwargs.get("provider") or "a credential provider"
        reason = _first_line(str(exc.kwargs.get("error_msg") or ""))
        if provider == "custom-process":
            return AwsError(f"the credential_process of {who} failed: {reason or 'no reason given'}", hint=hint)
        return AwsError(f"cannot get credentials for {who} from {provider}: {reason or 'no reason given'}",
                        hint=_CREDENTIALS_HINT)
    if isinstance(exc, OSError):
        what = f"{exc.strerror or type(exc).__name__}" + (f": {exc.filename}" if exc.filename else "")
        return AwsError(f"the credential_process of {who} cannot be run ({what})", hint=hint)
    if type(exc).__name__ == "JSONDecodeError":
        return AwsError(f"the credential_process of {who} did not print the JSON that AWS expects "
                        "(Version 1, AccessKeyId, SecretAccessKey, ...)", hint=hint)
    return AwsError(f"the credential_process of {who} cannot be used: {_first_line(str(exc))}", hint=hint)


def _first_line(text: str, limit: int = 200) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    # botocore prefixes the provider's own words with this; the provider is named already.
    line = re.sub(r"^Error when retrieving credentials from [\w-]+: ", "", line)
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _client_error(exc: Any, region: str | None, client: Any = None) -> AwsError:
    code, message = code_and_message(exc)
    operation = getattr(exc, "operation_name", None) or "AWS call"
    where = f" in {region}" if region else ""
    status = http_status(exc)
    if code.isdigit() and status is not None:
        # No AWS error code: the body was not AWS's error JSON (a proxy's or a load balancer's page).
        url = f" at {client.meta.endpoint_url}" if client is not None else ""
        return AwsError(f"{_service_of(client)}{url} answered {operation} with HTTP {status} "
                        f"({message or 'no message'}), not an AWS error",
                        hint="a proxy or load balancer answered: try again in a minute; check --endpoint-url / "
                        "AWS_ENDPOINT_URL and the network")
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


def _unreachable(exc: Any, region: str | None, client: Any = None) -> AwsError:
    from botocore import exceptions as bx

    service = _service_of(client)
    url = exc.kwargs.get("endpoint_url") or (client.meta.endpoint_url if client is not None else "")
    if region and f".{region}.amazonaws.com" in url:
        hint = f"check that '{region}' is a region where ECS exists (--region / AWS_REGION), and the network"
    else:
        hint = "check --endpoint-url / AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECS, --region, and the network"
    tried = f"tried {_TIMES.get(NO_ANSWER_ATTEMPTS, f'{NO_ANSWER_ATTEMPTS} times')}"
    if isinstance(exc, bx.ReadTimeoutError):
        return AwsError(f"{service} at {url} did not answer within {READ_TIMEOUT:g} s ({tried})", hint=hint)
    if isinstance(exc, bx.ConnectTimeoutError):
        return AwsError(f"cannot connect to {service} at {url} within {CONNECT_TIMEOUT:g} s ({tried})", hint=hint)
    if isinstance(exc, bx.ConnectionClosedError):
        return AwsError(f"{service} at {url} closed the connection before answering ({tried})", hint=hint)
    name = "the AWS endpoint" if service == "AWS" else service
    reason = _ERRNO.search(str(exc.kwargs.get("error") or ""))
    return AwsError(f"cannot reach {name} at {url}: {reason.group(1) if reason else type(exc).__name__}", hint=hint)


# The OS's words in urllib3's connection errors: "... [Errno 111] Connection refused".
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\])]+)")


def _service_of(client: Any) -> str:
    """The service's name for a client ("ECS", "CloudWatch Logs", "STS", ...), "AWS" when unknown."""
    try:
        return str(client.meta.service_model.service_id)
    except AttributeError:
        return "AWS"


def one_line(error: AwsError) -> str:
    """An ``AwsError`` as one line of a report (an outcome, a check): its message and its hint."""
    return f"{error.message} (hint: {error.hint})" if error.hint else error.message


def is_session_error(exc: BaseException) -> bool:
    """True for an error about the session rather than the call (no or bad credentials, an endpoint that
    cannot be reached): every other call would fail alike, so it ends the command instead of one check."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        return code_and_message(exc)[0] in _BAD_CREDENTIALS | _EXPIRED
    return isinstance(exc, BotoCoreError)


def code_and_message(exc: BaseException) -> tuple[str, str]:
    """AWS's error code and message from a ``ClientError``; two empty strings for anything else."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return "", ""
    error = response.get("Error") or {}
    return str(error.get("Code") or ""), str(error.get("Message") or "")


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of a ``ClientError``'s answer; None when there was no answer."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    return int(status) if isinstance(status, int) else None


def is_boto_error(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    return isinstance(exc, BotoCoreError | ClientError | ResponseParserError)


def never_sent(exc: BaseException) -> bool:
    """True when the request cannot have reached AWS: the connection was never made (refused, no route, DNS,
    TLS handshake, connect timeout), or botocore refused the request itself (validation, credentials)."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ConnectionError):
        return True
    return isinstance(exc, BotoCoreError) and not isinstance(exc, bx.HTTPClientError | UnreadableAnswer)


def lost_answer_reason(exc: BaseException) -> str:
    """What went wrong with a call that may have been carried out, in a few words."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ReadTimeoutError):
        return f"no answer within {READ_TIMEOUT:g} s"
    if isinstance(exc, bx.ConnectionClosedError):
        return "a connection closed before the answer"
    if isinstance(exc, UnreadableAnswer):
        return f"{exc.kwargs.get('what')} instead of ECS's {exc.kwargs.get('expected', 'JSON')}"
    if isinstance(exc, bx.ClientError):
        code, _ = code_and_message(exc)
        return f"an HTTP {http_status(exc)} answer" + (f" ({code})" if code and not code.isdigit() else "")
    return f"no usable answer ({type(exc).__name__})"


def is_ambiguous(exc: BaseException) -> bool:
    """True when AWS may have carried out the call although it failed: the request was sent and no usable
    answer came back (read timeout, connection closed, an unreadable answer), or a 5xx answer (the service
    failed somewhere, maybe after acting). A 4xx answer (throttling included) means AWS did not act."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        status = http_status(exc)
        return status is None or status >= 500
    return is_boto_error(exc) and not never_sent(exc)


def is_missing_family(exc: BaseException) -> bool:
    """True for the ClientException ECS answers when a family has no ACTIVE revision."""
    code, message = code_and_message(exc)
    return code == "ClientException" and _MISSING_FAMILY in message.lower()


def is_concurrent_revision(exc: BaseException) -> bool:
    """True for the ClientException ECS answers while another revision of the family is being registered."""
    code, message = code_and_message(exc)
    return code == "ClientException" and _CONCURRENT_REVISION in message.lower()


def is_throttling(exc: BaseException) -> bool:
    return code_and_message(exc)[0] in _THROTTLED


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
