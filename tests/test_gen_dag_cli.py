"""`ecsflow gen-dag` as a user runs it: files written, left alone when unchanged, protected when edited,
--force, --pin against the sandbox, --dag-id and --schedule, errors for the x-ecsflow keys for Airflow.
(Loading in Airflow: test_airflow_dagbag.py.)"""

import json
from pathlib import Path

import pytest
from cli_runner import ecsflow
from project_files import EXAMPLE


@pytest.fixture
def compose(etl_project):
    return etl_project / "docker-compose.yml"


def test_writes_the_dag_and_pools_then_leaves_them_alone(compose, tmp_path):
    out = tmp_path / "dags"
    first = ecsflow("gen-dag", "--out", out, file=compose)
    source = (out / "etl.py").read_text()
    assert '_beside_this_file("etl_tasks")' in source and "EcsRunTaskOperator" in (out / "etl_tasks.py").read_text()
    assert "extract >> transform" in source and "transform >> load" in source
    compile(source, "etl.py", "exec")
    assert json.loads((out / "etl.pools.json").read_text())["warehouse"]["slots"] == 2
    assert [line.split()[1] for line in first.stderr.splitlines() if line.startswith("gen-dag:")] == [
        "created"] * 3
    second = ecsflow("gen-dag", "--out", out, file=compose)
    assert "unchanged" in second.stderr
    assert (out / "etl.py").read_text() == source


def test_the_committed_example_dags_are_what_gen_dag_writes(compose, tmp_path):
    """examples/etl/dags holds gen-dag's output for the example, byte for byte, so it never goes stale, and the
    DAG written by hand that uses its task factories (orders_rebuild.py)."""
    out = tmp_path / "dags"
    ecsflow("gen-dag", "--out", out, file=compose)
    committed = EXAMPLE / "dags"
    written = sorted(p.name for p in out.iterdir())
    assert written == ["etl.pools.json", "etl.py", "etl_tasks.py"]
    assert sorted(p.name for p in committed.iterdir() if p.name != "__pycache__") == sorted(
        written + ["orders_rebuild.py"])
    for name in written:
        assert (out / name).read_bytes() == (committed / name).read_bytes(), (
            "stale: ecsflow gen-dag -f examples/etl/docker-compose.yml --out examples/etl/dags --force"
        )


def test_refuses_to_overwrite_an_edited_file_unless_forced(compose, tmp_path):
    out = tmp_path / "dags"
    ecsflow("gen-dag", "--out", out, file=compose)
    edited = (out / "etl.py").read_text() + "\n# my local tweak\n"
    (out / "etl.py").write_text(edited)
    refused = ecsflow("gen-dag", "--out", out, file=compose, expect=1)
    assert "--force" in refused.stderr
    assert (out / "etl.py").read_text() == edited
    ecsflow("gen-dag", "--out", out, "--force", file=compose)
    assert "my local tweak" not in (out / "etl.py").read_text()


def test_dag_id_and_schedule(compose, tmp_path):
    out = tmp_path / "dags"
    ecsflow("gen-dag", "--out", out, "--dag-id", "nightly_orders", "--schedule", "0 3 * * *", file=compose)
    source = (out / "nightly_orders.py").read_text()
    assert "'nightly_orders'" in source or '"nightly_orders"' in source
    assert "0 3 * * *" in source


def test_pin_uses_the_registered_revision(compose, tmp_path, monkeypatch):
    monkeypatch.chdir(compose.parent)
    out = tmp_path / "dags"
    unsynced = ecsflow("gen-dag", "--out", out, "--pin", "--sandbox", file=compose, expect=1)
    assert "ecsflow sync" in unsynced.stderr
    ecsflow("sync", "--sandbox")
    ecsflow("gen-dag", "--out", out, "--pin", "--sandbox", file=compose)
    assert "task-definition/etl-transform:1" in (out / "etl_tasks.py").read_text()


