"""`ecsflow run` under signals, with real processes: a cancelled CI job (SIGTERM) or Ctrl-C (SIGINT) stops the
task as ECS's StopTask does (SIGTERM, then SIGKILL after the stop timeout), and ecsflow exits only once it has
stopped, with 128 + the signal: no process outlives it."""

import json
import os
import signal
import subprocess
import time

import pytest
from cli_runner import ecsflow_started


def start_run(folder, job: str, grace: str | None = None) -> subprocess.Popen:
    (folder / "compose.yaml").write_text(
        "x-ecsflow: {region: eu-west-1, subnets: [subnet-1], security_groups: [sg-1],\n"
        "  execution_role: arn:aws:iam::123456789012:role/exec}\n"
        f"services:\n  job:\n    image: example/job:1\n    command: {json.dumps(['python', '-c', job])}\n"
        + (f"    stop_grace_period: {grace}\n" if grace else ""))
    # ECSFLOW_EXECUTE_LOCALLY: the opt-in to running the job on this machine, as CI gives it.
    return ecsflow_started("run", "job", "--sandbox", cwd=folder, env={"NO_COLOR": "1", "ECSFLOW_EXECUTE_LOCALLY": "1"})


def wait_for_pid(proc: subprocess.Popen, pid_file) -> int:
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert pid_file.exists(), proc.communicate()
    time.sleep(0.3)  # the pid is written: the job is RUNNING, its signal handler set
    return int(pid_file.read_text())


def test_sigterm_stops_the_sandbox_task_and_exits_143(tmp_path):
    """A cancelled CI job sends SIGTERM: the task is stopped (no orphan process), exit 128 + 15."""
    pid_file = tmp_path / "job.pid"
    proc = start_run(tmp_path, f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)")
    job_pid = wait_for_pid(proc, pid_file)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "asking ECS to stop task" in stderr and "Traceback" not in stderr
    with pytest.raises(ProcessLookupError):
        os.kill(job_pid, 0)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"])
def test_an_interrupted_run_waits_for_a_task_that_ignores_sigterm(tmp_path, sig, status):
    """As ECS's StopTask: SIGTERM, then SIGKILL after the stop timeout (stop_grace_period: 2s), and ecsflow
    exits only once the task has stopped."""
    pid_file = tmp_path / "job.pid"
    proc = start_run(tmp_path, "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                     f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); print('ignoring SIGTERM', flush=True); "
                     "time.sleep(120)", grace="2s")
    job_pid = wait_for_pid(proc, pid_file)
    sent = time.monotonic()
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=60)
    waited = time.monotonic() - sent
    assert proc.returncode == status, stderr
    with pytest.raises(ProcessLookupError):  # gone the moment ecsflow exited, not some time later
        os.kill(job_pid, 0)
    assert 2 <= waited < 30, stderr  # SIGKILL came after the 2 s stop timeout, and ecsflow waited for it
    assert "(SIGTERM, then SIGKILL after 2 s); Ctrl-C again stops waiting" in stderr
    assert stderr.index("waiting up to 32 s") < stderr.rindex(": STOPPED")
    assert "ignoring SIGTERM" in stdout and "Traceback" not in stderr
