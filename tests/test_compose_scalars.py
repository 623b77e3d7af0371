"""Plain YAML scalars are read as Docker Compose (go-yaml) reads them, in every place ecsflow reads.

PyYAML alone reads YAML 1.1: `22:22` is the base-60 number 1342, `1:30` is 90, `yes` is true. Compose keeps
them as written. Here scalars are generated (numbers in every base and form, base-60 look-alikes, booleans and
nulls in every spelling, timestamps, near misses), written unquoted into ports, command, entrypoint,
environment, labels, healthcheck, expose, user, image, platform, cpus, sizes, durations, ulimits, profiles, and
ecsflow's load is compared with `docker-compose config --format json`: both refuse the file, or both accept it
and agree.
"""

import math

import pytest
from compose_oracle import agree_with_compose, run_compose_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.compose.loader import load_config
from ecsflow.compose.scalars import YamlTimestamp, go_float_text, resolve_plain

# Every test here runs with each YAML path (conftest.yaml_parser): they must give the same results.
pytestmark = pytest.mark.usefixtures("yaml_parser")

_digits = st.text("0123456789", min_size=1, max_size=4)
_sign = st.sampled_from(["", "+", "-"])
_scalars = st.one_of(
    st.builds(lambda a, b: f"{a}:{b}", st.integers(0, 99), st.integers(0, 99)),  # base 60 in YAML 1.1
    st.builds(lambda s, a, b, c: f"{s}{a}:{b:02d}:{c}", _sign, st.integers(0, 200), st.integers(0, 59),
              st.integers(0, 9)),
    st.builds(lambda s, d: s + d, _sign, _digits),  # includes leading zeros: 017 is octal for go-yaml
    st.builds(lambda s, p, d: f"{s}0{p}{d}", _sign, st.sampled_from("xXoObB"), st.text("0123456789abcdefg_",
                                                                                    max_size=4)),
    st.builds(lambda a, b: f"{a}_{b}", _digits, _digits),
    st.builds(lambda s, m, e: f"{s}{m}e{e}", _sign, st.sampled_from(["1", "1.5", ".5", "3.", "0"]),
              st.sampled_from(["3", "-7", "+2", "400", "21", "6"])),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from([".inf", "-.inf", "+.INF", ".Inf", ".nan", ".NaN", "~", "null", "Null", "NULL", "nUll",
                     "true", "True", "TRUE", "tRue", "false", "FALSE", "yes", "no", "on", "off", "y", "n", "Y",
                     "1e3", "1E3", "0.5e1", "3.", ".5", "-0", "+0", "08", "0o8", "0x", "1e", "1_000", "1__0",
                     "_1", "1_", "0b101", "-0b101", "0o17", "-0o17", "0x1F", "=", "<<x", ".", "-.", "+.5"]),
    st.builds(lambda y, m, d: f"{y:04d}-{m}-{d}", st.integers(0, 2100), st.integers(0, 13), st.integers(0, 32)),
    st.sampled_from(["2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10", "2001-12-14T21:59:43Z",
                     "2001-12-14 21:59:43.10 -5", "2001-12-14T21:59:43", "2001-02-29", "2000-02-29"]),
    st.text("0123456789.:+-_eExXoObB", min_size=1, max_size=6),
)

# Where a scalar goes: (template of the service's lines, with {} for the scalar).
POSITIONS = {
    "ports": "    ports:\n      - {}",
    "command": "    command:\n      - run\n      - {}",
    "entrypoint": "    entrypoint:\n      - {}",
    "environment": "    environment:\n      VALUE: {}",
    "labels": "    labels:\n      label: {}",
    "healthcheck": "    healthcheck:\n      test:\n        - CMD\n        - {}",
    "healthcheck.retries": "    healthcheck:\n      retries: {}",
    "expose": "    expose:\n      - {}",
    "user": "    user: {}",
    "working_dir": "    working_dir: {}",
    "cpus": "    cpus: {}",
    "mem_limit": "    mem_limit: {}",
    "stop_grace_period": "    stop_grace_period: {}",
    "ulimits": "    ulimits:\n      nofile: {}",
    "init": "    init: {}",
    "long port": "    ports:\n      - target: {}",
    "x-extension": "    x-note: {}",
    "image": "    platform: linux/amd64\n    image: {}",
    "platform": "    platform: {}",
    "read_only": "    read_only: {}",
    "mem_reservation": "    mem_reservation: {}",
    "limits": "    deploy:\n      resources:\n        limits:\n          cpus: {}\n        reservations:\n"
              "          memory: 1g",
    "profiles": "    profiles:\n      - {}",
    "published port": "    ports:\n      - target: 80\n        published: {}",
}
# Compose lets these through `config` (Docker refuses them at `up`, ECS at registration); ecsflow refuses at once.
ALLOWED = ("cpus must not be negative", "must be a port number, 0-65535", "retries is too large",
           "retries must be a whole number", "the size is too large")


