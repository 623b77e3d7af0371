"""One function per command: joins the pure core (load, build, diff) to the adapters (ECS, Consul)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsflow.compose.loader import load_project
from ecsflow.compose.model import ComposeProject


@dataclass(frozen=True)
class ProjectOptions:
    """How to find and read the compose project (the options shared with `docker compose`), and the
    settings given on the command line (setting name -> value; None or () when not given)."""

    files: tuple[Path, ...] = ()
    project_name: str | None = None
    env_files: tuple[Path, ...] = ()
    profiles: tuple[str, ...] = ()
    flags: Mapping[str, Any] = field(default_factory=dict)


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


def resolve(project: ComposeProject, options: ProjectOptions, environ: Mapping[str, str] | None = None):
    """The settings for this project: defaults < Consul < x-ecsflow < ECSFLOW_* < flags."""
    from ecsflow.consul import resolve_with_consul

    return resolve_with_consul(
        compose=project.extensions.get("x-ecsflow"),
        compose_file=project.files[0].name if project.files else None,
        environ=os.environ if environ is None else environ,
        flags=options.flags,
    )


@dataclass(frozen=True)
class ConfigResult:
    project: ComposeProject
    rows: tuple[tuple[str, str, str], ...]
    warnings: tuple[str, ...] = ()


def config(options: ProjectOptions) -> ConfigResult:
    from ecsflow.settings import settings_to_rows

    messages = _Messages()
    project = load(options, messages)
    resolved = resolve(project, options)
    return ConfigResult(project=project, rows=tuple(settings_to_rows(resolved)),
                        warnings=tuple(messages.warnings) + tuple(resolved.warnings))


def render(options: ProjectOptions, services: tuple[str, ...] = (), strict: bool = False) -> RenderResult:
    from ecsflow.taskdef import build_task_definitions

    messages = _Messages()
    project = load(options, messages)
    resolved = resolve(project, options)
    builds = build_task_definitions(project, resolved.settings, list(services) or None, strict=strict,
                                    consul_values=resolved.values, consul_secrets=resolved.secrets)
    warnings = list(messages.warnings) + list(resolved.warnings)
    notes: list[str] = []
    for build in builds:
        warnings.extend(build.warnings)
        notes.extend(build.notes)
    return RenderResult(project=project, builds=tuple(builds), warnings=tuple(warnings), notes=tuple(notes))
