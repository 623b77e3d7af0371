"""Which compose services are servers (ECS services, `deploy`) and which are jobs (gen-dag, run): the one rule of
ecsflow/compose/kind.py (design/services.md section 4.1), as `render`, `gen-dag` and `render --services` use it,
and what Docker Compose itself makes of the keys it reads."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest
from cli_runner import ecsflow

from ecsflow.compose.kind import Kind, kinds_note, workload_kind
from ecsflow.compose.loader import load_project
from ecsflow.errors import ComposeError

HEAD = """\
name: shop
x-ecsflow:
  execution_role: arn:aws:iam::123456789012:role/ecs-exec
  subnets: [subnet-0a1]
services:
"""


def load(tmp_path, services: str):
    path = tmp_path / "compose.yaml"
    path.write_text(HEAD + textwrap.indent(textwrap.dedent(services), "  "))
    return load_project([path], environ={}, warn=lambda message: None)


def kind_of(tmp_path, service: str) -> Kind:
    return workload_kind(load(tmp_path, "app:\n  image: acme/app:1\n" + textwrap.indent(service, "  ")).services[0])


@pytest.mark.parametrize(("keys", "kind", "reason", "explicit"), [
    ("", "job", "nothing marks it as a server (no restart: always, ports or expose)", False),
    ("restart: always\n", "service", "it has restart: always", False),
    ("restart: unless-stopped\n", "service", "it has restart: unless-stopped", False),
    ("restart: on-failure\n", "job", "nothing marks it as a server (no restart: always, ports or expose)", False),
    ("restart: \"no\"\n", "job", "nothing marks it as a server (no restart: always, ports or expose)", False),
    ("deploy: {restart_policy: {condition: any}}\n", "service", "it has deploy.restart_policy.condition: any", False),
    ("deploy: {restart_policy: {condition: on-failure}}\n", "job",
     "nothing marks it as a server (no restart: always, ports or expose)", False),
    ("ports: ['8080:8080']\n", "service", "it publishes ports", False),
    ("expose: [6379]\n", "service", "it exposes ports", False),
    # The order of the rules: a restart policy is a stronger sign than a port, a job mode stronger than both.
    ("ports: ['80']\nrestart: always\n", "service", "it has restart: always", False),
    ("ports: ['80']\nrestart: always\ndeploy: {mode: replicated-job}\n", "job", "deploy.mode: replicated-job", False),
    ("deploy: {mode: global-job}\n", "job", "deploy.mode: global-job", False),
    ("deploy: {mode: replicated, replicas: 2}\n", "job",
     "nothing marks it as a server (no restart: always, ports or expose)", False),
    # x-ecsflow.kind decides, whatever else the service says.
    ("ports: ['80']\nx-ecsflow: {kind: job}\n", "job", "x-ecsflow.kind: job", True),
    ("x-ecsflow: {kind: service}\n", "service", "x-ecsflow.kind: service", True),
    ("deploy: {mode: global}\nx-ecsflow: {kind: job}\n", "job", "x-ecsflow.kind: job", True),
])
def test_the_rule(tmp_path, keys, kind, reason, explicit):
    assert kind_of(tmp_path, keys) == Kind(kind, reason, explicit)


def test_global_mode_is_an_error_naming_file_line_service_and_key(tmp_path):
    with pytest.raises(ComposeError) as error:
        kind_of(tmp_path, "deploy:\n  replicas: 1\n  mode: global\n")
    assert error.value.where() == f"{tmp_path / 'compose.yaml'}:10:7, service 'app', key 'deploy.mode'"
    assert "Fargate does not have" in error.value.message and "x-ecsflow.kind: job" in error.value.hint


def test_a_mode_compose_does_not_know_is_an_error_with_a_suggestion(tmp_path):
    with pytest.raises(ComposeError, match="deploy.mode 'replicated_job' is not a Compose deploy mode "
                       r"\(did you mean 'replicated-job'\?\)"):
        kind_of(tmp_path, "deploy: {mode: replicated_job}\n")


def test_an_unknown_kind_is_refused_at_load_with_a_suggestion(tmp_path):
    with pytest.raises(ComposeError) as error:
        kind_of(tmp_path, "x-ecsflow: {kind: server}\n")
    assert error.value.key == "x-ecsflow.kind" and error.value.service == "app" and error.value.line is not None
    assert error.value.message == ("x-ecsflow.kind must be one of service, job (did you mean 'service'?), not "
                                   "'server'")


def test_the_note_groups_the_kinds_and_gives_the_reason_only_where_the_rule_guessed():
    kinds = [("api", Kind("service", "it publishes ports")), ("web", Kind("service", "x-ecsflow.kind: service", True)),
             ("extract", Kind("job", "nothing marks it as a server (no restart: always, ports or expose)")),
             ("once", Kind("job", "deploy.mode: replicated-job")), ("load", Kind("job", "x-ecsflow.kind: job", True))]
    assert kinds_note(kinds) == ("kinds: services (inferred): api (it publishes ports); services: web; jobs "
                                 "(inferred): extract, once (deploy.mode: replicated-job); jobs: load. "
                                 "Where a guess is wrong, set x-ecsflow.kind: service or job")
    assert kinds_note([("load", Kind("job", "x-ecsflow.kind: job", True))]) == "kinds: jobs: load"
    assert kinds_note([]) is None


def test_render_says_the_kinds_once(tmp_path):
    load(tmp_path, """\
        api:
          image: acme/api:1
          ports: ["8000:8000"]
        extract:
          image: acme/extract:1
        """)
    result = ecsflow("render", file=tmp_path / "compose.yaml", env={"NO_COLOR": "1"})
    assert result.stderr.count("kinds:") == 1
    assert ("note: kinds: services (inferred): api (it publishes ports); jobs (inferred): extract. Where a guess is "
            "wrong, set x-ecsflow.kind: service or job") in result.stderr


def test_compose_reads_the_keys_the_rule_reads_as_ecsflow_does(tmp_path, compose_bin):
    """Docker Compose accepts x-ecsflow.kind and every deploy mode, and normalises restart, restart_policy,
    ports and expose to what the rule reads: ecsflow's loader gives the rule the same values."""
    project = load(tmp_path, """\
        web:
          image: acme/web:1
          restart: unless-stopped
          x-ecsflow: {kind: service}
        once:
          image: acme/once:1
          deploy: {mode: replicated-job, restart_policy: {condition: any}}
        cache:
          image: redis:7
          expose: [6379]
        """)
    done = subprocess.run([str(compose_bin), "-f", str(tmp_path / "compose.yaml"), "config", "--format", "json"],
                          capture_output=True, text=True, env={"PATH": os.environ["PATH"]}, timeout=60)
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)["services"]
    for service in project.services:
        assert service.raw.get("restart") == theirs[service.name].get("restart")
        assert (service.raw.get("deploy") or {}).get("mode") == (theirs[service.name].get("deploy") or {}).get("mode")
        assert list(service.expose) == theirs[service.name].get("expose", [])
    assert [workload_kind(s).kind for s in project.services] == ["service", "job", "service"]


