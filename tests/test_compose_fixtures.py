"""ecsflow's own compose fixtures (features the corpus lacks), checked against Docker Compose run live."""

from pathlib import Path

import pytest
from compose_oracle import case_inputs, compare_configs, parse_global_args, run_compose_config

from ecsflow.compose.loader import load_config

FIXTURES = Path(__file__).parent / "fixtures" / "compose"
CASES = sorted(p for p in FIXTURES.iterdir() if p.is_dir())


def load_case(case):
    args, env = case_inputs(case)
    return load_config(cwd=case, environ={"PATH": "/usr/bin:/bin", **env}, **parse_global_args(args))


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_fixture_matches_live_compose(case, compose_bin):
    args, env = case_inputs(case)
    code, live, stderr = run_compose_config(case, args, env)
    assert code == 0, stderr
    assert compare_configs(load_case(case), live) == []
