"""Another checkout against this one, interleaved round by round in one run: the sandbox against `render` on
the ETL example, and the whole-process no-op sync of 500 families (20 ms a call, real ECS shapes).

    git archive <commit> | tar -x -C /tmp/before    # the checkout to compare with, its sources only
    .venv/bin/python benchmarks/compare.py /tmp/before startup --rounds 7
    .venv/bin/python benchmarks/compare.py /tmp/before sync --rounds 5

The other checkout runs with this virtualenv, its sources first on PYTHONPATH (ahead of this editable install),
so only ecsflow's code differs. Both checkouts' bytecode is compiled first. Prints medians (and minima) of
wall and CPU seconds; writes nothing: a machine shared with other work moves the absolute figures, so what
this gives is the ratio between the two, measured under the same load.
"""

from __future__ import annotations

import argparse
import compileall
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "tests")]

import project  # noqa: E402
from ecs_shapes import ShapesEndpoint  # noqa: E402


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, bytes]:
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = process.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)}: exit {os.waitstatus_to_exitcode(status)}")
    return time.perf_counter() - start, usage.ru_utime + usage.ru_stime, out


def startup(variants: dict[str, dict[str, str]], rounds: int) -> None:
    commands = {"render": ["render"], "diff --sandbox": ["diff", "--sandbox"], "sync --sandbox": ["sync", "--sandbox"]}
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {(v, c): [] for v in variants for c in commands}
    with tempfile.TemporaryDirectory() as folder:
        etl = Path(folder) / "etl"
        ignore = shutil.ignore_patterns(".ecsflow", "dags", "__pycache__")
        shutil.copytree(ROOT / "examples" / "etl", etl, ignore=ignore)
        subprocess.run([sys.executable, "-m", "ecsflow", "sync", "--sandbox"], cwd=etl, check=True, capture_output=True)
        for _ in range(rounds):
            for name, args in commands.items():
                for variant, extra in variants.items():
                    wall, cpu, _ = timed([sys.executable, "-m", "ecsflow", *args], etl, {**base, **extra})
                    samples[(variant, name)].append((wall, cpu))
    for variant in variants:
        wall = {c: statistics.median(s[0] for s in samples[(variant, c)]) for c in commands}
        cpu = {c: statistics.median(s[1] for s in samples[(variant, c)]) for c in commands}
        print(f"{variant}: " + "; ".join(f"{c} {wall[c]:.3f} s ({wall[c] / wall['render']:.2f}x render), CPU "
                                         f"{cpu[c]:.3f} s ({cpu[c] / cpu['render']:.2f}x)" for c in commands))


def sync(variants: dict[str, dict[str, str]], rounds: int, n: int = 500, latency: float = 0.02) -> None:
    with ShapesEndpoint(latency=latency) as endpoint, tempfile.TemporaryDirectory() as folder:
        compose = project.generate(n, Path(folder))
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": folder, "RUN_DATE": "",
               "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_CONFIG_FILE": os.devnull,
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "ECSFLOW_REGISTER_RATE": "off"}
        command = [sys.executable, "-m", "ecsflow", "sync", "--endpoint-url", endpoint.url, "--concurrency", "8"]
        endpoint.set_latency(0.0)
        subprocess.run(command, cwd=compose.parent, env=env, check=True, capture_output=True)
        endpoint.set_latency(latency)
        samples: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
        for _ in range(rounds):
            for variant, extra in variants.items():
                endpoint.reset_counts()
                wall, cpu, out = timed(command, compose.parent, {**env, **extra})
                if endpoint.stats()["calls"] != {"DescribeTaskDefinition": n} or b"0 registered" not in out:
                    raise SystemExit(f"{variant}: not a no-op sync ({endpoint.stats()['calls']})")
                samples[variant].append((wall, cpu))
    floor = math.ceil(n / 8) * latency
    for variant, runs in samples.items():
        walls = [w for w, _ in runs]
        print(f"{variant}: min {min(walls):.3f} s ({min(walls) / floor:.2f}x floor), median "
              f"{statistics.median(walls):.3f} s ({statistics.median(walls) / floor:.2f}x), CPU median "
              f"{statistics.median(c for _, c in runs):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the other checkout's folder (its ecsflow/ package inside)")
    parser.add_argument("what", choices=("startup", "sync"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    import ecsflow

    for package in (args.before.resolve() / "ecsflow", Path(ecsflow.__file__).parent):
        compileall.compile_dir(package, quiet=1)
    variants = {"before": {"PYTHONPATH": str(args.before.resolve())}, "after": {}}
    (startup if args.what == "startup" else sync)(variants, args.rounds)
    print(f"load average: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
