"""`ecsflow run --sandbox` on the ETL example, as its README shows it: the job runs on this machine with
--execute-locally, a cluster named by its ARN, the runtime defaults rendered, and run returns soon after the job
ends."""

import json
import time

import pytest
from cli_runner import ecsflow, ecsflow_process
from project_files import EXAMPLE

# --- the sandbox: the README's example -------------------------------------------------------------------


def test_sandbox_runs_the_example_transform(etl_project, monkeypatch):
    target = etl_project
    monkeypatch.chdir(target)
    result = ecsflow("run", "transform", "-f", "docker-compose.yml", "--sandbox", "--execute-locally", "-e",
                     "RUN_DATE=2026-01-01")
    assert "RUN_DATE 2026-01-01: reading s3://acme-raw/orders/2026-01-01/" in result.stdout
    assert "spark driver memory 6g" in result.stdout  # the definition's environment
    assert "runs on this machine" in result.stderr and "registered etl-transform:1 (new)" in result.stderr
    assert (target / ".ecsflow" / "sandbox" / "etl-transform.json").is_file()

    bad = ecsflow("run", "transform", "--sandbox", "--format", "json", "-e", "RUN_DATE=someday",
                  env={"ECSFLOW_EXECUTE_LOCALLY": "1"}, expect=2)
    assert json.loads(bad.stdout)["revision"] == 1  # the same revision: nothing changed
    assert "RUN_DATE 'someday' is not a date" in bad.stderr

    no_wait = ecsflow("run", "transform", "--sandbox", "--no-wait", expect=1)
    assert "--no-wait cannot be used with --sandbox" in no_wait.stderr


def test_example_readme_mentions_the_run_command():
    text = (EXAMPLE / "README.md").read_text()
    assert "ecsflow run transform" in text and "--sandbox" in text
    assert "--sandbox --execute-locally" in text and "without `--execute-locally`" in text


def test_job_modules_of_the_example_run_without_ecsflow(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "etl.extract", "--source", "orders", "--to", "s3://x/"],
                          cwd=EXAMPLE, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "reading orders" in done.stdout
    assert done.stderr == ""


# --- the sandbox: a cluster ARN, the defaults, how soon run returns --------------------------------------


def test_sandbox_with_a_cluster_arn_the_defaults_and_spot_capacity(etl_project, monkeypatch):
    """The example as Terraform and Consul set it up: the cluster as an ARN, transform on FARGATE_SPOT, and no
    -e: RUN_DATE is its default, "{{ ds }}", rendered for today."""
    import datetime

    monkeypatch.chdir(etl_project)
    arn = "arn:aws:ecs:eu-west-1:123456789012:cluster/data-jobs"
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    monkeypatch.setenv("ECSFLOW_EXECUTE_LOCALLY", "1")  # the opt-in to running the job on this machine
    result = ecsflow("run", "transform", "--sandbox", "--cluster", arn)
    if datetime.datetime.now(datetime.UTC).date().isoformat() == today:
        assert f"RUN_DATE {today}: reading" in result.stdout
    assert "FULL_REFRESH='false': its default in x-ecsflow.runtime_env" in result.stderr
    again = ecsflow("run", "transform", "--sandbox", "--cluster", "data-jobs", "-e", "RUN_DATE=2026-01-01")
    assert "RUN_DATE 2026-01-01" in again.stdout  # the same cluster, by name


@pytest.mark.slow  # a timing of two real processes, judged on the machine's load
def test_a_finished_sandbox_run_returns_within_about_a_second(tmp_path):
    """The job writes the time it ends; `ecsflow run --sandbox` (a process of its own, as a user runs it) must
    have exited about a second later at most, not after a poll interval and a slow interpreter exit."""
    done = tmp_path / "done"
    job = f"import time; print('working', flush=True); open({str(done)!r}, 'w').write(repr(time.time()))"
    (tmp_path / "compose.yaml").write_text(
        "x-ecsflow: {region: eu-west-1, subnets: [subnet-1], security_groups: [sg-1],\n"
        "  execution_role: arn:aws:iam::123456789012:role/exec}\n"
        f"services:\n  job:\n    image: example/job:1\n    command: {json.dumps(['python', '-c', job])}\n")
    lags = []
    for _ in range(2):  # the first run registers the family; the second only runs
        proc = ecsflow_process("run", "job", "--sandbox", "--execute-locally", cwd=tmp_path)
        ended = time.time()
        assert proc.stdout == "working\n"
        lags.append(ended - float(done.read_text()))
    assert min(lags) < 1.0, lags
