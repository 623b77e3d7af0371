"""Sync, sandbox, prune and deploy benchmarks, in one run: how many ECS calls a sync makes and how long it takes for
many families; each target against its floor (a no-op sync against its round trips, a first sync against
ECS's rate: ``benchmarks/floors.py``; the sandbox against ``render``: ``benchmarks/startup.py``); a prune of one
family of 2,000 revisions (``benchmarks/prune.py``); a no-op deploy of 50 services against its round trips
(``benchmarks/deploy.py``).

One command: ``.venv/bin/python benchmarks/run.py`` (``--quick`` for a smoke run that writes nothing; ``--out``
to write elsewhere, e.g. a run of older code with ``PYTHONPATH=<its checkout>``).

A local ECS endpoint (moto's server behind a proxy that adds a fixed latency per call and counts calls per
action, tests/ecs_server.py) runs in a child process. For each N, the same N families are synced twice,
with the code ``ecsflow sync`` uses: ``Ecs.describe_families`` -> ``build_changeset`` -> ``Ecs.register_families``
for the new and changed ones. The first sync must register all N (N describes + N registers), the second
none (exactly N describes); the script fails otherwise. Results go to benchmarks/results/: floors.{json,md}
(the summary), sync, prune and startup.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the endpoint is the one the adapter's tests use

import boto3  # noqa: E402
import moto  # noqa: E402
from ecs_server import RemoteEndpoint  # noqa: E402
from ecs_shapes import ShapesEndpoint  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
import deploy  # noqa: E402
import floors  # noqa: E402
import prune  # noqa: E402
import render  # noqa: E402
import startup  # noqa: E402

from ecsflow.diff import build_changeset  # noqa: E402
from ecsflow.ecs.client import Ecs  # noqa: E402
from ecsflow.ecs.definitions import RegisterItem  # noqa: E402
from ecsflow.ecs.options import AwsOptions  # noqa: E402
from ecsflow.tags import MANAGED_TAG, PROJECT_TAG, SERVICE_TAG  # noqa: E402

try:  # absent from ecsflow before it paced registrations (a run of the benchmark against older code)
    import ecsflow.ecs.pacing  # noqa: F401

    PACING = True
except ImportError:
    PACING = False

RESULTS = Path(__file__).resolve().parent / "results"
DESCRIBE, REGISTER = "DescribeTaskDefinition", "RegisterTaskDefinition"


def family_request(family: str, n: int) -> dict:
    """A request shaped like the builder's (ports, health check, secrets, environment, awslogs, the tags)."""
    return {
        "family": family,
        "executionRoleArn": "arn:aws:iam::123456789012:role/ecs-exec",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "containerDefinitions": [{
            "name": "job",
            "image": f"123456789012.dkr.ecr.us-east-1.amazonaws.com/bench/job-{n}:1.0",
            "command": ["python", "-m", "job", str(n)],
            "environment": [{"name": "JOB", "value": str(n)}, {"name": "LOG_LEVEL", "value": "info"}],
            "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/db"}],
            "portMappings": [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}],
            "healthCheck": {"command": ["CMD-SHELL", "true"], "interval": 30, "timeout": 5, "retries": 3},
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/bench", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"}},
        }],
        "tags": [{"key": MANAGED_TAG, "value": "true"}, {"key": PROJECT_TAG, "value": "bench"},
                 {"key": SERVICE_TAG, "value": f"job{n}"}],
    }


def sync(ecs: Ecs, items: list[RegisterItem]) -> tuple[int, dict[str, float]]:
    """What ``ecsflow sync`` does once the requests are built: how many families it registered, and the
    seconds spent describing, diffing (CPU only) and registering."""
    t0 = time.perf_counter()
    live = ecs.describe_families([i.family for i in items])
    t1 = time.perf_counter()
    changeset = build_changeset((i.service, i.family, dict(i.request), live[i.family]) for i in items)
    todo = [i for i, f in zip(items, changeset.families, strict=True) if f.status != "unchanged"]
    t2 = time.perf_counter()
    outcomes = ecs.register_families(todo)
    t3 = time.perf_counter()
    failed = [o for o in outcomes if o.status != "registered"]
    if failed:
        raise SystemExit(f"benchmark sync failed: {failed[0].family}: {failed[0].error}")
    return len(outcomes), {"describe_s": t1 - t0, "diff_s": t2 - t1, "register_s": t3 - t2}


