"""The task factories module (`etl_tasks.py`): one function per service that returns its configured
`EcsRunTaskOperator`, for the generated DAG (which loads it by its path) and for DAGs written by hand
(`from etl_tasks import transform`, or from a subfolder `from team.jobs.etl_tasks import transform`).

Everything a task needs is resolved here, when gen-dag runs: the family (or the pinned revision), the
container name and awslogs options of the task definition, the cluster, region and network from the settings,
the runtime values' templates, the capacity provider, and the Airflow arguments from the compose file (pool,
pool_slots, retries, retry_delay, execution_timeout: the service's, else the project's). Parsing the module
in Airflow calls neither Consul nor ECS.

The module runs on Airflow 2.10+ and 3.x: its imports try `airflow.sdk` first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ecsflow.airflow.model import DagError, Factory
from ecsflow.airflow.runtime import value_template
from ecsflow.airflow.source import (
    Call,
    Dict,
    List,
    Raw,
    Str,
    airflow_imports,
    flat,
    lay_out,
    lay_out_def,
    tpl,
    tpl_tree,
)
from ecsflow.compose.model import ComposeProject, Service
from ecsflow.runtask import LAUNCH_TYPE, capacity_provider_strategy, container_overrides, oversize

_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_. -]+")  # names safe to show in a docstring as they are


def factory(
    service: Service,
    build: Any,
    project: ComposeProject,
    function: str,
    task_id: str,
    pinned: Mapping[str, str] | None,
    warnings: list[str],
) -> Factory:
    """The factory of one service, from its task-definition build and its x-ecsflow block."""
    request = build.request
    family = build.family
    containers = request.get("containerDefinitions") or []
    if not containers:
        raise DagError(f"the task definition of {service.name!r} has no container", service=service.name)
    container = containers[0]  # the main service's; its sidecars' follow (taskdef/build.py)
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

    x = service.x_ecsflow
    fixed: list[tuple[str, Any]] = [("task_definition", tpl(task_definition))]
    if x.capacity_provider:
        # RunTask takes a launch type or a capacity provider strategy, not both; the operator sends the strategy.
        fixed.append(("capacity_provider_strategy", tpl_tree(capacity_provider_strategy(x.capacity_provider))))
    else:
        fixed.append(("launch_type", Str(LAUNCH_TYPE)))
    fixed.append(("container_name", tpl(container_name)))
    log = container.get("logConfiguration") or {}
    options = log.get("options") or {}
    if log.get("logDriver") == "awslogs" and options.get("awslogs-group") and options.get("awslogs-stream-prefix"):
        fixed.append(("awslogs_group", tpl(options["awslogs-group"])))
        if options.get("awslogs-region"):
            fixed.append(("awslogs_region", tpl(options["awslogs-region"])))
        # ECS names the stream PREFIX/CONTAINER/TASK-ID; the operator appends /TASK-ID (and, in recent
        # providers, /CONTAINER unless the prefix already ends with it).
        fixed.append(("awslogs_stream_prefix", tpl(f"{options['awslogs-stream-prefix']}/{container_name}")))
    else:
        warnings.append(f"service {service.name!r} does not log with awslogs: Airflow will not show its logs")

    x_project = project.x_ecsflow
    retries = x.retries if x.retries is not None else x_project.retries
    retry_delay = x.retry_delay if x.retry_delay is not None else x_project.retry_delay
    timeout = x.execution_timeout if x.execution_timeout is not None else x_project.execution_timeout
    defaults = [
        ("task_id", "str", Str(task_id)),
        ("environment", "Mapping[str, Any] | None", Raw("None")),
        ("command", "Sequence[Any] | None", Raw("None")),
        # (a configured name is annotated `str`: black would split `str | None = "a long name"` over lines)
        ("pool", "str", Str(x.pool)) if x.pool is not None else ("pool", "str | None", Raw("None")),
        ("pool_slots", "int | None", _number(x.pool_slots)),
        ("retries", "int | None", _number(retries)),
        ("retry_delay", "timedelta | None", _duration(retry_delay)),
        ("execution_timeout", "timedelta | None", _duration(timeout)),
    ]
    _check_overrides(service, container_name)
    runtime_env = [(tpl(name), Str(value_template(name, default))) for name, default in x.runtime_env.items()]
    where = f"service {service.name}" if _PLAIN_TEXT.fullmatch(service.name) else "a service"
    runs = f", task definition {family}" if _PLAIN_TEXT.fullmatch(family) else ""
    on = f" on {x.capacity_provider}" if x.capacity_provider else ""
    return Factory(service=service.name, function=function, task_id=task_id, fixed=fixed, runtime_env=runtime_env,
                   defaults=defaults, summary=f"Runs {where}{runs}{on}.")


def _check_overrides(service: Service, container: str) -> None:
    """The task's RunTask overrides as far as gen-dag knows them, the runtime values' defaults, within ECS's
    limit (`ecsflow.runtask.oversize`, run's rule): over it, every run of the DAG would be refused. A plain
    default is what a run sends when its param is not given. A Jinja default's rendered size is not known here
    (Airflow renders it, per run), so its template text is measured as written; what a trigger's params or a
    hand-written DAG's `environment` and `command` add is not known either."""
    defaults = service.x_ecsflow.runtime_env
    too_long = oversize(container_overrides(container, defaults, ()),
                        [(f"runtime_env {name} (its default)", default) for name, default in defaults.items()])
    if too_long:
        raise DagError(f"the task's container overrides (x-ecsflow.runtime_env, with their defaults) {too_long[0]}",
                       file=service.source_file, line=service.source_line, service=service.name,
                       key="x-ecsflow.runtime_env",
                       hint="pass large values another way: set them in the service's environment (they become part "
                       "of the task definition), or have the job read them from S3 or SSM Parameter Store")


def common_arguments(settings: Any, network: Mapping[str, Any] | None) -> list[tuple[str, Any]]:
    """The operator arguments every task shares: where ECS runs them."""
    arguments: list[tuple[str, Any]] = [("cluster", tpl(settings.cluster))]
    if settings.region:
        arguments.append(("region_name", Str(settings.region)))
    if network is not None:
        arguments.append(("network_configuration", tpl_tree(network)))
    return arguments


def _number(value: int | None) -> Any:
    return Raw("None") if value is None else Raw(str(value))


def _duration(seconds: float | None) -> Any:
    """`timedelta(...)` in the largest unit that states the duration exactly (None: Raw None)."""
    if seconds is None:
        return Raw("None")
    for unit, size in (("hours", 3600), ("minutes", 60), ("seconds", 1)):
        if seconds >= size and seconds % size == 0:
            return Call("timedelta", [], [(unit, Raw(str(int(seconds // size))))])
    return Call("timedelta", [], [("seconds", Raw(repr(float(seconds))))])


def tasks_module_text(
    project: ComposeProject,
    module: str,
    common: list[tuple[str, Any]],
    factories: Sequence[Factory],
    params: Sequence[tuple[str, Any]],
) -> str:
    """The factories module's text (without the header comment lines that protect it)."""
    project_name = f"the compose project {project.name}" if _PLAIN_TEXT.fullmatch(project.name) else "a compose project"
    first = factories[0].function
    lines = [
        f'"""Airflow tasks that run the ECS task definitions of {project_name}.',
        "",
        "One function per service returns its configured EcsRunTaskOperator; use them in any DAG:",
        "",
        f"    from {module} import {', '.join(sorted({first, 'params'}))}",
        "",
        '    with DAG(dag_id="my_dag", params=params(), ...):',
        f'        {first}(task_id="{first}_again", environment={{"NAME": "value"}})',
        "",
        "From a DAG in a folder below the DAGs folder (or bundle root), import it by its",
        f"dotted path from there: `from team.jobs.{module} import ...`.",
        "",
        "Each takes task_id, environment (more container variables, templated), command",
        "(replaces the container's command), pool, pool_slots, retries, retry_delay and",
        "execution_timeout (None: not set here), and passes any other keyword to",
        "EcsRunTaskOperator. params() returns the DAG params the tasks read",
        "(x-ecsflow.runtime_env). Generated by `ecsflow gen-dag`: parsing this file calls",
        "neither Consul nor ECS.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping, Sequence",
        "from datetime import timedelta",
        "from typing import Any",
        "",
        "from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator",
        "",
    ]
    body: list[str] = []
    body.extend(lay_out(Dict([(Str(k), v) for k, v in common]), 0, "_ECS = "))
    body += ["", "", "def params() -> dict[str, Any]:",
             '    """The DAG params these tasks read (x-ecsflow.runtime_env): DAG(params=params())."""']
    body.extend(lay_out(Dict([(Str(name), node) for name, node in params]), 4, "return "))
    body += ["", ""] + _HELPER
    for item in factories:
        body += ["", ""] + _factory_text(item)

    uses_literal = any("literal(" in line and not line.lstrip().startswith("#") for line in body)
    lines += airflow_imports(["Param"] * bool(params) + ["literal"] * uses_literal)
    return "\n".join(lines + body) + "\n"


def _factory_text(item: Factory) -> list[str]:
    parameters = ["*", *(f"{key}: {annotation} = {flat(default)}" for key, annotation, default in item.defaults),
                  "**operator_args: Any"]
    lines = lay_out_def(item.function, parameters, "EcsRunTaskOperator")
    lines.append(f'    """{item.summary}"""')
    runtime = List([Dict([(Str("name"), name), (Str("value"), value)]) for name, value in item.runtime_env])
    call = Call(
        "_ecs_task",
        [Dict([(Str(k), v) for k, v in item.fixed]), runtime, Raw("environment"), Raw("command")],
        [(key, Raw(key)) for key, _, _ in item.defaults if key not in ("environment", "command")]
        + [("**", Raw("operator_args"))],
    )
    lines.extend(lay_out(call, 4, "return "))
    return lines


# The one function every factory calls: static text, the same in every generated module.
_HELPER = '''\
def _ecs_task(
    fixed: dict[str, Any],
    runtime_env: list[dict[str, Any]],
    environment: Mapping[str, Any] | None,
    command: Sequence[Any] | None,
    **airflow_args: Any,
) -> EcsRunTaskOperator:
    """A service's operator: where ECS runs it, what its task definition fixes, the
    container overrides (runtime values, then `environment`; `command`), then the
    caller's arguments (one that is None is not passed: default_args or Airflow's
    defaults apply).
    """
    if isinstance(command, str):
        raise TypeError("command is a list of words, e.g. ['python', '-m', 'job']")
    given = dict(environment or {})
    variables = [item for item in runtime_env if item["name"] not in given]
    variables += [{"name": name, "value": value} for name, value in given.items()]
    override: dict[str, Any] = {"name": fixed["container_name"]}
    if variables:
        override["environment"] = variables
    if command is not None:
        override["command"] = list(command)
    overrides = {"containerOverrides": [override]} if len(override) > 1 else {}
    arguments = {**_ECS, **fixed, "overrides": overrides}
    arguments.update((k, v) for k, v in airflow_args.items() if v is not None)
    return EcsRunTaskOperator(**arguments)'''.split("\n")
