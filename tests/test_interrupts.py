"""Ctrl-C and SIGTERM during a paced `ecsflow sync`, with a real `ecsflow` process against the test endpoint
(tests/ecs_server.py): new registrations stop at once, what was registered is printed (text and JSON), and the
exit status is 128 + the signal. docs/design.md section 9: "Ctrl-C stops new writes at once and reports what was
done"."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import boto3
import pytest
from cli_runner import clean_env, ecsflow_process, ecsflow_started
from ecs_server import EcsEndpoint, dummy_credentials_env

REGISTER = "RegisterTaskDefinition"
FAMILIES = 10


@pytest.fixture(scope="module")
def server():
    with EcsEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def project(tmp_path, server):
    server.reset()
    services = "".join(f"  job{n}:\n    image: example/job:{n}\n" for n in range(FAMILIES))
    (tmp_path / "compose.yaml").write_text(
        "name: jobs\nx-ecsflow: {region: us-east-1, execution_role: arn:aws:iam::123456789012:role/x}\n"
        f"services:\n{services}")
    return tmp_path


def ecsflow_env() -> dict[str, str | None]:
    return clean_env(credentials=True)


def start_sync(project, server, *args: str) -> subprocess.Popen:
    """A first sync of ten families at one registration a second (a burst of 2 less the headroom: one at once),
    8 workers: seven wait for their turn in the pace at any time."""
    return ecsflow_started("sync", "--register-rate", "2,1", *args, endpoint=server, cwd=project, env=ecsflow_env())


def interrupt_after(proc: subprocess.Popen, server, registered: int, sig: int) -> tuple[str, str, float]:
    deadline = time.monotonic() + 60
    while server.calls[REGISTER] < registered and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return out, err, time.monotonic() - sent


def active_families(server) -> set[str]:
    ecs = boto3.client("ecs", region_name="us-east-1", endpoint_url=server.url, **{
        k.lower(): v for k, v in dummy_credentials_env().items() if k != "AWS_DEFAULT_REGION"})
    return {arn.rsplit("/", 1)[1].rsplit(":", 1)[0] for arn in ecs.list_task_definitions()["taskDefinitionArns"]}


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_paced_sync_stops_at_once_and_says_what_it_registered(project, server, sig, status):
    proc = start_sync(project, server, "--format", "json")
    out, err, took = interrupt_after(proc, server, 2, sig)
    assert proc.returncode == status, err
    assert took < 3, err  # not the seven paced registrations still waiting (7 s)
    sent = server.calls[REGISTER]
    time.sleep(1.5)  # a registration still waiting in a leftover thread would be sent by now
    assert server.calls[REGISTER] == sent < FAMILIES

    families = json.loads(out)["families"]  # stdout is the JSON document, as without the interrupt
    assert json.loads(out)["interrupted"] is True
    registered = {f["family"] for f in families if f["status"] == "registered"}
    assert registered == active_families(server) and len(registered) == sent  # what it says is what ECS holds
    assert {f["status"] for f in families} <= {"registered", "not-started", "interrupted"}
    not_started = [f for f in families if f["status"] == "not-started"]
    assert not_started and all("not registered" in f["error"] for f in not_started)
    assert len(families) == FAMILIES and "Traceback" not in err
    name = "Ctrl-C" if sig == signal.SIGINT else "SIGTERM"
    assert f"interrupted ({name}): stopped registering" in err


def test_an_interrupted_sync_prints_its_table(project, server):
    proc = start_sync(project, server)
    out, err, _ = interrupt_after(proc, server, 2, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "registered" in out and "not-started" in out
    assert "interrupted:" in out and "not started" in out.splitlines()[-1]


def test_a_sync_run_again_registers_the_rest(project, server):
    proc = start_sync(project, server, "--format", "json")
    interrupt_after(proc, server, 2, signal.SIGINT)
    again = ecsflow_process("sync", "--register-rate", "off", "--format", "json", endpoint=server, cwd=project,
                            env=ecsflow_env())
    statuses = [f["status"] for f in json.loads(again.stdout)["families"]]
    assert set(statuses) == {"registered", "unchanged"} and "unchanged" in statuses
    assert len(active_families(server)) == FAMILIES
