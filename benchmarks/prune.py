"""Prune benchmark: the calls `ecsflow prune` makes, and its wall time, for one family of 2,000 revisions.

Run by ``benchmarks/run.py`` (after the sync benchmark, on the same local endpoint: moto behind the proxy that
adds a fixed latency per call, counts calls per action and pages list calls as ECS does, 100 a page).

The family's 2,000 revisions are registered with no latency added (setup, not measured), the newest tagged
``ecsflow:managed`` as ecsflow registers it; a service of the cluster uses revision 1,000. Then the code
``ecsflow prune`` runs once the project is rendered (``operations.prune.make_plan`` and ``execute``), three times:
``--yes`` (deregisters 1,994: all but the newest 5 and the one in use), ``--yes`` again (converged: nothing to
do), and ``--delete --yes`` (deletes the 1,994 INACTIVE revisions, 10 a call). Each run's calls must be exactly
those; the script fails otherwise. Results go to benchmarks/results/prune.{json,md}.
"""

from __future__ import annotations

import math
import time

import boto3

from ecsflow.ecs.client import Ecs
from ecsflow.ecs.options import AwsOptions
from ecsflow.ecs.pool import bounded
from ecsflow.operations.prune import PruneOptions, execute, make_plan

FAMILY, CLUSTER, KEEP = "bench-prune", "bench", 5


def setup(endpoint, ecs: Ecs, request: dict, revisions: int) -> None:
    endpoint.set_latency(0.0)
    endpoint.reset()
    untagged = {k: v for k, v in request.items() if k != "tags"}
    # moto numbers them in order whatever the concurrency; only the newest needs ecsflow's tags.
    for _ in bounded(ecs.register_revision, [untagged] * (revisions - 1), 8):
        pass
    ecs.register_revision(request)
    client = boto3.client("ecs", region_name="us-east-1", endpoint_url=endpoint.url)
    client.create_cluster(clusterName=CLUSTER)
    client.create_service(cluster=CLUSTER, serviceName="legacy", taskDefinition=f"{FAMILY}:{revisions // 2}",
                          desiredCount=0, networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-1"]}})


def run_once(endpoint, ecs: Ecs, how: PruneOptions) -> tuple[dict, dict]:
    endpoint.reset_counts()
    start = time.perf_counter()
    plan = make_plan(ecs, [("job", FAMILY)], CLUSTER, how)
    planned = time.perf_counter()
    outcomes = execute(ecs, plan)
    end = time.perf_counter()
    outcome = outcomes.get(FAMILY)
    done = {"deregistered": len(outcome.deregistered) if outcome else 0,
            "deleted": len(outcome.deleted) if outcome else 0, "failed": len(outcome.failed) if outcome else 0}
    return {"wall_s": round(end - start, 3), "plan_s": round(planned - start, 3),
            "execute_s": round(end - planned, 3), **done}, endpoint.stats()


def scenario(endpoint, request: dict, revisions: int, concurrency: int, latency: float) -> list[dict]:
    ecs = Ecs.connect(AwsOptions(region="us-east-1", endpoint_url=endpoint.url), concurrency=concurrency)
    setup(endpoint, ecs, request, revisions)
    endpoint.set_latency(latency)
    pruned = revisions - KEEP - 1
    pages = math.ceil(revisions / 100)
    runs = [
        # (name, options, expected calls per action)
        ("--yes", PruneOptions(keep=KEEP, execute=True), {
            "DescribeTaskDefinition": 1, "ListTaskDefinitions": pages, "ListServices": 2, "DescribeServices": 2,
            "ListTasks": 4, "DeregisterTaskDefinition": pruned}),
        ("--yes again", PruneOptions(keep=KEEP, execute=True), {
            "DescribeTaskDefinition": 1, "ListTaskDefinitions": math.ceil((KEEP + 1) / 100), "ListServices": 1,
            "DescribeServices": 1, "ListTasks": 2}),
        ("--delete --yes", PruneOptions(keep=KEEP, delete=True, execute=True), {
            "DescribeTaskDefinition": 1, "ListTaskDefinitions": 1 + math.ceil(pruned / 100), "ListServices": 2,
            "DescribeServices": 2, "ListTasks": 4, "DeleteTaskDefinitions": math.ceil(pruned / 10)}),
    ]
    rows = []
    for name, how, expected in runs:
        figures, stats = run_once(endpoint, ecs, how)
        calls = stats["calls"]
        if calls != expected or figures["failed"]:
            raise SystemExit(f"prune benchmark, {name}: calls {calls}, expected {expected}; {figures}")
        # Sequential steps (describe, list pages, services, tasks) cost one round trip each; the
        # deregistrations and deletions overlap, `concurrency` at a time.
        parallel = calls.get("DeregisterTaskDefinition", 0) + calls.get("DeleteTaskDefinitions", 0)
        ideal = (sum(calls.values()) - parallel + math.ceil(parallel / concurrency)) * latency
        rows.append({"revisions": revisions, "concurrency": concurrency, "latency_ms": latency * 1000, "run": name,
                     "calls": calls, "total_calls": sum(calls.values()), **figures, "ideal_s": round(ideal, 3),
                     "measured_over_ideal": round(figures["wall_s"] / ideal, 2) if ideal else None,
                     "max_in_flight": stats["max_in_flight"]})
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "Ideal = (sequential calls + ceil(deregistrations or deletions / concurrency)) x latency: the round trips "
        "alone.",
        "",
        "| revisions | concurrency | latency (ms) | run | List | Deregister | Delete | other calls | deregistered "
        "| deleted | wall (s) | plan (s) | execute (s) | ideal (s) | measured / ideal | max in flight |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c = r["calls"]
        listed, dereg, delete = (c.get("ListTaskDefinitions", 0), c.get("DeregisterTaskDefinition", 0),
                                 c.get("DeleteTaskDefinitions", 0))
        ratio = r["measured_over_ideal"] if r["measured_over_ideal"] is not None else "-"
        lines.append(
            f"| {r['revisions']} | {r['concurrency']} | {r['latency_ms']:g} | {r['run']} | {listed} | {dereg} "
            f"| {delete} | {r['total_calls'] - listed - dereg - delete} | {r['deregistered']} | {r['deleted']} "
            f"| {r['wall_s']:.2f} | {r['plan_s']:.2f} | {r['execute_s']:.2f} | {r['ideal_s']:.2f} | {ratio} "
            f"| {r['max_in_flight']} |")
    return "\n".join(lines) + "\n"
