"""The only module that talks to Consul (with py-consul): one recursive KV read of the prefix. It reads;
the settings resolver (`ecsflow.settings`) resolves.

The address, token and TLS options come from the same environment variables as Consul's own CLI
(`CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`, `CONSUL_CACERT`),
read from a mapping passed in, so that tests and callers decide what the environment is.
"""

from __future__ import annotations

import base64
import binascii
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ecsflow.errors import SettingsError

DEFAULT_ADDR = "127.0.0.1:8500"
# Short: settings are read before anything else, and a hung Consul must not hang CI for minutes.
DEFAULT_TIMEOUT = 5.0
_ADDR_HINT = "set CONSUL_HTTP_ADDR to the agent's address (host:port or https://host:port)"


@dataclass(frozen=True)
class ConsulConfig:
    """Where and how to reach Consul. The token is kept out of repr so it never lands in a log."""

    host: str
    port: int
    scheme: str = "http"
    verify: bool | str = True
    token: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def _go_bool(name: str, value: str) -> bool:
    # Consul's CLI parses these with Go's strconv.ParseBool; a value it cannot parse is our error.
    if value in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if value in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise SettingsError(f"{name}={value!r} is not a boolean", hint=f"set {name} to true or false")


def consul_config(
    *, addr: str | None = None, token: str | None = None, environ: Mapping[str, str] | None = None
) -> ConsulConfig:
    """Address, scheme, TLS verification and token, the way Consul's CLI reads them.

    `addr` and `token` override CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN. As in Consul's Go client,
    `https://` in the address or CONSUL_HTTP_SSL=true selects https (and `http://` never downgrades
    CONSUL_HTTP_SSL), and an address without a port uses the scheme's port (80/443).
    """
    environ = os.environ if environ is None else environ
    source = "the Consul address" if addr else "CONSUL_HTTP_ADDR"
    address = addr or environ.get("CONSUL_HTTP_ADDR") or DEFAULT_ADDR
    scheme = "https" if _go_bool("CONSUL_HTTP_SSL", environ.get("CONSUL_HTTP_SSL") or "false") else "http"
    if "://" in address:
        given, address = address.split("://", 1)
        if given not in ("http", "https"):
            raise SettingsError(
                f"{source} {given}://{address} uses the {given!r} scheme, which ecsflow cannot use",
                hint="use host:port, http://host:port or https://host:port",
            )
        scheme = "https" if given == "https" else scheme
    parts = urllib.parse.urlsplit("//" + address)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1:
        raise SettingsError(f"{source} {address!r} is not host:port", hint=_ADDR_HINT)
    verify: bool | str = environ.get("CONSUL_CACERT") or True
    if not _go_bool("CONSUL_HTTP_SSL_VERIFY", environ.get("CONSUL_HTTP_SSL_VERIFY") or "true"):
        verify = False
    return ConsulConfig(
        host=parts.hostname,
        port=port or (443 if scheme == "https" else 80),
        scheme=scheme,
        verify=verify,
        token=token or environ.get("CONSUL_HTTP_TOKEN") or None,
    )


def _scrub(text: str, token: str | None) -> str:
    # Consul does not echo tokens, but an error message must never be the place one leaks.
    return text.replace(token, "***") if token else text


def read_prefix(
    prefix: str,
    *,
    addr: str | None = None,
    token: str | None = None,
    environ: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, str]:
    """Every key under `prefix/`, relative to it, with its value decoded as UTF-8; {} if there is none.

    One request (`GET /v1/kv/PREFIX/?recurse`), whatever the number of keys. Folder placeholders
    (keys ending in `/`) are skipped. Errors are SettingsErrors that name the address, never the token.
    """
    prefix = prefix.strip("/")
    if not prefix:
        raise SettingsError(
            "the Consul prefix is empty", hint="give --consul-prefix a path like `ecsflow/etl`"
        )
    # Imported here: py-consul and requests cost ~0.1 s, and most runs read no Consul at all.
    import consul as pyconsul  # the py-consul package; absolute import, not this module
    import requests
    from consul.callback import CB
    from consul.exceptions import ACLDisabled, ACLPermissionDenied, ConsulException

    config = consul_config(addr=addr, token=token, environ=environ)
    client = pyconsul.Consul(
        host=config.host,
        port=config.port,
        scheme=config.scheme,
        verify=config.verify,
        connections_timeout=timeout,
    )
    # py-consul prefers os.environ's CONSUL_HTTP_TOKEN over its argument; the token must be ours.
    client.token = config.token
    where = f"{config.url} (reading {prefix}/)"
    try:
        # The trailing slash keeps `team/etl2/...` out of a read of `team/etl`: Consul's recurse is a
        # plain string-prefix match. This is `client.kv.get(prefix + "/", recurse=True)` without its
        # base64 decoding, which fails on a bad value without saying which key holds it (_decode does).
        _, items = client.http.get(CB.json(index=True), f"/v1/kv/{prefix}/",
                                   params=[("recurse", "1")], headers=client.prepare_headers())
    except (ACLPermissionDenied, ACLDisabled) as err:
        raise SettingsError(
            f"Consul at {where} refused the read: {_scrub(str(err), config.token)}",
            hint="check CONSUL_HTTP_TOKEN: it must be set to a token whose policy allows key:read on "
            f"'{prefix}/'" + ("" if config.token else " (no token is set)"),
        ) from None
    except requests.Timeout:
        raise SettingsError(
            f"Consul at {where} did not answer within {timeout:g}s", hint=_ADDR_HINT
        ) from None
    except requests.ConnectionError as err:
        tls = isinstance(err, requests.exceptions.SSLError)
        raise SettingsError(
            f"cannot reach Consul at {where}" + (": TLS handshake failed" if tls else ""),
            hint="set CONSUL_CACERT, or CONSUL_HTTP_SSL_VERIFY=false for a test agent"
            if tls
            else f"is the agent running? {_ADDR_HINT}; or run without --consul-prefix",
        ) from None
    except ConsulException as err:
        text = _scrub(str(err), config.token)
        raise SettingsError(
            f"Consul at {where} answered with an error: {text if len(text) <= 300 else text[:297] + '...'}"
        ) from None
    return _decode(items or [], prefix, where)


def _decode(items: Any, prefix: str, where: str) -> dict[str, str]:
    """Each entry's base64 ``Value`` as UTF-8 text, by key relative to the prefix; folders left out."""
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("Key"), str) for i in items):
        raise SettingsError(f"Consul at {where} answered something that is not a list of KV entries",
                            hint=f"is {where.split(' ', 1)[0]} a Consul agent? {_ADDR_HINT}")
    values: dict[str, str] = {}
    for item in items:
        key = item["Key"][len(prefix) + 1 :]
        if not key or key.endswith("/"):
            continue
        encoded = item.get("Value")
        try:
            raw = base64.b64decode(encoded or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise SettingsError(f"Consul key '{prefix}/{key}' holds a Value that is not valid base64, as Consul "
                                "sends every value", hint="is this a Consul agent? write the key again with "
                                "`consul kv put`") from None
        try:
            values[key] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SettingsError(f"Consul key '{prefix}/{key}' does not hold UTF-8 text") from None
    return values
