"""One function per command: joins the pure core (load, build, diff) to the adapters (ECS, Consul)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ecsflow.compose.loader import load_project
from ecsflow.compose.model import ComposeProject


@dataclass(frozen=True)
class ProjectOptions:
    """How to find and read the compose project: the options every command shares with `docker compose`."""

    files: tuple[Path, ...] = ()
    project_name: str | None = None
    env_files: tuple[Path, ...] = ()
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True)
class RenderResult:
    project: ComposeProject
    builds: tuple = ()
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass
class _Messages:
    warnings: list[str] = field(default_factory=list)


def load(options: ProjectOptions, messages: _Messages) -> ComposeProject:
    return load_project(options.files, project_name=options.project_name, env_files=options.env_files,
                        profiles=options.profiles, warn=messages.warnings.append)


def render(options: ProjectOptions, services: tuple[str, ...] = (), strict: bool = False) -> RenderResult:
    from ecsflow.settings import Settings
    from ecsflow.taskdef import build_task_definitions

    messages = _Messages()
    project = load(options, messages)
    builds = build_task_definitions(project, Settings(), list(services) or None, strict=strict)
    warnings = list(messages.warnings)
    notes: list[str] = []
    for build in builds:
        warnings.extend(build.warnings)
        notes.extend(build.notes)
    return RenderResult(project=project, builds=tuple(builds), warnings=tuple(warnings), notes=tuple(notes))