def scenario(endpoint: RemoteEndpoint, n: int, concurrency: int, latency: float) -> list[dict]:
    endpoint.set_latency(latency)
    ecs = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url=endpoint.url), concurrency=concurrency)
    # Warm up, so the figures are the steady state: the first call of each operation costs botocore (loading
    # the operation's model) and moto (importing its ECS backend) a few hundred milliseconds, once.
    sync(ecs, [RegisterItem("warmup", "warmup", family_request("warmup", 0))])
    endpoint.reset()
    items = [RegisterItem(f"job{i}", f"bench-{i:04d}", family_request(f"bench-{i:04d}", i)) for i in range(n)]
    rows = []
    for run, expected in (("first", n), ("second", 0)):
        endpoint.reset_counts()
        start = time.perf_counter()
        registered, phases = sync(ecs, items)
        wall = time.perf_counter() - start
        stats = endpoint.stats()
        calls = stats["calls"]
        describes, registers = calls.get(DESCRIBE, 0), calls.get(REGISTER, 0)
        # Each phase (describe all, then register the changed) takes ceil(count / concurrency) round trips.
        ideal = (math.ceil(describes / concurrency) + math.ceil(registers / concurrency)) * latency
        rows.append({
            "families": n, "concurrency": concurrency, "latency_ms": latency * 1000, "sync": run,
            "registered": registered,
            "calls": calls, "describe_calls": describes, "register_calls": registers,
            "wall_s": round(wall, 3), "ideal_s": round(ideal, 3),
            **{phase: round(seconds, 3) for phase, seconds in phases.items()},
            "measured_over_ideal": round(wall / ideal, 2) if ideal else None,
            "max_in_flight": stats["max_in_flight"],
        })
        ok = registered == expected and describes == n and registers == expected and sum(calls.values()) == n + expected
        if not ok:
            raise SystemExit(f"unexpected calls for N={n}, {run} sync: {calls} (registered {registered})")
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "Ideal = (ceil(describes / concurrency) + ceil(registers / concurrency)) x latency: the round trips alone.",
        "",
        "| N | concurrency | latency (ms) | sync | DescribeTaskDefinition | RegisterTaskDefinition | wall (s) "
        "| ideal (s) | measured / ideal | describe (s) | diff (s) | register (s) | max in flight |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = r["measured_over_ideal"] if r["measured_over_ideal"] is not None else "-"
        lines.append(
            f"| {r['families']} | {r['concurrency']} | {r['latency_ms']:g} | {r['sync']} | {r['describe_calls']} "
            f"| {r['register_calls']} | {r['wall_s']:.2f} | {r['ideal_s']:.2f} | {ratio} | {r['describe_s']:.2f} "
            f"| {r['diff_s']:.2f} | {r['register_s']:.2f} | {r['max_in_flight']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small N, scaled-up rates; writes nothing")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency added per call (default 20)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the results go (default benchmarks/results)")
    args = parser.parse_args(argv)
    latency = args.latency_ms / 1000
    # (N, concurrency, latency). The last two: with no latency added, what the local endpoint itself costs;
    # with 100 ms, how close the pool gets to the ideal when the round trip dominates that cost.
    plan = [(10, 8, latency), (10, 1, latency)] if args.quick else [
        (10, 8, latency), (100, 8, latency), (100, 1, latency), (500, 8, latency), (100, 8, 0.0), (100, 8, 0.1)]
    noop_n, slow = (50, 0.05) if args.quick else (500, 0.1)
    # ECS's RegisterTaskDefinition throttling (a burst of 20, then 1 a second); the quick run scales it up.
    first_n, burst, per_second = (30, 5, 10.0) if args.quick else (100, 20, 1.0)

    # Dummy credentials for the local endpoint, and nothing from this machine's AWS setup.
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})

    rows: list[dict] = []
    revisions = 200 if args.quick else 2000
    with RemoteEndpoint(latency=latency) as endpoint:
        for n, concurrency, scenario_latency in plan:
            rows.extend(scenario(endpoint, n, concurrency, scenario_latency))
            print(f"N={n} concurrency={concurrency} latency={scenario_latency * 1000:g} ms: done", file=sys.stderr)
        items = families(noop_n)
        noops = [floors.noop(endpoint, items, 8, wait, sync, memo=memo)
                 for wait in (latency, slow) for memo in (False, True)]
        print(f"no-op syncs of {noop_n}: done", file=sys.stderr)
        first = []
        if PACING:
            first = [floors.first_sync(endpoint, families(first_n), 8, latency, burst, per_second, paced)
                     for paced in (True, False)]
            print(f"first syncs of {first_n} against a throttling endpoint: done", file=sys.stderr)
        prune_rows = prune.scenario(endpoint, family_request(prune.FAMILY, 0), revisions, 8, latency)
        print(f"prune of {revisions} revisions: done", file=sys.stderr)
        deploys = [deploy.noop(endpoint, 50, 8, latency, memo=memo) for memo in (False, True)]
        print("no-op deploy of 50 services: done", file=sys.stderr)
    # The same no-op sync against an endpoint answering in real ECS's shape (defaults filled, empty lists, its own
    # fields): in this process (the sync phase), and as the whole `ecsflow sync` process of the generated project.
    with ShapesEndpoint(latency=latency) as shapes, tempfile.TemporaryDirectory() as folder:
        noops += [floors.noop(shapes, items, 8, latency, sync, label="real ECS shapes")]
        processes = [floors.noop_process(shapes, noop_n, latency, 2 if args.quick else 5, Path(folder))]
        print(f"no-op syncs of {noop_n} against real ECS shapes: done", file=sys.stderr)
    render_doc = render.main(rounds=1 if args.quick else 5, write=not args.quick, results=args.out,
                             sizes=(10, 100) if args.quick else render.SIZES)
    startup_doc = startup.main(repeat=3 if args.quick else 11, write=not args.quick, results=args.out)
    texts = {"sync": table(rows), "noop": floors.noop_table(noops), "first": floors.first_sync_table(first),
             "prune": prune.table(prune_rows), "startup": startup_doc["table"], "render": render_doc["table"],
             "process": floors.noop_process_table(processes), "deploy": deploy.table(deploys)}
    summary = floors_summary(noops, first, startup_doc, render_doc, processes) + "".join(
        f"| no-op deploy of {r['services']} services, {r['latency_ms']:g} ms a call, endpoint: {r['endpoint']} "
        f"| {r['over_floor']} | 1.3 |\n"
        for r in deploys)
    print(summary, texts["noop"], texts["process"], texts["first"], texts["sync"], texts["prune"], texts["deploy"],
          sep="\n")
    if args.quick:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "latency_ms": args.latency_ms,
        "python": platform.python_version(),
        "boto3": boto3.__version__,
        "moto": moto.__version__,
        "cpus": os.cpu_count(),
        "retry_mode": "adaptive",
    }
    about = (f"{meta['date']}, Python {meta['python']}, boto3 {meta['boto3']}, moto {meta['moto']}, "
             f"{meta['cpus']} CPUs.")
    (args.out / "floors.json").write_text(json.dumps(
        {"meta": meta, "no_op_sync": noops, "no_op_sync_process": processes, "first_sync": first,
         "sandbox": startup_doc, "render": render_doc}, indent=2) + "\n")
    (args.out / "floors.md").write_text(
        f"# The targets against their floors\n\n{about} See benchmarks/README.md.\n\n{summary}\n"
        f"## No-op sync\n\n{NOOP_NOTE}\n\n{texts['noop']}\n## No-op sync, the whole process\n\n{PROCESS_NOTE}\n\n"
        f"{texts['process']}\n## Render against Docker Compose\n\nFrom render.md (the same run).\n\n"
        f"{texts['render']}\n## First sync against ECS's rate\n\n{FIRST_NOTE}\n\n"
        f"{texts['first']}\n## Start-up and the sandbox\n\nFrom startup.md (the same run).\n\n{texts['startup']}")
    (args.out / "sync.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n")
    (args.out / "sync.md").write_text(f"# Sync benchmark\n\n{about}\n\n{texts['sync']}")
    (args.out / "prune.json").write_text(json.dumps({"meta": meta, "runs": prune_rows}, indent=2) + "\n")
    (args.out / "deploy.json").write_text(json.dumps({"meta": meta, "runs": deploys}, indent=2) + "\n")
    (args.out / "deploy.md").write_text(f"# Deploy benchmark\n\n{about}\n\n{deploy.__doc__.split(chr(10) * 2, 1)[1]}\n"
                                        f"{texts['deploy']}")
    (args.out / "prune.md").write_text(
        f"# Prune benchmark\n\n{about} One family of {revisions} revisions, one of them used by a service.\n\n"
        f"{texts['prune']}")


