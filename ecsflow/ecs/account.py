"""The account the credentials belong to: STS GetCallerIdentity, which every identity may call (no IAM permission
is needed). `diff`, `sync`, `deploy`, `run`, `verify`, `prune` and `init` talk to AWS anyway; this completes what a bare
role name or an `ssm:` shorthand needs when the account setting is not set."""

from __future__ import annotations

from ecsflow.ecs.client import make_client
from ecsflow.ecs.errors import translated
from ecsflow.ecs.options import AwsOptions
from ecsflow.errors import AwsError


def caller_account(options: AwsOptions) -> str:
    """The 12-digit account id of the caller; an ``AwsError`` (no credentials, unreachable...) otherwise."""
    client = make_client("sts", options, 1)
    with translated(client):
        answer = client.get_caller_identity()
    account = str(answer.get("Account") or "")
    if not account.isdigit():
        raise AwsError("STS GetCallerIdentity answered without an account id",
                       hint="set the account setting (x-ecsflow.account, ECSFLOW_ACCOUNT)")
    return account
