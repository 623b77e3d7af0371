"""Faults and races against a real HTTP endpoint (tests/ecs_server.py: moto behind a proxy that drops answers,
never answers, answers garbage, or holds calls until two processes have made them), through the adapter and
through real `ecsflow` processes: no duplicate revision, bounded time, one clear error."""

from __future__ import annotations

import json
import os
import sys
import time

import boto3
import pytest
from botocore.config import Config
from cli_runner import clean_env, ecsflow, ecsflow_process, ecsflow_started
from ecs_requests import DESCRIBE, FAST, REGISTER, item, request
from ecs_server import EcsEndpoint

from ecsflow.ecs import client as ecs_client
from ecsflow.ecs import errors as ecs_errors
from ecsflow.ecs.client import Ecs
from ecsflow.ecs.converge import deduplicate
from ecsflow.ecs.definitions import RegisterItem
from ecsflow.ecs.options import AwsOptions
from ecsflow.errors import AwsError

LIST, DEREGISTER = "ListTaskDefinitions", "DeregisterTaskDefinition"
HTML = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>corporate proxy</body></html>"
# What a proxy, a load balancer or a broken network answers instead of ECS.
GARBAGE = {
    "html": dict(kind="raw", body=HTML, status=200, content_type="text/html"),
    "empty": dict(kind="raw", body=b"", status=200),
    "truncated": dict(kind="raw", body=b'{"taskDefinition": {"family": "etl-ex', status=200),
    "cut": dict(kind="cut", body=b'{"taskDefinition": {"family": "etl-ex', status=200),
    "list": dict(kind="raw", body=b"[]", status=200),
}


@pytest.fixture(scope="module")
def server():
    with EcsEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def endpoint(server, monkeypatch, tmp_path):
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    server.reset()
    return server


@pytest.fixture
def short_timeouts(monkeypatch):
    """A silent endpoint costs READ_TIMEOUT an attempt: 1 s here (the slow tests use the real 25 s)."""
    monkeypatch.setattr(ecs_client, "READ_TIMEOUT", 1.0)
    monkeypatch.setattr(ecs_errors, "READ_TIMEOUT", 1.0)


def connect(endpoint) -> Ecs:
    return Ecs.connect(AwsOptions(region="us-east-1", endpoint_url=endpoint.url))


def active(endpoint, family: str, region: str = "us-east-1") -> list[int]:
    """The family's ACTIVE revision numbers (a call the endpoint counts too)."""
    ecs = boto3.client("ecs", region_name=region, endpoint_url=endpoint.url)
    arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
    return sorted(int(arn.rsplit(":", 1)[1]) for arn in arns)


# ---------------------------------------------------------------------------------------------------------
# RegisterTaskDefinition is never retried blindly


LOST = {
    "connection closed": dict(kind="drop"),
    "HTTP 500": dict(kind="error", code="InternalError", message="We encountered an internal error", status=500),
    "HTML page": GARBAGE["html"],
    "empty body": GARBAGE["empty"],
    "truncated JSON": GARBAGE["truncated"],
    "body cut short": GARBAGE["cut"],
    "no answer": dict(kind="hang"),
}


@pytest.mark.parametrize("fault", LOST.values(), ids=LOST.keys())
def test_a_registration_whose_answer_is_lost_is_described_not_sent_again(endpoint, short_timeouts, fault):
    endpoint.fail(REGISTER, forward=True, times=1, **fault)  # ECS registers; the answer never arrives whole
    [outcome] = connect(endpoint).register_families([item(1)], backoff=FAST)
    assert (outcome.status, outcome.revision) == ("registered", 1), outcome.error
    assert outcome.note.startswith("the answer to RegisterTaskDefinition was lost (")
    assert "ECS holds this content as fam-1:1 (registered by this run or a concurrent one)" in outcome.note
    assert endpoint.calls == {REGISTER: 1, DESCRIBE: 1}  # one describe decides; nothing is sent twice
    assert active(endpoint, "fam-1") == [1]


def test_botocore_alone_would_register_twice(endpoint):
    """The fault is real: a client with botocore's usual retries registers the same definition twice."""
    endpoint.fail(REGISTER, kind="drop", forward=True, times=1)
    plain = boto3.client("ecs", region_name="us-east-1", endpoint_url=endpoint.url,
                         config=Config(retries={"mode": "standard", "total_max_attempts": 3}))
    plain.register_task_definition(**request("fam-1"))
    assert active(endpoint, "fam-1") == [1, 2]


def test_a_lost_request_that_ecs_never_saw_is_sent_again_once_described(endpoint):
    endpoint.fail(REGISTER, kind="drop", times=1)  # not forwarded: ECS did nothing
    [outcome] = connect(endpoint).register_families([item(1)], backoff=FAST)
    assert (outcome.status, outcome.revision, outcome.note) == ("registered", 1, None)
    assert endpoint.calls == {REGISTER: 2, DESCRIBE: 1}
    assert active(endpoint, "fam-1") == [1]


