"""Which files Docker Compose accepts and refuses, and ecsflow with it: each case is run through the real binary
(`docker-compose config`) and through ecsflow's loader; both refuse it, or both accept it and agree. A refusal
is one message naming the file, line, service and key, in Compose's words, without the value."""

import json
import re
import textwrap

import pytest
from cli_runner import ecsflow
from compose_oracle import agree_with_compose, compose_binary, run_compose_config

from ecsflow.compose.loader import load_config
from ecsflow.compose.schema import SCHEMA_FILE

# name -> (files, fragments every ecsflow error must contain; None when the project is valid)
CASES = {
    # Valid files that ecsflow used to refuse.
    "name is lowercased": ({"compose.yaml": "name: MyProject\nservices:\n  a:\n    image: x\n"}, None),
    "several documents are merged": ({"compose.yaml": """\
        services:
          a:
            image: x
            environment: {A: "1"}
        ---
        services:
          a:
            environment: {B: "2"}
          b:
            image: y
        """}, None),
    "an anchor serves a later document": (
        {"compose.yaml": "x-i: &i x\nservices:\n  a:\n    image: *i\n---\nservices:\n  b:\n    image: *i\n"}, None),
    "a later document resets a service": (
        {"compose.yaml": "services:\n  a:\n    image: x\n  b:\n    image: y\n---\nservices:\n  b: !reset {}\n"},
        None),
    "extends target file has a broken service nobody extends": ({
        "compose.yaml": "services:\n  a:\n    extends: {file: base.yaml, service: base}\n",
        "base.yaml": "x-top: 1\nservices:\n  base:\n    image: x\n  broken:\n    image: [1]\n    bogus: 1\n"
                     "  other: 5\n"}, None),
    "the same file included twice": ({
        "compose.yaml": "include:\n  - lib.yaml\n  - sub/mid.yaml\nservices:\n  a:\n    image: x\n",
        "lib.yaml": "services:\n  lib:\n    image: lib\n    env_file: lib.env\n",
        "lib.env": "L=1\n",
        "sub/mid.yaml": "include:\n  - ../lib.yaml\n"}, None),
    "deduplicated lists may repeat": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    ports: ['80', '80']\n    cap_add: [A, A]\n"
                         "    environment: [A=1, A=1]\n"}, None),
    "typed text is read as Compose reads it": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    cpu_count: '2'\n    init: 'yes'\n    cpus: '0.3'\n"
                         "    healthcheck: {retries: '3'}\n    ulimits: {nofile: '+5'}\n"
                         "    ports: [{target: '80'}]\n"}, None),
    # Invalid files that ecsflow used to accept.
    "environment value is a list": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    environment:\n      FOO: ['1']\n"},
        ["compose.yaml:5", "service 'a'", "key 'environment.FOO'", "services.a.environment.FOO must be a string"]),
    "environment value is a mapping": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    environment:\n      BAR: {x: 1}\n"},
        ["compose.yaml:5", "services.a.environment.BAR must be"]),
    "a key that is not text": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    environment:\n      1: FOO\n"},
        ["compose.yaml:5:7", "non-string key '1'"]),
    "a service named by a number": ({"compose.yaml": "services:\n  123:\n    image: x\n"},
                                    ["compose.yaml:2:3", "non-string key '123'"]),
    "undefined network": ({"compose.yaml": "services:\n  a:\n    image: x\n    networks: [nope]\n"},
                          ["compose.yaml:4", "service 'a'", "key 'networks'", "undefined network nope"]),
    "undefined volume": ({"compose.yaml": "services:\n  a:\n    image: x\n    volumes: ['nope:/data']\n"},
                         ["compose.yaml:4", "key 'volumes'", "undefined volume nope"]),
    "undefined secret": ({"compose.yaml": "services:\n  a:\n    image: x\n    secrets: [nope]\n"},
                         ["undefined secret nope"]),
    "undefined config": ({"compose.yaml": "services:\n  a:\n    image: x\n    configs: [nope]\n"},
                         ["undefined config nope"]),
    "volumes_from an unknown service": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    volumes_from: [nope]\n"},
        ["key 'volumes_from'", 'depends on undefined service "nope"']),
    "network_mode of an unknown service": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    network_mode: service:nope\n"},
        ["key 'network_mode'", 'depends on undefined service "nope"']),
    "links to an unknown service": ({"compose.yaml": "services:\n  a:\n    image: x\n    links: [nope]\n"},
                                    ["key 'links'", 'depends on undefined service "nope"']),
    "a link to a service of a disabled profile": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    links: [b]\n  b:\n    image: x\n    profiles: [p]\n"},
        ['depends on undefined service "b"', "profile that is not enabled"]),
    "develop.watch action": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    develop:\n      watch:\n        - path: .\n"
                         "          action: explode\n"},
        ["compose.yaml:7", "key 'develop.watch.0.action'", "value must be one of 'rebuild'"]),
    "develop.watch without path": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    develop:\n      watch:\n        - action: sync\n"},
        ["services.a.develop.watch.0 missing property 'path'"]),
    "tmpfs options": ({"compose.yaml": "services:\n  a:\n    image: x\n    volumes:\n      - type: tmpfs\n"
                                       "        target: /t\n        tmpfs: {size: [1]}\n"},
                      ["compose.yaml:7", "services.a.volumes.0.tmpfs.size must be"]),
    "GPU reservation without capabilities": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    deploy:\n      resources:\n        reservations:\n"
                         "          devices:\n            - driver: nvidia\n"},
        ["compose.yaml:8", "devices.0 missing property 'capabilities'"]),
    "gpus in a wrong form": ({"compose.yaml": "services:\n  a:\n    image: x\n    gpus: some\n"},
                             ["services.a.gpus"]),
    "unknown key, with a suggestion": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    enviroment: {}\n"},
        ["compose.yaml:4", "unknown key 'enviroment'", "did you mean 'environment'"]),
    "unknown top-level key": ({"compose.yaml": "bogus: 1\nservices:\n  a:\n    image: x\n"},
                              ["compose.yaml:1", "unknown key 'bogus'"]),
    "a list that Compose does not de-duplicate": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    depends_on: [b, b]\n  b:\n    image: y\n"},
        ["services.a.depends_on", "same item twice"]),
    "typed text that is not the type": ({"compose.yaml": "services:\n  a:\n    image: x\n    cpu_count: two\n"},
                                        ["services.a.cpu_count", "failed to cast"]),
    "a trailing empty document": ({"compose.yaml": "services:\n  a:\n    image: x\n---\n"},
                                  ["top-level object must be a mapping"]),
    "network_mode with networks": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    network_mode: host\n    networks: [default]\n"},
        ["mutually exclusive"]),
    "cpus and limits disagree": (
        {"compose.yaml": "services:\n  a:\n    image: x\n    cpus: 1\n"
                         "    deploy: {resources: {limits: {cpus: '2'}}}\n"},
        ["can't set distinct values on 'cpus'"]),
    "an included service differs from the file's own": ({
        "compose.yaml": "include:\n  - lib.yaml\nservices:\n  lib:\n    image: other\n",
        "lib.yaml": "services:\n  lib:\n    image: lib\n"}, ["services.lib conflicts with imported resource"]),
}


