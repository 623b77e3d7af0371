"""The boto3 adapter (ecsflow/ecs/) against a real HTTP endpoint: moto's server behind a proxy that counts calls
and injects ECS's error answers (tests/ecs_server.py). The adapter against the sandbox: test_ecs_sandbox.py."""

from __future__ import annotations

import copy
import threading

import pytest
from ecs_requests import DESCRIBE, FAST, REGISTER, build, item, request
from ecs_server import EcsEndpoint

from ecsflow.diff import build_changeset, diff_family
from ecsflow.ecs.client import Ecs, make_ecs_client, make_logs_client
from ecsflow.ecs.definitions import RegisterItem
from ecsflow.ecs.errors import aws_error
from ecsflow.ecs.options import AwsOptions
from ecsflow.ecs.register import Backoff
from ecsflow.errors import AwsError


@pytest.fixture(scope="module")
def server():
    with EcsEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def endpoint(server, aws_env):
    server.reset()
    server.latency = 0.0
    return server


def client_for(endpoint: EcsEndpoint, concurrency: int = 8, **options) -> Ecs:
    return Ecs.connect(AwsOptions(region="us-east-1", endpoint_url=endpoint.url, **options), concurrency)


# ---------------------------------------------------------------------------------------------------------
# describe and register


def test_describe_of_a_missing_family_is_none(endpoint):
    assert client_for(endpoint).describe_families(["nope", "nope"]) == {"nope": None}
    assert endpoint.calls == {DESCRIBE: 1}  # one call per family, even when named twice


def test_register_then_describe_round_trips_and_diffs_unchanged(endpoint):
    client = client_for(endpoint)
    items = [item(1), item(2)]
    outcomes = client.register_families(items)
    assert [(o.family, o.status, o.revision) for o in outcomes] == [("fam-1", "registered", 1),
                                                                    ("fam-2", "registered", 1)]
    assert outcomes[0].arn == "arn:aws:ecs:us-east-1:123456789012:task-definition/fam-1:1"

    live = client.describe_families(["fam-1", "fam-2"])
    assert {t["key"]: t["value"] for t in live["fam-1"]["tags"]} == {
        "team": "data", "ecsflow:managed": "true", "ecsflow:project": "etl", "ecsflow:service": "s1"}
    for i in items:
        assert diff_family(i.service, i.family, dict(i.request), live[i.family]).status == "unchanged"
    changed = diff_family("s1", "fam-1", request("fam-1", image="acme/api:2.1"), live["fam-1"])
    assert changed.status == "changed"
    assert [c.path for c in changed.changes] == ["containers[api].image"]


def test_sync_twice_registers_nothing_the_second_time(endpoint):
    client = client_for(endpoint)
    items = [item(n) for n in range(12)]

    def sync() -> list:
        live = client.describe_families([i.family for i in items])
        changeset = build_changeset((i.service, i.family, dict(i.request), live[i.family]) for i in items)
        todo = [i for i, f in zip(items, changeset.families, strict=True) if f.status != "unchanged"]
        return client.register_families(todo)

    assert len(sync()) == 12
    endpoint.reset_counts()
    assert sync() == []
    assert endpoint.calls == {DESCRIBE: 12}


def test_the_registered_revision_has_the_builders_tags_and_the_request_is_sent_as_it_is(endpoint):
    # The ecsflow:* tags live in the builder (ecsflow.taskdef); the adapter adds nothing.
    built = build("shop", "web", {"tags": {"team": "b", "cost": "42"}}, image="acme/web:1")
    sent = copy.deepcopy(built.request)
    client = client_for(endpoint)
    [outcome] = client.register_families([RegisterItem(built.service, built.family, built.request)])
    assert outcome.status == "registered"
    live = client.describe_families([built.family])[built.family]
    assert sorted(live["tags"], key=lambda tag: tag["key"]) == [
        {"key": "cost", "value": "42"}, {"key": "ecsflow:managed", "value": "true"},
        {"key": "ecsflow:project", "value": "shop"}, {"key": "ecsflow:service", "value": "web"},
        {"key": "team", "value": "b"}]
    assert built.request == sent  # the caller's request is not changed
    with pytest.raises(ValueError, match="not 'other'"):
        RegisterItem("web", "other", {"family": "shop-web"})


# ---------------------------------------------------------------------------------------------------------
# retries


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 400), ("ServerException", 500),
                                              ("ServiceUnavailableException", 503)])
def test_throttling_and_5xx_of_reads_are_retried_by_botocore(endpoint, no_retry_waits, code, status):
    assert client_for(endpoint).register_families([item(1)])[0].revision == 1
    fault = endpoint.fail(DESCRIBE, code, "Rate exceeded", status=status, times=2)
    assert client_for(endpoint).describe_families(["fam-1"])["fam-1"]["taskDefinition"]["revision"] == 1
    assert fault.hits == 2 and endpoint.calls[DESCRIBE] == 3


