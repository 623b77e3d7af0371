"""The sandbox's state folder under concurrency and hostile conditions, with real `ecsflow` processes: two runs
at once take turns (no registration lost), a long family name, a read-only folder, stray files."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import clean_env, ecsflow, ecsflow_process, ecsflow_started

from ecsflow.errors import EcsflowError
from ecsflow.sandbox.session import sandbox_session

COMPOSE = """\
name: jobs
x-ecsflow:
  region: eu-west-1
  execution_role: arn:aws:iam::123456789012:role/ecsTaskExecutionRole
  subnets: [subnet-1]
  security_groups: [sg-1]
services:
  {service}:
    image: example/job:${{VERSION:-1.0}}
    command: {command}
    stop_grace_period: 2s
"""
JOB = ["python", "-c", "import os, time; print('started', flush=True); time.sleep(float(os.environ['JOB_SLEEP']))"]


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "jobs")


def make_project(folder: Path, service: str = "job", command: list[str] = JOB) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compose.yaml").write_text(COMPOSE.format(service=service, command=json.dumps(command)))
    return folder


def env(**extra: str | None) -> dict[str, str | None]:
    """This process's environment without AWS's or ecsflow's variables, without colour, the job quick."""
    return clean_env(JOB_SLEEP="0", **extra)


def stored_revisions(project: Path, family: str = "jobs-job") -> list[int]:
    document = json.loads((project / ".ecsflow" / "sandbox" / f"{family}.json").read_text())
    return [r["revision"] for r in document["revisions"]]


def outcomes(process: subprocess.Popen) -> list[tuple[str, int]]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return [(f["status"], f["revision"]) for f in json.loads(out)["families"]]


# ---------------------------------------------------------------------------------------------------------
# two processes at once


def test_two_concurrent_sandbox_syncs_of_other_contents_keep_both_registrations(project):
    """Without the lock both replayed an empty state, both reported `registered jobs-job:1`, one was kept."""
    versions = ("1.0", "2.0")
    processes = [ecsflow_started("sync", "--format", "json", "--sandbox", cwd=project, env=env(VERSION=version))
                 for version in versions]
    results = [outcomes(p)[0] for p in processes]
    assert sorted(results) == [("registered", 1), ("registered", 2)]
    assert stored_revisions(project) == [1, 2]
    last = versions[results.index(("registered", 2))]
    first = versions[results.index(("registered", 1))]
    ecsflow("diff", "--exit-code", "--sandbox", file=project / "compose.yaml", env=env(VERSION=last))
    ecsflow("diff", "--exit-code", "--sandbox", file=project / "compose.yaml", env=env(VERSION=first), expect=2)


def test_two_concurrent_sandbox_syncs_of_one_content_register_once(project):
    processes = [ecsflow_started("sync", "--format", "json", "--sandbox", cwd=project, env=env()) for _ in range(2)]
    results = sorted(o for p in processes for o in outcomes(p))
    assert results == [("registered", 1), ("unchanged", 1)]  # the second saw the first's registration
    assert stored_revisions(project) == [1]


