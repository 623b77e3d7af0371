"""The names in the generated files: the DAG id, task ids, the factories module, Python names.

Every name derives from a compose name or a flag, is valid where it is used, and is unique where it must be.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Sequence

from ecsflow.airflow.model import DagError, shown
from ecsflow.airflow.module_names import untaken
from ecsflow.compose.model import ComposeProject

# Airflow's KEY_REGEX is `^[\w.-]+$` with a Unicode `\w`; ids are kept to ASCII so they read the same
# everywhere (file names, URLs, the CLI). ID_LEN is Airflow's limit for dag and task ids (a task id in a
# TaskGroup includes the group's id and a dot).
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
ID_LEN = 250
_VAR_LEN = 30  # Python names: short enough that `a >> b` and `a = tasks.a()` (in a group) fit in one line
_MODULE_SUFFIX = "_tasks"
# Names the generated modules bind, and the builtins the factories module calls: a task's function or
# variable never takes one of them (other builtins may be shadowed: the generated code does not use them).
RESERVED = frozenset({
    "annotations", "Any", "Mapping", "Sequence", "timedelta", "datetime", "timezone", "EcsRunTaskOperator",
    "Param", "literal", "DAG", "TaskGroup", "dag", "params", "tasks", "pendulum", "dict", "list", "isinstance",
    "str", "len", "TypeError", "_ecs_task", "_ECS", "importlib", "sys", "Path", "_beside_this_file",
})


def dag_id_of(flag: str | None, project: ComposeProject) -> str:
    """--dag-id, else the top-level x-ecsflow.dag_id, else the project name; a DagError when Airflow (or a file
    name) cannot take it. A value of the compose file is shown as `shown` shows it (interpolation's variables
    named)."""
    from_file = flag in (None, "")
    value = (project.x_ecsflow.dag_id or project.name) if from_file else flag
    text = shown(value, project) if from_file else repr(value)
    if not isinstance(value, str) or not value:
        raise DagError(f"dag_id must be a non-empty string, not {text}", key="x-ecsflow.dag_id")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", value) or value.startswith(".") or len(value) > ID_LEN:
        raise DagError(
            f"dag_id {text} is not a valid Airflow DAG id",
            key="dag_id",
            hint=f"use letters, digits, '_', '-' and '.', not first, at most {ID_LEN} characters "
            "(it is also the file name)",
        )
    return value


def dag_module_of(dag_id: str, warnings: list[str]) -> str:
    """The DAG file's name without `.py`: the DAG id, unless a module of that name would shadow one that Python
    imports (`json` -> `json_dag`, with a warning; see module_names.py)."""
    chosen, why = untaken(dag_id, "_dag")
    if why:
        warnings.append(
            f"the DAG file is {chosen}.py, not {dag_id}.py: a {dag_id}.py would shadow {why} for Python run from "
            "the DAGs folder (or with it on PYTHONPATH); the DAG id stays"
        )
    return chosen


def tasks_module_of(dag_id: str) -> str:
    """The factories module's name (`etl` -> `etl_tasks`): a Python module name made from the DAG id, never one
    that shadows a module (module_names.py)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", dag_id)
    if name[0].isdigit():
        name = "dag_" + name
    return untaken(name + _MODULE_SUFFIX, "_ecs")[0]


def task_ids(services: Sequence[str], groups: Sequence[str | None]) -> list[str]:
    """One task id per service (without its group's prefix): unique, within Airflow's length with the group's
    prefix, and never a group's id for a task outside groups (both would be the same node of the DAG)."""
    group_ids = {g for g in groups if g}
    taken: set[str] = set()
    out = []
    for name, group in zip(services, groups, strict=True):
        limit = ID_LEN - (len(group) + 1 if group else 0)
        base = _ID_CHARS.sub("_", name)[:limit] or "_"
        chosen = _unique_one(base, limit, taken if group else taken | group_ids)
        taken.add(chosen)
        out.append(chosen)
    return out


def python_names(services: Sequence[str]) -> list[str]:
    """A Python name per service (its factory, and its task's variable): unique, never a keyword or one of
    RESERVED."""
    taken = set(RESERVED)
    out = []
    for service in services:
        name = re.sub(r"[^A-Za-z0-9_]", "_", service)[:_VAR_LEN]
        if not name or name[0].isdigit():
            name = ("t_" + name)[:_VAR_LEN]
        out.append(_unique_one(name, _VAR_LEN, taken, python=True))
    return out


def _unique_one(name: str, limit: int, taken: set[str], python: bool = False) -> str:
    """`name`, or name_2, name_3... (within `limit` characters) when taken; the result is added to `taken`."""
    candidate, n = name, 1
    while candidate in taken or (python and keyword.iskeyword(candidate)):
        n += 1
        suffix = f"_{n}"
        candidate = name[: limit - len(suffix)] + suffix
    taken.add(candidate)
    return candidate