def test_diff_says_the_kinds_once_too(etl_project):
    result = ecsflow("diff", "--sandbox", file=etl_project / "docker-compose.yml", env={"NO_COLOR": "1"})
    assert result.stderr.count("note: kinds: services (inferred): api (it publishes ports); jobs (inferred): "
                               "extract, transform, load") == 1


def test_a_global_service_stops_only_the_commands_that_need_its_kind(tmp_path):
    """Its task definition is still one (render, sync); as a job or a server it is an error (gen-dag,
    render --services, deploy), naming the key."""
    load(tmp_path, "agent:\n  image: acme/agent:1\n  deploy: {mode: global}\nextract:\n  image: acme/extract:1\n")
    path = str(tmp_path / "compose.yaml")
    rendered = ecsflow("render", "-f", path, env={"NO_COLOR": "1"})
    assert "warning: service 'agent': deploy.mode: global runs one task on every instance" in rendered.stderr
    for args in (["render", "--services", "-f", path], ["gen-dag", "-f", path, "--out", str(tmp_path / "dags")]):
        result = ecsflow(*args, env={"NO_COLOR": "1"}, expect=1)
        assert "service 'agent', key 'deploy.mode'" in result.stderr, (args, result.stderr)
        assert result.stdout == "" and "Traceback" not in result.stderr