def test_pin_warns_when_the_compose_file_is_ahead_of_ecs(compose, tmp_path, monkeypatch):
    monkeypatch.chdir(compose.parent)
    ecsflow("sync", "--sandbox")
    compose.write_text(compose.read_text().replace('PAGE_SIZE: "500"', 'PAGE_SIZE: "999"'))
    result = ecsflow("gen-dag", "--out", tmp_path / "dags", "--pin", "--sandbox", file=compose)
    assert "etl-extract: the compose file has changes not synced yet" in result.stderr
    assert result.stderr.count("changes not synced yet") == 1


def test_a_compose_file_in_the_old_pool_form_is_a_clear_error(compose, tmp_path):
    """pool_slots once set the pool's size; now it is Airflow's (the slots one task takes): the error shows the
    new form, and nothing is written."""
    text = compose.read_text().replace("  pools:\n    warehouse: 2\n", "")
    compose.write_text(text.replace("      pool: warehouse\n", "      pool: warehouse\n      pool_slots: 2\n"))
    out = tmp_path / "dags"
    result = ecsflow("gen-dag", "--out", out, file=compose, expect=1)
    assert "docker-compose.yml:" in result.stderr and "service 'load'" in result.stderr
    assert "key 'x-ecsflow.pool_slots'" in result.stderr
    assert "pool 'warehouse' has no size" in result.stderr
    assert "`x-ecsflow: {pools: {warehouse: 2}}`" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("block, key, says", [
    ("retry_delay: soon", "x-ecsflow.retry_delay", "a duration like 30s, 5m or 2h"),
    ("execution_timeout: 0", "x-ecsflow.execution_timeout", "a duration above 0 seconds"),
    ("retries: -1", "x-ecsflow.retries", "a whole number"),
    ("group: 'etl.jobs'", "x-ecsflow.group", "an Airflow task group id"),
    ("capacity_provider: EC2", "x-ecsflow.capacity_provider", "one of FARGATE, FARGATE_SPOT"),
    ("pool_slots: 0", "x-ecsflow.pool_slots", "at least 1"),
    ("runtime_env: {RUN_DATE: [a]}", "x-ecsflow.runtime_env", "text, a number or a boolean"),
    ("runtime_env: {RUN_DATE: '{{ ds }'}", "x-ecsflow.runtime_env.RUN_DATE", "not a valid Jinja template"),
    ("pool_slots: 3", "x-ecsflow.pool_slots", "takes 3 slots of pool 'warehouse', which has 2"),
    ("retry: 2", "x-ecsflow.retry", "did you mean 'retries'?"),
])
def test_a_bad_service_key_names_file_service_and_key(compose, tmp_path, block, key, says):
    text = compose.read_text()
    compose.write_text(text.replace("      pool: warehouse\n", f"      pool: warehouse\n      {block}\n"))
    result = ecsflow("gen-dag", "--out", tmp_path / "dags", file=compose, expect=1)
    assert "docker-compose.yml:" in result.stderr
    assert "service 'load'" in result.stderr and f"key '{key}'" in result.stderr and says in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "dags").exists()


@pytest.mark.parametrize("block, key, says", [
    ("pools: {warehouse: 0}", "x-ecsflow.pools", "at least 1"),
    ("pools: [warehouse]", "x-ecsflow.pools", "a mapping of pool name: size"),
    ("pools: {default_pool: 8}", "x-ecsflow.pools", "default_pool is Airflow's"),
    ("retries: many", "x-ecsflow.retries", "a whole number"),
    ("retry_delay: -5", "x-ecsflow.retry_delay", "a duration of at least 0 seconds"),
    ("execution_timeout: 1y", "x-ecsflow.execution_timeout", "a duration like 30s"),
    ("execution_timeout: 9999h", "x-ecsflow.execution_timeout", "at most 366 days"),
    ("environment: {LOG_LEVEL: null}", "x-ecsflow.environment", "LOG_LEVEL has no value"),
    ("environment: [LOG_LEVEL]", "x-ecsflow.environment", "a list of NAME=value"),
    ("environment_values: CONSUL", "x-ecsflow.environment_values", "a list of variable names"),
    ("pool: warehouse", "x-ecsflow.pool", "unknown key 'pool'"),
])
def test_a_bad_top_level_key_names_file_and_key(compose, tmp_path, block, key, says):
    compose.write_text(compose.read_text().replace("  pools:\n    warehouse: 2\n  retries: 2\n  retry_delay: 5m\n",
                                                   f"  {block}\n"))
    for command in (["gen-dag", "--out", str(tmp_path / "dags")], ["render"]):
        result = ecsflow(*command, file=compose, expect=1)
        assert "docker-compose.yml" in result.stderr and f"key '{key}'" in result.stderr and says in result.stderr
        assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["a file", "/dev/null", "under /proc", "a folder in the way"])
