"""Random and hostile compose files fed to `ecsflow render` in-process: every one ends with exit 0 or 1 and a
clear message (never "unexpected", never a traceback), within bounded time and memory.

The files mix compose-shaped documents (every service key the Compose Specification knows, with values of odd
types) with hostile text: anchors and alias bombs, deep nesting, huge scalars, several documents, odd
interpolations, paths to devices and /proc, tabs and control characters.
"""

import json
import resource
import time

import yaml
from cli_runner import ecsflow
from compose_oracle import alias_bomb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.compose.schema import SCHEMA_FILE

SERVICE_KEYS = sorted(json.loads(SCHEMA_FILE.read_text())["definitions"]["service"]["properties"])
TOP_KEYS = ["version", "name", "include", "networks", "volumes", "secrets", "configs", "models", "x-ecsflow", "x-y"]
PATHS = ["other.yaml", "missing.env", ".", "/dev/zero", "/proc/self/environ", "sub/../other.yaml", ""]

_odd_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["${", "${A", "${A:-${B:-${C}}}", "$$", "${A:?boom}", "${A?}", "$1", "${ }", "${A:+x}", "}",
                     "22:22", "yes", "1e3", ".inf", "0x1F", "~", "2001-12-14", "-1", "0", "service:x", "a=b", "A",
                     "CMD", "NONE", "1g", "10s", "-5s", "80:80/udp", "[::1]:80:80", "tcp", "host", "x" * 300]),
    st.sampled_from(PATHS),
)
_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**65), 2**65), st.floats(), _odd_text)
_value = st.recursive(
    _scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(st.sampled_from(SERVICE_KEYS + ["soft", "hard", "target",
                                                                                      "path", "service", "file"]),
                                                      st.text(max_size=8)), inner, max_size=4)),
    max_leaves=12,
)
_service = st.dictionaries(st.sampled_from(SERVICE_KEYS + ["x-ecsflow", "x-other"]), _value, max_size=6).map(
    lambda service: {"image": "busybox", **service})
_document = st.fixed_dictionaries(
    {"services": st.dictionaries(st.sampled_from(["web", "job", "db", "a.b", "x"]), _service, min_size=1,
                                 max_size=3)},
    optional={key: _value for key in TOP_KEYS},
)


def _dump(document) -> str:
    try:
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        return json.dumps(document, default=str)


_hostile_snippets = st.sampled_from([
    alias_bomb(9),
    "x-deep: " + "[" * 3000 + "]" * 3000 + "\n",
    "x-deep: " + "{a: " * 300 + "1" + "}" * 300 + "\n",
    "x-loop: &loop [*loop]\n",
    "x-big: " + "y" * 2_000_000 + "\n",
    "x-keys: {1: a, true: b, ~: c}\n",
    "---\n",
    "--- 5\n",
    "x-tab:\t1\n",
    "x-ctl: \x07\n",
    "services:\n  web:\n    env_file: /dev/zero\n",
    "services:\n  web:\n    env_file: /proc/self/environ\n",
    "include:\n  - /dev/zero\n",
    "services:\n  web:\n    extends: {file: /dev/zero, service: web}\n",
    "services:\n  web:\n    extends: web\n",
    "services:\n  web:\n    environment:\n      E: \"" + "${V:-" * 400 + "x" + "}" * 400 + "\"\n",
    "services:\n  web:\n    cpus: .nan\n    mem_limit: .inf\n",
    "<<: *undefined\n",
    "x-merge: &m {a: 1}\nservices:\n  web:\n    <<: *m\n",
])


@st.composite
def compose_texts(draw):
    text = _dump(draw(_document))
    for _ in range(draw(st.integers(0, 2))):
        snippet = draw(_hostile_snippets)
        text = snippet + text if draw(st.booleans()) else text + "\n" + snippet
    return text


def check(tmp_path_factory, text, variables):
    case = tmp_path_factory.mktemp("fuzz")
    (case / "compose.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    (case / "other.yaml").write_text("services:\n  web:\n    image: other\n")
    started = time.monotonic()
    result = ecsflow("render", file=case / "compose.yaml", env=variables, expect={0, 1})
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    assert "error: unexpected" not in result.stderr and "Traceback" not in output, result.stderr
    if result.exit_code == 1:
        assert result.stderr.startswith("error:") and result.stdout == "", output
    assert elapsed < 30, f"took {elapsed:.1f} s"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 3 * 1024 * 1024  # KiB: under 3 GiB


_variables = st.dictionaries(st.sampled_from(["A", "B", "C", "V", "N", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME"]),
                             st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                                     max_size=10), max_size=3)  # what an environment variable can hold


@settings(max_examples=examples(30, 1500), suppress_health_check=list(HealthCheck))
@given(text=compose_texts(), variables=_variables)
def test_render_survives_hostile_compose_files(text, variables, tmp_path_factory):
    check(tmp_path_factory, text, variables)


@settings(max_examples=examples(30, 300), suppress_health_check=list(HealthCheck))
@given(text=st.text(max_size=300))
def test_render_survives_random_text(text, tmp_path_factory):
    check(tmp_path_factory, text, {})
