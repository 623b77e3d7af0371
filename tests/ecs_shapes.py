"""An ECS endpoint whose task definitions come back in real ECS's shape, for the benchmarks and the tests.

moto echoes a registered task definition back as it was sent. Real ECS does not: it fills defaults (container
``cpu: 0``, ``essential``, port mappings' ``hostPort`` and ``protocol``, health-check ``interval``/``timeout``/
``retries``), adds empty lists (``mountPoints``, ``volumesFrom``, ``systemControls``, ...) and the definition's
own fields (``revision``, ``status``, ``requiresAttributes``, ``compatibilities``, ``registeredAt``,
``registeredBy``...), drops empty environment values and orders environment and secrets its own way, as the real
answers in tests/fixtures/ecs show (SOURCES.md there). ``as_real_ecs_answers_it`` makes that answer for a
RegisterTaskDefinition request; this endpoint stores each registration and answers RegisterTaskDefinition and
DescribeTaskDefinition (its latest revision, with ``include: [TAGS]`` the tags) with it, over ECS's JSON
protocol (timestamps as epoch seconds), after a fixed latency. Any other action is an error, so a benchmark
that counts calls sees each one. It costs next to no CPU per call: what a client spends on these larger
answers (parsing, normalising, comparing) is what a user's machine spends against real ECS.

Run in a child process (``ShapesEndpoint``) so that the measured process is the client alone, e.g. a whole
``ecsflow sync``: ``python tests/ecs_shapes.py --latency 0.02`` prints its URL and serves until stdin closes.
Control paths (POST ``/__endpoint__/stats``, ``reset``, ``reset-counts``, ``latency=S``) as tests/ecs_server.py.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONTROL = "/__endpoint__/"
JSON = "application/x-amz-json-1.1"
ACCOUNT, REGION = "123456789012", "eu-west-1"


def as_real_ecs_answers_it(request: dict, revision: int = 3, registered_at: Any = "2026-01-01T00:00:00+00:00",
                           region: str = REGION) -> dict:
    """A DescribeTaskDefinition answer in real ECS's shape for `request`: what ECS adds or fills, as the real
    answers in tests/fixtures/ecs show it (SOURCES.md there): empty lists, container cpu 0, hostPort and
    protocol, health-check defaults, secretOptions, the definition's own fields; environment variables without
    their empty ones and in another order; secrets in another order."""
    td = json.loads(json.dumps(request))
    tags = td.pop("tags", [])
    for c in td["containerDefinitions"]:
        c.setdefault("cpu", 0)
        c.setdefault("essential", True)
        c["environment"] = [e for e in reversed(c.get("environment", [])) if e.get("value")]
        if "secrets" in c:
            c["secrets"] = list(reversed(c["secrets"]))
        for key in ("environmentFiles", "mountPoints", "volumesFrom", "ulimits", "systemControls"):
            c.setdefault(key, [])
        for pm in c.get("portMappings", []):
            pm.setdefault("hostPort", pm["containerPort"])
            pm.setdefault("protocol", "tcp")
        if "healthCheck" in c:
            for key, default in (("interval", 30), ("timeout", 5), ("retries", 3)):
                c["healthCheck"].setdefault(key, default)
        if "logConfiguration" in c:
            c["logConfiguration"].setdefault("secretOptions", [])
    td.update(taskDefinitionArn=f"arn:aws:ecs:{region}:{ACCOUNT}:task-definition/{td['family']}:{revision}",
              revision=revision, volumes=td.get("volumes", []), placementConstraints=[], status="ACTIVE",
              compatibilities=["EC2", "FARGATE"], requiresAttributes=[
                  {"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"},
                  {"name": "ecs.capability.execution-role-awslogs"},
                  {"name": "com.amazonaws.ecs.capability.docker-remote-api.1.19"},
                  {"name": "ecs.capability.task-eni"}],
              registeredAt=registered_at, registeredBy=f"arn:aws:iam::{ACCOUNT}:user/ci", enableFaultInjection=False)
    return {"taskDefinition": td, "tags": tags}


class _Definitions:
    """The registered revisions of each family, as real ECS answers them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.families: dict[str, list[dict]] = {}

    def register(self, request: dict) -> dict:
        with self.lock:
            revisions = self.families.setdefault(request["family"], [])
            answer = as_real_ecs_answers_it(request, len(revisions) + 1, registered_at=round(time.time(), 3))
            revisions.append(answer)
        return answer

    def describe(self, request: dict) -> dict | None:
        family, _, number = str(request.get("taskDefinition", "")).rpartition("/")[2].partition(":")
        with self.lock:
            revisions = self.families.get(family) or []
            if not revisions or (number and not (number.isdigit() and 0 < int(number) <= len(revisions))):
                return None
            answer = revisions[int(number) - 1 if number else -1]
        return answer if "TAGS" in (request.get("include") or []) else {"taskDefinition": answer["taskDefinition"]}


