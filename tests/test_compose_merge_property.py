"""Several `-f` files and `extends`, generated at random and checked against Docker Compose itself: the
merge rules (mappings merge, command/entrypoint/healthcheck.test replace, ports and expose de-duplicated,
environment and labels merged per key, whatever the list or map form) must agree field for field."""

import json

import pytest
from compose_oracle import compare_configs, run_compose_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from properties import examples

from ecsflow.compose.loader import load_config
from ecsflow.errors import ComposeError

_word = st.sampled_from(["run", "serve", "--fast", "a b", "x=1", "q'uote", "da$$h"])
_command = st.one_of(st.lists(_word, min_size=1, max_size=3), _word.map(str))
_keys = st.sampled_from(["A", "B", "C", "LOG_LEVEL"])
_values = st.sampled_from(["1", "two", "", "x y", "3"])
_environment = st.one_of(
    st.dictionaries(_keys, _values, max_size=3),
    st.lists(st.tuples(_keys, _values).map(lambda kv: f"{kv[0]}={kv[1]}"), max_size=3),
)
_ports = st.lists(st.sampled_from(["80", "8080:80", "9000:9000/udp", "127.0.0.1:5432:5432", "3000-3001:3000-3001"]),
                  max_size=3)
_healthcheck = st.fixed_dictionaries(
    {},
    optional={
        "test": st.one_of(st.just(["CMD", "true"]), st.just("curl -f http://localhost/ || exit 1"),
                          st.just(["CMD-SHELL", "exit 0"])),
        "interval": st.sampled_from(["10s", "1m", "90s"]),
        "retries": st.integers(1, 5),
    },
)
_service = st.fixed_dictionaries(
    {},
    optional={
        "image": st.sampled_from(["busybox:1", "alpine:3", "example/app:2"]),
        "command": _command,
        "entrypoint": _command,
        "environment": _environment,
        "labels": st.dictionaries(st.sampled_from(["team", "tier"]), _values, max_size=2),
        "ports": _ports,
        "expose": st.lists(st.sampled_from(["7000", "7001"]), max_size=2),
        "healthcheck": _healthcheck,
        "working_dir": st.sampled_from(["/a", "/b"]),
        "user": st.sampled_from(["1000", "root"]),
    },
)


def _document(services: dict) -> str:
    # JSON is YAML: no quoting questions between the two parsers.
    return json.dumps({"services": services}, indent=1)


@settings(max_examples=examples(25, 250), suppress_health_check=[HealthCheck.too_slow])
@given(base=_service, override=_service, extend=st.booleans())
def test_merged_files_agree_with_compose(base, override, extend, tmp_path_factory, compose_bin):
    case = tmp_path_factory.mktemp("merge")
    base_services = {"job": {"image": "busybox:1", **base}}
    if extend:
        # The second service extends the first in the same file; the override file then changes it.
        base_services["child"] = {"extends": "job", **{k: v for k, v in override.items() if k != "image"}}
    (case / "compose.yaml").write_text(_document(base_services))
    (case / "override.yaml").write_text(_document({"job": override, **({"child": override} if extend else {})}))
    args = ["-f", "compose.yaml", "-f", "override.yaml"]
    code, theirs, stderr = run_compose_config(case, args, {})
    if code != 0:  # Compose rejects it (an unbalanced quote in a command): so must we
        with pytest.raises(ComposeError):
            load_config(["compose.yaml", "override.yaml"], cwd=case, environ={"PATH": "/usr/bin:/bin"})
        return
    ours = load_config(["compose.yaml", "override.yaml"], cwd=case, environ={"PATH": "/usr/bin:/bin"})
    assert compare_configs(ours, theirs) == []
