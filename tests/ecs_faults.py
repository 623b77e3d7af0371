"""What the test endpoint (tests/ecs_server.py) answers instead of moto's own answer: list calls paged as ECS
pages them, ECS's error answers, the faults of networks and proxies (a dropped connection, no answer, a body
that is not ECS's JSON), and the holds that make two processes race. The endpoint applies them; see its
module docstring."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Fault:
    """Answer calls of ``action`` (optionally only for one family) with an error, ``times`` times or always.

    ``kind``: ``error`` (ECS's error JSON), ``drop``, ``hang``, ``raw`` (``body`` as it is, with ``status``
    and ``content_type``) or ``cut``; ``forward``: pass the call to moto first (see tests/ecs_server.py);
    ``skip``: let that many matching calls through first."""

    action: str
    code: str = ""
    message: str = ""
    status: int = 400
    times: int | None = None
    family: str | None = None
    kind: str = "error"
    body: bytes = b""
    content_type: str = "application/x-amz-json-1.1"
    forward: bool = False
    skip: int = 0
    hits: int = 0
    skipped: int = 0

    def matches(self, action: str, body: dict) -> bool:
        if action != self.action or (self.times is not None and self.hits >= self.times):
            return False
        if self.family is not None and self.family not in (body.get("family"), body.get("taskDefinition")):
            return False
        if self.skipped < self.skip:
            self.skipped += 1
            return False
        return True


@dataclass
class Hold:
    """Hold calls of ``action`` until ``parties`` of them, for the same family, have arrived (or ``timeout``);
    only the first ``times`` calls (None: all)."""

    action: str
    parties: int
    timeout: float = 30.0
    times: int | None = None
    held: int = 0
    barriers: dict = field(default_factory=dict)


DROP = object()  # an answer that is no answer: the connection is closed


@dataclass
class Canned:
    """Answer calls of ``action`` with HTTP 200 and ``answer`` (JSON), ``times`` times or always."""

    action: str
    answer: dict
    times: int | None = None
    hits: int = 0


def parsed_body(body: bytes) -> dict:
    try:
        parsed = json.loads(body) if body else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


# Action -> (the answer's list, ECS's default page size). The token is the offset of the next page.
PAGED = {"ListTaskDefinitions": ("taskDefinitionArns", 100), "ListServices": ("serviceArns", 10),
         "ListTasks": ("taskArns", 100)}


def page(action: str, request: bytes, status: int, answer: bytes) -> bytes:
    """One page of moto's complete answer to a list call, as ECS pages it."""
    if status != 200:
        return answer
    key, default = PAGED[action]
    asked = json.loads(request or b"{}")
    everything = json.loads(answer)
    start = int(asked.get("nextToken") or 0)
    size = int(asked.get("maxResults") or default)
    items = everything.get(key) or []
    if action == "ListTaskDefinitions" and asked.get("sort") == "DESC":
        items = items[::-1]  # moto ignores `sort`; its order is ascending
    page = {**everything, key: items[start:start + size]}
    page.pop("nextToken", None)
    if start + size < len(items):
        page["nextToken"] = str(start + size)
    return json.dumps(page).encode()
