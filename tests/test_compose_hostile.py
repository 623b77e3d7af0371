"""Hostile input to the compose loader: bounded work and one clear error (exit 1), never a hang, a crash or
"unexpected". Where Compose accepts what looks hostile (1500 `extends`, 500 nested `${...}`), ecsflow must too,
and the binary is asked."""

import os
import time
import tracemalloc

import pytest
from cli_runner import assert_clean_error, ecsflow
from compose_oracle import agree_with_compose, alias_bomb, run_compose_config

from ecsflow.compose.envfile import parse_env_text
from ecsflow.compose.files import COMPOSE_FILE_LIMIT
from ecsflow.compose.loader import load_config
from ecsflow.compose.yamlfile import MAX_ALIAS_NODES, MAX_DEPTH

# Every test here runs with each YAML path (conftest.yaml_parser): they must give the same results.
pytestmark = pytest.mark.usefixtures("yaml_parser")


def render(tmp_path, text, *args, env=None, expect=1):
    """`ecsflow render` of ``text`` as compose.yaml: refused unless told."""
    __tracebackhide__ = True
    (tmp_path / "compose.yaml").write_text(text)
    return ecsflow("render", *args, file=tmp_path / "compose.yaml", env=env, expect=expect)


@pytest.mark.parametrize("where", ["unused x- key", "command"])
def test_alias_bomb_is_refused_quickly_in_little_memory(tmp_path, where):
    text = alias_bomb(10) + "services:\n  web:\n    image: x\n"
    if where == "command":
        text = alias_bomb(10).replace("x-a9:", "x-unused:") + "services:\n  web:\n    image: x\n    command: *a8\n"
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = render(tmp_path, text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_clean_error(result, f"YAML aliases expand to more than {MAX_ALIAS_NODES} nodes", "compose.yaml:")
    assert time.monotonic() - started < 10
    assert peak < 64 * 1024 * 1024


def test_modest_anchors_still_work(tmp_path, compose_bin):
    """Anchors as real files use them (a few levels, far under the bound) load, and agree with Compose."""
    (tmp_path / "compose.yaml").write_text(
        "x-env: &env {A: '1', B: '2'}\nx-base: &base\n  image: x\n  environment: *env\n"
        "services:\n  a:\n    <<: *base\n  b:\n    <<: *base\n    environment:\n      <<: *env\n      C: '3'\n")
    ours, error = agree_with_compose(tmp_path)
    assert ours is not None, error
    assert ours["services"]["b"]["environment"] == {"A": "1", "B": "2", "C": "3"}


def test_an_alias_to_its_own_anchor_is_refused(tmp_path, compose_bin):
    (tmp_path / "compose.yaml").write_text("x-loop: &loop [1, *loop]\nservices:\n  a:\n    image: x\n")
    ours, error = agree_with_compose(tmp_path)
    assert ours is None and "alias to itself" in error


@pytest.mark.parametrize(("value", "message"), [
    ("labels: !!map abc", "4:13: !!map needs a mapping"), ("labels: !!map [a, b]", "4:13: !!map needs a mapping"),
    ("command: !!seq abc", "4:14: !!seq needs a list"), ("command: !!seq {a: b}", "4:14: !!seq needs a list"),
])
def test_a_collection_tag_on_another_kind_of_node_is_a_clear_error(tmp_path, value, message):
    """`!!map` on a scalar or a list, `!!seq` on a scalar or a mapping: one error naming the line and column
    (it was "unexpected AttributeError")."""
    assert_clean_error(render(tmp_path, f"services:\n  a:\n    image: x\n    {value}\n"), f"compose.yaml:{message}")


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000, 200_000])
def test_deep_nesting_is_refused(tmp_path, depth):
    started = time.monotonic()
    result = render(tmp_path, "x-deep: " + "[" * depth + "]" * depth + "\nservices:\n  a:\n    image: x\n")
    assert_clean_error(result, f"nesting deeper than {MAX_DEPTH} levels", "compose.yaml:1:")
    assert time.monotonic() - started < 15


def test_nesting_up_to_the_bound_loads(tmp_path, compose_bin):
    depth = MAX_DEPTH - 5
    (tmp_path / "compose.yaml").write_text(
        "x-deep: " + "[" * depth + "]" * depth + "\nx-ecsflow: {execution_role: arn:aws:iam::123456789012:role/exec}\n"
        "services:\n  a:\n    image: x\n    labels:\n      x: y\n")
    ours, error = agree_with_compose(tmp_path)
    assert ours is not None, error
    render(tmp_path, (tmp_path / "compose.yaml").read_text(), expect=0)


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "fifo.env"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("source", ["/dev/zero", "/proc/self/environ", "fifo", "directory", "symlink to /dev/zero"])
def test_env_file_must_be_a_regular_file(tmp_path, source, fifo):
    path = {"fifo": str(fifo), "directory": str(tmp_path)}.get(source, source)
    if source.startswith("symlink"):
        (tmp_path / "zero.env").symlink_to("/dev/zero")
        path = str(tmp_path / "zero.env")
    started = time.monotonic()
    result = render(tmp_path, f"services:\n  a:\n    image: x\n    env_file: {path}\n",
                    env={"SECRET_IN_ENV": "do-not-print-me"})
    assert_clean_error(result, "env file is not a regular file", "service 'a'")
    assert "do-not-print-me" not in result.stderr + result.stdout
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("flag", ["-f", "--env-file"])
def test_flags_refuse_devices(tmp_path, flag):
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n")
    args = ["-f", "/dev/zero"] if flag == "-f" else ["-f", str(tmp_path / "compose.yaml"), "--env-file", "/dev/zero"]
    result = ecsflow("render", *args, expect=1)
    assert_clean_error(result, "is not a regular file", "/dev/zero")


