"""The options that the commands of `ecsflow` share, in groups (compose, settings, network, AWS, output...), and
`Shared`: what a command was given of them, as the pipeline takes them. `ecsflow.cli.command` adds a command's
groups to its signature and hands it one `Shared`.

Only typer is imported here, so that `ecsflow --help` stays fast; what the options turn into (operations,
output) is imported when a command runs.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ecsflow.output import Environment


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


class RenderFormat(StrEnum):
    json = "json"
    yaml = "yaml"


class DiffFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


# --- the option groups that commands share -----------------------------------------------------------------

COMPOSE = (
    _option("file", Annotated[list[Path] | None, typer.Option(
        "--file", "-f", help="Compose file (repeatable; merged in order). Default: compose.yaml or "
        "docker-compose.yml.")], None),
    _option("project_name", Annotated[str | None, typer.Option(
        "--project-name", "-p", help="Project name (default: `name:` or the folder).")], None),
    _option("env_file", Annotated[list[Path] | None, typer.Option(
        "--env-file", help="Env file for interpolation, instead of .env.")], None),
    _option("profile", Annotated[list[str] | None, typer.Option(
        "--profile", help="Enable a compose profile (repeatable).")], None),
)
# Settings flags: the highest layer of the settings precedence (see `ecsflow config`). Parameter name ->
# setting name.
SETTINGS = (
    _option("region", Annotated[str | None, typer.Option(
        "--region", help="AWS region (else ECSFLOW_REGION, x-ecsflow, Consul).")], None),
    _option("execution_role", Annotated[str | None, typer.Option(
        "--execution-role", help="Task execution role ARN.")], None),
    _option("task_role", Annotated[str | None, typer.Option("--task-role", help="Task role ARN.")], None),
    _option("registry", Annotated[str | None, typer.Option(
        "--registry", help="Registry prefix for images without a host.")], None),
    _option("consul_prefix", Annotated[str | None, typer.Option(
        "--consul-prefix", help="Read settings and values from Consul KV under this prefix (CONSUL_HTTP_ADDR).")],
        None),
)
NETWORK = (
    _option("cluster", Annotated[str | None, typer.Option("--cluster", help="ECS cluster.")], None),
    _option("subnet", Annotated[list[str] | None, typer.Option("--subnet", help="Subnet id (repeatable).")], None),
    _option("security_group", Annotated[list[str] | None, typer.Option(
        "--security-group", help="Security group id (repeatable).")], None),
)
_SETTING_OF = {"subnet": "subnets", "security_group": "security_groups"}
AWS = (
    _option("aws_profile", Annotated[str | None, typer.Option(
        "--aws-profile", envvar="AWS_PROFILE", help="AWS credentials profile (AWS_PROFILE works too).")], None),
    _option("endpoint_url", Annotated[str | None, typer.Option(
        "--endpoint-url", help="ECS endpoint (AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECS work too).")], None),
    _option("sandbox", Annotated[bool, typer.Option(
        "--sandbox", envvar="ECSFLOW_SANDBOX",
        help="Use the embedded ECS sandbox (moto, state in .ecsflow/sandbox/ next to the compose file).")], False),
)
# On the commands that can start a sandbox task (ecsflow.execution: the sandbox executes nothing without it).
EXECUTE = (
    _option("execute_locally", Annotated[bool, typer.Option(
        "--execute-locally", envvar="ECSFLOW_EXECUTE_LOCALLY",
        help="With --sandbox: run the task's command as a process on this machine (no container, no image). "
        "Without it the sandbox makes the family current and executes nothing.")], False),
)
CONCURRENCY = (
    _option("concurrency", Annotated[int, typer.Option(
        "--concurrency", min=1, max=64, help="Families handled at once.")], 8),
)
STRICT = (
    _option("strict", Annotated[bool, typer.Option("--strict", help="Treat keys impossible on Fargate as errors.")],
            False),
)
OUTPUT = (
    _option("debug", Annotated[bool, typer.Option("--debug", help="Show tracebacks.")], False),
    _option("no_color", Annotated[bool, typer.Option("--no-color", help="No colours (NO_COLOR works too).")], False),
)


@dataclass(frozen=True)
class Shared:
    """The shared options a command was given; those of groups it does not have keep these defaults."""

    file: list[Path] | None = None
    project_name: str | None = None
    env_file: list[Path] | None = None
    profile: list[str] | None = None
    settings_flags: dict[str, Any] = field(default_factory=dict)  # setting name -> flag value (None: not given)
    aws_profile: str | None = None
    endpoint_url: str | None = None
    sandbox: bool = False
    execute_locally: bool = False
    concurrency: int = 8
    strict: bool = False
    debug: bool = False
    env: Environment | None = None  # where the command prints: from --no-color (and NO_COLOR), made once here

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Shared:
        from ecsflow.output import Environment

        env = Environment.for_command(no_color=options.pop("no_color", False))
        flags = {_SETTING_OF.get(p.name, p.name): options.pop(p.name) for p in SETTINGS + NETWORK if p.name in options}
        return cls(settings_flags={k: tuple(v) if isinstance(v, list) else v for k, v in flags.items()}, env=env,
                   **options)

    def project(self):
        """The compose options and the settings flags, as the pipeline takes them."""
        from ecsflow.operations import ProjectOptions
        from ecsflow.output import mask_environment

        return ProjectOptions(files=tuple(self.file or ()), project_name=self.project_name,
                              env_files=tuple(self.env_file or ()), profiles=tuple(self.profile or ()),
                              flags=self.settings_flags,
                              on_loaded=lambda project: mask_environment(project.environment))

    def aws(self, concurrency: int | None = None):
        """Where ECS is: the sandbox, an endpoint, or AWS's usual chain."""
        from ecsflow.operations import AwsFlags

        return AwsFlags(profile=self.aws_profile, endpoint_url=self.endpoint_url, sandbox=self.sandbox,
                        concurrency=concurrency or self.concurrency, on_note=self.note)

    def note(self, text: str) -> None:
        """A note from the adapters (the sandbox waiting for another ecsflow), printed as the command's own."""
        from ecsflow import output

        output.print_messages("note", [text], env=self.env)

    def local_execution(self, ctx: typer.Context):
        """The opt-in to executing sandbox tasks on this machine, decided (``ecsflow.execution.decide``)."""
        from ecsflow.execution import MeaninglessOptIn, decide

        source = ctx.get_parameter_source("execute_locally")
        try:
            return decide(sandbox=self.sandbox, asked=self.execute_locally,
                          from_variable=getattr(source, "name", None) == "ENVIRONMENT")
        except MeaninglessOptIn as exc:
            raise typer.BadParameter(str(exc), param_hint="'--execute-locally'") from None


def duration_option(text: str | None) -> str | None:
    if text is not None:
        try:
            seconds_of(text)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    return text


def seconds_of(text: str) -> float:
    """A duration as Compose writes one (`15m`, `1m30s`, `90s`), or a number of seconds; more than 0."""
    from ecsflow.compose.units import parse_duration

    try:
        seconds = float(text)
    except ValueError:
        seconds = parse_duration(text.strip())
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{text!r} is not a duration of more than 0 seconds (write 15m, 90s or 1h)")
    return seconds


ServicesArg = Annotated[list[str] | None, typer.Argument(help="Services to include (default: all).")]
FormatOpt = Annotated[TextOrJson, typer.Option("--format", help="text or json.")]
