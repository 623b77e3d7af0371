"""A no-op `ecsflow deploy` of 50 services against its round-trip floor. Run by ``benchmarks/run.py`` on its
endpoint (tests/ecs_server.py in a child process, with ECS's service semantics: ``ecsflow.sandbox.moto_services``).

A compose project of N servers is rendered (not timed: ``operations.deploy.prepare``) and deployed once with no
latency added (setup: N families registered, N services created, each rollout followed to COMPLETED); then it is
deployed again, with nothing to do, ``repeat`` times at ``latency`` a call (the median is reported), with the code
`ecsflow deploy` runs once the project is rendered (``operations.deploy.deploy_with``). Each run must make exactly
one DescribeTaskDefinition per family, one DescribeServices per ten services and one DescribeScalableTargets,
and write nothing; the script fails otherwise.

Floor, as the issue words it: ``(ceil(N / concurrency) + ceil(ceil(N / 10) / concurrency)) x latency``, the
describes of the task definitions and those of the services (ten a DescribeServices), each through the bounded
pool. ecsflow sends them all through one pool (with the one DescribeScalableTargets), so that their round trips
overlap: the stricter floor of that, ``ceil((N + ceil(N / 10) + 1) / concurrency) x latency``, is shown too.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path

from ecsflow.ecs.client import Ecs
from ecsflow.ecs.options import AwsOptions
from ecsflow.operations import AwsFlags, DeployOptions, ProjectOptions
from ecsflow.operations.deploy import deploy_with, prepare

READS = {"DescribeTaskDefinition", "DescribeServices", "DescribeScalableTargets"}


def compose(n: int) -> str:
    servers = "".join(
        f"  api{i:02d}:\n    image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/bench/api-{i}:1.0\n"
        f"    command: [\"serve\", \"--port\", \"8000\"]\n    environment: {{WORKERS: \"4\", LOG_LEVEL: info}}\n"
        f"    ports: [\"8000:8000\"]\n    restart: always\n"
        f"    healthcheck: {{test: [\"CMD\", \"true\"], interval: 30s, start_period: 10s}}\n"
        f"    deploy: {{replicas: 2, update_config: {{order: start-first}}}}\n" for i in range(n))
    return ("name: bench\nx-ecsflow:\n  region: us-east-1\n  account: \"123456789012\"\n  cluster: bench\n"
            "  execution_role: arn:aws:iam::123456789012:role/ecs-exec\n"
            "  subnets: [subnet-0a1b2c3d4e5f60001, subnet-0a1b2c3d4e5f60002]\n"
            f"  security_groups: [sg-0123456789abcdef0]\nservices:\n{servers}")


def noop(endpoint, n: int = 50, concurrency: int = 8, latency: float = 0.02, repeat: int = 3,
         memo: bool = False) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="ecsflow-bench-deploy-"))
    (folder / "compose.yaml").write_text(compose(n))
    prepared = prepare(ProjectOptions(files=(folder / "compose.yaml",)))
    aws = AwsFlags(endpoint_url=endpoint.url, concurrency=concurrency)
    how = DeployOptions(poll_interval=0.01)
    endpoint.set_latency(0.0)
    endpoint.reset()
    ecs = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url=endpoint.url), concurrency=concurrency)
    ecs.ensure_cluster("bench", create=True)
    first = deploy_with(ecs, prepared, aws, how)  # setup: every family registered, every service created
    if {o.status for o in first.services} != {"created"}:
        raise SystemExit(f"deploy benchmark setup: {[(o.service, o.status, o.error) for o in first.services]}")
    endpoint.set_memo(*(READS if memo else ()))
    deploy_with(ecs, prepared, aws, how)  # warm: botocore's models loaded, the endpoint's memory filled
    endpoint.set_latency(latency)
    expected = {"DescribeTaskDefinition": n, "DescribeServices": math.ceil(n / 10), "DescribeScalableTargets": 1}
    runs = []
    for _ in range(repeat):
        endpoint.reset_counts()
        before = endpoint.stats()["cpu_s"]
        cpu, start = time.process_time(), time.perf_counter()
        result = deploy_with(ecs, prepared, aws, how)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        stats = endpoint.stats()
        if {o.status for o in result.services} != {"unchanged"} or stats["calls"] != expected:
            raise SystemExit(f"no-op deploy of {n}: {sorted({o.status for o in result.services})}, "
                             f"calls {stats['calls']} (expected {expected})")
        runs.append({"wall_s": wall, "ecsflow_cpu_s": cpu, "endpoint_cpu_s": stats["cpu_s"] - before,
                     "max_in_flight": stats["max_in_flight"]})
    endpoint.set_memo()
    floor = (math.ceil(n / concurrency) + math.ceil(math.ceil(n / 10) / concurrency)) * latency
    one_pool = math.ceil(sum(expected.values()) / concurrency) * latency
    median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    return {"scenario": "no-op deploy", "endpoint": "moto answers once, then memory" if memo else "moto",
            "services": n, "concurrency": concurrency, "latency_ms": latency * 1000,
            "calls": expected, "runs": repeat, **{k: round(v, 3) for k, v in median.items()},
            "floor_s": round(floor, 3), "over_floor": round(median["wall_s"] / floor, 2),
            "one_pool_floor_s": round(one_pool, 3), "over_one_pool_floor": round(median["wall_s"] / one_pool, 2)}


def table(rows: list[dict]) -> str:
    lines = ["| services | concurrency | latency (ms) | endpoint | calls | wall (s) | floor (s) | wall / floor "
             "| one-pool floor (s) | wall / one-pool floor | ecsflow CPU (s) | endpoint CPU (s) | max in flight |",
             "|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        calls = ", ".join(f"{action} {count}" for action, count in r["calls"].items())
        lines.append(f"| {r['services']} | {r['concurrency']} | {r['latency_ms']:g} | {r['endpoint']} | {calls} "
                     f"| {r['wall_s']:.3f} "
                     f"| {r['floor_s']:.3f} | **{r['over_floor']}** | {r['one_pool_floor_s']:.3f} "
                     f"| {r['over_one_pool_floor']} | {r['ecsflow_cpu_s']:.2f} "
                     f"| {r['endpoint_cpu_s']:.2f} | {r['max_in_flight']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """This benchmark alone (``benchmarks/run.py`` runs it with the others): benchmarks/results/deploy.{json,md}."""
    import json
    import os
    import platform
    import sys
    from datetime import UTC, datetime

    import boto3
    import moto

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "tests"))
    from ecs_server import RemoteEndpoint

    for name in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                       "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    with RemoteEndpoint(latency=0.02) as endpoint:
        rows = [noop(endpoint, 50, 8, 0.02, repeat=5, memo=memo) for memo in (False, True)]
    meta = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "python": platform.python_version(),
            "boto3": boto3.__version__, "moto": moto.__version__, "cpus": os.cpu_count()}
    about = (f"{meta['date']}, Python {meta['python']}, boto3 {meta['boto3']}, moto {meta['moto']}, "
             f"{meta['cpus']} CPUs.")
    results = root / "benchmarks" / "results"
    (results / "deploy.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2) + "\n")
    (results / "deploy.md").write_text(f"# Deploy benchmark\n\n{about}\n\n{__doc__.split(chr(10) * 2, 1)[1]}\n"
                                       f"{table(rows)}")
    print(table(rows))


if __name__ == "__main__":
    main()
