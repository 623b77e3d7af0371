"""The loader agrees with Docker Compose v2 on every case of the shared corpus of real compose files.

Each case is checked twice: against the stored `expected.config.json` (what Compose 2.40.3 printed), and
against the Compose binary run live now. Skipped when ../shared/corpus/compose is absent.
"""

import json

import pytest
from compose_oracle import CORPUS, case_inputs, compare_configs, parse_global_args, run_compose_config

from ecsflow.compose.loader import load_config
from ecsflow.errors import ComposeError

CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []
pytestmark = pytest.mark.skipif(not CASES, reason="shared compose corpus not present")


def _load(case):
    args, env = case_inputs(case)
    return args, env, load_config(cwd=case, environ={"PATH": "/usr/bin:/bin", **env}, **parse_global_args(args))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_loader_matches_stored_compose_output(case):
    expected_error = case / "expected.error.txt"
    if expected_error.exists():
        with pytest.raises(ComposeError):
            _load(case)
        return
    _, _, ours = _load(case)
    expected = json.loads((case / "expected.config.json").read_text())
    assert compare_configs(ours, expected) == []


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_loader_matches_live_compose(case, compose_bin):
    args, env = case_inputs(case)
    code, live, stderr = run_compose_config(case, args, env)
    if code != 0:
        with pytest.raises(ComposeError):
            _load(case)
        return
    _, _, ours = _load(case)
    assert compare_configs(ours, live) == []


def test_comparison_notices_a_difference():
    """The differential check itself must be able to fail."""
    case = CORPUS / "airflow-official"
    _, _, ours = _load(case)
    expected = json.loads((case / "expected.config.json").read_text())
    expected["services"]["redis"]["environment"] = {"EXTRA": "1"}
    expected["services"]["postgres"]["image"] = "postgres:99"
    problems = compare_configs(ours, expected)
    assert any(p.startswith("redis.environment") for p in problems)
    assert any(p.startswith("postgres.image") for p in problems)
