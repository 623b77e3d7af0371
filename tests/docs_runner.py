"""A warm `ecsflow` for tests/test_docs.py: one process imports ecsflow (and moto) once, then forks a child per
command, which runs `ecsflow.cli.main` with the command's own arguments, environment, folder and standard
streams, and exits with its status.

Starting Python and importing ecsflow, boto3 and moto is most of a short command's time (see
`benchmarks/results/startup.md`); the docs hold dozens of commands, and the default run of the docs' tests must
stay short. Each command still runs in a process of its own, forked from a parent that has run nothing, so no
state passes from one command to the next. The slow run of the docs' tests uses the real `ecsflow` script.

    python tests/docs_runner.py serve SOCKET   # the server (started by `WarmEcsflow`)
    ecsflow ARGS...                            # the client, a script `WarmEcsflow` writes, with ECSFLOW_DOCS_SOCKET
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

CLIENT = """#!{python}
import json, os, socket, struct, sys
with socket.socket(socket.AF_UNIX) as s:
    s.connect(os.environ["ECSFLOW_DOCS_SOCKET"])
    payload = json.dumps({{"argv": sys.argv, "env": dict(os.environ), "cwd": os.getcwd()}}).encode()
    socket.send_fds(s, [struct.pack("!I", len(payload)) + payload], [0, 1, 2])
    answer = s.recv(4)
sys.exit(struct.unpack("!i", answer)[0] if len(answer) == 4 else 1)
"""


def _receive(connection: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, 1 << 20, 3)
    (size,) = struct.unpack("!I", data[:4])
    data = data[4:]
    while len(data) < size:
        data += connection.recv(size - len(data))
    return json.loads(data), fds


def _child(request: dict, fds: list[int]) -> None:
    """In the forked child: become the command, run ecsflow's main, exit with its status. Never returns."""
    status = 1
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.argv = request["argv"]
        from ecsflow.cli import main

        try:
            main()
            status = 0
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException as exc:  # noqa: BLE001 - reported on the command's stderr, as a traceback would be
        print(f"docs_runner: {type(exc).__name__}: {exc}", file=sys.__stderr__)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - a closed pipe: nothing more to say
                pass
        os._exit(status)


def serve(path: str) -> None:
    """Import once, then one command at a time: fork, wait, answer the exit status."""
    # What the commands import when they run, imported here once; and botocore's ECS model, parsed once (a
    # cache of botocore's static data, which ecsflow shares within a process anyway: ecsflow.ecs.validate).
    import boto3  # noqa: F401
    import botocore.session
    import deepdiff  # noqa: F401
    import jinja2  # noqa: F401
    import jsonschema  # noqa: F401
    import rich.console  # noqa: F401
    import rich.table  # noqa: F401
    import yaml  # noqa: F401

    import ecsflow.airflow  # noqa: F401
    import ecsflow.cli  # noqa: F401
    import ecsflow.compose.loader  # noqa: F401
    import ecsflow.consul  # noqa: F401
    import ecsflow.operations  # noqa: F401
    import ecsflow.output  # noqa: F401
    import ecsflow.sandbox.moto_patches  # noqa: F401
    import ecsflow.sandbox.runner  # noqa: F401
    import ecsflow.sandbox.session  # noqa: F401
    from ecsflow.ecs.validate import _input_shape, data_loader
    from ecsflow.sandbox.moto_import import import_mock_aws

    import_mock_aws()  # moto's ECS and CloudWatch Logs, the slow part
    import moto.ec2.models  # noqa: F401 - what a task that runs in the sandbox imports, and moto's services
    import moto.ecr.models  # noqa: F401 - that `verify --sandbox` asks
    import moto.iam.models  # noqa: F401
    import moto.secretsmanager.models  # noqa: F401
    import moto.ssm.models  # noqa: F401
    import moto.sts.models  # noqa: F401
    _input_shape("RegisterTaskDefinition")
    loader = data_loader(botocore.session.get_session().get_config_variable("data_path"))
    for service in ("ecs", "logs", "sts", "ecr", "iam", "ssm", "secretsmanager", "ec2"):  # verify's clients too
        loader.load_service_model(service, "service-2")

    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen()
        print("ready", flush=True)
        while True:
            connection, _ = server.accept()
            with connection:
                request, fds = _receive(connection)
                pid = os.fork()
                if pid == 0:
                    server.close()
                    _child(request, fds)
                for fd in fds:
                    os.close(fd)
                _, wait_status = os.waitpid(pid, 0)
                code = os.waitstatus_to_exitcode(wait_status)
                connection.sendall(struct.pack("!i", code if code >= 0 else 128 - code))


class WarmEcsflow:
    """The server in a child process, and a folder with the client as `ecsflow`, to put first on PATH."""

    def __init__(self, folder: Path) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir(parents=True)
        self.socket = str(folder / "ecsflow.sock")
        script = self.bin / "ecsflow"
        script.write_text(CLIENT.format(python=sys.executable))
        script.chmod(0o755)
        self.process = subprocess.Popen([sys.executable, __file__, "serve", self.socket], stdout=subprocess.PIPE,
                                        text=True)
        if self.process.stdout.readline().strip() != "ready":  # it imports, then says so
            self.close()
            raise RuntimeError("the docs' ecsflow server did not start")

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "PATH": f"{self.bin}{os.pathsep}{env['PATH']}", "ECSFLOW_DOCS_SOCKET": self.socket}

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(sys.argv[2])