NOOP_NOTE = ("Every family registered, then synced again with nothing to do: exactly one DescribeTaskDefinition "
             "per family, 8 at a time; the median of 3 runs. Floor: ceil(N / 8) x latency. ecsflow's CPU and the "
             "endpoint's are in seconds of CPU during the run; the machine has 2 CPUs for both. \"moto answers "
             "once, then memory\": the proxy answers a question it has seen from memory, without moto "
             "(tests/ecs_rates.py), so what is left is ecsflow's own time and the proxy's.")
PROCESS_NOTE = ("`ecsflow sync` of the generated project (benchmarks/project.py), every family registered first, "
                "timed as a user times it: the whole process (start-up, loading and rendering every service, the "
                "describes, the table printed to a pipe), as many rounds as the table says, against an endpoint in "
                "another process that answers in real ECS's shape (tests/ecs_shapes.py). Floor: ceil(N / 8) x "
                "latency. Each run describes every family once and calls nothing else.")
FIRST_NOTE = ("N new families against an endpoint that throttles RegisterTaskDefinition as ECS does (a token bucket: "
              "the burst, then the rate; ThrottlingException when empty). Paced: ecsflow's pacing "
              "(ecsflow/ecs/pacing.py), as `ecsflow sync` does against AWS; unpaced: the register loop's retries "
              "alone. Ideal: max(0, N - burst) / rate.")


