"""Values known only at run time (`x-ecsflow.runtime_env`): DAG params with defaults, the templates that pass
them to the container, and the same defaults for `ecsflow run`.

A runtime value has a name and a default ("" when none is written). A plain default is the DAG param's
default, and the container gets `{{ params.get('NAME', 'default') }}`. A default that holds Jinja
(`"{{ ds }}"`) is left for Airflow to render: the param defaults to null, and the container gets the param
when one is given, else the rendered default. `params.get` keeps the factories usable in a DAG that declares
no params (a hand-written one): the defaults apply.

`ecsflow run` has no Airflow: `render_default` renders a Jinja default for a manual run now (ds is today,
in UTC, as Airflow 3 sets it for a manual run), with the few context names that make sense outside Airflow,
and refuses anything else with a message that says what to pass instead.

jinja2 is imported only to check or render a Jinja default.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ecsflow.airflow.model import DagError
from ecsflow.airflow.source import Call, List, Raw, Str, jinja_str
from ecsflow.errors import EcsflowError
from ecsflow.validators import describe

_JINJA_MARKS = ("{{", "{%", "{#")
# What `render_default` knows of Airflow's template context (the rest needs a DAG run).
KNOWN_CONTEXT = ("ds", "ds_nodash", "ts", "ts_nodash", "ts_nodash_with_tz", "logical_date", "data_interval_start",
                 "data_interval_end", "macros.ds_add", "macros.ds_format", "macros.datetime", "macros.timedelta")


def is_template(default: str) -> bool:
    """True when Jinja would read the default as a template (it holds `{{`, `{%` or `{#`)."""
    return any(mark in default for mark in _JINJA_MARKS)


def check_default(name: str, default: str, service: str, file: str | None = None, line: int | None = None,
                  variables: Mapping[str, str] | None = None) -> None:
    """A Jinja default must be a whole template by itself (it is placed in the else branch of another).
    ``variables`` as `render_default` takes them."""
    if not is_template(default):
        return
    import jinja2

    try:
        jinja2.Environment().parse(default)
    except jinja2.TemplateSyntaxError as error:
        shown = describe(default, variables)
        # Jinja's message may quote the template's words: not for a default that interpolation made.
        problem = f": {error.message}" if shown == repr(default) else (
            f" ({shown}; what is wrong is not said: it would show the value)")
        raise DagError(
            f"the default of {name} in x-ecsflow.runtime_env is not a valid Jinja template{problem}",
            file=file, line=line, service=service, key=f"x-ecsflow.runtime_env.{name}",
            hint="write a template Airflow can render, e.g. \"{{ ds }}\", or a plain value",
        ) from None


def value_template(name: str, default: str) -> str:
    """What the container's variable is set to: the DAG param `name`, else the default."""
    key = jinja_str(name)
    if is_template(default):
        return f"{{% if params.get({key}) is not none %}}{{{{ params[{key}] }}}}{{% else %}}{default}{{% endif %}}"
    return f"{{{{ params.get({key}, {jinja_str(default)}) }}}}"


def param_node(name: str, default: str, users: list[str]) -> Call:
    """`Param(...)` for the DAG's params: the default, or null (meaning "render the Jinja default")."""
    description = f"{name} for {', '.join(users)} (x-ecsflow.runtime_env)"
    if is_template(default):
        return Call("Param", [Raw("None")], [
            ("type", List([Str("null"), Str("string")])),
            ("description", Str(f"{description}; empty: {default}")),
        ])
    return Call("Param", [Str(default)], [("type", Str("string")), ("description", Str(description))])


def render_default(name: str, default: str, service: str, now: datetime | None = None,
                   variables: Mapping[str, str] | None = None) -> str:
    """The default of a runtime value as `ecsflow run` sends it: as written, or rendered for a run now.
    ``variables``: those interpolation read for the service's values, which an error names, never shows."""
    if not is_template(default):
        return default
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    now = (now or datetime.now(UTC)).astimezone(UTC)
    environment = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters.update(_FILTERS)
    hint = f"pass the value: -e {name}=VALUE (outside Airflow, ecsflow knows {', '.join(KNOWN_CONTEXT)})"
    try:
        return environment.from_string(default).render(_context(now))
    except jinja2.UndefinedError as error:
        problem, outside = error.message, " outside Airflow"
    except Exception as error:  # a syntax error, a bad filter argument, the sandbox refusing an attribute...
        problem, outside = str(error), ""
    shown = describe(default, variables)
    if shown != repr(default):  # Jinja's message quotes the template's words: here, part of a variable's value
        problem = "what is wrong is not said (it would show the value)"
    raise EcsflowError(f"the default of {name} ({shown}) cannot be rendered{outside}: {problem}",
                       service=service, key=f"x-ecsflow.runtime_env.{name}", hint=hint)


def runtime_environment(runtime_env: Mapping[str, str], given: Mapping[str, str], service: str,
                        now: datetime | None = None, variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """The runtime values `ecsflow run` sends: those given (`-e`), else each default (rendered); ``variables``
    as `render_default` takes them."""
    return {name: given[name] if name in given else render_default(name, default, service, now, variables)
            for name, default in runtime_env.items()}


# --- the little of Airflow's template context that a run outside Airflow can know ---


def _ds_add(ds: str, days: int) -> str:
    return (datetime.strptime(ds, "%Y-%m-%d") + timedelta(days=days)).strftime("%Y-%m-%d")


def _ds_format(ds: str, input_format: str, output_format: str) -> str:
    return datetime.strptime(ds, input_format).strftime(output_format)


class _Macros:
    ds_add = staticmethod(_ds_add)
    ds_format = staticmethod(_ds_format)
    datetime = datetime
    timedelta = timedelta


_FILTERS = {
    "ds": lambda value: value.strftime("%Y-%m-%d"),
    "ds_nodash": lambda value: value.strftime("%Y%m%d"),
    "ts": lambda value: value.isoformat(),
    "ts_nodash": lambda value: value.strftime("%Y%m%dT%H%M%S"),
    "ts_nodash_with_tz": lambda value: value.isoformat().replace("-", "").replace(":", ""),
}


def _context(now: datetime) -> dict[str, Any]:
    """As Airflow 3 sets them for a manual run: the logical date and the data interval are the run's time."""
    return {
        "ds": now.strftime("%Y-%m-%d"),
        "ds_nodash": now.strftime("%Y%m%d"),
        "ts": now.isoformat(),
        "ts_nodash": now.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": now.isoformat().replace("-", "").replace(":", ""),
        "logical_date": now,
        "data_interval_start": now,
        "data_interval_end": now,
        "macros": _Macros,
    }