def write(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(textwrap.dedent(text))


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_accepted_and_refused_as_compose_does(case, tmp_path, compose_bin):
    files, fragments = CASES[case]
    write(tmp_path, files)
    ours, error = agree_with_compose(tmp_path)
    if fragments is None:
        assert ours is not None, error
        return
    assert ours is None, "Compose and ecsflow both accept it, but the case expects a refusal"
    for fragment in fragments:
        assert fragment in error, error


def test_several_documents_merge_like_compose(tmp_path, compose_bin):
    write(tmp_path, CASES["several documents are merged"][0])
    config = load_config(cwd=tmp_path, environ={})
    assert config["services"]["a"]["environment"] == {"A": "1", "B": "2"} and "b" in config["services"]


@pytest.mark.parametrize("value", ["${N}", "'${N}'"])
@pytest.mark.parametrize(("number", "valid"), [("2", True), ("two", False)])
def test_files_are_validated_after_interpolation(tmp_path, compose_bin, value, number, valid):
    """`cpu_count: ${N}` is an integer field: Compose interpolates, converts, then validates; so does ecsflow."""
    (tmp_path / "compose.yaml").write_text(f"services:\n  a:\n    image: x\n    cpu_count: {value}\n")
    ours, error = agree_with_compose(tmp_path, env={"N": number})
    assert (ours is not None) is valid, error


def test_errors_do_not_echo_values(tmp_path):
    (tmp_path / "compose.yaml").write_text(
        'services:\n  a:\n    image: x\n    environment:\n      DB_PASSWORD: "s3cr3t-pw${oops"\n'
        '      TOKEN: ["tok3n-value"]\n')
    result = ecsflow("render", file=tmp_path / "compose.yaml", expect=1)
    assert "s3cr3t" not in result.stderr and "DB_PASSWORD" in result.stderr
    assert "compose.yaml:5" in result.stderr and "service 'a'" in result.stderr
    (tmp_path / "compose.yaml").write_text('services:\n  a:\n    image: x\n    environment:\n'
                                           '      TOKEN: ["tok3n-value"]\n    cpu_count: "s3cr3t"\n')
    result = ecsflow("render", file=tmp_path / "compose.yaml", expect=1)
    assert "tok3n" not in result.stderr and "s3cr3t" not in result.stderr


def test_multiple_default_files_warn_as_compose_does(tmp_path, compose_bin):
    write(tmp_path, {"compose.yaml": "services:\n  a:\n    image: from-compose-yaml\n",
                     "docker-compose.yml": "services:\n  a:\n    image: from-docker-compose\n",
                     "docker-compose.override.yml": "services:\n  a:\n    environment: {O: yml}\n",
                     "compose.override.yaml": "services:\n  a:\n    environment: {O: compose}\n"})
    warnings = []
    ours = load_config(cwd=tmp_path, environ={}, warn=warnings.append)
    _, theirs, stderr = run_compose_config(tmp_path, [], {})
    theirs_warnings = re.findall(r'msg="([^"]*)"', stderr)
    assert warnings == theirs_warnings
    assert "Found multiple config files with supported names" in warnings[0]
    assert ours["services"]["a"]["image"] == theirs["services"]["a"]["image"] == "from-compose-yaml"
    assert ours["services"]["a"]["environment"] == {"O": "compose"}


def test_docker_compose_yml_is_preferred_to_yaml(tmp_path, compose_bin):
    write(tmp_path, {"docker-compose.yaml": "services:\n  a:\n    image: yaml\n",
                     "docker-compose.yml": "services:\n  a:\n    image: yml\n"})
    warnings = []
    ours = load_config(cwd=tmp_path, environ={}, warn=warnings.append)
    _, theirs, _ = run_compose_config(tmp_path, [], {})
    assert ours["services"]["a"]["image"] == theirs["services"]["a"]["image"] == "yml"
    assert len(warnings) == 2


def test_vendored_schema_is_the_one_compose_embeds():
    """compose-spec.json must be the schema the Docker Compose binary validates with (found in its bytes)."""
    binary = compose_binary()
    assert binary is not None
    data = binary.read_bytes()
    ours = json.loads(SCHEMA_FILE.read_text())
    start = data.index(b'"$id": "compose_spec.json"')
    start = data.rindex(b"{", 0, start)
    embedded, _ = json.JSONDecoder().raw_decode(data[start:start + 200_000].decode("utf-8", "replace"))
    # check-jsonschema's copy is one revision older on a key ecsflow ignores (`models` entries may be null).
    del ours["definitions"]["service"]["properties"]["models"], embedded["definitions"]["service"]["properties"][
        "models"]
    assert ours == embedded


@pytest.mark.parametrize("line", [
    "    mem_limit: ${PLAIN}", "    stop_grace_period: ${PLAIN}", "    command: \"run ${PLAIN} 'open\"",
    "    ports: ['${PLAIN}']", "    cpus: ${PLAIN}", "    ulimits: {nofile: '${PLAIN}'}", "    init: '${PLAIN}'",
    "    healthcheck: {retries: '${PLAIN}'}", "    environment: {X: \"${PLAIN}${oops\"}",
    "    deploy: {resources: {limits: {memory: '${PLAIN}'}}}", "    expose: ['${PLAIN}', 1.5]",
])
def test_no_loader_error_shows_a_value(tmp_path, line):
    """Whatever a variable holds, an error about where it ended up names the key, never the value. (Names of
    networks, volumes and services that a service refers to are shown: they are what the user must fix.)"""
    from ecsflow.compose.model import service_from_config
    from ecsflow.errors import ComposeError

    (tmp_path / "compose.yaml").write_text(f"services:\n  a:\n    image: x\n{line}\n")
    with pytest.raises(ComposeError) as info:
        config = load_config(cwd=tmp_path, environ={"PLAIN": "v4lue-that-must-not-show"})
        service_from_config("a", config["services"]["a"])
    assert "v4lue" not in str(info.value) and "service 'a'" in str(info.value)
