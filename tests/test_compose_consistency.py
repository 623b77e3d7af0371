"""The last outside projects read as Docker Compose reads them: files that Compose accepts and ecsflow refused, and
files that Compose refuses and ecsflow accepted. Each case goes through the real binary (`docker-compose config`)
and ecsflow's loader (tests/compose_oracle.py): both refuse it, in Compose's words with the file and key, or both
accept it and agree on every field ECS uses."""

from __future__ import annotations

import textwrap

import pytest
from compose_oracle import agree_with_compose

from ecsflow.compose.loader import load_project
from ecsflow.compose.model import Dependency

GPU = "    deploy: {resources: {reservations: {devices: [{capabilities: [gpu], %s}]}}}\n"
TWO_FILES = ["-f", "compose.yaml", "-f", "override.yaml"]

# name -> (files, oracle arguments, fragments of ecsflow's error; None when the project is valid)
CASES = {
    # Compose accepts these.
    "extends an empty entry of another file": ({
        "compose.yaml": "services:\n  a:\n    image: x\n    extends: {file: base.yaml, service: nil}\n",
        "base.yaml": "services:\n  nil:\n"}, [], None),
    "an include of several files is one model, then imported": ({
        "compose.yaml": "include:\n  - path: [lib.yaml, lib.override.yaml]\nservices:\n  a:\n    image: x\n",
        "lib.yaml": "services:\n  lib:\n    image: lib\n",
        "lib.override.yaml": "services:\n  lib:\n    image: lib2\n"}, [], None),
    "an include beside a local service that is the same": ({
        "compose.yaml": "include:\n  - lib.yaml\nservices:\n  lib:\n    image: lib\n",
        "lib.yaml": "services:\n  lib:\n    image: lib\n"}, [], None),
    "an override changes a dependency without repeating its condition": ({
        "compose.yaml": "services:\n  a:\n    image: x\n    depends_on:\n      b: {condition: service_healthy}\n"
                        "  b:\n    image: y\n",
        "override.yaml": "services:\n  a:\n    depends_on:\n      b: {required: false}\n"}, TWO_FILES, None),
    "a later document changes a dependency without repeating its condition": ({
        "compose.yaml": "services:\n  a:\n    image: x\n    depends_on:\n      b: {condition: service_healthy}\n"
                        "  b:\n    image: y\n---\nservices:\n  a:\n    depends_on:\n      b: {restart: true}\n"},
        [], None),
    "a device request counting all, or by a number in text": ({
        "compose.yaml": "services:\n  a:\n    image: x\n" + GPU % "count: ALL" + "  b:\n    image: x\n"
                        + GPU % 'count: "3"'}, [], None),
    "an external secret needs no file": ({
        "compose.yaml": "services:\n  a:\n    image: x\nsecrets:\n  s: {external: true}\n"}, [], None),
    # Compose refuses these.
    "an empty entry extended in its own file": ({
        "compose.yaml": "services:\n  nil:\n  a:\n    image: x\n    extends: nil\n"}, [],
        ["compose.yaml:2", "service 'nil'", "services.nil must be a mapping"]),
    "an include beside a local service that differs": ({
        "compose.yaml": "include:\n  - lib.yaml\nservices:\n  lib:\n    image: other\n",
        "lib.yaml": "services:\n  lib:\n    image: lib\n"}, [],
        ["service 'lib', key 'include'", "services.lib conflicts with imported resource"]),
    "a dependency that never gets a condition": ({
        "compose.yaml": "services:\n  a:\n    image: x\n  b:\n    image: y\n",
        "override.yaml": "services:\n  a:\n    depends_on:\n      b: {required: false}\n"}, TWO_FILES,
        ["override.yaml:4", "key 'depends_on.b'", "services.a.depends_on.b missing property 'condition'"]),
    "count together with device_ids": ({
        "compose.yaml": "services:\n  a:\n    image: x\n" + GPU % 'count: 1, device_ids: ["0"]'}, [],
        ["key 'deploy.resources.reservations.devices.0'", '"count" and "device_ids" attributes are exclusive']),
    "count together with device_ids in gpus": ({
        "compose.yaml": "services:\n  a:\n    image: x\n    gpus: [{count: 0, device_ids: ['0']}]\n"}, [],
        ["key 'gpus.0'", '"count" and "device_ids" attributes are exclusive']),
    "count together with device_ids in a service of a disabled profile": ({
        "compose.yaml": "services:\n  a:\n    image: x\n    profiles: [gpu]\n"
                        + GPU % 'count: 1, device_ids: ["0"]'}, [], ['"count" and "device_ids"']),
    "a count that is not a number": ({
        "compose.yaml": "services:\n  a:\n    image: x\n" + GPU % "count: two"}, [],
        ["key 'deploy.resources.reservations.devices.0.count'", "invalid value \"two\", the only value allowed "
         "is 'all' or a number"]),
    "a secret with neither file nor environment": ({
        "compose.yaml": "services:\n  a:\n    image: x\nsecrets:\n  s: {name: token}\n"}, [],
        ["compose.yaml:5", "key 'secrets.s'", "secrets.s: one of file|environment must be set"]),
    "a secret with a driver only": ({
        "compose.yaml": "services:\n  a:\n    image: x\nsecrets:\n  s: {driver: vault}\n"}, [],
        ['secret "s" must declare either `file` or `environment`']),
    "a secret with both file and environment": ({
        "compose.yaml": "services:\n  a:\n    image: x\nsecrets:\n  s: {file: ./s.txt, environment: S}\n"}, [],
        ["secrets.s: file|environment attributes are mutually exclusive"]),
    "a config with nothing in it": ({
        "compose.yaml": "services:\n  a:\n    image: x\nconfigs:\n  c: {}\n"}, [],
        ["configs.c: one of file|environment|content must be set"]),
    "a config with content and a file": ({
        "compose.yaml": "services:\n  a:\n    image: x\nconfigs:\n  c: {content: hi, file: ./c.txt}\n"}, [],
        ["configs.c: file|environment|content attributes are mutually exclusive"]),
    "a network that only an x- key defines": ({
        "compose.yaml": "services:\n  x-tool:\n    image: x\n    networks: [x-net]\nnetworks:\n  x-net: {}\n"},
        [], ["service 'x-tool', key 'networks'", "refers to undefined network x-net"]),
    "an external volume with a driver": ({
        "compose.yaml": "services:\n  a:\n    image: x\nvolumes:\n  v: {external: true, driver_opts: {a: b}}\n"},
        [], ['volumes.v: conflicting parameters "external" and "driver_opts" specified']),
    "dockerfile together with dockerfile_inline": ({
        "compose.yaml": "services:\n  a:\n    build: {context: ., dockerfile: D, dockerfile_inline: 'FROM x'}\n"},
        [], ["key 'build'", "declares mutualy exclusive dockerfile and dockerfile_inline"]),
    "an extra host without an address": ({
        "compose.yaml": "services:\n  a:\n    image: x\n    extra_hosts: [db]\n"}, [],
        ["key 'extra_hosts'", "invalid additional host, missing IP: db"]),
    "an extra host without a name": ({
        "compose.yaml": "services:\n  a:\n    image: x\n    extra_hosts: ['=10.0.0.1']\n"}, [],
        ["bad host name ''"]),
    "scale and replicas disagree": ({
        "compose.yaml": "services:\n  a:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n"}, [],
        ["key 'scale'", "can't set distinct values on 'scale' and 'deploy.replicas'"]),
}


