"""The shared corpus's cases with Compose's own output, and the requests the builder makes of them: for
test_builder_corpus (synced and diffed) and test_ecs_request_check (checked against botocore's validator)."""

from __future__ import annotations

from builder_oracle import BUILT_SETTINGS, SETTINGS
from compose_oracle import CORPUS, case_inputs, parse_global_args

from ecsflow.compose.loader import load_project
from ecsflow.errors import BuildError
from ecsflow.taskdef import build_task_definition

CASES = sorted(p for p in CORPUS.iterdir() if (p / "expected.config.json").is_file()) if CORPUS.is_dir() else []


def built_requests() -> list[tuple[str, dict]]:
    """(case/service, the RegisterTaskDefinition request built) for every service of every case the builder
    does not refuse."""
    requests = []
    for case in CASES:
        args, env = case_inputs(case)
        project = load_project(cwd=case, environ={"PATH": "/usr/bin:/bin", **env}, **parse_global_args(args))
        for service in project.services:
            try:
                settings = SETTINGS if service.image else BUILT_SETTINGS
                requests.append((f"{case.name}/{service.name}",
                                 build_task_definition(project, service, settings).request))
            except BuildError:
                continue  # refused (test_builder_corpus counts those): nothing is registered
    return requests