def test_an_out_that_cannot_hold_the_files_is_one_clear_error(compose, tmp_path, where):
    out = {"a file": tmp_path / "afile", "/dev/null": Path("/dev/null"), "under /proc": Path("/proc/ecsflow-x"),
           "a folder in the way": tmp_path / "dags"}[where]
    (tmp_path / "afile").write_text("mine\n")
    (tmp_path / "dags" / "etl.py").mkdir(parents=True)
    result = ecsflow("gen-dag", "--out", out, file=compose, expect=1)
    assert "unexpected" not in result.stderr and str(out) in result.stderr, result.stderr
    assert (tmp_path / "afile").read_text() == "mine\n" and not (tmp_path / "dags" / "etl_tasks.py").exists()


def test_an_unwritable_out_folder_writes_nothing_and_says_why(compose, tmp_path):
    import subprocess

    out = tmp_path / "dags"
    out.mkdir()
    if subprocess.run(["chattr", "+i", str(out)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not possible here (it needs root and a file system that supports it)")
    try:
        result = ecsflow("gen-dag", "--out", out, file=compose, expect=1)
    finally:
        subprocess.run(["chattr", "-i", str(out)], check=True)
    assert "unexpected" not in result.stderr
    assert f"cannot write {out / 'etl.py'}" in result.stderr and "--out" in result.stderr
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("args, stem", [(("-p", "airflow"), "airflow"), (("--dag-id", "json"), "json"),
                                        (("--dag-id", "test"), "test")])
def test_a_dag_file_never_shadows_a_module(compose, tmp_path, args, stem):
    """A project named airflow would get airflow.py, which shadows the airflow package for Python run from the
    DAGs folder (or with it on PYTHONPATH); json.py the standard library's json. The DAG file gets a name that
    shadows nothing, and says so; the DAG id stays."""
    import subprocess
    import sys

    out = tmp_path / "dags"
    result = ecsflow("gen-dag", "--out", out, *args, file=compose)
    assert sorted(p.name for p in out.iterdir()) == [f"{stem}.pools.json", f"{stem}_dag.py", f"{stem}_tasks.py"]
    assert f"the DAG file is {stem}_dag.py, not {stem}.py: a {stem}.py would shadow" in result.stderr
    assert f'dag_id="{stem}"' in (out / f"{stem}_dag.py").read_text()
    # Python run from the DAGs folder (its folder first on sys.path) finds the module it means.
    found = subprocess.run([sys.executable, "-c", f"import importlib.util; print(importlib.util.find_spec({stem!r}))"],
                           cwd=out, capture_output=True, text=True, check=True).stdout
    assert str(out) not in found


def test_a_dag_file_an_earlier_gen_dag_named_after_a_module_is_pointed_out(compose, tmp_path):
    from ecsflow.airflow.files import protect

    out = tmp_path / "dags"
    out.mkdir()
    (out / "json.py").write_text(protect(["# Generated by `ecsflow gen-dag` (an earlier version)."], "x = 1\n"))
    result = ecsflow("gen-dag", "--out", out, "--dag-id", "json", file=compose)
    assert f"delete {out / 'json.py'}: an earlier gen-dag wrote it" in result.stderr
    assert "is in json_dag.py now" in result.stderr