def compose_file(placed: dict[str, str]) -> str:
    lines = "\n".join(POSITIONS[position].format(scalar) for position, scalar in placed.items())
    return f"services:\n  web:\n    image: busybox\n{lines}\n"


def check(tmp_path_factory, placed):
    case = tmp_path_factory.mktemp("scalar")
    (case / "compose.yaml").write_text(compose_file(placed))
    agree_with_compose(case, allowed_refusals=ALLOWED)


_placements = st.dictionaries(st.sampled_from(sorted(POSITIONS)), _scalars, min_size=1, max_size=2)


@settings(max_examples=examples(20, 600), suppress_health_check=[HealthCheck.too_slow])
@given(placed=_placements)
def test_scalars_read_as_compose_reads_them(placed, tmp_path_factory, compose_bin):
    check(tmp_path_factory, placed)


@pytest.mark.parametrize(
    ("position", "scalar"),
    [("ports", "22:22"), ("command", "1:30"), ("environment", "12:30"), ("environment", "yes"),
     ("environment", "on"), ("environment", "1e3"), ("environment", "0o17"), ("environment", "017"),
     ("environment", "1e+06"), ("environment", "123456.789"), ("environment", ".inf"), ("labels", "0x1F"),
     ("environment", "2001-12-14"), ("command", "1e3"), ("user", "1000"), ("init", "yes")],
)
def test_the_issue_examples(position, scalar, tmp_path_factory, compose_bin):
    """The cases the issue names, each on its own."""
    check(tmp_path_factory, {position: scalar})


def test_base_sixty_port_reaches_ecs_as_written(tmp_path, compose_bin):
    (tmp_path / "compose.yaml").write_text(compose_file({"ports": "22:22", "command": "1:30",
                                                         "environment": "12:30"}))
    config = load_config(cwd=tmp_path, environ={})
    service = config["services"]["web"]
    assert [(p["target"], p["published"]) for p in service["ports"]] == [(22, "22")]
    assert service["command"] == ["run", "1:30"]
    assert service["environment"]["VALUE"] == "12:30"
    code, theirs, _ = run_compose_config(tmp_path, [], {})
    assert code == 0 and theirs["services"]["web"]["ports"][0]["target"] == 22


@pytest.mark.parametrize(
    ("text", "value"),
    [("22:22", "22:22"), ("yes", "yes"), ("1e3", 1000.0), ("0o17", 15), ("017", 15), ("08", 8.0),
     ("0x1F", 31), ("0b101", 5), ("1_000", 1000), ("~", None), ("", None), ("True", True), ("tRue", "tRue"),
     ("1e400", "1e400"), ("18446744073709551615", 2**64 - 1), ("-9223372036854775809", -9.223372036854776e18)],
)
def test_resolver_units(text, value):
    """A few readings pinned down (the property test above is the proof against Compose)."""
    assert resolve_plain(text) == value and type(resolve_plain(text)) is type(value)


def test_timestamps_and_special_floats():
    assert isinstance(resolve_plain("2001-12-14"), YamlTimestamp)
    assert resolve_plain("2001-13-14") == "2001-13-14"
    assert math.isnan(resolve_plain(".NaN")) and resolve_plain("-.inf") == -math.inf
    assert [go_float_text(v) for v in (1000.0, 1e6, 1e-5, 0.0001, -0.0, 1.5e300)] == [
        "1000", "1e+06", "1e-05", "0.0001", "-0", "1.5e+300"]


def test_timestamps_in_extension_keys_print_as_compose_prints_them(tmp_path, compose_bin):
    (tmp_path / "compose.yaml").write_text(
        "x-day: 2001-12-14\nservices:\n  web:\n    image: x\n    x-when: 2001-12-14 21:59:43.10\n")
    ours = load_config(cwd=tmp_path, environ={})
    _, theirs, _ = run_compose_config(tmp_path, [], {})
    assert ours["x-day"] == theirs["x-day"] == "2001-12-14T00:00:00Z"
    # Compose's output leaves a service's x- keys out; ecsflow keeps them, as text in the same form.
    assert ours["services"]["web"]["x-when"] == "2001-12-14T21:59:43.1Z"
