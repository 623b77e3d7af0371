"""Start-up, render and sandbox times of the CLI on the ETL example, measured in one run.

`ecsflow --help` must return within 1.3x of `python -c 'import typer'` and `ecsflow render` on the ETL example
within 0.25 s; `diff --sandbox` and a no-op `sync --sandbox` (the README's first commands: a new user's first
impression) within 1.5x of `render`. This measures each as a new process, the commands interleaved
round after round (so a burst of load on the machine hits them alike), and reports medians next to the
interpreter's own start-up (`python -c pass`) and, for the sandbox, as a ratio to `render`. The commands run in
a copy of the example, whose sandbox state (4 families, one revision each) a first `sync --sandbox` makes
before the rounds: every `sync --sandbox` measured is a no-op, as is every `diff --sandbox`. Beside them, the
least a command that talks to ECS through botocore costs: `render`, then one botocore ECS client, no call.
"""

from __future__ import annotations

import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ETL = ROOT / "examples" / "etl"
ECSFLOW = [sys.executable, "-m", "ecsflow"]
RENDER = "ecsflow render"

TYPER = "python -c 'import typer'"
# The sandbox's kept answers (ecsflow/sandbox/answers.py) deleted before each run: moto starts and answers, as
# in the first read-only command after a change. It keeps the answers again, for the commands after it.
MOTO_DIFF = "ecsflow diff --sandbox, moto answering (answers.cache deleted)"
# Before each run a `sync --sandbox` that registers (one image tag changed, not timed): the diff after a sync, which
# the sync's describes, asked again after its writes, answer.
AFTER_SYNC = "ecsflow diff --sandbox after a sync that registered"
FLIP = ("etl/load:1.4.2", "etl/load:1.4.3")
# The least any command that talks to ECS through botocore costs: render, then one ECS client (no moto, no call).
CLIENT_FLOOR = "render + a botocore ECS client (no call)"
_CLIENT_FLOOR_CODE = """
import os, sys
os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
sys.argv = ["ecsflow", "render"]
from ecsflow.cli import main
try:
    main()
except SystemExit:
    pass
from ecsflow.ecs.client import make_ecs_client
from ecsflow.ecs.options import AwsOptions
make_ecs_client(AwsOptions(region="us-east-1"))
"""
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    TYPER: [sys.executable, "-c", "import typer"],
    "ecsflow --help": [*ECSFLOW, "--help"],
    RENDER: [*ECSFLOW, "render"],
    MOTO_DIFF: [*ECSFLOW, "diff", "--sandbox"],
    AFTER_SYNC: [*ECSFLOW, "diff", "--sandbox"],
    "ecsflow diff --sandbox": [*ECSFLOW, "diff", "--sandbox"],
    "ecsflow sync --sandbox (no-op)": [*ECSFLOW, "sync", "--sandbox"],
    CLIENT_FLOOR: [sys.executable, "-c", _CLIENT_FLOOR_CODE],
}
SANDBOX = ("ecsflow diff --sandbox", "ecsflow sync --sandbox (no-op)", MOTO_DIFF, AFTER_SYNC)


def main(repeat: int = 11, write: bool = True, results: Path = RESULTS) -> dict:
    # Measured as installed: with ecsflow's bytecode written (under PYTHONDONTWRITEBYTECODE, as in some
    # development shells, each process would compile every ecsflow module again, 0.1 s).
    import ecsflow

    compileall.compile_dir(Path(ecsflow.__file__).parent, quiet=1)
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "etl"
        shutil.copytree(ETL, project, ignore=shutil.ignore_patterns(".ecsflow", "dags", "__pycache__"))
        subprocess.run([*ECSFLOW, "sync", "--sandbox"], cwd=project, check=True, stdout=subprocess.DEVNULL)
        samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
        cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}  # the process's own CPU seconds
        for _ in range(repeat):
            for name, command in COMMANDS.items():
                if name == MOTO_DIFF:
                    (project / ".ecsflow" / "sandbox" / "answers.cache").unlink(missing_ok=True)
                if name == AFTER_SYNC:
                    compose = project / "docker-compose.yml"
                    text = compose.read_text()
                    old_tag, new_tag = FLIP if FLIP[0] in text else FLIP[::-1]
                    compose.write_text(text.replace(old_tag, new_tag))
                    subprocess.run([*ECSFLOW, "sync", "--sandbox"], cwd=project, check=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                start = time.perf_counter()
                process = subprocess.Popen(command, cwd=project, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
                _, status, usage = os.wait4(process.pid, 0)
                samples[name].append(time.perf_counter() - start)
                cpu[name].append(usage.ru_utime + usage.ru_stime)
                if os.waitstatus_to_exitcode(status):
                    raise SystemExit(f"{name}: exit {os.waitstatus_to_exitcode(status)}")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    base, render, render_cpu = medians["python -c pass"], medians[RENDER], cpu_medians[RENDER]
    lines = ["| command (ETL example, 4 services) | median s | x python -c pass | x render | CPU s | CPU x render |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {name} | {value:.3f} | {value / base:.1f} | {value / render:.2f} | {cpu_medians[name]:.3f} "
              f"| {cpu_medians[name] / render_cpu:.2f} |" for name, value in medians.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    document = {"repeat": repeat, "median_s": medians, "cpu_median_s": cpu_medians, "table": text,
                "load": os.getloadavg(),
                "sandbox_cpu_over_render": {name: round(cpu_medians[name] / render_cpu, 2) for name in SANDBOX},
                "sandbox_over_render": {name: round(medians[name] / render, 2) for name in SANDBOX},
                "client_floor_over_render": round(medians[CLIENT_FLOOR] / render, 2),
                "help_over_typer": round(medians["ecsflow --help"] / medians[TYPER], 2)}
    if write:
        results.mkdir(parents=True, exist_ok=True)
        (results / "startup.json").write_text(json.dumps(document, indent=2) + "\n")
        (results / "startup.md").write_text(
            f"# CLI start-up, render and the sandbox\n\nMedian of {repeat} runs each, as new processes, the commands "
            f"interleaved; the sandbox's state made by a first `sync --sandbox`, so every sandbox command is a no-op, "
            f"answered from the sandbox's kept answers except the one that deletes them first (moto answering); the "
            f"diff after a sync follows a `sync --sandbox` that registered one family (not timed); "
            f"the last row is what render and one botocore ECS client cost, without moto and without a call."
            f"\n\n{text}")
    return document


if __name__ == "__main__":
    main()