def test_throttled_registration_is_retried_here_not_by_botocore(endpoint, no_retry_waits):
    # A 4xx answer means ECS did not act: sent again, with our backoff, and nothing is described.
    fault = endpoint.fail(REGISTER, "ThrottlingException", "Rate exceeded", times=3)
    outcomes = client_for(endpoint).register_families([item(1)], backoff=FAST)
    assert (outcomes[0].status, outcomes[0].revision, outcomes[0].note) == ("registered", 1, None)
    assert fault.hits == 3 and endpoint.calls == {REGISTER: 4}


@pytest.mark.parametrize(("code", "status"), [("ServerException", 500), ("ServiceUnavailableException", 503)])
def test_a_5xx_registration_is_described_before_it_is_sent_again(endpoint, code, status):
    # ECS may have acted before failing: each 5xx is followed by a describe; here it had not acted.
    fault = endpoint.fail(REGISTER, code, "try again", status=status, times=3)
    outcomes = client_for(endpoint).register_families([item(1)], backoff=FAST)
    assert (outcomes[0].status, outcomes[0].revision) == ("registered", 1)
    assert fault.hits == 3 and endpoint.calls == {REGISTER: 4, DESCRIBE: 3}


def test_throttling_that_never_ends_is_a_failed_outcome_with_a_hint(endpoint, no_retry_waits):
    endpoint.fail(REGISTER, "ThrottlingException", "Rate exceeded", family="fam-1")
    outcomes = client_for(endpoint).register_families([item(1), item(2)], backoff=FAST)
    assert [o.status for o in outcomes] == ["failed", "registered"]
    assert "throttling RegisterTaskDefinition" in outcomes[0].error and "--concurrency" in outcomes[0].error
    assert endpoint.calls[REGISTER] == FAST.attempts + 1


@pytest.mark.slow
def test_throttling_is_retried_with_botocores_real_waits(endpoint):
    endpoint.fail(REGISTER, "ThrottlingException", "Rate exceeded", times=1)
    assert client_for(endpoint).register_families([item(1)])[0].status == "registered"
    assert endpoint.calls[REGISTER] == 2


def test_too_many_concurrent_attempts_is_retried_with_backoff(endpoint):
    message = "Too many concurrent attempts to create a new revision of the specified family."
    fault = endpoint.fail(REGISTER, "ClientException", message, times=2)
    outcomes = client_for(endpoint).register_families([item(1)], backoff=FAST)
    assert outcomes[0].status == "registered"
    # botocore does not retry this ClientException itself: each of our attempts is one HTTP call.
    assert fault.hits == 2 and endpoint.calls[REGISTER] == 3

    endpoint.fail(REGISTER, "ClientException", message, family="fam-2")
    outcomes = client_for(endpoint).register_families([item(2)], backoff=FAST)
    assert outcomes[0].status == "failed" and "Too many concurrent attempts" in outcomes[0].error
    assert endpoint.calls[REGISTER] == 3 + FAST.attempts


def test_backoff_delays_grow_with_jitter_and_stop_at_the_cap():
    backoff = Backoff(attempts=6, base=0.5, cap=8.0)
    for retry, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        delays = {backoff.delay(retry) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays) and len(delays) > 1


# ---------------------------------------------------------------------------------------------------------
# failures and concurrency


def test_a_failing_family_does_not_stop_the_others(endpoint):
    endpoint.fail(REGISTER, "ClientException", "Family is being deleted.", family="fam-3")
    # moto (like ECS for EC2) wants a memory setting
    bad = RegisterItem("s5", "fam-5", {"family": "fam-5", "containerDefinitions": [{"name": "x", "image": "x"}]})
    items = [item(1), item(2), item(3), item(4), bad, item(6)]
    seen = []

    def on_done(outcome):
        assert threading.current_thread() is threading.main_thread()  # safe for a progress bar
        seen.append(outcome)

    outcomes = client_for(endpoint, concurrency=3).register_families(items, on_done=on_done)
    assert [(o.family, o.status) for o in outcomes] == [
        ("fam-1", "registered"), ("fam-2", "registered"), ("fam-3", "failed"), ("fam-4", "registered"),
        ("fam-5", "failed"), ("fam-6", "registered")]
    assert outcomes[2].error == "RegisterTaskDefinition: ClientException: Family is being deleted."
    assert "memory" in outcomes[4].error and outcomes[4].revision is None
    assert sorted(o.family for o in seen) == sorted(i.family for i in items)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_concurrency_is_bounded(endpoint, concurrency):
    endpoint.latency = 0.02
    client = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url=endpoint.url), concurrency=concurrency)
    items = [item(n) for n in range(8)]
    client.describe_families([i.family for i in items])
    client.register_families(items)
    assert endpoint.calls == {DESCRIBE: 8, REGISTER: 8}
    # Bounded, and really used: with 20 ms per call, calls overlap whenever the pool lets them.
    assert endpoint.max_in_flight == concurrency


