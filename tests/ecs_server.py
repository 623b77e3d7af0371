"""A local ECS endpoint for tests and benchmarks: moto's ThreadedMotoServer behind a small HTTP proxy.

The proxy is what boto3 talks to (``endpoint.url``). It

- counts calls per action (``X-Amz-Target`` of ECS's JSON protocol: ``...RegisterTaskDefinition``), and the
  most requests it ever had in flight at once (a request is in flight from its arrival until its answer is
  ready, so a client with N workers can never show more than N);
- adds a fixed latency to every call (benchmarks: the round trip to a real region);
- answers chosen calls with an error instead of passing them on (``fail``), as ECS answers them: HTTP 400
  (or the given status) and ``{"__type": code, "message": ...}``, so the real botocore retry and
  error-parsing code runs;
- breaks chosen calls the way networks and proxies do (``fail(..., kind=...)``): ``drop`` closes the
  connection without an answer, ``hang`` never answers (until ``reset()`` or ``stop()``), ``raw`` answers a
  given body (an HTML page, an empty body, JSON cut short), ``cut`` sends the headers and part of the body
  and closes. With ``forward=True`` the call is passed to moto first, so ECS acts and only the answer is
  lost or garbled: a RegisterTaskDefinition that registered although the client never heard so;
- holds calls until several have arrived (``hold(action, parties)``): a barrier per family, so that two
  concurrent ``ecsflow sync`` processes both describe a family before either registers it (a real race);
- throttles as ECS does and answers repeated calls from memory, without moto (``rates``: tests/ecs_rates.py).

moto keeps its state in the process, so ``reset()`` (moto's ``POST /moto-api/reset``) gives each test a
clean ECS. ``EcsEndpoint`` is used as ``with EcsEndpoint(latency=0.02) as endpoint: ...``.

Tasks that run: ``EcsEndpoint(run_tasks=True, workdir=..., environment=...)`` activates ecsflow's local task
runner (``ecsflow.sandbox.runner.LocalTaskRunner``, the one ``--sandbox`` uses) for the server's moto, which
runs in this process: RunTask's tasks go PROVISIONING -> PENDING -> RUNNING -> STOPPED, their command runs as
a local process in ``workdir`` (``python`` is this interpreter), its output lines are CloudWatch Logs events
in the awslogs stream ``PREFIX/CONTAINER/TASK_ID``, and the container gets the exit code; StopTask kills it.
``endpoint.runner`` is the runner (``.workdir`` and ``.environment`` may change between tests, ``.runs``
records what ran, ``.wait_idle()`` waits for running tasks); ``reset()`` also stops running tasks. The same
endpoint serves ECS, CloudWatch Logs and EC2 (point every client at ``endpoint.url``). ``create_cluster()``
and ``network()`` make what RunTask needs; subnets are only checked with ``check_network=True``.

``respond(action, answer)`` answers chosen calls with a canned 200 answer instead of moto's, e.g. a RunTask
answer with ``failures`` and no task, which moto never gives.

Services: with ``services=True`` (the default) moto's ECS keeps and answers services as ECS does, the sandbox's
semantics (``ecsflow.sandbox.moto_services``): every CreateService member with ECS's defaults, deployments that
roll out one step per DescribeServices, clientToken idempotency, DRAINING/INACTIVE, and the failure switch
``ECSFLOW_SANDBOX_FAIL_DEPLOYMENTS`` (the server runs in this process: set it in the test's environment).
``services=False`` leaves moto's own behaviour. Canned answers (``respond``) are given on top, as for any call.

Paging: moto answers ListTaskDefinitions, ListServices and ListTasks with every item at once; ECS gives at
most ``maxResults`` a page (100, 10 and 100 by default) and a ``nextToken``. The proxy pages moto's answer as
ECS would (``paginate=False`` turns that off), so that paginators, and the calls counted, are ECS's.

``RemoteEndpoint`` runs the same endpoint in a child process (``python tests/ecs_server.py --latency 0.02``),
so that the server's Python work does not compete with the client's for one GIL: the benchmarks use it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import moto.backends
from ecs_faults import DROP, PAGED, Canned, Fault, Hold, page, parsed_body
from ecs_rates import Rates, RatesControl
from moto.server import ThreadedMotoServer

from ecsflow.sandbox.moto_patches import install_definition_semantics, uninstall_definition_semantics
from ecsflow.sandbox.moto_services import install_service_semantics, uninstall_service_semantics
from ecsflow.sandbox.runner import LocalTaskRunner

# moto's server logs every request through werkzeug's logger; tests and benchmarks have no use for that.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

# moto's server lists its own package folder on every request to find the backend (a few ms of CPU, under
# the GIL, so it caps a concurrent run at some 150 calls a second). The list cannot change while running.
_MOTO_MODULES = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: _MOTO_MODULES

CONTROL = "/__endpoint__/"

# Headers that belong to one hop, not to the request or answer being passed on.
_HOP = {"host", "connection", "keep-alive", "content-length", "transfer-encoding", "proxy-connection"}


class EcsEndpoint:
    def __init__(
        self,
        latency: float = 0.0,
        *,
        run_tasks: bool = False,
        workdir: str | Path | None = None,
        environment: dict[str, str] | None = None,
        check_network: bool = False,
        region: str = "us-east-1",
        paginate: bool = True,
        services: bool = True,
    ) -> None:
        self.latency = latency
        self.region = region
        self.paginate = paginate
        self.calls: Counter[str] = Counter()
        self.max_in_flight = 0
        self.faults: list[Fault] = []
        self.canned: list[Canned] = []
        self.rates = Rates()
        self.holds: list[Hold] = []
        self._release = threading.Event()  # set: every hanging call gives up
        self._semantics = False
        self.services = services  # ECS's service semantics (see the module docstring)
        self._register_lock = threading.Lock()
        self.runner: LocalTaskRunner | None = (
            # run_tasks=True is the test's opt-in to processes on this machine (ecsflow.execution).
            LocalTaskRunner(workdir, execute=True, environment=environment, check_network=check_network)
            if run_tasks else None
        )
        self._in_flight = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._moto: ThreadedMotoServer | None = None
        self._proxy: _Server | None = None

    # -- life cycle ---------------------------------------------------------------------------------------

    def start(self) -> EcsEndpoint:
        if not self._semantics:
            install_definition_semantics()  # DescribeTaskDefinition of a family: its latest ACTIVE revision
            if self.services:
                install_service_semantics()
            self._semantics = True
        if self.runner is not None:
            self.runner.start()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        self._proxy = _Server(("127.0.0.1", 0), _handler(self))
        # A short poll interval: shutdown() waits up to one interval.
        threading.Thread(target=self._proxy.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._proxy is not None:
            self._proxy.shutdown()
            self._proxy.server_close()
            self._proxy = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        if self.runner is not None:
            self.runner.stop()
        if self._semantics:
            uninstall_definition_semantics()
            if self.services:
                uninstall_service_semantics()
            self._semantics = False

    def __enter__(self) -> EcsEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The proxy: give this to boto3 as endpoint_url."""
        assert self._proxy is not None, "start() the endpoint first"
        return f"http://127.0.0.1:{self._proxy.server_address[1]}"

    @property
    def moto_address(self) -> tuple[str, int]:
        assert self._moto is not None, "start() the endpoint first"
        return self._moto.get_host_and_port()

    # -- state --------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty moto's ECS, forget faults, canned answers and counts; stop the tasks still running."""
        if self.runner is not None:
            self.runner.stop_all("endpoint reset")
        self._release.set()
        self._release = threading.Event()
        host, port = self.moto_address
        urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
        self.reset_counts()
        self.faults.clear()
        self.canned.clear()
        self.holds.clear()
        self.rates = Rates()

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.max_in_flight = 0

    def fail(self, action: str, code: str = "", message: str = "", *, status: int = 400, times: int | None = None,
             family: str | None = None, kind: str = "error", body: bytes = b"",
             content_type: str = "application/x-amz-json-1.1", forward: bool = False, skip: int = 0) -> Fault:
        fault = Fault(action, code, message, status, times, family, kind, body, content_type, forward, skip)
        self.faults.append(fault)
        return fault

    def hold(self, action: str, parties: int, *, timeout: float = 30.0, times: int | None = None) -> Hold:
        hold = Hold(action, parties, timeout, times)
        self.holds.append(hold)
        return hold

    def respond(self, action: str, answer: dict, *, times: int | None = None) -> Canned:
        canned = Canned(action, answer, times)
        self.canned.append(canned)
        return canned

    # -- clients and resources ----------------------------------------------------------------------------

    def client(self, service: str):
        """A boto3 client for ``service`` (ecs, logs, ec2) on this endpoint, with fake credentials."""
        import boto3

        return boto3.client(service, region_name=self.region, endpoint_url=self.url,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def create_cluster(self, name: str = "default") -> str:
        return self.client("ecs").create_cluster(clusterName=name)["cluster"]["clusterArn"]

    def network(self) -> tuple[str, str]:
        """A VPC with one subnet and one security group in moto's EC2: ``(subnet id, security group id)``."""
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
        group = ec2.create_security_group(GroupName="jobs", Description="jobs", VpcId=vpc)["GroupId"]
        return subnet, group

    # -- one call -----------------------------------------------------------------------------------------

    def _answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        if path.startswith(CONTROL):
            return self._control(path[len(CONTROL):])
        target = headers.get("x-amz-target", "")
        action = target.rsplit(".", 1)[-1] if target else f"{method} {path}"
        with self._lock:
            self.calls[action] += 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            self._wait_for_others(action, body)
            fault = self._fault_for(action, body)
            if fault is not None:
                return self._faulty(fault, method, path, headers, body)
            canned = self._canned_for(action)
            if canned is not None:
                return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(canned.answer).encode()
            early = self.rates.before(action, body)  # throttled, or answered from memory
            if early is not None:
                return early
            status, answer_headers, payload = self._forward(method, path, headers, body)
            if self.paginate and action in PAGED:
                payload = page(action, body, status, payload)
            self.rates.after(action, body, (status, answer_headers, payload))
            return status, answer_headers, payload
        finally:
            with self._lock:
                self._in_flight -= 1

    def _control(self, command: str) -> tuple[int, dict, bytes]:
        """The endpoint run in another process (``RemoteEndpoint``) is driven through these paths."""
        if command.startswith("latency="):
            self.latency = float(command.split("=", 1)[1])
        elif command == "reset":
            self.reset()
        elif command == "reset-counts":
            self.reset_counts()
        elif command != "stats" and not self.rates.control(command):
            return 404, {}, b""
        with self._lock:
            stats = {"calls": dict(self.calls), "max_in_flight": self.max_in_flight, **self.rates.stats()}
        return 200, {"Content-Type": "application/json"}, json.dumps(stats).encode()

    def _fault_for(self, action: str, body: bytes) -> Fault | None:
        parsed = parsed_body(body)
        with self._lock:
            for fault in self.faults:
                if fault.matches(action, parsed):
                    fault.hits += 1
                    return fault
        return None

    def _faulty(self, fault: Fault, method: str, path: str, headers: dict[str, str], body: bytes):
        if fault.forward:
            self._forward(method, path, headers, body)  # ECS acts; its answer is thrown away
        if fault.kind == "hang":
            self._release.wait(timeout=600)
            return DROP
        if fault.kind == "drop":
            return DROP
        if fault.kind in ("raw", "cut"):
            return fault.status, {"Content-Type": fault.content_type, "X-Cut": fault.kind == "cut"}, fault.body
        payload = json.dumps({"__type": fault.code, "message": fault.message}).encode()
        return fault.status, {"Content-Type": "application/x-amz-json-1.1"}, payload

    def _wait_for_others(self, action: str, body: bytes) -> None:
        parsed = parsed_body(body)
        key = parsed.get("family") or parsed.get("taskDefinition")
        for hold in self.holds:
            if hold.action != action:
                continue
            with self._lock:
                if hold.times is not None and hold.held >= hold.times:
                    continue
                hold.held += 1
                barrier = hold.barriers.setdefault(key, threading.Barrier(hold.parties))
            try:
                barrier.wait(timeout=hold.timeout)
            except threading.BrokenBarrierError:
                pass

    def _canned_for(self, action: str) -> Canned | None:
        with self._lock:
            for canned in self.canned:
                if canned.action == action and (canned.times is None or canned.hits < canned.times):
                    canned.hits += 1
                    return canned
        return None

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        if headers.get("x-amz-target", "").endswith(".RegisterTaskDefinition"):
            # ECS gives each registration of a family its own number; moto's threads could give two the same.
            with self._register_lock:
                return self._send_to_moto(method, path, headers, body)
        return self._send_to_moto(method, path, headers, body)

    def _send_to_moto(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, bytes]:
        headers = {k: v for k, v in headers.items() if k not in _HOP}
        for attempt in (1, 2):
            conn = self._moto_connection()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
                continue  # moto closed the kept-alive connection: open a new one, once
            answer_headers = {k: v for k, v in response.getheaders() if k.lower() not in _HOP}
            return response.status, answer_headers, payload
        raise AssertionError("unreachable")

    def _moto_connection(self) -> http.client.HTTPConnection:
        # One kept-alive connection to moto per proxy thread (each serves one client connection): opening a
        # connection, and a moto thread for it, on every call would cost more than moto's own work.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            host, port = self.moto_address
            conn = self._local.conn = http.client.HTTPConnection(host, port, timeout=60)
        return conn


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 would refuse a burst of new connections from a big pool


def _handler(endpoint: EcsEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects of AWS

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = endpoint._answer(self.command, self.path, headers, body)
            if answer is DROP:  # no answer: the client sees the connection close
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            status, answer_headers, payload = answer
            cut = answer_headers.pop("X-Cut", False)
            self.send_response(status)
            for key, value in answer_headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload) * 2 if cut else len(payload)))
            # Headers and body in one write: two small writes would meet Nagle's algorithm and the client's
            # delayed ACK, and every call would take 40 ms more.
            self._headers_buffer.append(b"\r\n")
            self.wfile.write(b"".join(self._headers_buffer) + payload)
            self._headers_buffer = []
            if cut:  # the rest of the promised body never comes
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

        do_GET = do_POST = do_PUT = do_DELETE = _any

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler


