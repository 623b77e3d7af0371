"""The CLI's process pauses Python's cyclic garbage collector during start-up (imports, botocore's models,
moto, the render), which only makes objects that live as long as the process, and resumes it, with those
frozen, once ECS is connected (ecsflow/collector.py). Run in a fresh interpreter: the collector's state is
the process's."""

from __future__ import annotations

import subprocess
import sys

DIFF = """
import gc, sys
collections = []
gc.callbacks.append(lambda phase, info: phase == "stop" and collections.append(info["generation"]))
from ecsflow.ecs.client import Ecs
original = Ecs.describe_families
state = {}
def describe_families(self, families):
    state.setdefault("before the describes", (len(collections), gc.isenabled(), gc.get_freeze_count() > 0))
    return original(self, families)
Ecs.describe_families = describe_families
sys.argv = ["ecsflow", "diff", "--sandbox", "--no-services"]
from ecsflow.cli import main
collections.clear()  # those of this script's own imports
try:
    main()
except SystemExit as end:
    print("exit", end.code)
print("start-up: collections, collector on, objects frozen:", *state["before the describes"])
"""


def test_no_collection_scans_the_start_up_and_the_collector_runs_after_it(etl_project):
    done = subprocess.run([sys.executable, "-c", DIFF], cwd=etl_project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["exit 0",
                                             "start-up: collections, collector on, objects frozen: 0 True True"]