def test_when_ecs_cannot_be_asked_the_outcome_says_it_may_have_been_registered(endpoint):
    """A network cut right after the request: the answer is lost and the describe fails too."""
    endpoint.fail(REGISTER, kind="drop", forward=True, times=1)
    endpoint.fail(DESCRIBE, kind="drop")
    [outcome] = connect(endpoint).register_families([item(1)], backoff=FAST)
    assert outcome.status == "failed"
    assert "fam-1 may have been registered" in outcome.error and "run `ecsflow diff`" in outcome.error
    assert "closed the connection before answering (tried twice)" in outcome.error
    assert endpoint.calls == {REGISTER: 1, DESCRIBE: 2}
    assert active(endpoint, "fam-1") == [1]  # it was


def test_a_connection_that_is_never_made_says_not_registered(endpoint):
    closed = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url="http://127.0.0.1:9"))
    [outcome] = closed.register_families([item(1)], backoff=FAST)
    assert outcome.status == "failed"
    assert outcome.error.startswith("cannot reach ECS at http://127.0.0.1:9/: Connection refused (not registered)")


def test_a_silent_endpoint_fails_clearly_within_the_bound(endpoint, short_timeouts):
    endpoint.fail(DESCRIBE, kind="hang")
    started = time.monotonic()
    with pytest.raises(AwsError) as err:
        connect(endpoint).describe_families(["fam-1", "fam-2"])
    assert time.monotonic() - started < 5  # two attempts of 1 s, in parallel for both families
    assert err.value.message == f"ECS at {endpoint.url}/ did not answer within 1 s (tried twice)"
    assert endpoint.calls[DESCRIBE] == 4


@pytest.mark.parametrize("kind", GARBAGE, ids=GARBAGE.keys())
def test_garbage_answers_are_one_clear_error(endpoint, kind):
    endpoint.fail(DESCRIBE, **GARBAGE[kind])
    with pytest.raises(AwsError) as err:
        connect(endpoint).describe_families(["fam-1"])
    what = {"html": "an HTML page", "empty": "an empty body", "truncated": "JSON cut short", "cut": "JSON cut short",
            "list": "JSON that is not an object"}[kind]
    assert err.value.message.startswith(f"ECS at {endpoint.url} answered DescribeTaskDefinition with {what} (HTTP 200")
    assert err.value.message.endswith("not ECS's JSON") and "--endpoint-url" in err.value.hint
    assert "corporate proxy" not in err.value.message  # the page itself is not printed


def test_garbage_instead_of_xml_is_a_clear_error_too(endpoint):
    """`verify` also calls services that answer XML (STS, IAM, EC2): an HTML page there is no KeyError."""
    from ecsflow.ecs.client import make_client
    from ecsflow.ecs.errors import translated

    endpoint.fail("POST /", **GARBAGE["html"])  # the query protocol has no X-Amz-Target
    sts = make_client("sts", AwsOptions(region="us-east-1", endpoint_url=endpoint.url))
    with pytest.raises(AwsError) as err, translated(sts):
        sts.get_caller_identity()
    assert err.value.message == (f"STS at {endpoint.url} answered GetCallerIdentity with an HTML page (HTTP 200, "
                                 f"{len(HTML)} bytes), not STS's XML")


def test_an_error_page_instead_of_an_aws_error_is_said_so(endpoint, monkeypatch):
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    endpoint.fail(DESCRIBE, kind="raw", body=b"<html><title>502 Bad Gateway</title></html>", status=502,
                  content_type="text/html")
    with pytest.raises(AwsError) as err:
        connect(endpoint).describe_families(["fam-1"])
    assert err.value.message == (f"ECS at {endpoint.url} answered DescribeTaskDefinition with HTTP 502 (Bad Gateway), "
                                 "not an AWS error")
    assert endpoint.calls[DESCRIBE] == 10  # a 5xx is retried: the proxy may be back a second later


# ---------------------------------------------------------------------------------------------------------
# races converge to one ACTIVE revision per content


def test_the_later_of_two_racing_registrations_removes_its_duplicate(endpoint):
    ecs = connect(endpoint)
    # Both runs described the family when it had no revision (live_revision None), both register.
    [first] = ecs.register_families([item(1)])
    endpoint.reset_counts()
    [second] = ecs.register_families([item(1)])
    assert (first.revision, first.note) == (1, None)
    assert second.revision == 1 and second.arn.endswith(":task-definition/fam-1:1")
    assert second.note == ("fam-1:1 holds the same content, registered by a concurrent sync; "
                           "deregistered this run's duplicate fam-1:2")
    assert endpoint.calls == {REGISTER: 1, LIST: 1, DESCRIBE: 1, DEREGISTER: 1}
    assert active(endpoint, "fam-1") == [1]
    live = ecs.describe_families(["fam-1"])["fam-1"]
    assert live["taskDefinition"]["revision"] == 1  # ECS: a family's latest ACTIVE revision


