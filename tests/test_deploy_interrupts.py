"""Ctrl-C and SIGTERM during `ecsflow deploy`, with a real `ecsflow` process against the test endpoint: no new
write starts, the rollout under way is reported `started` (ECS goes on with it), what was not reached is
`not-started`, and the exit status is 128 + the signal (docs/design.md: "Ctrl-C stops new writes at once and
reports what was done")."""

from __future__ import annotations

import json
import signal
import time

import pytest
from cli_runner import clean_env, ecsflow_started
from deploy_support import RecordingEndpoint, create_request, project
from service_answers import answered, deployment, described, service_item

SERVICES = """\
  api:
    image: acme/api:1
    ports: ["8000:8000"]
  web:
    image: acme/web:1
    ports: ["80:80"]
    depends_on:
      api: {condition: service_healthy}
"""


@pytest.fixture(scope="module")
def endpoint():
    with RecordingEndpoint() as running:
        yield running


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_deploy_stops_writing_and_says_what_it_did(endpoint, tmp_path, sig, status):
    endpoint.reset()
    endpoint.create_cluster("default")
    folder = project(tmp_path, SERVICES)
    request = create_request(folder)
    arn = request["taskDefinition"]
    endpoint.respond("DescribeServices", described(missing=("shop-api", "shop-web")), times=1)
    endpoint.respond("CreateService", answered(service_item(request, [deployment("ecs-svc/1", arn)])), times=1)
    endpoint.respond("DescribeServices", described(service_item(request, [deployment("ecs-svc/1", arn)])))  # never done
    proc = ecsflow_started("deploy", "--format", "json", "--poll-interval", "0.05", endpoint=endpoint, cwd=folder,
                           env=clean_env(credentials=True))
    deadline = time.monotonic() + 60
    while endpoint.calls["DescribeServices"] < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # the plan's describe, then api's rollout polled twice
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == status, err
    assert time.monotonic() - sent < 5, err
    document = json.loads(out)
    assert document["interrupted"] is True
    api, web = document["services"]
    assert api["status"] == "started" and "interrupted while its rollout was under way" in api["note"]
    assert (web["status"], web["error"]) == ("not-started", "interrupted before it was created, updated or run "
                                                            "(run deploy again)")
    assert [body["serviceName"] for body in endpoint.sent("CreateService")] == ["shop-api"]
    assert "interrupted (" in err and "Traceback" not in err
