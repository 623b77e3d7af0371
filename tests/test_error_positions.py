"""Errors point at the line and column where the key was written: in one file, the key's own (not the line
after the service's name); with two -f files, the file that wrote the key and its own line; through `extends`,
the file the key was copied from (issue 25)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from cli_runner import ecsflow

ROLE = "x-ecsflow:\n  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def position(path: Path, text: str) -> str:
    """``FILE:LINE:COLUMN`` of the first line of ``path`` that holds ``text``, at the column where it starts."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return f"{path}:{number}:{line.index(text) + 1}"
    raise AssertionError(f"{text!r} is not in {path}")


def render(folder: Path, *files: Path):
    result = ecsflow("render", file=files, env={"NO_COLOR": "1"}, expect=1)
    assert result.stdout == "" and "Traceback" not in result.stderr, result.stderr
    return result.stderr


BASE = ROLE + """\
services:
  app:
    image: busybox
    environment:
      A: "1"
    command: echo hi
"""


@pytest.mark.parametrize(("override", "key", "written"), [
    ("""\
    # an override a team keeps beside the file
    services:
      app:
        environment:
          B: "2"
        ports:
          - "80:80/sctp"
    """, "ports", "ports:"),
    ("""\
    services:

      app:
        x-ecsflow:
          cpu: 3
    """, "x-ecsflow.cpu", "cpu: 3"),
    ("""\
    services:
      app:
        x-ecsflow:
          famly: app
    """, "x-ecsflow.famly", "famly:"),
    ("""\
    services:
      app:
        healthcheck:
          test: ["WRONG"]
    """, "healthcheck.test", "test:"),
])
def test_an_error_in_the_override_names_the_override_and_its_own_line(tmp_path, override, key, written):
    base = write(tmp_path, "compose.yaml", BASE)
    over = write(tmp_path, "compose.ecs.yaml", override)
    stderr = render(tmp_path, base, over)
    assert f"error: {position(over, written)}, service 'app', key '{key}'" in stderr


def test_an_error_in_the_base_file_keeps_its_file_and_line_when_an_override_merges_in(tmp_path):
    base = write(tmp_path, "compose.yaml", BASE.replace("    command: echo hi\n", "    cpus: 99\n"))
    over = write(tmp_path, "compose.ecs.yaml", "services:\n  app:\n    environment:\n      B: '2'\n")
    stderr = render(tmp_path, base, over)
    assert f"error: {position(base, 'cpus:')}, service 'app', key 'cpus'" in stderr


def test_a_service_only_the_override_defines_is_named_where_it_is_written(tmp_path):
    base = write(tmp_path, "compose.yaml", BASE)
    over = write(tmp_path, "compose.ecs.yaml", "\n\nservices:\n  worker:\n    command: run\n")
    stderr = render(tmp_path, base, over)
    assert f"error: {position(over, 'worker:')}, service 'worker': service \"worker\" has neither" in stderr


@pytest.mark.parametrize(("service", "key", "written"), [
    ("""\
    app:
      image: busybox
      environment:
        A: "1"


      cpus: 99
    """, "cpus", "cpus: 99"),
    ("""\
    app:
      image: busybox
      deploy:
        resources:
          limits:
            memory: 500g
    """, "mem_limit", "memory: 500g"),
    ("""\
    app:
      image: busybox
      ulimits:
        nofile: {soft: 20, hard: 10}
    """, "ulimits.nofile", "nofile:"),
    ("""\
    app:
      image: busybox
      labels: {a: b}
      x-ecsflow:
        family: "---"
    """, "x-ecsflow.family", "family:"),
])
def test_in_one_file_the_error_names_the_keys_line_and_column(tmp_path, service, key, written):
    text = ROLE + "services:\n" + textwrap.indent(textwrap.dedent(service), "  ")
    compose = write(tmp_path, "compose.yaml", text)
    stderr = render(tmp_path, compose)
    assert f"error: {position(compose, written)}, service 'app', key '{key}'" in stderr


def test_through_extends_the_error_names_the_file_the_key_came_from(tmp_path):
    common = write(tmp_path, "common.yaml", """\
    services:
      base:
        image: busybox
        ports:
          - "80:80/sctp"
    """)
    compose = write(tmp_path, "compose.yaml", ROLE + """\
services:
  app:
    extends: {file: common.yaml, service: base}
    environment:
      A: "1"
""")
    stderr = render(tmp_path, compose)
    assert f"error: {position(common, 'ports:')}, service 'app', key 'ports'" in stderr


def test_a_schema_error_in_the_override_names_its_line(tmp_path):
    base = write(tmp_path, "compose.yaml", BASE)
    over = write(tmp_path, "compose.ecs.yaml", "services:\n  app:\n    environment:\n      B: '2'\n    restart: [1]\n")
    stderr = render(tmp_path, base, over)
    assert f"error: {position(over, 'restart:')}, service 'app', key 'restart'" in stderr


def test_gen_dag_names_the_pool_slots_where_the_override_wrote_them(tmp_path):
    base = write(tmp_path, "compose.yaml", BASE.replace("services:", "  pools: {etl: 2}\nservices:"))
    over = write(tmp_path, "compose.ecs.yaml", """\
    services:
      app:
        x-ecsflow:
          pool: etl

          pool_slots: 3
    """)
    result = ecsflow("gen-dag", "--out", tmp_path / "dags", file=[base, over], env={"NO_COLOR": "1"}, expect=1)
    assert not (tmp_path / "dags").exists(), result.stderr
    assert result.stderr.startswith(f"error: {position(over, 'pool_slots:')}, service 'app', key "
                                    "'x-ecsflow.pool_slots': a task of this service takes 3 slots"), result.stderr
