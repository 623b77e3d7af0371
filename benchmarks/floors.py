"""Sync against its floors: a no-op sync against the round trips it cannot avoid, a first sync against the rate
ECS allows. Run by ``benchmarks/run.py`` on its endpoint (tests/ecs_server.py in a child process).

- ``noop``: N families registered (setup, no latency), then synced again with nothing to do, ``repeat`` times
  (the median is reported). Floor: ``ceil(N / concurrency) x latency``, the describes' round trips. Each run
  must make exactly one DescribeTaskDefinition per family and nothing else. With ``memo``, moto answers each
  question once and the proxy answers it from memory after that (tests/ecs_rates.py): an endpoint that costs
  next to no CPU, so what is left is ecsflow's own time (and the proxy's). The CPU seconds of this process
  (ecsflow) and of the endpoint's process are reported beside the wall time: on a 2-CPU machine the endpoint's
  work competes with ecsflow's, and moto's alone can exceed the floor.
- ``noop_process``: the same no-op sync as a user times it, the whole ``ecsflow sync`` process (start-up and
  render included), against an endpoint answering in real ECS's shape (tests/ecs_shapes.py) in a child process.
- ``first_sync``: N new families registered against an endpoint that throttles RegisterTaskDefinition as ECS
  does (a token bucket: ``burst``, then ``per_second``), paced (ecsflow's default against AWS) or not
  (the register loop's retries of a throttled call alone). Ideal: ``max(0, N - burst) / per_second``.
  Reported: throttled calls, failures, wall time.
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import project

from ecsflow.ecs.client import Ecs
from ecsflow.ecs.definitions import RegisterItem
from ecsflow.ecs.options import AwsOptions

DESCRIBE, REGISTER = "DescribeTaskDefinition", "RegisterTaskDefinition"


def noop(endpoint, items: list[RegisterItem], concurrency: int, latency: float, sync: Callable,
         memo: bool = False, repeat: int = 3, label: str | None = None) -> dict:
    n = len(items)
    endpoint.set_latency(0.0)
    endpoint.reset()
    ecs = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url=endpoint.url), concurrency=concurrency)
    sync(ecs, items)  # setup: every family registered
    if memo:
        endpoint.set_memo(DESCRIBE)
    sync(ecs, items)  # warm: botocore's models loaded, the endpoint's memory filled
    endpoint.set_latency(latency)
    runs = []
    for _ in range(repeat):
        endpoint.reset_counts()
        before = endpoint.stats()["cpu_s"]
        cpu, start = time.process_time(), time.perf_counter()
        registered, phases = sync(ecs, items)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        stats = endpoint.stats()
        if registered or stats["calls"] != {DESCRIBE: n}:
            raise SystemExit(f"no-op sync of {n}: registered {registered}, calls {stats['calls']}")
        runs.append({"wall_s": wall, "ecsflow_cpu_s": cpu, "endpoint_cpu_s": stats["cpu_s"] - before,
                     "diff_s": phases["diff_s"], "max_in_flight": stats["max_in_flight"]})
    if memo:
        endpoint.set_memo()
    floor = math.ceil(n / concurrency) * latency
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    return {"scenario": "no-op sync", "endpoint": label or ("moto answers once, then memory" if memo else "moto"),
            "families": n, "concurrency": concurrency, "latency_ms": latency * 1000, "describe_calls": n,
            "runs": repeat, **{k: round(v, 3) for k, v in median.items()}, "floor_s": round(floor, 3),
            "over_floor": round(median["wall_s"] / floor, 2) if floor else None,
            "ecsflow_cpu_per_describe_ms": round(median["ecsflow_cpu_s"] / n * 1000, 2)}


def noop_process(endpoint, n: int, latency: float, rounds: int, folder: Path, concurrency: int = 8) -> dict:
    """A no-op ``ecsflow sync`` of the generated project of ``n`` services, timed as a user times it: the whole
    process (start-up, render, the describes, the table it prints to a pipe), ``rounds`` times; the minimum and
    the median against ``ceil(n / concurrency) x latency``. Each run must describe every family once and call
    nothing else, and exit 0."""
    compose = project.generate(n, folder)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "RUN_DATE": "",
           "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "ECSFLOW_REGISTER_RATE": "off"}
    command = [sys.executable, "-m", "ecsflow", "sync", "--endpoint-url", endpoint.url,
               "--concurrency", str(concurrency)]
    endpoint.set_latency(0.0)
    endpoint.reset()
    subprocess.run(command, cwd=compose.parent, env=env, check=True, capture_output=True)  # setup: all registered
    endpoint.set_latency(latency)
    load_before, runs = os.getloadavg(), []
    for _ in range(rounds):
        endpoint.reset_counts()
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=compose.parent, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL)
        out = process.stdout.read()  # type: ignore[union-attr]
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        calls = endpoint.stats()["calls"]
        if os.waitstatus_to_exitcode(status) or calls != {DESCRIBE: n} or b"0 registered" not in out:
            raise SystemExit(f"no-op sync process of {n}: exit {status}, calls {calls}")
        runs.append({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime})
    floor = math.ceil(n / concurrency) * latency
    walls = [r["wall_s"] for r in runs]
    return {"scenario": "no-op sync, whole process", "endpoint": "real ECS shapes", "families": n,
            "concurrency": concurrency, "latency_ms": latency * 1000, "runs": rounds,
            "min_s": round(min(walls), 3), "median_s": round(statistics.median(walls), 3),
            "cpu_min_s": round(min(r["cpu_s"] for r in runs), 3), "floor_s": round(floor, 3),
            "over_floor": round(min(walls) / floor, 2), "median_over_floor": round(statistics.median(walls) / floor, 2),
            "load_before": load_before, "load_after": os.getloadavg()}


def noop_process_table(rows: list[dict]) -> str:
    lines = ["| N | concurrency | latency (ms) | endpoint | runs | min (s) | median (s) | CPU min (s) | floor (s) "
             "| min / floor | median / floor | load before / after |",
             "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {r['families']} | {r['concurrency']} | {r['latency_ms']:g} | {r['endpoint']} | {r['runs']} "
              f"| {r['min_s']:.2f} | {r['median_s']:.2f} | {r['cpu_min_s']:.2f} | {r['floor_s']:.2f} "
              f"| **{r['over_floor']}** | {r['median_over_floor']} | {r['load_before'][0]:.2f} / "
              f"{r['load_after'][0]:.2f} |" for r in rows]
    return "\n".join(lines) + "\n"


def first_sync(endpoint, items: list[RegisterItem], concurrency: int, latency: float, burst: int,
               per_second: float, paced: bool) -> dict:
    from ecsflow.ecs.pacing import Rate

    n = len(items)
    endpoint.set_latency(0.0)
    endpoint.reset()
    endpoint.set_latency(latency)
    endpoint.set_throttle(burst, per_second)  # a full bucket: ECS's after a quiet while
    rate = Rate(burst, per_second) if paced else None
    ecs = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url=endpoint.url, register_rate=rate),
                      concurrency=concurrency)
    start = time.perf_counter()
    outcomes = ecs.register_families(items)
    wall = time.perf_counter() - start
    stats = endpoint.stats()
    endpoint.set_throttle(None)
    failed = [o for o in outcomes if o.status != "registered"]
    ideal = max(0, n - burst) / per_second
    return {"scenario": "first sync", "pacing": "paced" if paced else "unpaced (retries only)", "families": n,
            "concurrency": concurrency, "latency_ms": latency * 1000, "burst": burst, "per_second": per_second,
            "register_calls": stats["calls"].get(REGISTER, 0), "throttled": stats["throttled"].get(REGISTER, 0),
            "failed": len(failed), "wall_s": round(wall, 3), "ideal_s": round(ideal, 3),
            "over_ideal": round(wall / ideal, 2) if ideal else None,
            "first_error": failed[0].error if failed else None}


def noop_table(rows: list[dict]) -> str:
    lines = ["| N | concurrency | latency (ms) | endpoint | wall (s) | floor (s) | wall / floor | ecsflow CPU (s) "
             "| ecsflow CPU a describe (ms) | endpoint CPU (s) | diff (s) | max in flight |",
             "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['families']} | {r['concurrency']} | {r['latency_ms']:g} | {r['endpoint']} | {r['wall_s']:.2f} "
              f"| {r['floor_s']:.2f} | **{r['over_floor']}** | {r['ecsflow_cpu_s']:.2f} "
              f"| {r.get('ecsflow_cpu_per_describe_ms', '-')} | {r['endpoint_cpu_s']:.2f} "
              f"| {r['diff_s']:.3f} | {r['max_in_flight']} |" for r in rows]
    return "\n".join(lines) + "\n"


def first_sync_table(rows: list[dict]) -> str:
    lines = ["| N | burst | rate (/s) | latency (ms) | sync | RegisterTaskDefinition calls | throttled | failed "
             "| wall (s) | ideal (s) | wall / ideal |",
             "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['families']} | {r['burst']} | {r['per_second']:g} | {r['latency_ms']:g} | {r['pacing']} "
              f"| {r['register_calls']} | **{r['throttled']}** | {r['failed']} | {r['wall_s']:.1f} "
              f"| {r['ideal_s']:.1f} | {r['over_ideal']} |" for r in rows]
    return "\n".join(lines) + "\n"
