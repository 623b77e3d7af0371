"""ECS requests checked with botocore's own validator against the ECS service model, offline, before any call.

The service model is botocore's data (no network, no credentials), so `render` checks every request even
offline; `run` checks its RunTask request before the first write. botocore's rules compiled from that model
(`request_check.py`) pass a valid request without importing botocore; botocore itself words the problems of
any other.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from ecsflow.ecs.request_check import Unsure, operation_check, service_model
from ecsflow.errors import BuildError, EcsflowError


@functools.cache
def _input_shape(operation: str) -> Any:
    import botocore.session  # here, so that importing ecsflow (and `ecsflow --help`) stays fast

    session = botocore.session.get_session()
    session.register_component("data_loader", data_loader(session.get_config_variable("data_path")))
    return session.get_service_model("ecs").operation_model(operation).input_shape


@functools.cache
def data_loader(data_path: str | None) -> Any:
    """One loader of botocore's static data files per data path, for every session ecsflow makes (and, in the
    sandbox, moto's): each file (the ECS model, endpoints.json) is then parsed once per process."""
    import botocore.loaders

    return botocore.loaders.create_loader(data_path)


def _problems(operation: str, request: Mapping[str, Any]) -> str | None:
    try:
        if operation_check(operation)(request):
            return None  # botocore's rules, compiled from its model: botocore would find nothing
    except Unsure:
        pass
    from botocore.validate import ParamValidator  # finds and words the problems

    report = ParamValidator().validate(request, _input_shape(operation))
    return report.generate_report() if report.has_errors() else None


def check_register_request(request: Mapping[str, Any], service: str | None = None) -> None:
    """A RegisterTaskDefinition request that botocore would refuse is a BuildError."""
    problems = _problems("RegisterTaskDefinition", request)
    if problems:
        raise BuildError(
            f"the request for family '{request.get('family')}' does not fit the ECS API:\n{problems}", service=service,
            hint="this is a bug in ecsflow's mapping unless the value came verbatim from the compose file",
        )


def check_run_request(request: Mapping[str, Any]) -> None:
    """A RunTask request that botocore would refuse is an EcsflowError."""
    problems = _problems("RunTask", request)
    if problems:
        raise EcsflowError(f"the RunTask request does not fit the ECS API:\n{problems}",
                           hint="check the -e values, the command and the network settings")


def check_create_service_request(request: Mapping[str, Any], service: str | None = None) -> None:
    """A CreateService request that botocore would refuse is a BuildError (a bug in ecsflow's service mapping
    unless a value came verbatim from the compose file)."""
    _check_service_request("CreateService", request, service)


def check_update_service_request(request: Mapping[str, Any], service: str | None = None) -> None:
    """An UpdateService request that botocore would refuse is a BuildError."""
    _check_service_request("UpdateService", request, service)


def _check_service_request(operation: str, request: Mapping[str, Any], service: str | None) -> None:
    problems = _problems(operation, request)
    if problems:
        name = request.get("serviceName", request.get("service"))
        raise BuildError(f"the {operation} request for ECS service '{name}' does not fit the ECS API:\n{problems}",
                         service=service, hint="this is a bug in ecsflow's mapping unless the value came verbatim "
                         "from the compose file")


def api_features():
    """What this botocore's ECS model can send that older ones cannot (`ecsflow.service.deployment.ApiFeatures`)."""
    from ecsflow.service.deployment import ApiFeatures

    # Read from the model botocore would load (request_check), without importing botocore: ~60 ms of diff's.
    model = service_model("ecs")
    shapes = model["shapes"]

    def member_shape(shape: str, member: str) -> dict[str, Any]:
        return shapes[shapes[shape]["members"][member]["shape"]]

    create = model["operations"]["CreateService"]["input"]["shape"]
    breaker = member_shape(shapes[create]["members"]["deploymentConfiguration"]["shape"], "deploymentCircuitBreaker")
    return ApiFeatures(failure_threshold="thresholdConfiguration" in breaker["members"])
