"""The boto3 adapter (ecsflow/ecs/) against the sandbox (ecsflow/sandbox/): definitions and revisions kept between
sessions, gaps in revision numbers replayed, state that cannot be read, the second session fast. The sandbox's
state folder under concurrency, through real processes: test_sandbox.py."""

from __future__ import annotations

import copy
import json
import os
import time

import pytest
from ecs_requests import item

from ecsflow.diff import diff_family
from ecsflow.ecs.client import Ecs, make_ecs_client
from ecsflow.errors import EcsflowError
from ecsflow.sandbox.session import sandbox_session

# ---------------------------------------------------------------------------------------------------------
# sandbox


def sandbox_sync(state_dir, items) -> tuple[dict, list]:
    with sandbox_session(state_dir) as sandbox:
        client = Ecs.connect(sandbox.options)
        live = client.describe_families([i.family for i in items])
        todo = [i for i in items if diff_family(i.service, i.family, dict(i.request), live[i.family]).status
                != "unchanged"]
        return live, client.register_families(todo)


def test_sandbox_keeps_definitions_and_revisions_between_sessions(tmp_path, aws_env, monkeypatch):
    state = tmp_path / ".ecsflow" / "sandbox"
    # Whatever the machine has must not matter inside, nor leak out.
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    before = dict(os.environ)

    live, outcomes = sandbox_sync(state, [item(1), item(2)])
    assert live == {"fam-1": None, "fam-2": None}
    assert [(o.family, o.revision) for o in outcomes] == [("fam-1", 1), ("fam-2", 1)]
    assert dict(os.environ) == before
    assert sorted(p.name for p in state.iterdir()) == ["fam-1.json", "fam-2.json"]

    live, outcomes = sandbox_sync(state, [item(1), item(2)])
    assert outcomes == []  # the second run has nothing to do
    assert {f: a["taskDefinition"]["revision"] for f, a in live.items()} == {"fam-1": 1, "fam-2": 1}
    assert {t["key"] for t in live["fam-1"]["tags"]} >= {"ecsflow:managed", "ecsflow:project", "team"}

    live, outcomes = sandbox_sync(state, [item(1, image="acme/api:3"), item(2)])
    assert [(o.family, o.revision) for o in outcomes] == [("fam-1", 2)]
    live, outcomes = sandbox_sync(state, [item(1, image="acme/api:3"), item(2)])
    assert outcomes == [] and live["fam-1"]["taskDefinition"]["revision"] == 2
    stored = json.loads((state / "fam-1.json").read_text())
    assert stored["format"] == 1 and [r["revision"] for r in stored["revisions"]] == [1, 2]
    assert dict(os.environ) == before


def test_sandbox_replays_gaps_in_revision_numbers(tmp_path, aws_env):
    first = tmp_path / "a"
    sandbox_sync(first, [item(1)])
    document = json.loads((first / "fam-1.json").read_text())
    # As if revisions 2 to 4 had been registered and their entries deleted by hand.
    document["revisions"].append({**copy.deepcopy(document["revisions"][0]), "revision": 5})
    (first / "fam-1.json").write_text(json.dumps(document))
    live, outcomes = sandbox_sync(first, [item(1, image="acme/api:9")])
    assert live["fam-1"]["taskDefinition"]["revision"] == 5
    assert [o.revision for o in outcomes] == [6]
    with sandbox_session(first) as sandbox:
        client = make_ecs_client(sandbox.options)
        active = client.list_task_definitions(familyPrefix="fam-1")["taskDefinitionArns"]
        assert [a.rsplit(":", 1)[1] for a in active] == ["1", "5", "6"]


def test_sandbox_state_that_cannot_be_read_is_an_error_with_a_hint(tmp_path, aws_env):
    (tmp_path / "fam-1.json").write_text("{not json")
    with pytest.raises(EcsflowError, match="cannot read the sandbox state") as err:
        with sandbox_session(tmp_path):
            pass
    assert err.value.file.endswith("fam-1.json") and "delete" in err.value.hint


def test_sandbox_is_fast_after_the_first_session(tmp_path, aws_env):
    sandbox_sync(tmp_path, [item(n) for n in range(20)])
    start = time.perf_counter()
    _, outcomes = sandbox_sync(tmp_path, [item(n) for n in range(20)])
    assert outcomes == [] and time.perf_counter() - start < 3