def test_dot_env_that_is_a_device_is_refused(tmp_path):
    (tmp_path / ".env").symlink_to("/dev/zero")
    result = render(tmp_path, "services:\n  a:\n    image: x\n")
    assert_clean_error(result, ".env", "env file is not a regular file")


@pytest.mark.parametrize("kind", ["compose file", "env file"])
def test_files_over_the_size_limit_are_refused_at_once(tmp_path, kind):
    big = tmp_path / "big"
    with open(big, "wb") as handle:  # sparse: large on paper, nothing written
        handle.truncate(COMPOSE_FILE_LIMIT + 1)
    started = time.monotonic()
    if kind == "compose file":
        result = ecsflow("render", file=big, expect=1)
    else:
        result = render(tmp_path, f"services:\n  a:\n    image: x\n    env_file: {big}\n")
    assert_clean_error(result, f"{kind} is larger than the 4 MiB ecsflow reads")
    assert time.monotonic() - started < 5


def extends_chain(length: int) -> str:
    lines = ["services:", "  s0:", "    image: x", "    environment: {A0: '0'}"]
    for i in range(1, length):
        lines += [f"  s{i}:", f"    extends: s{i - 1}", f"    environment: {{A{i}: '{i}'}}"]
    return "\n".join(lines) + "\n"


def test_a_long_extends_chain_loads_in_linear_time(tmp_path):
    (tmp_path / "compose.yaml").write_text(extends_chain(1500))
    started = time.monotonic()
    config = load_config(cwd=tmp_path, environ={})
    assert time.monotonic() - started < 20
    assert len(config["services"]["s1499"]["environment"]) == 1500


@pytest.mark.slow
def test_a_long_extends_chain_agrees_with_compose(tmp_path, compose_bin):
    """Compose itself takes ~25 s for this one."""
    (tmp_path / "compose.yaml").write_text(extends_chain(1500))
    ours, error = agree_with_compose(tmp_path)
    assert ours is not None, error


def nested_defaults(depth: int) -> str:
    template = "${V0:-" * depth + "end" + "}" * depth
    return f'services:\n  a:\n    image: x\n    environment:\n      E: "{template}"\n'


def test_deeply_nested_defaults_agree_with_compose(tmp_path, compose_bin):
    (tmp_path / "compose.yaml").write_text(nested_defaults(500))
    ours, error = agree_with_compose(tmp_path)
    assert ours is not None and ours["services"]["a"]["environment"]["E"] == "end", error


def test_very_deeply_nested_defaults_take_linear_time(tmp_path):
    (tmp_path / "compose.yaml").write_text(nested_defaults(50_000))
    started = time.monotonic()
    config = load_config(cwd=tmp_path, environ={"V0": ""})
    assert config["services"]["a"]["environment"]["E"] == "end"
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(("value", "message"), [
    (".inf", "cpus must be a finite number"), ('"nan"', "cpus must be a finite number"),
    ('"-1"', "cpus must not be negative"), ("-0.5", "cpus must not be negative"),
])
@pytest.mark.parametrize("key", ["cpus", "limits"])
def test_impossible_cpu_counts_are_clear_errors(tmp_path, value, message, key, compose_bin):
    text = (f"services:\n  a:\n    image: x\n    cpus: {value}\n" if key == "cpus" else
            f"services:\n  a:\n    image: x\n    deploy: {{resources: {{limits: {{cpus: {value}}}}}}}\n")
    assert_clean_error(render(tmp_path, text), "compose.yaml:4", "service 'a'", message)
    code, _, stderr = run_compose_config(tmp_path, [], {})
    # Compose cannot print a NaN or an infinite count at all; it lets a negative one through `config` only for
    # Docker to refuse it at `up` ("Range of CPUs is from 0.01 to ..."). ECS has no negative size either.
    assert (code != 0) is (message == "cpus must be a finite number"), stderr


def dotenv(lines: int) -> str:
    return "".join(f'VAR_{i}="value {i} with \\"quotes\\""\nexport OTHER_{i}=${{VAR_{i}}}/x # note\n'
                   for i in range(lines // 2))


def test_env_file_parser_is_linear():
    """Was quadratic (8k lines 0.9 s, 32k lines 14 s); now about 5 us a line at any size."""
    timings = {}
    for lines in (8_000, 32_000):
        text = dotenv(lines)
        started = time.monotonic()
        result = parse_env_text(text, "big.env", {})
        timings[lines] = time.monotonic() - started
        assert len(result) == lines and result[f"OTHER_{lines // 2 - 1}"] == f'value {lines // 2 - 1} with "quotes"/x'
    assert timings[32_000] < 3
    assert timings[32_000] < 8 * max(timings[8_000], 0.01)  # four times the lines: far from sixteen times the time


def test_a_dot_env_directory_is_passed_over_as_compose_does(tmp_path, compose_bin):
    (tmp_path / ".env").mkdir()
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: x\n")
    ours, error = agree_with_compose(tmp_path)
    assert ours is not None, error


def test_a_dot_env_fifo_is_refused_not_read_for_ever(tmp_path):
    os.mkfifo(tmp_path / ".env")
    started = time.monotonic()
    assert_clean_error(render(tmp_path, "services:\n  a:\n    image: x\n"), "env file is not a regular file")
    assert time.monotonic() - started < 5
