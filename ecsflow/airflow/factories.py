"""The task factories module (`etl_tasks.py`): one function per service that returns its configured
`EcsRunTaskOperator`, for the generated DAG (which loads it by its path) and for DAGs written by hand
(`from etl_tasks import transform`, or from a subfolder `from team.jobs.etl_tasks import transform`).

Everything a task needs is resolved here, when gen-dag runs: the family (or the pinned revision), the
container name and awslogs options of the task definition, the cluster, region and network from the settings,
the runtime values' templates, the capacity provider, and the Airflow arguments from the compose file (pool,
pool_slots, retries, retry_delay, execution_timeout: the service's, else the project's). Parsing the module
in Airflow calls neither Consul nor ECS.

Runs that happen once and finish (issue 27; checked in the Amazon provider's source,
airflow/providers/amazon/aws/operators/ecs.py, of 9.17.0, the last for Airflow 2.10, and of 9.39.0, the one
pinned for 2.11 and installed with Airflow 3; docs/how-to/airflow.md says more), each visible in the module
and overridable by a keyword of the factory call:

- ``reattach=True``: the provider lists the cluster's RUNNING tasks whose startedBy is a UUID derived from
  the task instance (``generate_uuid(dag_id, task_id, run_id, map_index)``: not the try number) and follows
  the first instead of starting another, so a try after a lost worker does not start a second copy;
- ``do_xcom_push=False``: with it the provider pushes the ECS task's ARN and returns the log's last line,
  which Airflow stores as the task's XCom in its database, whatever the job printed (a secret too);
- FARGATE_SPOT: the first try on FARGATE_SPOT, every retry on FARGATE (``_SPOT_FIRST``: the provider's
  ``capacity_provider_strategy`` is a templated field, rendered for each try from ``ti.try_number``), unless
  ``x-ecsflow.spot_fallback: false`` keeps every try on Spot;
- the wait: ``waiter_max_attempts`` from the operator's ``execution_timeout`` (its own, or default_args'),
  one ``waiter_delay`` more, so that a deferred task (``deferrable=True``, or Airflow's default_deferrable)
  stops waiting when Airflow would have ended it: the provider's default is 1,000,000 x 6 s, and Airflow 3
  does not end a deferred task at its execution_timeout (2.10 and 2.11 do, through the trigger's timeout).

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
from ecsflow.messages import Message
from ecsflow.runtask import (
    LAUNCH_TYPE,
    ON_DEMAND,
    SPOT,
    capacity_provider_strategy,
    container_overrides,
    oversize,
)

_PLAIN_TEXT = re.compile(r"[A-Za-z0-9_. -]+")  # names safe to show in a docstring as they are
SPOT_FIRST = "_SPOT_FIRST"  # the module's capacity provider strategy of a FARGATE_SPOT task with its fallback


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
    spot_first = x.capacity_provider == SPOT and x.spot_fallback
    if spot_first:
        fixed.append(("capacity_provider_strategy", Raw(SPOT_FIRST)))
    elif x.capacity_provider:
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
        warnings.append(Message("does not log with awslogs: Airflow will not show its logs", (service.name,)))

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
    on += f" (its retries on {ON_DEMAND})" if spot_first else ""
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
                       **service.where("x-ecsflow.runtime_env"), service=service.name, key="x-ecsflow.runtime_env",
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
        "EcsRunTaskOperator; a keyword given wins over what this module sets (_DEFAULTS,",
        "_SPOT_FIRST, the waiter_max_attempts of _ecs_task). params() returns the DAG",
        "params the tasks read (x-ecsflow.runtime_env). Generated by `ecsflow gen-dag`:",
        "parsing this file calls neither Consul nor ECS.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import math",
        "from collections.abc import Mapping, Sequence",
        "from datetime import timedelta",
        "from typing import Any",
        "",
        "from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator",
        "",
    ]
    body: list[str] = []
    body.extend(lay_out(Dict([(Str(k), v) for k, v in common]), 0, "_ECS = "))
    body += [""] + _DEFAULTS_TEXT
    if any(value == Raw(SPOT_FIRST) for item in factories for _, value in item.fixed):
        body += [""] + _SPOT_FIRST_TEXT
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
    arguments = {**_ECS, **_DEFAULTS, **fixed, "overrides": overrides}
    arguments.update((k, v) for k, v in airflow_args.items() if v is not None)
    operator = EcsRunTaskOperator(**arguments)
    timeout = operator.execution_timeout  # the call's, default_args', or None
    if timeout and "waiter_max_attempts" not in airflow_args:
        # A deferred task waits waiter_delay x waiter_max_attempts seconds (the
        # provider's default: 6 x 1,000,000), and Airflow 3 does not end it at its
        # execution_timeout: the wait ends one delay after that.
        delay = max(operator.waiter_delay, 1)
        operator.waiter_max_attempts = math.ceil(timeout.total_seconds() / delay) + 1
    return operator'''.split("\n")

# What every task does unless its call says otherwise: static text, the same in every generated module.
_DEFAULTS_TEXT = '''\
# Every task's, unless its call passes another value (reattach=False, do_xcom_push=True):
# reattach: a try that finds this task instance's ECS task still running (its worker
#   was lost) follows it instead of starting a second copy; the Amazon provider finds
#   it by startedBy, a UUID of the dag, task, run and map index (on Airflow 3: 9.9.0+).
# do_xcom_push: no XCom; the provider would push the ECS task's ARN and return the
#   last line of its log, which Airflow keeps in its database, whatever the job printed.
_DEFAULTS = {"reattach": True, "do_xcom_push": False}'''.split("\n")

_SPOT_FIRST_TEXT = '''\
# x-ecsflow.capacity_provider FARGATE_SPOT: the first try on Spot, every retry on
# FARGATE (on demand), so that a job Spot interrupted is not interrupted again
# (x-ecsflow.spot_fallback: false keeps every try on Spot). capacity_provider_strategy
# is a templated field of EcsRunTaskOperator: Airflow renders this for each try.
_SPOT_FIRST = [
    {
        "capacityProvider": "{{ 'FARGATE_SPOT' if ti.try_number <= 1 else 'FARGATE' }}",
        "weight": 1,
    },
]'''.split("\n")
