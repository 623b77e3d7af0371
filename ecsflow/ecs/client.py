"""Clients: where and as whom to call AWS (``AwsOptions``), and the botocore clients made from it.

``make_ecs_client`` / ``make_logs_client``: a client from boto3's usual chain (botocore's session: profile,
region, credentials, ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_ECS``, which it honours by itself; an explicit
``endpoint_url`` wins), with botocore's ``adaptive`` retries, so ThrottlingException and 5xx answers are
retried, never reported as drift. An unknown region is refused before any call.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

from ecsflow import __version__
from ecsflow.ecs.errors import aws_error
from ecsflow.ecs.pool import DEFAULT_CONCURRENCY
from ecsflow.errors import AwsError


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

