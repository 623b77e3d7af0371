"""The DAG file's source for the task definitions ecsflow builds: one `EcsRunTaskOperator` task per service.

`generate_dag` selects the services, derives the dag id, task ids and variable names, the params
(`x-ecsflow.runtime_env`), the pools and the edges (`depends_on: service_completed_successfully`, checked for
cycles), builds each operator's arguments from the service's task-definition build and the settings, and prints
the module (Airflow 3 imports) under a header whose hashes protect it (see files.py). No Consul or ECS call.
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ecsflow.airflow.files import hash_lines
from ecsflow.airflow.model import DagError, GeneratedDag, Task, pools_json
from ecsflow.airflow.schedule import choose_schedule
from ecsflow.airflow.source import PY_LINE, Call, Dict, List, Raw, Str, lay_out, param_template, py_str, tpl, tpl_tree
from ecsflow.compose.extension import ProjectExtension
from ecsflow.compose.model import ComposeProject, Service
from ecsflow.runtask import LAUNCH_TYPE, launch_type_warning, network_configuration

# Airflow's KEY_REGEX is `^[\w.-]+$` with a Unicode `\w`; ids are kept to ASCII so they read the same
# everywhere (file names, URLs, the CLI). ID_LEN is Airflow's limit for dag and task ids.
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_ID_LEN = 250
_VAR_LEN = 38  # task variable names: short enough that `a >> b` always fits in one line
# Names the generated module binds itself; a task variable never takes one of them.
_RESERVED = {"dag", "DAG", "Param", "EcsRunTaskOperator", "literal"}
_EDGE_CONDITION = "service_completed_successfully"
_DEFAULT_POOL = "default_pool"  # Airflow's own pool: it exists already, importing it would resize it


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
    """The DAG file for the selected services (see the module docstring).

    `resolved_settings` is a `ResolvedSettings` (or a bare `Settings`); `builds` the `TaskDefinitionBuild`s of
    (at least) the selected services: the family, the container name and the awslogs options come from
    their requests, so the DAG runs exactly what `sync` registers. `services=None` selects every built
    service except long-running ones (ports, expose, restart: always/unless-stopped), with a warning naming
    them: an `EcsRunTaskOperator` waits for its task to stop. `dag_id` / `schedule` override the top-level
    `x-ecsflow.dag_id` / `x-ecsflow.schedule` (default: the project name / no schedule, i.e. manual runs);
    every schedule given must pass `schedule_problem` (else DagError), and `@continuous` adds max_active_runs=1.
    `pinned_arns` maps family -> task definition ARN to run that revision instead of the latest ACTIVE one.
    """
    settings = getattr(resolved_settings, "settings", resolved_settings)
    x_project = project.x_ecsflow
    warnings: list[str] = []

    dag_id = _dag_id(dag_id, x_project, project.name)
    by_service = {build.service: build for build in builds}
    selected = _select(project, by_service, services, warnings)
    schedule_value = choose_schedule(schedule, x_project, selected)

    # Task ids and Python names: derived from service names, unique, valid.
    task_ids = _unique([_task_id(s.name) for s in selected], _ID_LEN)
    variables = _unique([_variable(t) for t in task_ids], _VAR_LEN, reserved=_RESERVED, python=True)
    task_of = dict(zip((s.name for s in selected), task_ids, strict=True))
    var_of = dict(zip((s.name for s in selected), variables, strict=True))

    launch_warning = launch_type_warning(settings, "the DAG runs them")
    if launch_warning:
        warnings.append(launch_warning)
    network = network_configuration(settings)
    if network is None:
        warnings.append(
            "no subnets are set: a Fargate task needs them, so the DAG has no network_configuration and ECS will "
            "refuse to run it (set subnets and security_groups)"
        )

    # Params: one per runtime_env name, in first-use order.
    params: dict[str, list[str]] = {}
    for service in selected:
        for name in service.x_ecsflow.runtime_env:
            params.setdefault(name, []).append(service.name)

    # Pools: name -> slots (the largest pool_slots given for it) and the services using it.
    pools: dict[str, dict[str, Any]] = {}
    for service in selected:
        pool = service.x_ecsflow.pool
        if pool is None:
            continue
        slots = service.x_ecsflow.pool_slots or 1
        entry = pools.setdefault(pool, {"slots": slots, "services": []})
        if slots != entry["slots"]:
            warnings.append(
                f"pool {pool!r} gets pool_slots {slots} from {service.name!r} and {entry['slots']} from "
                f"{', '.join(repr(s) for s in entry['services'])}; the pools file uses the larger"
            )
            entry["slots"] = max(slots, entry["slots"])
        entry["services"].append(service.name)

    edges, notes = _edges(selected, task_of)
    _check_acyclic(edges, selected)

    tasks = [
        _task(service, by_service[service.name], settings, network, task_of[service.name], pinned_arns, warnings)
        for service in selected
    ]
    body = _render_module(
        project=project,
        dag_id=dag_id,
        schedule=schedule_value,
        params=params,
        tasks=tasks,
        variables=[var_of[s.name] for s in selected],
        edges=[(var_of[a], var_of[b]) for a, b in edges],
        notes=notes,
    )
    pool_file = {
        name: {
            "slots": entry["slots"],
            "description": f"ecsflow: DAG {dag_id}, services {', '.join(entry['services'])}",
            "include_deferred": True,
        }
        for name, entry in pools.items()
        if name != _DEFAULT_POOL
    }
    if _DEFAULT_POOL in pools:
        warnings.append(f"pool {_DEFAULT_POOL!r} is Airflow's own: it is not in the pools file")
    source = _with_header(project, body, pools_json(pool_file))
    return GeneratedDag(
        dag_id=dag_id,
        source=source,
        pools=pool_file,
        warnings=tuple(warnings),
        services=tuple(s.name for s in selected),
        task_ids=task_of,
        edges=tuple((task_of[a], task_of[b]) for a, b in edges),
        params=tuple(params),
    )


# --- selection, ids, settings ---


def _dag_id(flag: str | None, x_project: ProjectExtension, project_name: str) -> str:
    value = flag if flag not in (None, "") else x_project.dag_id or project_name
    if not isinstance(value, str) or not value:
        raise DagError(f"dag_id must be a non-empty string, not {value!r}", key="x-ecsflow.dag_id")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", value) or value.startswith(".") or len(value) > _ID_LEN:
        raise DagError(
            f"dag_id {value!r} is not a valid Airflow DAG id",
            key="dag_id",
            hint=f"use letters, digits, '_', '-' and '.', not first, at most {_ID_LEN} characters "
            "(it is also the file name)",
        )
    return value


def _long_running(service: Service) -> str | None:
    """Why a service looks like a server rather than a job that finishes, or None."""
    if service.ports:
        return "it publishes ports"
    if service.expose:
        return "it exposes ports"
    restart = service.raw.get("restart")
    if restart in ("always", "unless-stopped"):
        return f"it has restart: {restart}"
    return None


def _select(
    project: ComposeProject, by_service: Mapping[str, Any], wanted: Iterable[str] | None, warnings: list[str]
) -> list[Service]:
    if wanted is not None:
        chosen = list(project.select(wanted))
    else:
        chosen = []
        for service in project.services:
            if service.name not in by_service:
                continue
            why = _long_running(service)
            if why:
                warnings.append(
                    f"service {service.name!r} is left out of the DAG: {why}, so it looks like a long-running "
                    "server, and an Airflow task waits for its ECS task to stop (name it to include it)"
                )
                continue
            chosen.append(service)
    missing = [s.name for s in chosen if s.name not in by_service]
    if missing:
        raise DagError(f"no task definition was built for {', '.join(repr(n) for n in missing)}")
    if not chosen:
        raise DagError("no services to put in the DAG", hint="name the services to include")
    return chosen



def _task_id(name: str) -> str:
    return _ID_CHARS.sub("_", name)[:_ID_LEN] or "_"


def _variable(task_id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", task_id)[:_VAR_LEN]
    if not name or name[0].isdigit():
        name = ("t_" + name)[:_VAR_LEN]
    return name


def _unique(names: Sequence[str], limit: int, reserved: Iterable[str] = (), python: bool = False) -> list[str]:
    """Make names unique with _2, _3... suffixes, within `limit` characters (python: never a keyword)."""
    taken = set(reserved)
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in taken or (python and keyword.iskeyword(candidate)):
            n += 1
            suffix = f"_{n}"
            candidate = name[: limit - len(suffix)] + suffix
        taken.add(candidate)
        out.append(candidate)
    return out


def _edges(selected: Sequence[Service], task_of: Mapping[str, str]) -> tuple[list[tuple[str, str]], list[list[str]]]:
    """(upstream service, downstream service) pairs, and comment blocks for depends_on that make no edge."""
    edges: list[tuple[str, str]] = []
    notes: list[list[str]] = []
    for service in selected:
        for dependency, spec in service.depends_on.items():
            condition = getattr(spec, "condition", "service_started")
            if dependency not in task_of:
                notes.append([
                    f"{py_str(service.name)} depends on {py_str(dependency)}, which is not a task of this",
                    "DAG: no edge.",
                ])
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


# --- the operator arguments ---


def _task(
    service: Service,
    build: Any,
    settings: Any,
    network: dict[str, Any] | None,
    task_id: str,
    pinned: Mapping[str, str] | None,
    warnings: list[str],
) -> Task:
    request = build.request
    family = build.family
    containers = request.get("containerDefinitions") or []
    if len(containers) != 1:
        raise DagError(f"the task definition of {service.name!r} has {len(containers)} containers, not 1",
                       service=service.name)
    container = containers[0]
    container_name = container["name"]
    if pinned is not None:
        if family not in pinned:
            raise DagError(
                f"no registered revision is known for family {family!r}",
                service=service.name,
                hint="run `ecsflow sync` first, or generate the DAG without --pin",
            )
        task_definition = pinned[family]
    else:
        task_definition = family

    kwargs: list[tuple[str, Any]] = [
        ("task_id", Str(task_id)),
        ("cluster", tpl(settings.cluster)),
        ("task_definition", tpl(task_definition)),
        ("launch_type", Str(LAUNCH_TYPE)),
    ]
    if settings.region:
        kwargs.append(("region_name", Str(settings.region)))
    if network is not None:
        kwargs.append(("network_configuration", tpl_tree(network)))
    kwargs.append(("container_name", tpl(container_name)))
    kwargs.append(("overrides", _overrides(service, container_name)))

    log = container.get("logConfiguration") or {}
    options = log.get("options") or {}
    if log.get("logDriver") == "awslogs" and options.get("awslogs-group") and options.get("awslogs-stream-prefix"):
        kwargs.append(("awslogs_group", tpl(options["awslogs-group"])))
        if options.get("awslogs-region"):
            kwargs.append(("awslogs_region", tpl(options["awslogs-region"])))
        # ECS names the stream PREFIX/CONTAINER/TASK-ID; the operator appends /TASK-ID (and, in recent
        # providers, /CONTAINER unless the prefix already ends with it).
        kwargs.append(("awslogs_stream_prefix", tpl(f"{options['awslogs-stream-prefix']}/{container_name}")))
    else:
        warnings.append(f"service {service.name!r} does not log with awslogs: Airflow will not show its logs")

    pool = service.x_ecsflow.pool
    if pool is not None:
        kwargs.append(("pool", Str(pool)))
    return Task(service=service.name, kwargs=kwargs)


def _overrides(service: Service, container_name: str) -> Any:
    names = service.x_ecsflow.runtime_env
    if not names:
        return Dict([])
    environment = List([Dict([(Str("name"), tpl(name)), (Str("value"), param_template(name))]) for name in names])
    container = Dict([(Str("name"), tpl(container_name)), (Str("environment"), environment)])
    return Dict([(Str("containerOverrides"), List([container]))])


def _render_module(
    *,
    project: ComposeProject,
    dag_id: str,
    schedule: str | None,
    params: Mapping[str, list[str]],
    tasks: Sequence[Task],
    variables: Sequence[str],
    edges: Sequence[tuple[str, str]],
    notes: Sequence[list[str]],
) -> str:
    dag_kwargs: list[tuple[str, Any]] = [
        ("dag_id", Str(dag_id)),
        ("description", Str(f"ECS Fargate tasks of the compose project {project.name}, generated by ecsflow")),
        ("schedule", Str(schedule) if schedule is not None else Raw("None")),
        ("catchup", Raw("False")),
        ("tags", List([Str("ecsflow")])),
    ]
    if schedule == "@continuous":  # ContinuousTimetable refuses more than one active run
        dag_kwargs.insert(3, ("max_active_runs", Raw("1")))
    if params:
        dag_kwargs.append((
            "params",
            Dict([
                (
                    Str(name),
                    Call(
                        "Param",
                        [Str("")],
                        [
                            ("type", Str("string")),
                            (
                                "description",
                                Str(f"{name} for {', '.join(users)} (x-ecsflow.runtime_env)"),
                            ),
                        ],
                    ),
                )
                for name, users in params.items()
            ]),
        ))

    body: list[str] = []
    body.extend(lay_out(Call("DAG", [], dag_kwargs), 0, "with ", " as dag:"))
    for i, (task, variable) in enumerate(zip(tasks, variables, strict=True)):
        if i:
            body.append("")
        body.extend(lay_out(Call("EcsRunTaskOperator", [], task.kwargs), 4, f"{variable} = "))
    if edges or notes:
        body.append("")
    for a, b in edges:
        body.append(f"    {a} >> {b}")
    for note in notes:
        body.extend(f"    # {line}" for line in note)

    uses_literal = any("literal(" in line and not line.lstrip().startswith("#") for line in body)
    sdk_names = ["DAG", "Param"] if params else ["DAG"]
    if uses_literal:
        sdk_names.append("literal")
    head = [
        '"""Runs ECS Fargate task definitions from Airflow; generated by `ecsflow gen-dag`."""',
        "",
        "from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator",
        f"from airflow.sdk import {', '.join(sdk_names)}",
        "",
    ]
    return "\n".join(head + body) + "\n"


def _with_header(project: ComposeProject, body: str, pools_text: str) -> str:
    files = ", ".join(p.name for p in project.files) or "(none)"
    intro = [
        f"# Generated by `ecsflow gen-dag` from the compose project {py_str(project.name)} ({py_str(files)}).",
        "# Change the compose file and generate again rather than editing this file: gen-dag",
        "# refuses to overwrite it once its text no longer matches the hash (unless --force).",
    ]
    if any(len(line) > PY_LINE for line in intro + body.split("\n")):
        # A value longer than a line (black leaves it whole): tell ruff that this is expected here.
        body = "# ruff: noqa: E501\n" + body
    return "\n".join(intro + hash_lines(body, pools_text)) + "\n" + body
