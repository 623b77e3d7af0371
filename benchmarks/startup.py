"""Start-up, render and sandbox times of the CLI on the ETL example, measured in one run.

`ecsflow --help` must return within 1.3x of `python -c 'import typer'` and `ecsflow render` on the ETL example
within 0.25 s; `diff --sandbox` and a no-op `sync --sandbox` (the README's first commands: a new user's first
impression) within 1.5x of `render`. This measures each as a new process, the commands interleaved
round after round (so a burst of load on the machine hits them alike), and reports medians next to the
interpreter's own start-up (`python -c pass`) and, for the sandbox, as a ratio to `render`. The commands run in
a copy of the example, whose sandbox state (4 families, one revision each) a first `sync --sandbox` makes
before the rounds: every `sync --sandbox` measured is a no-op, as is every `diff --sandbox`.
"""

from __future__ import annotations

import json
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
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    TYPER: [sys.executable, "-c", "import typer"],
    "ecsflow --help": [*ECSFLOW, "--help"],
    RENDER: [*ECSFLOW, "render"],
    "ecsflow diff --sandbox": [*ECSFLOW, "diff", "--sandbox"],
    "ecsflow sync --sandbox (no-op)": [*ECSFLOW, "sync", "--sandbox"],
}
SANDBOX = ("ecsflow diff --sandbox", "ecsflow sync --sandbox (no-op)")


def main(repeat: int = 11, write: bool = True, results: Path = RESULTS) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "etl"
        shutil.copytree(ETL, project, ignore=shutil.ignore_patterns(".ecsflow", "dags", "__pycache__"))
        subprocess.run([*ECSFLOW, "sync", "--sandbox"], cwd=project, check=True, stdout=subprocess.DEVNULL)
        samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(repeat):
            for name, command in COMMANDS.items():
                start = time.perf_counter()
                subprocess.run(command, cwd=project, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                samples[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base, render = medians["python -c pass"], medians[RENDER]
    lines = ["| command (ETL example, 4 services) | median s | x python -c pass | x render |",
             "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {value:.3f} | {value / base:.1f} | {value / render:.2f} |"
              for name, value in medians.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    document = {"repeat": repeat, "median_s": medians, "table": text,
                "sandbox_over_render": {name: round(medians[name] / render, 2) for name in SANDBOX},
                "help_over_typer": round(medians["ecsflow --help"] / medians[TYPER], 2)}
    if write:
        results.mkdir(parents=True, exist_ok=True)
        (results / "startup.json").write_text(json.dumps(document, indent=2) + "\n")
        (results / "startup.md").write_text(
            f"# CLI start-up, render and the sandbox\n\nMedian of {repeat} runs each, as new processes, the commands "
            f"interleaved; the sandbox's state made by a first `sync --sandbox`, so both sandbox commands are no-ops."
            f"\n\n{text}")
    return document


if __name__ == "__main__":
    main()
