"""Start-up and render time of the CLI, against `python -c pass`, measured in one run.

`ecsflow --help` must return in well under half a second and `ecsflow render` on the ETL example in well
under a second; this measures both (median of repeated runs, as new processes) next to the interpreter's
own start-up, so the figures are comparable on a noisy shared machine.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
ETL = ROOT / "examples" / "etl" / "docker-compose.yml"
ECSFLOW = [sys.executable, "-m", "ecsflow"]

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "ecsflow --help": [*ECSFLOW, "--help"],
    "ecsflow render (ETL example, 4 services)": [*ECSFLOW, "render", "-f", str(ETL)],
}


def median_seconds(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(repeat: int = 11, write: bool = True) -> str:
    # Interleave the commands, round after round, so a burst of load on the machine hits them alike.
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(repeat):
        for name, command in COMMANDS.items():
            samples[name].append(median_seconds(command, 1))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["python -c pass"]
    lines = ["| command | median s | × python -c pass |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {value:.3f} | {value / base:.1f} |" for name, value in medians.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "startup.json").write_text(json.dumps({"repeat": repeat, "median_s": medians}, indent=2) + "\n")
        (RESULTS / "startup.md").write_text(f"# CLI start-up and render\n\nMedian of {repeat} runs each.\n\n{text}")
    return text


if __name__ == "__main__":
    main()