def write(folder, files):
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text))


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_accepted_and_refused_as_compose_does(case, tmp_path, compose_bin):
    files, args, fragments = CASES[case]
    write(tmp_path, files)
    ours, error = agree_with_compose(tmp_path, args)
    if fragments is None:
        assert ours is not None, error
        return
    assert ours is None, "Compose and ecsflow both accept it, but the case expects a refusal"
    for fragment in fragments:
        assert fragment in error, error


def test_the_overridden_dependency_keeps_its_condition(tmp_path, compose_bin):
    write(tmp_path, CASES["an override changes a dependency without repeating its condition"][0])
    project = load_project(["compose.yaml", "override.yaml"], cwd=tmp_path, environ={})
    assert dict(project.service("a").depends_on) == {"b": Dependency("service_healthy", required=False)}


def test_the_included_override_wins(tmp_path, compose_bin):
    write(tmp_path, CASES["an include of several files is one model, then imported"][0])
    assert load_project(cwd=tmp_path, environ={}).service("lib").image == "lib2"


def test_an_alias_bomb_compose_accepts_loads(tmp_path, compose_bin):
    """117,649 nodes once expanded (seven aliases on each of six levels): past ecsflow's old bound of 100,000,
    which refused what Compose accepts; the bound now sits above what Compose reads in seconds."""
    lines = ["x-a0: &a0 [" + ", ".join(['"lol"'] * 7) + "]"]
    lines += [f"x-a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 7) + "]" for i in range(1, 6)]
    (tmp_path / "compose.yaml").write_text("\n".join(lines) + "\nservices:\n  a:\n    image: x\n")
    ours, error = agree_with_compose(tmp_path)
    assert ours is not None, error
