"""Values known only at run time (`x-ecsflow.runtime_env`): DAG params with defaults, and the templates that pass
them to the container (the same defaults for `ecsflow run`: ``ecsflow.runtask``).

A runtime value has a name and a default ("" when none is written). A plain default is the DAG param's
default, and the container gets `{{ params.get('NAME', 'default') }}`. A default that holds Jinja
(`"{{ ds }}"`) is left for Airflow to render: the param defaults to null, and the container gets the param
when one is given, else the rendered default. `params.get` keeps the factories usable in a DAG that declares
no params (a hand-written one): the defaults apply.

jinja2 is imported only to check a Jinja default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ecsflow.airflow.model import DagError
from ecsflow.airflow.source import Call, List, Raw, Str, jinja_str
from ecsflow.runtask import is_template
from ecsflow.validators import describe

if TYPE_CHECKING:
    from ecsflow.compose.model import Service


def check_default(name: str, default: str, service: Service, variables: Mapping[str, str] | None = None) -> None:
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
            **service.where(f"x-ecsflow.runtime_env.{name}"), service=service.name, key=f"x-ecsflow.runtime_env.{name}",
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


