"""botocore's parameter validation compiled for one ECS operation: does a request pass, yes or no.

botocore validates a RegisterTaskDefinition request in about 0.15 ms, and importing it and loading the ECS model
for that takes some 80 ms: half of what `ecsflow render` of a small project costs. These checks, compiled from
the same service model (the JSON file botocore reads), answer whether botocore's ``ParamValidator`` would find
no error, in a fraction of the time and without importing botocore. When the answer is no, or when they cannot
be sure (a timestamp, a blob: they raise `Unsure`), ``ecs/validate.py`` asks botocore itself, which words the
errors as before. So they must answer exactly as ``ParamValidator`` does, rule by rule (tests/test_ecs_validate.py
compares them): the type of each value (an int passes for a double, a bool for an integer, a tuple for a list),
required members, no unknown member, one member of a union, a string's, a list's and a number's ``min``, the
members of a document type, every key and value of a map. Limits botocore leaves to the server (``max``,
``pattern``, ``enum``) are not checked here either.
"""

from __future__ import annotations

import decimal
import functools
import gzip
import json
import os
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path
from typing import Any

Check = Callable[[Any], bool]
_TYPES: dict[str, tuple[type, ...]] = {  # botocore's ParamValidator.SCALAR_TYPES and CONTAINER_TYPES
    "float": (float, decimal.Decimal, int), "double": (float, decimal.Decimal, int), "integer": (int,),
    "long": (int,), "boolean": (bool,), "string": (str,), "structure": (dict,), "map": (dict,), "list": (list, tuple),
}


class Unsure(Exception):
    """The checks cannot answer exactly as botocore would: let it decide."""


@functools.cache
def service_model(service: str = "ecs") -> dict[str, Any]:
    """The service model botocore would load: read from botocore's own data folder when nothing can make it
    look elsewhere or merge extras into it (no AWS_DATA_PATH, no ~/.aws/models, no `data_path` in the AWS
    config file, no extras file), which saves importing botocore; else through botocore's loader."""
    found = _builtin_model_file(service)
    if found is not None:
        with (gzip.open if found.suffix == ".gz" else open)(found, "rb") as file:
            return json.loads(file.read().decode("utf-8"))
    import botocore.session

    return botocore.session.get_session().get_component("data_loader").load_service_model(service, "service-2")


def _builtin_model_file(service: str) -> Path | None:
    config = Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config").expanduser()
    if os.environ.get("AWS_DATA_PATH") or (Path.home() / ".aws" / "models").exists() or (
            config.is_file() and "data_path" in config.read_text(encoding="utf-8", errors="replace")):
        return None
    spec = find_spec("botocore")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / service
    versions = sorted(d for d in folder.iterdir() if any(d.glob("service-2.json*"))) if folder.is_dir() else []
    if not versions or any(versions[-1].glob("service-2.*-extras.json*")):
        return None
    for name in ("service-2.json", "service-2.json.gz"):  # botocore's order
        if (versions[-1] / name).is_file():
            return versions[-1] / name
    return None


@functools.cache
def operation_check(operation: str, service: str = "ecs") -> Check:
    """The check of `operation`'s input, compiled once per process."""
    model = service_model(service)
    return compile_shape(model["shapes"], model["operations"][operation]["input"]["shape"])


def compile_shape(shapes: dict[str, Any], name: str) -> Check:
    """The check of the shape called `name` in a service model's `shapes`."""
    return _Compiler(shapes).shape(name)


# A member's own traits that botocore merges into its shape and that change what validation checks.
_MEMBER_TRAITS = ("min", "required", "document", "union", "hostLabel", "jsonvalue", "location")


class _Compiler:
    def __init__(self, shapes: dict[str, Any]) -> None:
        self.shapes = shapes
        self.compiled: dict[str, Check] = {}

    def shape(self, name: str) -> Check:
        if name not in self.compiled:
            self.compiled[name] = lambda value: self.compiled[name](value)  # a recursive shape: bound below
            self.compiled[name] = self.node(self.shapes[name])
        return self.compiled[name]

    def member(self, ref: dict[str, Any]) -> Check:
        traits = {key: ref[key] for key in _MEMBER_TRAITS if key in ref}
        if not traits:
            return self.shape(ref["shape"])
        if {"hostLabel", "jsonvalue", "location"} & set(traits):  # none in ECS's JSON protocol
            return _unsure
        return self.node({**self.shapes[ref["shape"]], **traits})

    def node(self, node: dict[str, Any]) -> Check:
        kind = node["type"]
        if kind in ("timestamp", "blob") or node.get("jsonvalue"):
            return _unsure
        if kind == "structure" and node.get("document"):
            return _document
        types, minimum = _TYPES[kind], node.get("min")
        if kind == "structure":
            members = {name: self.member(ref) for name, ref in node.get("members", {}).items()}
            required, union = tuple(node.get("required", ())), bool(node.get("union"))

            def structure(value: Any) -> bool:
                if not isinstance(value, dict) or (union and len(value) != 1):
                    return False
                return (all(name in value for name in required)
                        and all(name in members and members[name](item) for name, item in value.items()))
            return structure
        if kind == "list":
            item = self.member(node["member"])
            return lambda value: (isinstance(value, types) and (minimum is None or len(value) >= minimum)
                                  and all(item(each) for each in value))
        if kind == "map":
            key, item = self.member(node["key"]), self.member(node["value"])
            return lambda value: isinstance(value, dict) and all(key(k) and item(v) for k, v in value.items())
        if kind == "string":
            return lambda value: isinstance(value, str) and (minimum is None or len(value) >= minimum)
        return lambda value: isinstance(value, types) and (minimum is None or value >= minimum)


def _unsure(value: Any) -> bool:
    raise Unsure


def _document(value: Any) -> bool:
    """botocore's document types: None, text, numbers, booleans, and lists and maps of them."""
    if value is None or isinstance(value, str | int | bool | float):
        return True
    if isinstance(value, dict):
        return all(_document(item) for item in value.values())
    if isinstance(value, list):
        return all(_document(item) for item in value)
    return False