def register_raw(endpoint, req: dict) -> int:
    return endpoint.client("ecs").register_task_definition(**req)["taskDefinition"]["revision"]


def test_a_check_that_sees_a_later_duplicate_removes_it_too(endpoint):
    ours = item(1)
    assert register_raw(endpoint, request("fam-1", image="acme/api:1")) == 1  # the baseline
    assert register_raw(endpoint, request("fam-1", image="acme/api:9")) == 2
    endpoint.client("ecs").deregister_task_definition(taskDefinition="fam-1:2")  # a gap: ours is not 1 + 1
    assert register_raw(endpoint, dict(ours.request)) == 3  # this run's
    assert register_raw(endpoint, dict(ours.request)) == 4  # a concurrent sync's, not checked yet
    kept = deduplicate(endpoint.client("ecs"), RegisterItem(ours.service, ours.family, ours.request, 1), 3, None)
    assert (kept.revision, kept.note) == (3, "deregistered duplicate fam-1:4 registered by a concurrent sync")
    assert active(endpoint, "fam-1") == [1, 3]


def test_a_revision_of_other_content_between_duplicates_keeps_the_latest_content(endpoint):
    """X, Y, X registered by three runs from the same baseline: the family's latest revision holds X before and
    after, and X keeps one revision."""
    x, y = item(1), item(1, image="acme/api:other")
    for req in (x.request, y.request, x.request):
        register_raw(endpoint, dict(req))
    kept = deduplicate(endpoint.client("ecs"), x, 3, None)
    assert kept.revision == 3 and kept.note == "deregistered duplicate fam-1:1 registered by a concurrent sync"
    assert active(endpoint, "fam-1") == [2, 3]


def test_unmanaged_and_older_revisions_are_never_touched(endpoint):
    ours = item(1)
    unmanaged = {k: v for k, v in ours.request.items() if k != "tags"}
    register_raw(endpoint, unmanaged)  # 1: the same content, registered by hand
    register_raw(endpoint, dict(ours.request))  # 2: ours, baseline 0
    assert deduplicate(endpoint.client("ecs"), ours, 2, None).note is None
    register_raw(endpoint, request("fam-1", image="acme/api:older"))  # 3
    register_raw(endpoint, dict(ours.request))  # 4: a rollback to 2's content, baseline 3
    rollback = RegisterItem(ours.service, ours.family, ours.request, live_revision=3)
    assert deduplicate(endpoint.client("ecs"), rollback, 4, None).note is None  # below the baseline: not ours
    assert active(endpoint, "fam-1") == [1, 2, 3, 4]


# ---------------------------------------------------------------------------------------------------------
# real ecsflow processes


@pytest.fixture
def compose(etl_project):
    return etl_project / "docker-compose.yml"


def process_env(**extra: str | None) -> dict[str, str | None]:
    return clean_env(credentials=True, **extra)


def test_two_concurrent_syncs_converge_to_one_revision_per_family(endpoint, compose):
    # Each family's describe is held until both processes have made it: both see every family new.
    endpoint.hold(DESCRIBE, parties=2, times=8)
    processes = [ecsflow_started("sync", "--format", "json", file=compose, endpoint=endpoint, env=process_env())
                 for _ in range(2)]
    results = [(p.communicate(timeout=120), p.returncode) for p in processes]
    assert [code for _, code in results] == [0, 0], [err for (_, err), _ in results]
    reports = [json.loads(out)["families"] for (out, _), _ in results]
    families = [f["family"] for f in reports[0]]
    assert endpoint.calls[REGISTER] == 8  # the race happened: both registered every family
    assert endpoint.calls[DEREGISTER] == 4 and endpoint.calls[LIST] == 4
    for family in families:
        assert active(endpoint, family, "eu-west-1") == [1]
    for report in reports:
        assert [(f["status"], f["revision"]) for f in report] == [("registered", 1)] * 4
    notes = sorted(f["note"] for report in reports for f in report if f["note"])
    assert notes == sorted(f"{family}:1 holds the same content, registered by a concurrent sync; deregistered this "
                           f"run's duplicate {family}:2" for family in families)

    endpoint.reset_counts()
    diff = ecsflow_process("diff", "--format", "json", "--exit-code", "--no-services", file=compose, endpoint=endpoint,
                           env=process_env())
    assert [(f["status"], f["live_revision"]) for f in json.loads(diff.stdout)["families"]] == [("unchanged", 1)] * 4
    assert dict(endpoint.calls) == {DESCRIBE: 4}  # the no-op path: one describe per family


