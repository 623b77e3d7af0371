"""Interpolation: unit cases for each form, and generated templates checked against Docker Compose itself."""

import json

import pytest
from compose_oracle import run_compose_config, unescape_dollars
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.compose.interpolate import InterpolationError, interpolate

ENV = {"A": "alpha", "B": "b:-c", "EMPTY": ""}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$A", "alpha"),
        ("${A}", "alpha"),
        ("${UNSET:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${UNSET-dflt}", "dflt"),
        ("${A:+alt}", "alt"),
        ("${EMPTY:+alt}", ""),
        ("${EMPTY+alt}", "alt"),
        ("${UNSET+alt}", ""),
        ("${UNSET:-${A}-x}", "alpha-x"),
        ("$$A", "$A"),
        ("a$${A}b", "a${A}b"),
        ("${A:?never shown}", "alpha"),
        ("${UNSET:-${ALSO:-${A}}}", "alpha"),
        ("${A}}", "alpha}"),
        ("$", "$"),
        ("a $ b $1", "a $ b $1"),
    ],
)
def test_forms(template, expected):
    assert interpolate(template, ENV) == expected


@pytest.mark.parametrize("template", ["${UNSET:?must be set}", "${EMPTY:?must be set}", "${UNSET?must be set}"])
def test_required_variable_error_carries_message(template):
    with pytest.raises(InterpolationError, match="must be set") as info:
        interpolate(template, ENV)
    assert info.value.required


def test_required_with_question_mark_accepts_empty():
    assert interpolate("${EMPTY?must be set}", ENV) == ""


@pytest.mark.parametrize("template", ["${", "${A", "${A!}", "${1A}"])
def test_invalid_syntax_is_an_error(template):
    with pytest.raises(InterpolationError):
        interpolate(template, ENV)


def test_unset_variable_warns_and_becomes_blank():
    warnings = []
    assert interpolate("x${UNSET}y", ENV, warnings.append) == "xy"
    assert warnings == ['The "UNSET" variable is not set. Defaulting to a blank string.']


# Templates built from the grammar of the spec, without the error forms.
_names = st.sampled_from(["A", "B", "EMPTY", "UNSET"])
_literal = st.text(alphabet="abc XYZ-_:/.,=+$1}", min_size=0, max_size=6)


def _template(depth: int):
    simple = st.one_of(
        _literal,
        _names.map(lambda n: f"${n}"),
        _names.map(lambda n: f"${{{n}}}"),
        st.just("$$"),
    )
    if depth == 0:
        return simple
    inner = _template(depth - 1)
    braced = st.tuples(_names, st.sampled_from([":-", "-", ":+", "+"]), inner).map(
        lambda t: f"${{{t[0]}{t[1]}{t[2]}}}"
    )
    return st.lists(st.one_of(simple, braced), min_size=1, max_size=4).map("".join)


@settings(max_examples=examples(20, 200), suppress_health_check=[HealthCheck.too_slow])
@given(templates=st.lists(_template(2), min_size=1, max_size=12))
def test_generated_templates_agree_with_compose(templates, tmp_path_factory, compose_bin):
    case = tmp_path_factory.mktemp("interp")
    environment = {f"T{i}": template for i, template in enumerate(templates)}
    # JSON strings are valid YAML double-quoted scalars, so the template text reaches Compose unchanged.
    lines = ["services:", "  s:", "    image: busybox", "    environment:"]
    lines += [f"      {key}: {json.dumps(value)}" for key, value in environment.items()]
    (case / "compose.yaml").write_text("\n".join(lines) + "\n")
    shell = {k: v for k, v in ENV.items()}
    code, config, stderr = run_compose_config(case, [], shell)
    assert code == 0, stderr
    theirs = unescape_dollars(config["services"]["s"]["environment"])
    ours = {key: interpolate(value, shell) for key, value in environment.items()}
    assert ours == theirs
