"""The DAG for the task definitions ecsflow builds: its factories module (factories.py) and the DAG file that
uses it, for Airflow 2.10+ and 3.x.

`generate_dag` selects the services, derives the dag id, task ids, group ids and Python names, the params
(`x-ecsflow.runtime_env`), the pools (the top-level `x-ecsflow.pools` that the tasks use) and the edges
(`depends_on: service_completed_successfully`, checked for cycles), builds each factory from the service's
task-definition build and the settings, and prints both modules under headers whose hashes protect them
(see files.py). No Consul or ECS call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ecsflow.airflow.factories import common_arguments, factory, tasks_module_text
from ecsflow.airflow.files import protect
from ecsflow.airflow.model import DagError, GeneratedDag, pools_json, shown
from ecsflow.airflow.names import dag_id_of, dag_module_of, python_names, task_ids, tasks_module_of
from ecsflow.airflow.runtime import check_default, param_node
from ecsflow.airflow.schedule import choose_schedule
from ecsflow.airflow.source import PY_LINE, Call, List, Raw, Str, airflow_imports, lay_out, py_str
from ecsflow.compose.extension import DEFAULT_POOL
from ecsflow.compose.kind import KIND_KEY, not_a_job_error, workload_kind
from ecsflow.compose.model import ComposeProject, Service
from ecsflow.compose.sidecars import outside_dependencies
from ecsflow.messages import Message
from ecsflow.runtask import network_configuration
from ecsflow.taskdef.select import left_out_reason
from ecsflow.validators import variables_in

_EDGE_CONDITION = "service_completed_successfully"
_ALIAS = "tasks"  # the factories module in the DAG file: a short name keeps every line short
# Airflow 2 needs a start date: a fixed one in the past (catchup is off), written as Airflow's docs write it.
START_DATE = 'pendulum.datetime(2024, 1, 1, tz="UTC")'


def generate_dag(
    project: ComposeProject,
    resolved_settings: Any,
    builds: Sequence[Any],
    *,
    services: Iterable[str] | None = None,
    dag_id: str | None = None,
    schedule: str | None = None,
    pinned_arns: Mapping[str, str] | None = None,
) -> GeneratedDag:
    """The DAG file and its factories module for the selected services (see the module docstring).

    `resolved_settings` is a `ResolvedSettings` (or a bare `Settings`); `builds` the `TaskDefinitionBuild`s of
    (at least) the selected services: the family, the container name and the awslogs options come from
    their requests, so the DAG runs exactly what `sync` registers. `services=None` selects every built
    service that is a job (`ecsflow.compose.kind`: the servers are left out, with a warning naming them, since
    an `EcsRunTaskOperator` waits for its task to stop); naming a server is an error that names x-ecsflow.kind.
    `dag_id` / `schedule` override the top-level `x-ecsflow.dag_id` / `x-ecsflow.schedule` (default: the
    project name / no schedule, i.e. manual runs); every schedule given must pass `schedule_problem` (else
    DagError), and `@continuous` adds max_active_runs=1. `pinned_arns` maps family -> task definition ARN to
    run that revision instead of the latest ACTIVE one.
    """
    settings = getattr(resolved_settings, "settings", resolved_settings)
    warnings: list[str] = []

    dag_id = dag_id_of(dag_id, project)
    dag_module = dag_module_of(dag_id, warnings)
    module = tasks_module_of(dag_id)
    by_service = {build.service: build for build in builds}
    selected = _select(project, by_service, services, warnings)
    schedule_value = choose_schedule(schedule, project, selected)

    groups = [s.x_ecsflow.group for s in selected]
    ids = task_ids([s.name for s in selected], groups)
    functions = python_names([s.name for s in selected])
    task_of = {s.name: f"{g}.{i}" if g else i for s, g, i in zip(selected, groups, ids, strict=True)}
    function_of = dict(zip((s.name for s in selected), functions, strict=True))

    network = network_configuration(settings)
    if network is None:
        warnings.append(
            "no subnets are set: a Fargate task needs them, so the DAG has no network_configuration and ECS will "
            "refuse to run it (set subnets and security_groups)"
        )
    params = _params(project, selected)
    pool_file = _pools(project, selected, dag_id, warnings)
    # A task's sidecars (compose/sidecars.py) are no tasks of the DAG: what they depend on is their task's.
    main_of = {sidecar: build.service for build in builds for sidecar in build.sidecars}
    dependencies = {s.name: outside_dependencies(
        (s, *(project.service(n) for n in by_service[s.name].sidecars)), main_of) for s in selected}
    edges, notes = _edges(selected, dependencies, task_of, warnings)
    _check_acyclic(edges, selected)

    factories = [
        factory(s, by_service[s.name], project, function_of[s.name], i, pinned_arns, warnings)
        for s, i in zip(selected, ids, strict=True)
    ]
    param_nodes = [(name, param_node(name, default, users)) for name, (default, users) in params.items()]
    tasks_text = tasks_module_text(project, module, common_arguments(settings, network), factories, param_nodes)
    dag_text = _dag_module_text(
        project=project,
        dag_id=dag_id,
        module=module,
        schedule=schedule_value,
        has_params=bool(params),
        tasks=[(function_of[s.name], s.x_ecsflow.group) for s in selected],
        edges=[(function_of[a], function_of[b]) for a, b in edges],
        notes=notes,
    )
    intro = _intro(project)
    return GeneratedDag(
        dag_id=dag_id,
        dag_module=dag_module,
        source=protect(intro, _noqa(intro, dag_text), pools_json(pool_file)),
        tasks_module=module,
        tasks_source=protect(intro, _noqa(intro, tasks_text)),
        pools=pool_file,
        warnings=tuple(warnings),
        services=tuple(s.name for s in selected),
        task_ids=task_of,
        functions=function_of,
        edges=tuple((task_of[a], task_of[b]) for a, b in edges),
        params=tuple(params),
    )


# --- selection, params, pools, edges ---


def _select(
    project: ComposeProject, by_service: Mapping[str, Any], wanted: Iterable[str] | None, warnings: list[str]
) -> list[Service]:
    if wanted is not None:
        chosen = list(project.select(wanted))
        for service in chosen:
            kind = workload_kind(service)
            if kind.is_service:  # an Airflow task waits for its ECS task to stop: a server never does
                raise not_a_job_error(service, kind, "gen-dag", "puts jobs in the DAG (an Airflow task waits for its "
                                      "ECS task to stop, and a server never stops)")
    else:
        chosen, servers, left_out = [], [], []  # left out: (service, why)
        for service in project.services:
            if service.name not in by_service:
                reason = left_out_reason(service)
                left_out.append((service.name, reason[0] if reason else "no task definition was built for it"))
                continue
            kind = workload_kind(service)
            if kind.is_service:
                servers.append(Message(
                    f"left out of the DAG: a long-running server ({kind.reason}), and an Airflow task waits for "
                    f"its ECS task to stop ({KIND_KEY}: job makes it a task)", (service.name,)))
                left_out.append((service.name, f"it is a long-running server ({kind.reason})"))
                continue
            chosen.append(service)
        if not chosen:
            raise _nothing_to_run(project, left_out)
        warnings.extend(servers)
    missing = [s.name for s in chosen if s.name not in by_service]
    if missing:
        raise DagError(f"no task definition was built for {', '.join(repr(n) for n in missing)}")
    return chosen


def _nothing_to_run(project: ComposeProject, left_out: list[tuple[str, str]]) -> DagError:
    """The error when no service is left for the DAG: each service, and why it was left out."""
    for name, profiles in project.profiled_out.items():
        several = len(profiles) > 1
        left_out.append((name, f"its profile{'s' if several else ''} {', '.join(profiles)} "
                               f"{'are' if several else 'is'} not enabled"))
    if not left_out:
        return DagError("no services to put in the DAG: the project has no services", hint="add a service")
    lines = "".join(f"\n- '{name}': {why}" for name, why in left_out)
    return DagError(f"no services to put in the DAG; each service was left out:{lines}",
                    hint=f"a DAG runs jobs, services that run and stop: set {KIND_KEY}: job on one that does, or "
                    "enable a profile (--profile NAME, or name the service)")


def _params(project: ComposeProject, selected: Sequence[Service]) -> dict[str, tuple[str, list[str]]]:
    """One DAG param per runtime_env name, in first-use order: name -> (default, the services using it)."""
    params: dict[str, tuple[str, list[str]]] = {}
    for service in selected:
        for name, default in service.x_ecsflow.runtime_env.items():
            check_default(name, default, service, variables_in(service.raw, project.interpolated))
            if name in params and params[name][0] != default:
                first = params[name][1][0]
                raise DagError(
                    f"{name} has the default {shown(default, project, service)} here and "
                    f"{shown(params[name][0], project, project.service(first))} in service {first!r}: one DAG "
                    "param has one default",
                    **service.where(f"x-ecsflow.runtime_env.{name}"), service=service.name,
                    key=f"x-ecsflow.runtime_env.{name}",
                    hint="give it the same default in every service of the DAG, or put them in separate DAGs "
                    "(gen-dag --dag-id ID SERVICE...)",
                )
            params.setdefault(name, (default, []))[1].append(service.name)
    return params


def _pools(project: ComposeProject, selected: Sequence[Service], dag_id: str,
           warnings: list[str]) -> dict[str, dict[str, Any]]:
    """The pools file: the declared pools (top-level x-ecsflow.pools) that the selected services use."""
    sizes = project.x_ecsflow.pools
    users: dict[str, list[str]] = {}
    for service in selected:
        x = service.x_ecsflow
        if x.pool is None or x.pool == DEFAULT_POOL:
            continue
        where = {**service.where("x-ecsflow.pool_slots"), "service": service.name}
        pool = shown(x.pool, project, service)  # interpolation's variables named, never shown
        if x.pool not in sizes:
            if x.pool_slots is not None:  # the form before pools: pool_slots was the pool's size
                written = x.pool if pool == repr(x.pool) else "NAME"
                raise DagError(
                    f"pool {pool} has no size: x-ecsflow.pool_slots is the number of slots one task takes "
                    "(Airflow's pool_slots), and pool sizes are set in the top-level x-ecsflow.pools",
                    key="x-ecsflow.pool_slots", **where,
                    hint=f"write the size at the top level, `x-ecsflow: {{pools: {{{written}: {x.pool_slots}}}}}`, "
                    f"and keep `pool: {written}` on the service; remove its pool_slots unless each task should "
                    "take that many slots",
                )
            warnings.append(
                f"service {service.name!r} runs in pool {pool}, which is not in the top-level x-ecsflow.pools: "
                f"it is not in the pools file, so create it in Airflow (airflow pools set ...) or declare its size"
            )
            continue
        if x.pool_slots is not None and x.pool_slots > sizes[x.pool]:
            raise DagError(
                f"a task of this service takes {x.pool_slots} slots of pool {pool}, which has {sizes[x.pool]}: "
                "it could never run",
                key="x-ecsflow.pool_slots", **where,
                hint=f"make pool_slots at most {sizes[x.pool]}, or the pool larger in the top-level x-ecsflow.pools",
            )
        users.setdefault(x.pool, []).append(service.name)
    return {
        name: {"slots": sizes[name], "description": f"ecsflow: DAG {dag_id}, services {', '.join(names)}",
               "include_deferred": True}
        for name, names in users.items()
    }


def _edges(selected: Sequence[Service], dependencies: Mapping[str, Mapping[str, Any]], task_of: Mapping[str, str],
           warnings: list[str]) -> tuple[list[tuple[str, str]], list[list[str]]]:
    """(upstream service, downstream service) pairs, and comment blocks for depends_on that make no edge.
    ``dependencies``: each selected service's task's, on other tasks (compose/sidecars.outside_dependencies)."""
    edges: list[tuple[str, str]] = []
    notes: list[list[str]] = []
    for service in selected:
        for dependency, spec in dependencies[service.name].items():
            condition = getattr(spec, "condition", "service_started")
            if dependency not in task_of:
                notes.append([
                    f"{py_str(service.name)} depends on {py_str(dependency)}, which is not a task of this",
                    "DAG: no edge.",
                ])
                if condition == _EDGE_CONDITION:
                    warnings.append(
                        f"service {service.name!r} runs after {dependency!r} (depends_on: {_EDGE_CONDITION}), but "
                        f"{dependency!r} is not in this DAG: the DAG does not wait for it (name it too, or make "
                        "sure another DAG runs it first)"
                    )
            elif condition == _EDGE_CONDITION:
                edges.append((dependency, service.name))
            else:
                notes.append([
                    f"{py_str(service.name)} depends on {py_str(dependency)} with condition "
                    f"{py_str(condition)}: no edge.",
                    "Only service_completed_successfully means 'after it finished'; the other conditions",
                    "mean 'while it runs', which separate ECS tasks in Airflow do not express.",
                ])
    return edges, notes


def _check_acyclic(edges: Sequence[tuple[str, str]], selected: Sequence[Service]) -> None:
    downstream: dict[str, list[str]] = {s.name: [] for s in selected}
    for a, b in edges:
        downstream[a].append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in downstream[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise DagError(
                    "depends_on (service_completed_successfully) has a cycle: " + " -> ".join(cycle),
                    service=nxt,
                    key="depends_on",
                    hint="an Airflow DAG cannot have cycles; remove one of these dependencies",
                )
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for service in selected:
        if service.name not in state:
            visit(service.name)


# --- the DAG module ---


def _dag_module_text(
    *,
    project: ComposeProject,
    dag_id: str,
    module: str,
    schedule: str | None,
    has_params: bool,
    tasks: Sequence[tuple[str, str | None]],  # (function = variable, group)
    edges: Sequence[tuple[str, str]],
    notes: Sequence[list[str]],
) -> str:
    dag_kwargs: list[tuple[str, Any]] = [
        ("dag_id", Str(dag_id)),
        ("description", Str(f"ECS Fargate tasks of the compose project {project.name}, generated by ecsflow")),
        ("schedule", Str(schedule) if schedule is not None else Raw("None")),
        ("start_date", Raw(START_DATE)),
        ("catchup", Raw("False")),
        ("tags", List([Str("ecsflow")])),
    ]
    if schedule == "@continuous":  # ContinuousTimetable refuses more than one active run
        dag_kwargs.insert(4, ("max_active_runs", Raw("1")))
    if has_params:
        dag_kwargs.append(("params", Call(f"{_ALIAS}.params", [])))

    body: list[str] = []
    body.extend(lay_out(Call("DAG", [], dag_kwargs), 0, "with ", " as dag:"))
    # Tasks in compose order, a group's tasks together where its first task is; blocks apart by a blank line.
    blocks: list[tuple[str | None, list[str]]] = []
    members: dict[str, list[str]] = {}
    for function, group in tasks:
        if group is None and blocks and blocks[-1][0] is None:
            blocks[-1][1].append(function)
        elif group is None:
            blocks.append((None, [function]))
        elif group in members:
            members[group].append(function)
        else:
            members[group] = [function]
            blocks.append((group, members[group]))
    for index, (group, functions) in enumerate(blocks):
        if index:
            body.append("")
        if group is not None:
            body.extend(lay_out(Call("TaskGroup", [Str(group)]), 4, "with ", ":"))
        indent = " " * (8 if group is not None else 4)
        body.extend(f"{indent}{function} = {_ALIAS}.{function}()" for function in functions)
    if edges or notes:
        body.append("")
    for a, b in edges:
        body.append(f"    {a} >> {b}")
    for note in notes:
        body.extend(f"    # {line}" for line in note)

    head = [
        '"""Runs ECS task definitions from Airflow; generated by `ecsflow gen-dag`.',
        "",
        f"The tasks come from {module}.py beside this file, loaded by its path: the DAG",
        "loads from any folder below the DAGs folder (or the DAG bundle's root).",
        '"""',
        "",
        "import importlib.util",
        "import sys",
        "from pathlib import Path",
        "",
        "import pendulum",
        "",
        *airflow_imports(["DAG", "TaskGroup"] if any(g for _, g in tasks) else ["DAG"]),
        "",
        *_LOADER,
        "",
        "",
        f"{_ALIAS} = {_LOADER_NAME}({py_str(module)})",
        "",
    ]
    return "\n".join(head + body) + "\n"


