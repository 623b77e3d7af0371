"""Airflow DAG source, task factories and pools file for the task definitions ecsflow builds (`ecsflow gen-dag`).

Pure: this package imports nothing from Airflow and talks to no AWS endpoint. It turns the loaded project,
the resolved settings and the task-definition builds into the text of a module of task factories (one
function per service returning its configured `EcsRunTaskOperator`), of a DAG file that uses them, and of
the pools file that `airflow pools import` reads, for Airflow 2.10+ and 3.x; it writes them without
clobbering a file somebody edited by hand.

- model.py: the values (`GeneratedDag`, `WriteResult`, `GenDagResult`, `DagError`, `Factory`) and the pools
  file text;
- names.py: the DAG id, the file names, task ids, Python names;
- module_names.py: the module names a generated file must not take (they would shadow a module);
- schedule.py: the DAG's schedule and whether Airflow accepts it;
- runtime.py: values known at run time (`x-ecsflow.runtime_env`): params and templates (their defaults for
  `run`: ecsflow.runtask);
- source.py: the Python source printer and the safety rules for the generated source;
- factories.py: the factories module's text;
- dag.py: `generate_dag`: selection, params, pools, edges, groups, and the DAG module's text;
- files.py: `write_dag`, the guarded writes (whole-file hash, atomic replace);
- pins.py: the revisions generated DAGs pin (for `prune`), and the record of the folders gen-dag wrote to.

This module holds the entry point `gen_dag` (generate, then write) and the names the rest of ecsflow uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ecsflow.airflow.dag import generate_dag
from ecsflow.airflow.files import is_edited, parse_header, write_dag
from ecsflow.airflow.model import DagError, GenDagResult, GeneratedDag, WriteResult, pools_json
from ecsflow.airflow.schedule import SCHEDULE_HINT, SCHEDULE_PRESETS, schedule_problem
from ecsflow.airflow.source import py_str
from ecsflow.compose.model import ComposeProject

__all__ = [
    "SCHEDULE_HINT",
    "SCHEDULE_PRESETS",
    "DagError",
    "GenDagResult",
    "GeneratedDag",
    "WriteResult",
    "gen_dag",
    "generate_dag",
    "is_edited",
    "parse_header",
    "pools_json",
    "py_str",
    "schedule_problem",
    "write_dag",
]


def gen_dag(
    project: ComposeProject,
    resolved_settings: Any,
    builds: Sequence[Any],
    out_dir: Path,
    *,
    services: Iterable[str] | None = None,
    dag_id: str | None = None,
    schedule: str | None = None,
    pinned_arns: Mapping[str, str] | None = None,
    force: bool = False,
) -> GenDagResult:
    """`ecsflow gen-dag` without the printing: generate the DAG, then write it, its factories and its pools file."""
    generated = generate_dag(
        project, resolved_settings, builds, services=services, dag_id=dag_id, schedule=schedule,
        pinned_arns=pinned_arns,
    )
    return GenDagResult(generated=generated, written=write_dag(generated, out_dir, force=force))

