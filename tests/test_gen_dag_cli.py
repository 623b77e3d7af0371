"""`ecsflow gen-dag` as a user runs it: files written, left alone when unchanged, protected when edited,
--force, --pin against the sandbox, --dag-id and --schedule. (Loading in Airflow: test_airflow_dagbag.py.)"""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecsflow.cli import app

EXAMPLE = Path(__file__).parent.parent / "examples" / "etl"


@pytest.fixture
def project(tmp_path):
    target = tmp_path / "etl"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".ecsflow", "dags"))
    return target


def gen(project, out, *args):
    return CliRunner().invoke(app, ["gen-dag", "-f", str(project / "docker-compose.yml"), "--out", str(out), *args])


def test_writes_the_dag_and_pools_then_leaves_them_alone(project, tmp_path):
    out = tmp_path / "dags"
    first = gen(project, out)
    assert first.exit_code == 0, first.stderr
    source = (out / "etl.py").read_text()
    assert "EcsRunTaskOperator" in source
    assert "extract >> transform" in source and "transform >> load" in source
    compile(source, "etl.py", "exec")
    assert json.loads((out / "etl.pools.json").read_text())["warehouse"]["slots"] == 2
    assert "created" in first.stderr
    second = gen(project, out)
    assert second.exit_code == 0 and "unchanged" in second.stderr
    assert (out / "etl.py").read_text() == source


def test_the_committed_example_dags_are_what_gen_dag_writes(project, tmp_path):
    """examples/etl/dags holds gen-dag's output for the example: byte for byte, so it never goes stale."""
    out = tmp_path / "dags"
    result = gen(project, out)
    assert result.exit_code == 0, result.stderr
    committed = EXAMPLE / "dags"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in committed.iterdir())
    for name in ("etl.py", "etl.pools.json"):
        assert (out / name).read_bytes() == (committed / name).read_bytes(), (
            "stale: ecsflow gen-dag -f examples/etl/docker-compose.yml --out examples/etl/dags --force"
        )


def test_refuses_to_overwrite_an_edited_file_unless_forced(project, tmp_path):
    out = tmp_path / "dags"
    assert gen(project, out).exit_code == 0
    edited = (out / "etl.py").read_text() + "\n# my local tweak\n"
    (out / "etl.py").write_text(edited)
    refused = gen(project, out)
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert (out / "etl.py").read_text() == edited
    forced = gen(project, out, "--force")
    assert forced.exit_code == 0 and "my local tweak" not in (out / "etl.py").read_text()


def test_dag_id_and_schedule(project, tmp_path):
    out = tmp_path / "dags"
    result = gen(project, out, "--dag-id", "nightly_orders", "--schedule", "0 3 * * *")
    assert result.exit_code == 0, result.stderr
    source = (out / "nightly_orders.py").read_text()
    assert "'nightly_orders'" in source or '"nightly_orders"' in source
    assert "0 3 * * *" in source


def test_pin_uses_the_registered_revision(project, tmp_path, monkeypatch):
    monkeypatch.chdir(project)
    out = tmp_path / "dags"
    unsynced = gen(project, out, "--pin", "--sandbox")
    assert unsynced.exit_code == 1 and "ecsflow sync" in unsynced.stderr
    assert CliRunner().invoke(app, ["sync", "--sandbox"]).exit_code == 0
    pinned = gen(project, out, "--pin", "--sandbox")
    assert pinned.exit_code == 0, pinned.stderr
    assert "task-definition/etl-transform:1" in (out / "etl.py").read_text()


def test_pin_warns_when_the_compose_file_is_ahead_of_ecs(project, tmp_path, monkeypatch):
    monkeypatch.chdir(project)
    assert CliRunner().invoke(app, ["sync", "--sandbox"]).exit_code == 0
    compose = project / "docker-compose.yml"
    compose.write_text(compose.read_text().replace('PAGE_SIZE: "500"', 'PAGE_SIZE: "999"'))
    result = gen(project, tmp_path / "dags", "--pin", "--sandbox")
    assert result.exit_code == 0, result.stderr
    assert "etl-extract: the compose file has changes not synced yet" in result.stderr
    assert result.stderr.count("changes not synced yet") == 1
