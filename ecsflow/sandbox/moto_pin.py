"""The moto the sandbox's patches are written against (``moto_patches``: the task runner and task definitions;
``moto_services``: services), in one place: its minor version and every internal of it they use, checked before
the first patch goes on, so that another moto, or one whose internals moved, is a clear error and not a
sandbox that answers wrongly. And how a set of patches goes on and off when users nest (the sandbox opened inside
a test whose endpoint runs).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import threading
from collections.abc import Callable
from typing import Any

from ecsflow.errors import EcsflowError

MOTO_SERIES = "5.2"  # pyproject.toml: moto>=5.2,<5.3
# "module:attribute.attribute", with "(parameters)" that a call passes by name.
MOTO_INTERNALS = (
    "moto.core:DEFAULT_ACCOUNT_ID",
    "moto.core.responses:ActionResult",
    "moto.core.base_backend:AccountSpecificBackend.__getitem__",  # moto_patches: the stable default network
    "moto.core.base_backend:backend_lock",
    "moto.moto_api._internal:MotoRandom",
    "moto.ec2.utils:random",  # where every EC2 id is drawn from (random_id)
    "moto.ecs.exceptions:ECSException",
    "moto.ecs.exceptions:InvalidParameterException",
    "moto.ecs.exceptions:TaskDefinitionNotFoundException",
    "moto.ecs.models:ecs_backends",
    "moto.ecs.models:EC2ContainerServiceBackend.run_task",
    "moto.ecs.models:EC2ContainerServiceBackend.stop_task",
    "moto.ecs.models:EC2ContainerServiceBackend.describe_tasks",
    "moto.ecs.models:EC2ContainerServiceBackend._calculate_task_resource_requirements",
    "moto.ecs.models:EC2ContainerServiceBackend.describe_task_definition",
    "moto.ecs.models:EC2ContainerServiceBackend._get_cluster",
    "moto.ecs.models:EC2ContainerServiceBackend._get_service",
    "moto.ecs.models:EC2ContainerServiceBackend.create_cluster(cluster_name, capacity_providers)",
    "moto.ecs.models:EC2ContainerServiceBackend.create_service(cluster_str, service_name, desired_count, "
    "task_definition_str, load_balancers, scheduling_strategy, tags, deployment_controller, launch_type, "
    "service_registries, platform_version, propagate_tags, network_configuration, role_arn)",
    "moto.ecs.models:EC2ContainerServiceBackend.describe_services(cluster_str, service_names_or_arns)",
    "moto.ecs.responses:EC2ContainerServiceResponse.create_service",
    "moto.ecs.responses:EC2ContainerServiceResponse.update_service",
    "moto.ecs.responses:EC2ContainerServiceResponse.delete_service",
    "moto.ecs.responses:EC2ContainerServiceResponse.describe_services",
    "moto.ecs.responses:EC2ContainerServiceResponse.list_services",
    "moto.ecs.responses:EC2ContainerServiceResponse._get_param",
    "moto.ecs.responses:EC2ContainerServiceResponse._get_params",
    "moto.ecs.responses:EC2ContainerServiceResponse._include_in_response",
    "moto.ecs.responses:EC2ContainerServiceResponse._exclude_from_response",
    "moto.ecs.responses:DESCRIBE_SERVICES_TAGS",
    "moto.logs.models:logs_backends",
    "moto.logs.models:LogsBackend.create_log_group(log_group_name, tags)",  # logs_state: the kept groups
    "moto.logs.models:LogsBackend.put_retention_policy(log_group_name, retention_in_days)",
)


@functools.cache
def check_moto() -> None:
    """Stop with a clear error unless the installed moto is the one ``MOTO_INTERNALS`` were written against.
    (moto's EC2 internals, imported only when a task runs, are not checked here: see moto_import.py.)"""
    import moto

    version = getattr(moto, "__version__", "unknown")
    moved = [name for name in MOTO_INTERNALS if not _present(name)]
    if version.split(".")[:2] == MOTO_SERIES.split(".") and not moved:
        return
    found = f"moto {version} is installed" + (f", which lacks {', '.join(moved[:3])}"
                                                 + (f" and {len(moved) - 3} more" if len(moved) > 3 else "")
                                                 if moved else "")
    raise EcsflowError(f"the sandbox works with moto {MOTO_SERIES}.x, whose internals it patches, and {found}",
                       hint=f"pip install 'moto>={MOTO_SERIES},<{MOTO_SERIES.split('.')[0]}."
                       f"{int(MOTO_SERIES.split('.')[1]) + 1}' (what ecsflow[sandbox] installs)")


def _present(internal: str) -> bool:
    module_name, _, rest = internal.partition(":")
    path, _, parameters = rest.partition("(")
    try:
        value: Any = importlib.import_module(module_name)
        for part in path.split("."):
            value = getattr(value, part)
    except (ImportError, AttributeError):
        return False
    wanted = [p.strip() for p in parameters.rstrip(")").split(",") if p.strip()]
    return not wanted or set(wanted) <= set(inspect.signature(value).parameters)


class CountedPatches:
    """Patches put on by the first user and taken off by the last: the sandbox and the tests' endpoint may nest."""

    def __init__(self, make: Callable[[], list[Any]]) -> None:
        self._make = make
        self._patches: list[Any] = []
        self._users = 0
        self._lock = threading.Lock()

    def install(self) -> None:
        with self._lock:
            if self._users == 0:
                check_moto()
                self._patches = self._make()
                for patch in self._patches:
                    patch.start()
            self._users += 1

    def uninstall(self) -> None:
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users == 0:
                for patch in reversed(self._patches):
                    patch.stop()
                self._patches = []
