"""ecsflow.diff's fast equality (strictly_equal), as properties: it agrees with deepdiff, and what the user
wrote as data (an empty argument, a label, a log option) is never normalised away."""

from __future__ import annotations

import copy
from pathlib import Path

from diff_fixtures import container, live, req_hiringcandidate, req_sleep360
from hypothesis import given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.diff import (
    Change,
    diff_family,
    normalise_desired,
    normalise_live,
    strictly_equal,
)

# --- the fast equality test agrees with deepdiff ------------------------------------------------------------

# JSON values, as canonical forms hold them; NaN included (json parses it), and ints, floats and bools that
# Python's == calls equal (1, 1.0, True) but deepdiff does not.
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(-3, 3), st.text(max_size=3),
                    st.sampled_from([0, 1, 1.0, 0.0, True, False, "", "1", "a", "A", float("nan")]))
_KEYS = st.sampled_from(["name", "image", "cpu", "environment", "a", "b", "1", ""])
_JSON = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
                     max_leaves=12)


def _variant(draw, value):
    """``value`` rebuilt with a few random edits (a leaf replaced, a key dropped or added, a list cut): often
    equal, often different by one detail, sometimes by a type alone."""
    if draw(st.integers(0, 5)) == 0:
        return draw(_JSON)
    if isinstance(value, dict):
        out = {k: _variant(draw, v) for k, v in value.items() if draw(st.integers(0, 7))}
        if draw(st.integers(0, 7)) == 0:
            out[draw(_KEYS)] = draw(_JSON)
        return out
    if isinstance(value, list):
        items = [_variant(draw, v) for v in value]
        return items[:-1] if items and draw(st.integers(0, 7)) == 0 else items
    if isinstance(value, int | float) and value in (0, 1) and draw(st.booleans()):
        return draw(st.sampled_from([int(value), float(value), bool(value)]))  # equal to ==, not to deepdiff
    return copy.deepcopy(value)


@st.composite
def _pairs(draw):
    value = draw(_JSON)
    return value, draw(st.sampled_from([value, copy.deepcopy(value), _variant(draw, value)]))


@settings(max_examples=examples(300, 3000))
@given(_pairs())
def test_fast_equality_agrees_with_deepdiff(pair):
    from deepdiff import DeepDiff

    a, b = pair
    found = DeepDiff(a, b, view="tree", verbose_level=2, threshold_to_diff_deeper=0)
    assert strictly_equal(a, b) == (not found)
    assert strictly_equal(b, a) == strictly_equal(a, b)


@settings(max_examples=examples(200, 2000))
@given(_pairs())
def test_fast_equality_agrees_with_deepdiff_on_task_definitions(pair):
    """The same, on the canonical forms of a real definition with random values grafted in."""
    from deepdiff import DeepDiff

    a, b = pair
    base = normalise_live(live("console_payment_service.json"))
    left, right = copy.deepcopy(base), copy.deepcopy(base)
    left["containers"]["Main"]["x"], right["containers"]["Main"]["x"] = a, b
    assert strictly_equal(left, right) == (not DeepDiff(left, right, threshold_to_diff_deeper=0))


def test_an_unchanged_family_is_compared_without_importing_deepdiff():
    import subprocess
    import sys

    code = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from diff_fixtures import live, req_payment
from ecsflow.diff import diff_family


assert diff_family("s", "f", req_payment(), live("console_payment_service.json")).status == "unchanged"
print("deepdiff" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- what the user wrote as data is never normalised away --------------------------------------------------

_WORDS = st.sampled_from(["", " ", "x", "echo", "-c", "0", "false", "null", "[]", "é"]) | st.text(max_size=4)
_LISTS = ("command", "entryPoint", "healthCheck.command")
_MAPS = ("dockerLabels", "logConfiguration.options")


def _place(c: dict, dotted: str) -> tuple[dict, str]:
    *parents, last = dotted.split(".")
    for part in parents:
        c = c.setdefault(part, {})
    return c, last


@st.composite
def _data_and_one_difference(draw):
    """The hiringcandidate request with random argument lists, labels and log options, and a copy that differs
    from it in one list item (changed, added or removed), one label or one option (value, added or removed)."""
    request = req_hiringcandidate()
    for dotted in _LISTS:
        parent, last = _place(container(request), dotted)
        parent[last] = draw(st.lists(_WORDS, max_size=4))
    for dotted in _MAPS:
        parent, last = _place(container(request), dotted)
        parent[last] = {**parent.get(last, {}), **draw(st.dictionaries(_WORDS.filter(bool), _WORDS, max_size=3))}
    other = copy.deepcopy(request)
    parent, last = _place(container(other), draw(st.sampled_from(_LISTS + _MAPS)))
    value = parent[last]
    if isinstance(value, list):
        where = draw(st.integers(0, len(value)))
        action = draw(st.sampled_from(["insert", "change", "remove"] if where < len(value) else ["insert"]))
        if action == "insert":
            value.insert(where, draw(_WORDS))
        elif action == "remove":
            del value[where]
        else:
            value[where] = draw(_WORDS.filter(lambda w: w != value[where]))
    else:
        key = draw(st.sampled_from(sorted(value)) | _WORDS.filter(bool)) if value else draw(_WORDS.filter(bool))
        if key in value and draw(st.booleans()):
            del value[key]
        else:
            value[key] = draw(_WORDS.filter(lambda w: w != value.get(key)))
    return request, other


@settings(max_examples=examples(300, 5000))
@given(_data_and_one_difference())
def test_requests_that_differ_in_a_list_item_label_or_option_never_compare_equal(pair):
    request, other = pair
    assert strictly_equal(normalise_desired(request), normalise_desired(request))
    assert not strictly_equal(normalise_desired(request), normalise_desired(other))
    # As sync sees it: the first registered (ECS echoes it back), the other desired.
    assert diff_family("s", "f", other, {"taskDefinition": request}).status == "changed"
    assert diff_family("s", "f", request, {"taskDefinition": other}).status == "changed"


def test_an_empty_argument_is_an_argument():
    request = req_sleep360()
    container(request)["command"] = ["echo", "", "x"]
    answer = {"taskDefinition": copy.deepcopy(request)}
    container(request)["command"] = ["echo", "x"]
    result = diff_family("s", "sleep360", request, answer)
    assert result.changes == (Change("containers[sleep].command", ["echo", "", "x"], ["echo", "x"]),)


def test_two_items_with_one_key_are_not_one():
    request = req_sleep360()
    container(request)["extraHosts"] = [{"hostname": "db", "ipAddress": "10.0.0.1"},
                                        {"hostname": "db", "ipAddress": "10.0.0.2"}]
    answer = {"taskDefinition": copy.deepcopy(request)}
    container(request)["extraHosts"][0]["ipAddress"] = "10.0.0.3"
    assert diff_family("s", "sleep360", request, answer).status == "changed"