def dummy_credentials_env() -> dict[str, str]:
    """Environment for a boto3 client that talks to the local endpoint: fake keys, no profile or config."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


class RemoteEndpoint(RatesControl):
    """An ``EcsEndpoint`` in a child process: ``with RemoteEndpoint(latency=0.02) as endpoint:``."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.url = ""
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> RemoteEndpoint:
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--latency", str(self.latency)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.__exit__()
            raise RuntimeError("the endpoint process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()  # the child serves until its stdin closes
            self._process.wait(timeout=30)
            self._process = None

    def _post(self, command: str) -> dict:
        request = urllib.request.Request(self.url + CONTROL + command, method="POST")
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read() or b"{}")

    def stats(self) -> dict:
        """``{"calls": {action: count}, "max_in_flight": n, "throttled": {action: count}, "cpu_s": the endpoint
        process's CPU seconds so far}``"""
        return self._post("stats")

    def reset(self) -> None:
        self._post("reset")

    def reset_counts(self) -> None:
        self._post("reset-counts")

    def set_latency(self, seconds: float) -> None:
        self._post(f"latency={seconds}")
        self.latency = seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moto's ECS behind a counting, delaying proxy")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    args = parser.parse_args(argv)
    with EcsEndpoint(latency=args.latency) as endpoint:
        print(endpoint.url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin (or exits)


if __name__ == "__main__":
    main()
