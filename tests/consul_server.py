"""A small Consul KV double: the part of Consul's HTTP API that py-consul's `kv.get` uses.

No Consul binary can be installed here, so tests run the real py-consul client against this server:
`GET /v1/kv/<key>` (exact key) and `GET /v1/kv/<key>?recurse` (every key starting with <key>), answered
as Consul answers them: a JSON list of entries with base64 values and the `X-Consul-Index`,
`X-Consul-Knownleader` and `X-Consul-Lastcontact` headers (py-consul requires the index header, even
on a 404), 404 with an empty body when nothing matches, and 403 when ACLs are on (`token` set) and the
request's token (`X-Consul-Token` header, `Authorization: Bearer`, or `?token=`) is missing or wrong.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Raw(str):
    """A value served as the entry's ``Value`` field as it is, not base64-encoded (a broken agent or proxy)."""


@dataclass(frozen=True)
class Request:
    method: str
    key: str
    query: dict[str, list[str]]
    token: str | None


class ConsulKV:
    """`with ConsulKV({"etl/cluster": "prod"}, token="t") as consul:` ... `consul.addr` is 127.0.0.1:PORT."""

    def __init__(
        self, data: dict[str, str | bytes | None] | None = None, *, token: str | None = None
    ) -> None:
        self.data: dict[str, str | bytes | None] = dict(data or {})
        self.token = token
        self.delay = 0.0  # seconds to sit on each request before answering (timeout tests)
        self.requests: list[Request] = []
        self.index = 100
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return self._server.server_address[1]

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ConsulKV:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits up to one interval, and tests start many servers.
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> ConsulKV:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def answer(self, key: str, query: dict[str, list[str]], token: str | None) -> tuple[int, str]:
        if self.token is not None and token != self.token:
            # Consul: an unknown token is "ACL not found"; no token is the anonymous one, which may not read.
            return 403, "ACL not found" if token else "Permission denied"
        if "recurse" in query:
            keys = sorted(k for k in self.data if k.startswith(key))
        else:
            keys = [key] if key in self.data else []
        if not keys:
            return 404, ""
        return 200, json.dumps([self._entry(k, i) for i, k in enumerate(keys)])

    def _entry(self, key: str, i: int) -> dict[str, object]:
        value = self.data[key]
        raw = value.encode() if isinstance(value, str) else value
        encoded = None if raw is None else base64.b64encode(raw).decode("ascii")
        return {
            "Key": key,
            # Consul sends null for a key without a value (folders made by the UI or Terraform).
            "Value": str(value) if isinstance(value, Raw) else encoded,
            "Flags": 0,
            "CreateIndex": 10 + i,
            "ModifyIndex": 10 + i,
            "LockIndex": 0,
            "Session": None,
        }


def _handler(kv: ConsulKV) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
            token = (
                self.headers.get("X-Consul-Token")
                or self.headers.get("Authorization", "").removeprefix("Bearer ").strip()
                or query.get("token", [None])[0]
            )
            if not url.path.startswith("/v1/kv/"):
                self._send(404, f"no handler for {url.path}")
                return
            key = urllib.parse.unquote(url.path.removeprefix("/v1/kv/"))
            kv.requests.append(Request("GET", key, query, token))
            if kv.delay:
                time.sleep(kv.delay)
            self._send(*kv.answer(key, query, token))

        def _send(self, code: int, body: str) -> None:
            data = body.encode()
            self.send_response(code)
            if code == 200:
                self.send_header("Content-Type", "application/json")
            else:
                self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("X-Consul-Index", str(kv.index))
            self.send_header("X-Consul-Knownleader", "true")
            self.send_header("X-Consul-Lastcontact", "0")
            self.end_headers()
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                pass

        # Quiet: pytest shows failures, not traffic.
        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released), for "Consul is down" tests."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