def test_sync_whose_answer_is_lost_registers_once_and_says_so(endpoint, compose):
    endpoint.fail(REGISTER, kind="drop", forward=True, family="etl-load", times=1)
    done = ecsflow_process("sync", file=compose, endpoint=endpoint, env=process_env())
    assert "the answer to RegisterTaskDefinition was lost" in done.stdout
    assert "4 registered, 0 unchanged, 0 failed." in done.stdout
    assert endpoint.calls[REGISTER] == 4 and active(endpoint, "etl-load", "eu-west-1") == [1]
    ecsflow_process("diff", "--exit-code", "--no-services", file=compose, endpoint=endpoint, env=process_env())


def test_a_network_cut_after_the_request_says_what_is_known(endpoint, compose):
    endpoint.fail(REGISTER, kind="drop", forward=True, family="etl-load", times=1)
    endpoint.fail(DESCRIBE, kind="drop", family="etl-load", skip=1)  # the plan's describe gets through
    done = ecsflow_process("sync", "--format", "json", file=compose, endpoint=endpoint, env=process_env(), expect=1)
    [load] = [f for f in json.loads(done.stdout)["families"] if f["family"] == "etl-load"]
    assert load["status"] == "failed" and "etl-load may have been registered" in load["error"]
    endpoint.faults.clear()
    # it had been: nothing left to do
    ecsflow_process("diff", "--format", "json", "--exit-code", "--no-services", file=compose, endpoint=endpoint,
                    env=process_env())


@pytest.mark.parametrize("kind", ["html", "empty", "truncated"])
def test_diff_against_an_endpoint_that_answers_garbage(endpoint, compose, kind):
    endpoint.fail(DESCRIBE, **GARBAGE[kind])
    done = ecsflow_process("diff", file=compose, endpoint=endpoint, env=process_env(), expect=1)
    assert done.stdout == ""
    assert "answered DescribeTaskDefinition with" in done.stderr and "not ECS's JSON" in done.stderr
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_diff_against_an_endpoint_that_never_answers_ends_within_a_minute(endpoint, compose):
    endpoint.fail(DESCRIBE, kind="hang")
    started = time.monotonic()
    done = ecsflow_process("diff", file=compose, endpoint=endpoint, env=process_env(), timeout=120, expect=1)
    elapsed = time.monotonic() - started
    assert elapsed < 65, (elapsed, done.stderr)
    assert "did not answer within 25 s (tried twice)" in done.stderr and "unexpected" not in done.stderr


def test_diff_against_an_endpoint_that_never_answers_through_the_cli(endpoint, compose, short_timeouts):
    endpoint.fail(DESCRIBE, kind="hang")
    started = time.monotonic()
    done = ecsflow("diff", file=compose, endpoint=endpoint, expect=1)
    assert time.monotonic() - started < 10
    assert "did not answer within 1 s (tried twice)" in done.stderr


# ---------------------------------------------------------------------------------------------------------
# credentials and endpoints


CREDENTIAL_PROCESSES = {
    "fails": ("import sys; print('token expired for ci-bot', file=sys.stderr); sys.exit(3)",
              "the credential_process of AWS profile 'ci' failed: token expired for ci-bot"),
    "not-json": ("print('AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')",
                 "the credential_process of AWS profile 'ci' did not print the JSON that AWS expects"),
}


@pytest.mark.parametrize("case", [*CREDENTIAL_PROCESSES, "missing"])
def test_a_failing_credential_process_names_the_profile_and_the_reason(endpoint, compose, tmp_path, case):
    if case == "missing":
        command, expected = str(tmp_path / "no-such-helper"), "the credential_process of AWS profile 'ci' cannot be run"
    else:
        script = tmp_path / "helper.py"
        script.write_text(CREDENTIAL_PROCESSES[case][0])
        command, expected = f"{sys.executable} {script}", CREDENTIAL_PROCESSES[case][1]
    config = tmp_path / "config"
    config.write_text(f"[profile ci]\ncredential_process = {command}\nregion = us-east-1\n")
    env = process_env(AWS_CONFIG_FILE=str(config), AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    done = ecsflow_process("diff", "--aws-profile", "ci", "--endpoint-url", endpoint.url, file=compose, env=env,
                           timeout=60, expect=1)
    assert expected in done.stderr, done.stderr
    assert "unexpected" not in done.stderr and "EXAMPLEKEY" not in done.stderr and "AKIA" not in done.stderr
    assert sum(endpoint.calls.values()) == 0


def test_an_endpoint_url_that_is_not_a_url(compose):
    done = ecsflow("diff", file=compose, endpoint="not a url", expect=1)
    assert "the endpoint URL not a url cannot be used" in done.stderr
    assert "unexpected" not in done.stderr