class ShapesServer:
    """The endpoint in this process: ``with ShapesServer(latency=0.02) as server: server.url``."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.definitions = _Definitions()
        self.calls: Counter[str] = Counter()
        self.max_in_flight = self._in_flight = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> ShapesServer:
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict]:
        if path.startswith(CONTROL):
            return 200, self._control(path[len(CONTROL):])
        action = headers.get("x-amz-target", "").rsplit(".", 1)[-1]
        with self._lock:
            self.calls[action] += 1
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            time.sleep(self.latency)
            request = json.loads(body or b"{}")
            if action == "RegisterTaskDefinition":
                return 200, self.definitions.register(request)
            if action == "DescribeTaskDefinition":
                found = self.definitions.describe(request)
                if found is None:  # real ECS's answer for a family with no ACTIVE revision
                    return 400, {"__type": "ClientException", "message": "Unable to describe task definition."}
                return 200, found
            return 400, {"__type": "UnknownOperationException", "message": f"not served here: {action}"}
        finally:
            with self._lock:
                self._in_flight -= 1

    def _control(self, command: str) -> dict:
        if command.startswith("latency="):
            self.latency = float(command.split("=", 1)[1])
        elif command == "reset":
            self.definitions = _Definitions()
        with self._lock:
            if command in ("reset", "reset-counts"):
                self.calls.clear()
                self.max_in_flight = 0
            return {"calls": dict(self.calls), "max_in_flight": self.max_in_flight, "cpu_s": time.process_time()}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def _handler(server: ShapesServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects of AWS

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:  # noqa: N802 - the base class's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = server.answer(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            payload = json.dumps(answer).encode()
            head = (f"HTTP/1.1 {status} {'OK' if status == 200 else 'Bad Request'}\r\nContent-Type: {JSON}\r\n"
                    f"x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\nContent-Length: {len(payload)}\r\n\r\n")
            self.wfile.write(head.encode() + payload)  # one write: no Nagle/delayed-ACK wait

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

    return Handler


class ShapesEndpoint:
    """The endpoint in a child process: ``with ShapesEndpoint(latency=0.02) as endpoint: endpoint.url``."""

    def __init__(self, latency: float = 0.0) -> None:
        self.latency = latency
        self.url = ""
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> ShapesEndpoint:
        self._process = subprocess.Popen([sys.executable, __file__, "--latency", str(self.latency)],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
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
        with urllib.request.urlopen(urllib.request.Request(self.url + CONTROL + command, method="POST")) as answer:
            return json.loads(answer.read())

    def stats(self) -> dict:
        """``{"calls": {action: count}, "max_in_flight": n, "cpu_s": the endpoint process's CPU seconds}``"""
        return self._post("stats")

    def reset(self) -> None:
        self._post("reset")

    def reset_counts(self) -> None:
        self._post("reset-counts")

    def set_latency(self, seconds: float) -> None:
        self._post(f"latency={seconds}")
        self.latency = seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="an ECS endpoint answering task definitions in real ECS's shape")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    args = parser.parse_args(argv)
    with ShapesServer(latency=args.latency) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