def families(n: int) -> list[RegisterItem]:
    return [RegisterItem(f"job{i}", f"bench-{i:04d}", family_request(f"bench-{i:04d}", i)) for i in range(n)]


def floors_summary(noops: list[dict], first: list[dict], startup_doc: dict, render_doc: dict,
                   processes: list[dict]) -> str:
    """One line per target of the issues: the measured value (a time over its floor, a ratio), beside the target."""
    lines = ["| what | measured | target |", "| --- | ---: | ---: |"]
    for r in processes:
        lines.append(f"| no-op `ecsflow sync` of {r['families']} families, whole process, {r['latency_ms']:g} ms a "
                     f"call, endpoint: {r['endpoint']}: min / floor | {r['over_floor']} | 1.6 |")
    for r in noops:
        target = ("1.25" if r["endpoint"] == "moto" else "-") if r["latency_ms"] <= 20 else "1.15"
        lines.append(f"| no-op sync phase, N={r['families']}, {r['latency_ms']:g} ms a call, concurrency "
                     f"{r['concurrency']}, endpoint: {r['endpoint']}: wall / floor (ecsflow CPU a describe: "
                     f"{r['ecsflow_cpu_per_describe_ms']} ms) | {r['over_floor']} | {target} |")
    for r in first:
        lines.append(f"| first sync of {r['families']} against ECS's rate (burst {r['burst']}, {r['per_second']:g}/s), "
                     f"{r['pacing']}: {r['throttled']} throttled calls | {r['over_ideal']} | ~1, no throttling |")
    for name, value in render_doc["ratios"].items():
        target = ("100" if "RSS" in name else "1.2" if "compose" in name and "minima" in name
                  else "12" if "compose" not in name else "-")
        lines.append(f"| {name} | {value} | {target} |")
    for name, ratio in startup_doc["sandbox_over_render"].items():
        lines.append(f"| {name} over render (ETL example) | {ratio} | {'-' if name == startup.MOTO_DIFF else '1.5'} |")
    lines.append(f"| `ecsflow render` of the ETL example, median (s) | {startup_doc['median_s'][startup.RENDER]:.3f} "
                 f"| 0.25 |")
    lines.append(f"| `ecsflow --help` / `python -c 'import typer'` (medians) | {startup_doc['help_over_typer']} "
                 "| 1.3 |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
