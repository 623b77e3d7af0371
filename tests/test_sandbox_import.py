"""How the sandbox imports moto (ecsflow/sandbox/moto_import.py), in a fresh interpreter each time, since what
a process has imported is the point: moto's EC2 only when it is used, and each botocore data file parsed once.
(Tasks that run in the sandbox, which do use moto's EC2, are tested in a fresh process by tests/test_run.py.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SESSION = """
import os, sys
for name in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[name]
from ecsflow.ecs.client import Ecs
from ecsflow.sandbox.session import sandbox_session
request = {"family": "fam", "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 128}]}
with sandbox_session(sys.argv[1]) as sandbox:
    ecs = Ecs.connect(sandbox.options)
    live = ecs.describe_families(["fam"])
    if live["fam"] is None:
        ecs.register_revision(request)
    print("revision", ecs.describe_families(["fam"])["fam"]["taskDefinition"]["revision"])
    print("ec2 imported", "moto.ec2.models" in sys.modules)
    if len(sys.argv) > 2:  # an EC2 call: moto's EC2 is imported then, and answers as usual
        import boto3
        subnets = boto3.client("ec2", region_name="us-east-1").describe_subnets()["Subnets"]
        print("default subnets", len(subnets) > 0, type(sys.modules["moto.ec2"].ec2_backends).__name__)
"""


def run_session(state: Path, *args: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", SESSION, str(state), *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_a_sandbox_that_runs_no_task_does_not_import_motos_ec2(tmp_path):
    assert run_session(tmp_path) == ["revision 1", "ec2 imported False"]
    assert run_session(tmp_path) == ["revision 1", "ec2 imported False"]  # replayed from the folder


def test_motos_ec2_is_imported_when_first_used(tmp_path):
    assert run_session(tmp_path, "ec2") == ["revision 1", "ec2 imported False", "default subnets True BackendDict"]


def test_botocore_data_files_are_parsed_once_per_process(tmp_path):
    """By one loader (render's validation, ecsflow's clients, moto's regions, and the models moto answers
    from, such as ECS's 1 MB one, which moto's loader takes from it: moto has no extras for them)."""
    # Which loaders read each data file, in a sandbox session after a render (each loader parses a file once).
    code = """
import collections, sys
import botocore.loaders
readers = collections.defaultdict(set)
original = botocore.loaders.Loader.load_data_with_path
def counting(self, name, *args, **kwargs):
    readers[name].add(id(self))
    return original(self, name, *args, **kwargs)
botocore.loaders.Loader.load_data_with_path = counting
from ecsflow.ecs.validate import check_register_request
request = {"family": "fam", "containerDefinitions": [{"name": "app", "image": "busybox", "memory": 128}]}
check_register_request(request)
""" + SESSION.replace("import os, sys", "import os") + """
print(sorted(name for name, loaders in readers.items() if len(loaders) > 1))
"""
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


CLIENTS = """
import collections, sys
import botocore.session
made = collections.Counter()
original = botocore.session.Session.create_client
def counting(self, service_name, *args, **kwargs):
    made[service_name] += 1
    return original(self, service_name, *args, **kwargs)
botocore.session.Session.create_client = counting
sys.argv = ["ecsflow", *sys.argv[1:]]
from ecsflow.cli import main
try:
    main()
except SystemExit as end:
    print("exit", end.code)
print(dict(made))
"""


def test_a_sandbox_command_makes_one_ecs_client(etl_project):
    """The sandbox's replay and the command share one client (another costs a botocore session and its
    handlers); a sync that registers makes the writer too, which botocore never retries."""

    def clients(*command: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", CLIENTS, *command], cwd=etl_project, capture_output=True,
                              text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()[-2:]

    assert clients("sync", "--sandbox") == ["exit 0", "{'ecs': 2}"]  # registers: the writer
    # the sync's describes, asked again after its writes, answer the diff without moto
    assert clients("diff", "--sandbox", "--no-services") == ["exit 0", "{}"]
    (etl_project / ".ecsflow" / "sandbox" / "answers.cache").unlink()
    assert clients("diff", "--sandbox", "--no-services") == ["exit 0", "{'ecs': 1}"]  # moto: the replay's client
    assert clients("sync", "--sandbox") == ["exit 0", "{}"]  # a no-op: the diff's answers were kept, no moto