def test_describe_errors_stop_the_call_as_an_aws_error(endpoint):
    endpoint.fail(DESCRIBE, "AccessDeniedException",
                  "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: ecs:DescribeTaskDefinition")
    with pytest.raises(AwsError) as err:
        client_for(endpoint, concurrency=2).describe_families([f"fam-{n}" for n in range(30)])
    assert err.value.message.startswith("AWS denied DescribeTaskDefinition in us-east-1: User: arn:aws:iam::")
    assert "ecs:RegisterTaskDefinition" in err.value.hint and "AWS_PROFILE" in err.value.hint
    assert endpoint.calls[DESCRIBE] < 30  # the rest was cancelled


# ---------------------------------------------------------------------------------------------------------
# error translation


@pytest.mark.parametrize(("code", "message", "expected", "hint"), [
    ("AccessDeniedException", "not authorized", "AWS denied RegisterTaskDefinition", "iam:PassRole"),
    ("UnrecognizedClientException", "The security token included in the request is invalid.",
     "AWS did not accept the credentials (UnrecognizedClientException)", "--aws-profile"),
    ("ExpiredTokenException", "The security token included in the request is expired",
     "the AWS credentials have expired (ExpiredTokenException)", "aws sso login"),
])
def test_refusals_become_aws_errors_with_hints(endpoint, code, message, expected, hint):
    endpoint.fail(REGISTER, code, message)
    outcome = client_for(endpoint).register_families([item(1)])[0]
    assert outcome.status == "failed" and outcome.error.startswith(expected) and hint in outcome.error


def test_missing_credentials(endpoint, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup on a CI runner
    with pytest.raises(AwsError) as err:
        client_for(endpoint).describe_families(["fam-1"])
    assert err.value.message == "no AWS credentials found"
    assert "AWS_PROFILE" in err.value.hint and "--aws-profile" in err.value.hint and "--sandbox" in err.value.hint
    assert endpoint.calls == {}


def test_unknown_profile_and_missing_region(aws_env, monkeypatch):
    with pytest.raises(AwsError, match="AWS profile 'nope' not found") as err:
        make_ecs_client(AwsOptions(region="us-east-1", profile="nope"))
    assert "--aws-profile" in err.value.hint
    with pytest.raises(AwsError, match="no AWS region set") as err:
        make_logs_client(AwsOptions())
    assert "--region" in err.value.hint and "AWS_REGION" in err.value.hint


def test_unreachable_endpoint_and_unknown_region(aws_env):
    closed = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url="http://127.0.0.1:9", max_attempts=1))
    with pytest.raises(AwsError, match=r"cannot reach ECS at http://127.0.0.1:9/: Connection refused") as err:
        closed.describe_families(["fam-1"])
    assert "--endpoint-url" in err.value.hint
    # An unknown region is refused before any call (its host would not resolve, after seconds of retries)...
    with pytest.raises(AwsError, match="'mars-east-1' is not an AWS region where ECS exists") as err:
        make_ecs_client(AwsOptions(region="mars-east-1"))
    assert "--region" in err.value.hint
    # ... unless a custom endpoint is used,
    assert make_ecs_client(AwsOptions(region="mars-east-1", endpoint_url="http://127.0.0.1:9"))
    # and a connection error to AWS's host names the region.
    from botocore.exceptions import EndpointConnectionError

    exc = EndpointConnectionError(endpoint_url="https://ecs.mars-east-1.amazonaws.com/")
    error = aws_error(exc, AwsOptions(region="mars-east-1"))
    assert "'mars-east-1' is a region where ECS exists" in error.hint
    with pytest.raises(AwsError, match="'no region!' is not an AWS region name"):
        make_ecs_client(AwsOptions(region="no region!"))


def test_validation_errors_do_not_quote_values(aws_env):
    client = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url="http://127.0.0.1:9"))
    bad = {"family": "f", "containerDefinitions": [{"name": "x", "environment": [{"name": "K", "value": 12345}]}]}
    outcome = client.register_families([RegisterItem("s", "f", bad)])[0]
    assert outcome.status == "failed" and "containerDefinitions[0].environment[0].value" in outcome.error
    assert "12345" not in outcome.error


def test_endpoint_from_the_environment_and_explicit_endpoint_wins(endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", endpoint.url)
    client = Ecs.connect(AwsOptions(region="us-east-1"))
    assert client.describe_families(["fam-1"]) == {"fam-1": None} and endpoint.calls == {DESCRIBE: 1}
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", "http://127.0.0.1:9")
    assert client_for(endpoint).describe_families(["fam-1"]) == {"fam-1": None}
    assert endpoint.calls == {DESCRIBE: 2}


# ---------------------------------------------------------------------------------------------------------
# the benchmarks


@pytest.mark.slow
def test_benchmark_smoke_run():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"
    result = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "| 10 | 8 | 20 | second | 10 | 0 |" in result.stdout