# Airflow puts only the top of the DAGs folder (2.x) or of the bundle (3.x) on sys.path, so `import etl_tasks`
# fails from a subfolder; and a DAG module's own name is Airflow's (`unusual_prefix_<sha1 of its path>_etl`),
# unique to the file, so the factories module loaded under a name made from it is never another DAG's.
_LOADER_NAME = "_beside_this_file"
_LOADER = f'''\
def {_LOADER_NAME}(module):
    """module.py from this file's folder, by its path, under a name made from this
    module's own (Airflow makes that unique to the file)."""
    name = f"{{__name__}}_{{module}}"
    path = Path(__file__).with_name(f"{{module}}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded'''.split("\n")


def _intro(project: ComposeProject) -> list[str]:
    files = ", ".join(p.name for p in project.files) or "(none)"
    return [
        f"# Generated by `ecsflow gen-dag` from the compose project {py_str(project.name)} ({py_str(files)}).",
        "# Change the compose file and generate again rather than editing this file: gen-dag",
        "# refuses to overwrite it once its text no longer matches the hash (unless --force).",
    ]


def _noqa(intro: list[str], body: str) -> str:
    """A value longer than a line (black leaves it whole): tell ruff that this is expected here."""
    if any(len(line) > PY_LINE for line in intro + body.split("\n")):
        return "# ruff: noqa: E501\n" + body
    return body
