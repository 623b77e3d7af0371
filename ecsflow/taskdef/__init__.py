"""One compose service + settings -> the keyword arguments of `ecs.register_task_definition`.

Pure: no AWS client, no printing, no network. The mapping is docs/design.md section 5 (every rule:
docs/reference/mapping.md). What a compose file written for Docker Compose holds that ECS takes in another form
is adapted with a warning or a note (an error with strict=True); what would make ECS refuse the request, or
silently run something else than the user wrote, is a BuildError before any AWS call.

- select: which services become task definitions (x-ecsflow.skip and provider: services are left out)
- build: the task level (family, roles, size, platform, tags) and the checks of the whole request
- container: the container definition; variables: its environment and secrets
- context: the service being mapped, and its warnings, notes and errors
"""

from ecsflow.taskdef.build import (
    MAX_TASK_DEFINITION_BYTES,
    TaskDefinitionBuild,
    build_task_definition,
    build_task_definitions,
)
from ecsflow.taskdef.container import APP_PROTOCOLS, HEALTHCHECK_RANGES, MAX_STOP_TIMEOUT
from ecsflow.taskdef.select import Selection, select_services

__all__ = [
    "APP_PROTOCOLS", "HEALTHCHECK_RANGES", "MAX_STOP_TIMEOUT", "MAX_TASK_DEFINITION_BYTES", "Selection",
    "TaskDefinitionBuild", "build_task_definition", "build_task_definitions", "select_services",
]
