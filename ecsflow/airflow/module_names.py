"""The module names a generated file must not take: one that shadows a module Airflow's Python imports.

A DAG file or factories module is a module of the folder it is in. When that folder is first on `sys.path`
(Python run from it, a script in it, `PYTHONPATH=/opt/airflow/dags` as many images set), a file named
`airflow.py` or `json.py` is what `import airflow` or `import json` finds: Airflow, or the standard library,
breaks for that code. So the names are checked against a fixed rule, the same on every machine:

- the standard library of every Python that Airflow 2.10+ runs on: `sys.stdlib_module_names` of this
  Python, and `MORE_STDLIB`: the modules removed from it since Python 3.8, and its `test` package (which
  `sys.stdlib_module_names` leaves out);
- Airflow's own top-level modules and those it loads to parse a generated DAG (`AIRFLOW_MODULES`, measured
  with Airflow 3.3, 2.11 and 2.10; the slow suite checks that the installed Airflow loads no other).

Not what happens to be importable where gen-dag runs: Airflow is usually not installed there, and a rule
that depends on the machine would name the same DAG's file differently on two laptops, and Airflow would then
find two files with one DAG id. A name that is not a Python identifier (`etl-nightly`, `etl.v2`) cannot be
imported by name, so it shadows nothing.
"""

from __future__ import annotations

import sys

# Gone from the standard library since Python 3.8 (3.9: dummy_threading; 3.10: formatter, parser, symbol;
# 3.11: binhex; 3.12 and 3.13: the rest), still there on the older Pythons Airflow runs on; and its test package.
MORE_STDLIB = frozenset({
    "test",
    "aifc", "asynchat", "asyncore", "audioop", "binhex", "cgi", "cgitb", "chunk", "crypt", "distutils",
    "dummy_threading", "formatter", "imghdr", "imp", "lib2to3", "mailcap", "msilib", "nis", "nntplib",
    "ossaudiodev", "parser", "pipes", "smtpd", "sndhdr", "spwd", "sunau", "symbol", "telnetlib", "uu", "xdrlib",
})

# The public top-level modules in sys.modules once Airflow (with the Amazon provider) has parsed a generated
# DAG: Airflow 3.3, 2.11 and 2.10 together (test_airflow_dagbag.py measures them again in a fresh process).
AIRFLOW_MODULES = frozenset({
    "aiosqlite", "airflow", "annotated_types", "anyio", "arrow", "asgiref", "attr", "attrs", "babel", "blinker",
    "boto3", "botocore", "cachetools", "certifi", "charset_normalizer", "click", "colorama", "colorlog",
    "cron_descriptor", "croniter", "cryptography", "cython_runtime", "dateutil", "deprecated", "dill", "flask",
    "fsspec", "greenlet", "h11", "httpcore", "httpx", "idna", "importlib_metadata", "isoduration", "itsdangerous",
    "jinja2", "jmespath", "jsonschema", "jsonschema_specifications", "jwt", "lazy_importer", "lazy_object_proxy",
    "libcst", "lockfile", "markupsafe", "methodtools", "msgspec", "opentelemetry", "packaging", "pathlib_abc",
    "pathspec", "pendulum", "pluggy", "psutil", "pydantic", "pydantic_core", "pygments", "pygtrie", "pytz", "re2",
    "referencing", "requests", "rich", "rpds", "s3transfer", "six", "slugify", "sqlalchemy", "sqlalchemy_jsonfield",
    "structlog", "tabulate", "tenacity", "typing_extensions", "typing_inspection", "upath", "urllib3", "uuid6",
    "werkzeug", "wirerope", "wrapt", "yaml", "zipp",
})


def shadowed(name: str) -> str | None:
    """What a module called `name` would shadow ("the standard library's json module"), or None."""
    if not name.isidentifier():
        return None
    if name in sys.stdlib_module_names or name in MORE_STDLIB:
        return f"the standard library's {name} module"
    if name == "airflow":
        return "the airflow package"
    if name in AIRFLOW_MODULES:
        return f"the {name} package, which Airflow imports"
    return None


def untaken(name: str, suffix: str) -> tuple[str, str | None]:
    """(`name`, or `name` + `suffix` (again) until it shadows nothing; what `name` itself would shadow)."""
    why = shadowed(name)
    chosen = name
    while shadowed(chosen):
        chosen += suffix
    return chosen, why
