"""The values of the airflow package: what `gen-dag` generated and wrote, its error, and the pools file text.

Small frozen dataclasses that cross the package's module lines (and reach `operations` and the CLI); no logic
beyond the names and text of the three files a `GeneratedDag` becomes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsflow.errors import EcsflowError
from ecsflow.validators import describe, variables_in


class DagError(EcsflowError):
    """The selected services cannot become one Airflow DAG (a cycle, a bad id, a missing build...)."""


def shown(value: Any, project: Any, service: Any = None) -> str:
    """A value of a compose file as a gen-dag error shows it (``ecsflow.validators.describe``, as the builder's
    errors do): the variables interpolation read for the service's values (without a service: for the top-level
    x-ecsflow's) are named, never shown, since a `.env` value may be a secret."""
    if service is not None:
        variables = variables_in(service.raw, project.interpolated)
    else:
        variables = {name: text for read in project.x_ecsflow.interpolated.values() for name, text in read.items()}
    return describe(value, variables)


@dataclass(frozen=True)
class GeneratedDag:
    """One DAG file's text, its task factories module's text, and the pools they use (`airflow pools import`
    format)."""

    dag_id: str
    source: str  # the DAG file
    dag_module: str = ""  # the DAG file's name without .py: the DAG id unless that shadows a module
    tasks_module: str = ""  # the factories module's name (`etl_tasks`)
    tasks_source: str = ""  # its text
    pools: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # the services that became tasks, in compose order
    task_ids: Mapping[str, str] = field(default_factory=dict)  # service -> task id (with its group's prefix)
    functions: Mapping[str, str] = field(default_factory=dict)  # service -> its factory's name
    edges: tuple[tuple[str, str], ...] = ()  # (upstream task id, downstream task id)
    params: tuple[str, ...] = ()  # DAG params (runtime_env names)

    @property
    def file_name(self) -> str:
        return f"{self.dag_module or self.dag_id}.py"

    @property
    def tasks_file_name(self) -> str:
        return f"{self.tasks_module}.py"

    @property
    def pools_file_name(self) -> str:
        return f"{self.dag_id}.pools.json"

    @property
    def pools_source(self) -> str:
        return pools_json(self.pools)


@dataclass(frozen=True)
class WriteResult:
    """What `write_dag` did with each file. Nothing is written when any file is refused."""

    written: tuple[Path, ...] = ()  # created or replaced
    unchanged: tuple[Path, ...] = ()  # already held exactly the generated text
    refused: tuple[Path, ...] = ()  # edited by hand (or not made by ecsflow): kept, needs --force
    skipped: tuple[Path, ...] = ()  # would have been written, but another file was refused
    messages: tuple[str, ...] = ()  # one line per file, for the CLI to print

    @property
    def ok(self) -> bool:
        return not self.refused


@dataclass(frozen=True)
class GenDagResult:
    """What `gen_dag` did: the generated DAG and what became of its files."""

    generated: GeneratedDag
    written: WriteResult


def pools_json(pools: Mapping[str, Mapping[str, Any]]) -> str:
    """The pools file text: `{"NAME": {"slots": N, "description": "...", "include_deferred": true}}`."""
    return json.dumps({name: dict(spec) for name, spec in sorted(pools.items())}, indent=2) + "\n"


@dataclass(frozen=True)
class Factory:
    """One task factory of the factories module: the function that returns a service's operator."""

    service: str
    function: str  # its name
    task_id: str  # the default task_id (a TaskGroup adds its prefix)
    fixed: list[tuple[str, Any]]  # operator keyword -> source node: what the service's task definition fixes
    runtime_env: list[tuple[Any, Any]]  # (name node, value template node): the runtime values
    defaults: list[tuple[str, str, Any]]  # (keyword, annotation, default node): what a caller may change
    summary: str = ""  # the function's docstring