def test_a_sandbox_in_use_is_waited_for_with_a_note(project):
    state = project / ".ecsflow" / "sandbox"
    state.mkdir(parents=True)
    holder = os.open(state, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # as another ecsflow process holds it
        waiting = ecsflow_started("sync", "--sandbox", cwd=project, env=env())
        # Its first line on stderr: it cannot end while the lock is held (a fixed sleep raced its start-up)
        note = waiting.stderr.readline()
        assert waiting.poll() is None  # still waiting
    finally:
        os.close(holder)
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, note + err
    assert note.startswith(f"note: waiting for another ecsflow using the sandbox in {state}"), note
    assert "1 registered" in out


def test_the_note_of_a_sandbox_in_use_honours_no_color(project):
    """The note is the command's own message: in colour when colour is forced (FORCE_COLOR=1), plain with
    --no-color, as every other line of the command."""
    state = project / ".ecsflow" / "sandbox"
    state.mkdir(parents=True)
    holder = os.open(state, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # as another ecsflow process holds it
        forced = env(FORCE_COLOR="1", NO_COLOR=None)
        plain = ecsflow_started("sync", "--no-color", "--sandbox", cwd=project, env=forced)
        coloured = ecsflow_started("sync", "--sandbox", cwd=project, env=forced)
        plain_note, coloured_note = plain.stderr.readline(), coloured.stderr.readline()  # printed while waiting
    finally:
        os.close(holder)
    _, err = plain.communicate(timeout=60)
    assert plain.returncode == 0, err
    assert "waiting for another ecsflow using the sandbox" in plain_note
    assert "\x1b" not in plain_note + err
    coloured.communicate(timeout=60)
    assert "waiting for another ecsflow" in coloured_note and "\x1b[" in coloured_note  # colour is forced


def test_the_wait_for_the_sandbox_is_bounded(tmp_path):
    holder = os.open(tmp_path, os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_EX)
    notes: list[str] = []
    started = time.monotonic()
    try:
        with pytest.raises(EcsflowError) as err:
            with sandbox_session(tmp_path, lock_wait=1.5, on_note=notes.append):
                pass
    finally:
        os.close(holder)
    assert 1.5 <= time.monotonic() - started < 5
    assert err.value.message == "another ecsflow process has been using the sandbox for 1.5 s"
    assert err.value.file == str(tmp_path) and "run again" in err.value.hint
    assert notes == [f"waiting for another ecsflow using the sandbox in {tmp_path} (up to 1.5 s)"]


def test_a_sandbox_run_frees_the_sandbox_while_its_task_runs(project):
    running = ecsflow_started("run", "job", "-e", "JOB_SLEEP=30", "--sandbox", cwd=project,
                              env=env(ECSFLOW_EXECUTE_LOCALLY="1"))
    try:
        saved = project / ".ecsflow" / "sandbox" / "jobs-job.json"
        deadline = time.monotonic() + 60
        while not saved.exists() and time.monotonic() < deadline:  # saved once the family is current
            time.sleep(0.1)
        started = time.monotonic()
        diff = ecsflow_process("diff", "--exit-code", "--sandbox", cwd=project, env=env())
        assert time.monotonic() - started < 20 and "waiting for another ecsflow" not in diff.stderr
        assert running.poll() is None  # the task still runs: the sandbox was not waited for
    finally:
        running.terminate()
        running.communicate(timeout=60)


# ---------------------------------------------------------------------------------------------------------
# file names, read-only folders, stray files


def test_a_family_name_of_255_characters_is_kept(tmp_path):
    service = "s" * 250  # family jobs-sss...: 255 characters, ECS's longest
    project = make_project(tmp_path / "p", service=service, command=["python", "-c", "print('long ok')"])
    ecsflow("sync", "--sandbox", file=project / "compose.yaml", env=env())
    [path] = (project / ".ecsflow" / "sandbox").glob("*.json")
    assert len(path.name.encode()) <= 255 and path.name.endswith(".json")
    assert json.loads(path.read_text())["family"] == f"jobs-{service}"
    ecsflow("diff", "--exit-code", "--sandbox", file=project / "compose.yaml", env=env())
    ran = ecsflow("run", service, "--execute-locally", "--sandbox", file=project / "compose.yaml", env=env())
    assert ran.stdout == "long ok\n", ran.stderr


def read_only(path: Path) -> tuple[str, ...]:
    """A command prefix that runs the command with ``path`` read-only: a read-only bind mount in a mount
    namespace of its own when root (who writes through any mode bits), else the mode bits."""
    if os.geteuid() != 0:
        for folder in [path, *path.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o555)
        return ()
    prefix = ("unshare", "-m", "sh", "-c", 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"',
              str(path))
    probe = subprocess.run([*prefix, "touch", str(path / ".probe")], capture_output=True, text=True)
    if shutil.which("unshare") is None or "Read-only file system" not in probe.stderr:
        pytest.skip(f"cannot make a read-only folder here as root: {probe.stderr.strip()}")
    return prefix


def test_a_read_only_project(project):
    prefix = read_only(project)
    diff = ecsflow_process("diff", "--sandbox", cwd=project, env=env(), prefix=prefix)
    assert "1 to register as new" in diff.stdout, diff.stderr  # reading needs no write
    sync = ecsflow_process("sync", "--sandbox", cwd=project, env=env(), prefix=prefix, expect=1)
    assert "cannot save the sandbox state: Read-only file system" in sync.stderr or "Permission denied" in sync.stderr
    assert "what this run registered is not kept" in sync.stderr and "unexpected" not in sync.stderr


def test_a_read_only_sandbox_folder(project):
    ecsflow("sync", "--sandbox", file=project / "compose.yaml", env=env())
    prefix = read_only(project / ".ecsflow" / "sandbox")
    ecsflow_process("diff", "--exit-code", "--sandbox", cwd=project, env=env(), prefix=prefix)
    sync = ecsflow_process("sync", "--sandbox", cwd=project, env=env(VERSION="2.0"), prefix=prefix, expect=1)
    assert "cannot save the sandbox state" in sync.stderr, sync.stderr
    assert f"{project / '.ecsflow' / 'sandbox'}:" in sync.stderr and "unexpected" not in sync.stderr


def without_root_powers(probe_file: Path) -> tuple[str, ...]:
    """A command prefix under which mode bits hold: root reads any file whatever its mode (CAP_DAC_OVERRIDE),
    so as root the command runs without that capability (and CAP_DAC_READ_SEARCH); nothing when not root."""
    if os.geteuid() != 0:
        return ()
    prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search")
    probe_file.write_text("x")
    probe_file.chmod(0)
    probe = subprocess.run([*prefix, sys.executable, "-c", f"open({str(probe_file)!r})"], capture_output=True,
                           text=True) if shutil.which("setpriv") else None
    probe_file.unlink()
    if probe is None or "Permission denied" not in probe.stderr:
        pytest.skip(f"cannot drop root's power to read any file here: {probe and probe.stderr.strip()}")
    return prefix


@pytest.mark.parametrize("target", ["file", "folder"])
def test_an_unreadable_state_file_or_folder_names_the_permission_not_a_reset(project, target):
    """A permission problem on one file (mode 000) or on the folder: the message names it, its mode and who
    ecsflow runs as; the hint never says to delete the folder (that would drop every family for one file's
    permission)."""
    ecsflow("sync", "--sandbox", file=project / "compose.yaml", env=env())
    prefix = without_root_powers(project / "probe")
    state = project / ".ecsflow" / "sandbox"
    unreadable = state / "jobs-job.json" if target == "file" else state
    unreadable.chmod(0o000 if target == "file" else 0o333)  # the folder: writable and searchable, not listable
    try:
        done = ecsflow_process("diff", "--sandbox", cwd=project, env=env(), prefix=prefix, expect=1)
    finally:
        unreadable.chmod(0o644 if target == "file" else 0o755)
    said = " ".join(done.stderr.split())
    action = "read" if target == "file" else "list"
    assert f"{unreadable}: cannot {action} the sandbox state: permission denied (it is " in said
    assert ("----------" if target == "file" else "d-wx-wx-wx") in said and "ecsflow runs as " in said
    assert "delete" not in said.replace("do not delete it", "") and "unexpected" not in said
    assert done.stdout == ""
    ecsflow_process("diff", "--exit-code", "--sandbox", cwd=project, env=env())  # the state was intact all along


STRAY = {
    "folder": lambda path: path.mkdir(),
    "pipe": lambda path: os.mkfifo(path),
    "not JSON": lambda path: path.write_text("notes from a colleague\n"),
    "not UTF-8": lambda path: path.write_bytes(b"\xff\xfe{}"),
    "other JSON": lambda path: path.write_text('{"name": "some tool\'s settings"}'),
    "a list": lambda path: path.write_text("[1, 2]"),
    "family not a name": lambda path: path.write_text('{"format": 1, "family": ["a"], "revisions": []}'),
}


@pytest.mark.parametrize("make", STRAY.values(), ids=STRAY.keys())
def test_a_stray_file_in_the_state_folder_is_a_clear_error(tmp_path, make):
    make(tmp_path / "stray.json")
    with pytest.raises(EcsflowError) as err:
        with sandbox_session(tmp_path):
            pass
    assert err.value.file == str(tmp_path / "stray.json")
    assert err.value.message.startswith("cannot read the sandbox state: ")
    assert "move stray.json elsewhere" in err.value.hint or "family" in err.value.message


def test_a_stray_file_through_the_cli(project):
    ecsflow("sync", "--sandbox", file=project / "compose.yaml", env=env())
    (project / ".ecsflow" / "sandbox" / "notes.json").write_text("notes from a colleague\n")
    done = ecsflow("diff", "--sandbox", file=project / "compose.yaml", env=env(), expect=1)
    assert done.stdout == ""
    assert "notes.json: cannot read the sandbox state: not JSON (Expecting value at line 1, column 1)" in done.stderr
    assert "hint: this folder holds ecsflow's sandbox state only: move notes.json elsewhere" in done.stderr
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr
