"""The `ecsflow` command line: options in, pipeline called, output printed. No logic of its own.

Heavy modules (boto3, deepdiff, rich's console) are imported inside the commands that need them, so
`ecsflow --help` stays fast.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ecsflow import __version__
from ecsflow.errors import EcsflowError

app = typer.Typer(
    name="ecsflow",
    help="Run your docker-compose services on ECS Fargate and from Airflow: render, diff, sync, gen-dag, run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

FileOpt = Annotated[list[Path] | None, typer.Option(
    "--file", "-f", help="Compose file (repeatable; merged in order). Default: compose.yaml or docker-compose.yml.")]
ProjectOpt = Annotated[str | None, typer.Option(
    "--project-name", "-p", help="Project name (default: `name:` or the folder).")]
EnvFileOpt = Annotated[list[Path] | None, typer.Option(
    "--env-file", help="Env file for interpolation, instead of .env.")]
ProfileOpt = Annotated[list[str] | None, typer.Option("--profile", help="Enable a compose profile (repeatable).")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
NoColorOpt = Annotated[bool, typer.Option("--no-color", help="No colours (NO_COLOR works too).")]
ServicesArg = Annotated[list[str] | None, typer.Argument(help="Services to include (default: all).")]
# Settings flags: the highest layer of the settings precedence (see `ecsflow config`).
RegionOpt = Annotated[str | None, typer.Option("--region", help="AWS region (else ECSFLOW_REGION, x-ecsflow, Consul).")]
ConsulPrefixOpt = Annotated[str | None, typer.Option(
    "--consul-prefix", help="Read settings and values from Consul KV under this prefix (CONSUL_HTTP_ADDR).")]
ClusterOpt = Annotated[str | None, typer.Option("--cluster", help="ECS cluster.")]
ExecutionRoleOpt = Annotated[str | None, typer.Option("--execution-role", help="Task execution role ARN.")]
TaskRoleOpt = Annotated[str | None, typer.Option("--task-role", help="Task role ARN.")]
SubnetOpt = Annotated[list[str] | None, typer.Option("--subnet", help="Subnet id (repeatable).")]
SecurityGroupOpt = Annotated[list[str] | None, typer.Option("--security-group", help="Security group id (repeatable).")]
RegistryOpt = Annotated[str | None, typer.Option("--registry", help="Registry prefix for images without a host.")]


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


# Enums, so that a wrong --format is typer's usage error (exit 2), checked before anything runs.
FormatOpt = Annotated[TextOrJson, typer.Option("--format", help="text or json.")]
AwsProfileOpt = Annotated[str | None, typer.Option(
    "--aws-profile", envvar="AWS_PROFILE", help="AWS credentials profile (AWS_PROFILE works too).")]
EndpointOpt = Annotated[str | None, typer.Option(
    "--endpoint-url", help="ECS endpoint (AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_ECS work too).")]
SandboxOpt = Annotated[bool, typer.Option(
    "--sandbox", envvar="ECSFLOW_SANDBOX",
    help="Use the embedded ECS sandbox (moto, state in .ecsflow/sandbox/ next to the compose file).")]
ConcurrencyOpt = Annotated[int, typer.Option("--concurrency", min=1, max=64, help="Families handled at once.")]
StrictOpt = Annotated[bool, typer.Option("--strict", help="Treat keys impossible on Fargate as errors.")]


def project_options(file, project_name, env_file, profile, **flags):
    """The shared compose options and the settings flags, as the pipeline takes them."""
    from ecsflow.operations import ProjectOptions

    return ProjectOptions(
        files=tuple(file or ()), project_name=project_name, env_files=tuple(env_file or ()),
        profiles=tuple(profile or ()),
        flags={name: (tuple(value) if isinstance(value, list) else value) for name, value in flags.items()},
    )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ecsflow {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """ecsflow: docker-compose services as ECS Fargate task definitions."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is (exit 143 = 128 + SIGTERM)."""


def _raise_terminated(signum, frame):
    raise Terminated()


def error_boundary(command):
    """Map EcsflowError to one message and exit code 1; a traceback only with --debug."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False)
        no_color = kwargs.get("no_color", False)
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except EcsflowError as exc:
            if debug:
                raise
            from ecsflow.output import print_error

            print_error(exc, no_color=no_color)
            raise typer.Exit(1) from None
        except KeyboardInterrupt as exc:
            raise typer.Exit(143 if isinstance(exc, Terminated) else 130) from None
        except Exception as exc:  # noqa: BLE001 - last line of defence: no traceback without --debug
            if debug:
                raise
            from ecsflow.output import print_unexpected

            print_unexpected(exc, no_color=no_color)
            raise typer.Exit(1) from None

    return wrapper


@app.command()
@error_boundary
def render(
    services: ServicesArg = None,
    file: FileOpt = None,
    project_name: ProjectOpt = None,
    env_file: EnvFileOpt = None,
    profile: ProfileOpt = None,
    output_format: Annotated[RenderFormat, typer.Option("--format", help="json or yaml.")] = RenderFormat.json,
    strict: Annotated[bool, typer.Option("--strict", help="Treat keys impossible on Fargate as errors.")] = False,
    region: RegionOpt = None,
    execution_role: ExecutionRoleOpt = None,
    task_role: TaskRoleOpt = None,
    registry: RegistryOpt = None,
    consul_prefix: ConsulPrefixOpt = None,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Print each service's RegisterTaskDefinition request (offline: no AWS call)."""
    from ecsflow import operations, output

    options = project_options(file, project_name, env_file, profile, region=region, execution_role=execution_role,
                              task_role=task_role, registry=registry, consul_prefix=consul_prefix)
    result = operations.render(options, services=tuple(services or ()), strict=strict)
    output.print_messages("warning", list(result.warnings), no_color=no_color)
    output.print_messages("note", list(result.notes), no_color=no_color)
    output.write_document([build.request for build in result.builds], output_format)


@app.command()
@error_boundary
def config(
    file: FileOpt = None,
    project_name: ProjectOpt = None,
    env_file: EnvFileOpt = None,
    profile: ProfileOpt = None,
    output_format: FormatOpt = TextOrJson.text,
    region: RegionOpt = None,
    cluster: ClusterOpt = None,
    execution_role: ExecutionRoleOpt = None,
    task_role: TaskRoleOpt = None,
    subnet: SubnetOpt = None,
    security_group: SecurityGroupOpt = None,
    registry: RegistryOpt = None,
    consul_prefix: ConsulPrefixOpt = None,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Show every resolved setting with where it came from (default, consul, compose, env, flag)."""
    from ecsflow import operations, output

    options = project_options(file, project_name, env_file, profile, region=region, cluster=cluster,
                              execution_role=execution_role, task_role=task_role, subnets=subnet,
                              security_groups=security_group, registry=registry, consul_prefix=consul_prefix)
    result = operations.config(options)
    output.print_messages("warning", list(result.warnings), no_color=no_color)
    output.write_settings(result.project.name, list(result.rows), output_format, no_color=no_color)


def _aws_flags(aws_profile, endpoint_url, sandbox, concurrency):
    from ecsflow.operations import AwsFlags

    return AwsFlags(profile=aws_profile, endpoint_url=endpoint_url, sandbox=sandbox, concurrency=concurrency)


@app.command()
@error_boundary
def diff(
    services: ServicesArg = None,
    file: FileOpt = None,
    project_name: ProjectOpt = None,
    env_file: EnvFileOpt = None,
    profile: ProfileOpt = None,
    output_format: Annotated[DiffFormat, typer.Option("--format", help="text, markdown or json.")] = DiffFormat.text,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 2 when something would change.")] = False,
    show_values: Annotated[bool, typer.Option(
        "--show-values", help="Show values of secret-looking variables instead of masking them.")] = False,
    strict: StrictOpt = False,
    region: RegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    sandbox: SandboxOpt = False,
    concurrency: ConcurrencyOpt = 8,
    execution_role: ExecutionRoleOpt = None,
    task_role: TaskRoleOpt = None,
    registry: RegistryOpt = None,
    consul_prefix: ConsulPrefixOpt = None,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Compare the services' task definitions with what ECS holds, and show the change set. Writes nothing."""
    from ecsflow import operations, output

    options = project_options(file, project_name, env_file, profile, region=region, execution_role=execution_role,
                              task_role=task_role, registry=registry, consul_prefix=consul_prefix)
    result = operations.plan(options, _aws_flags(aws_profile, endpoint_url, sandbox, concurrency),
                             services=tuple(services or ()), strict=strict)
    output.print_messages("warning", list(result.warnings), no_color=no_color)
    requests = {build.family: build.request for build in result.builds}
    output.write_changeset(result.changeset, output_format, requests=requests, show_values=show_values,
                           no_color=no_color)
    if exit_code and result.changeset.has_changes:
        raise typer.Exit(2)


@app.command()
@error_boundary
def sync(
    services: ServicesArg = None,
    file: FileOpt = None,
    project_name: ProjectOpt = None,
    env_file: EnvFileOpt = None,
    profile: ProfileOpt = None,
    output_format: FormatOpt = TextOrJson.text,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be registered; register nothing.")] = False,
    strict: StrictOpt = False,
    region: RegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    sandbox: SandboxOpt = False,
    concurrency: ConcurrencyOpt = 8,
    execution_role: ExecutionRoleOpt = None,
    task_role: TaskRoleOpt = None,
    registry: RegistryOpt = None,
    consul_prefix: ConsulPrefixOpt = None,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Register a new revision for each new or changed family, and nothing else."""
    from ecsflow import operations, output

    options = project_options(file, project_name, env_file, profile, region=region, execution_role=execution_role,
                              task_role=task_role, registry=registry, consul_prefix=consul_prefix)
    with output.progress("registering", no_color=no_color) as progress:
        result = operations.sync(options, _aws_flags(aws_profile, endpoint_url, sandbox, concurrency),
                                 services=tuple(services or ()), strict=strict, dry_run=dry_run,
                                 on_start=progress.start, on_done=progress.advance)
    output.print_messages("warning", list(result.plan.warnings), no_color=no_color)
    output.write_sync_outcomes(result.outcomes, output_format, no_color=no_color)
    if result.failed:
        raise typer.Exit(1)


@app.command(context_settings={"allow_interspersed_args": True})
@error_boundary
def run(
    service: Annotated[str, typer.Argument(help="The service to run once.")],
    command: Annotated[list[str] | None, typer.Argument(
        help="After `--`: the command to run instead of the service's (its entrypoint stays).")] = None,
    file: FileOpt = None,
    project_name: ProjectOpt = None,
    env_file: EnvFileOpt = None,
    profile: ProfileOpt = None,
    env: Annotated[list[str] | None, typer.Option(
        "--env", "-e", help="NAME=VALUE for the container (repeatable; NAME alone takes this shell's value). "
        "Visible in the RunTask request: not for secrets.")] = None,
    cpu: Annotated[int | None, typer.Option("--cpu", help="Task CPU units for this run (1024 = 1 vCPU).")] = None,
    memory: Annotated[int | None, typer.Option("--memory", help="Task memory (MiB) for this run.")] = None,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Start the task, print its ARN, and return.")] = False,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", min=0.001, help="Stop the task after this many seconds and exit 124.")] = None,
    poll_interval: Annotated[float | None, typer.Option(
        "--poll-interval", min=0.01, help="Seconds between status/log polls (default 2; 0.1 in the sandbox).")] = None,
    output_format: FormatOpt = TextOrJson.text,
    strict: StrictOpt = False,
    region: RegionOpt = None,
    aws_profile: AwsProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    sandbox: SandboxOpt = False,
    cluster: ClusterOpt = None,
    subnet: SubnetOpt = None,
    security_group: SecurityGroupOpt = None,
    execution_role: ExecutionRoleOpt = None,
    task_role: TaskRoleOpt = None,
    registry: RegistryOpt = None,
    consul_prefix: ConsulPrefixOpt = None,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Run one service once on ECS Fargate: make its task definition current, start a task, stream its logs to
    stdout and exit with its exit code (1 if it stopped without one, 124 on --timeout, 130 on Ctrl-C, which
    stops the task). Status goes to stderr; with --format json, stdout holds only the final JSON document
    and the logs go to stderr."""
    from ecsflow import operations, output

    options = project_options(file, project_name, env_file, profile, region=region, cluster=cluster,
                              subnets=subnet, security_groups=security_group, execution_role=execution_role,
                              task_role=task_role, registry=registry, consul_prefix=consul_prefix)
    run_options = operations.RunOptions(
        service=service, environment=tuple(env or ()), command=tuple(command or ()), cpu=cpu, memory=memory,
        wait=not no_wait, timeout=timeout, poll_interval=poll_interval, strict=strict)
    callbacks = operations.RunCallbacks(
        message=lambda kind, text: output.print_messages(kind, [text], no_color=no_color),
        status=lambda state: output.print_run_status(state, no_color=no_color),
        lines=lambda lines: output.write_log_lines(lines, to_stderr=output_format == "json"),
    )
    # SIGTERM (a CI job cancelled, `kill`) takes the Ctrl-C path: the task is asked to stop, then exit 143.
    signal.signal(signal.SIGTERM, _raise_terminated)
    result = operations.run(options, _aws_flags(aws_profile, endpoint_url, sandbox, 1), run_options, callbacks)
    output.write_run_result(result, output_format, no_color=no_color)
    if result.exit_status:
        raise typer.Exit(result.exit_status)


@app.command("gen-dag")
@error_boundary
def gen_dag(
    services: ServicesArg = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for <dag_id>.py and <dag_id>.pools.json.")] = ...,
    file: FileOpt = None,
    project_name: ProjectOpt = None,
    env_file: EnvFileOpt = None,
    profile: ProfileOpt = None,
    dag_id: Annotated[str | None, typer.Option("--dag-id", help="DAG id (default: the project name).")] = None,
    schedule: Annotated[str | None, typer.Option(
        "--schedule", help="Cron expression or preset (default: x-ecsflow.schedule, else manual).")] = None,
    pin: Annotated[bool, typer.Option(
        "--pin", help="Run the current revisions (looked up in ECS), not the latest.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite files edited since they were generated.")] = False,
    strict: StrictOpt = False,
    region: RegionOpt = None,
    cluster: ClusterOpt = None,
    subnet: SubnetOpt = None,
    security_group: SecurityGroupOpt = None,
    execution_role: ExecutionRoleOpt = None,
    task_role: TaskRoleOpt = None,
    registry: RegistryOpt = None,
    consul_prefix: ConsulPrefixOpt = None,
    aws_profile: AwsProfileOpt = None,
    endpoint_url: EndpointOpt = None,
    sandbox: SandboxOpt = False,
    debug: DebugOpt = False,
    no_color: NoColorOpt = False,
) -> None:
    """Write an Airflow DAG that runs the services' task definitions with EcsRunTaskOperator."""
    from ecsflow import operations, output

    options = project_options(file, project_name, env_file, profile, region=region, cluster=cluster, subnets=subnet,
                              security_groups=security_group, execution_role=execution_role, task_role=task_role,
                              registry=registry, consul_prefix=consul_prefix)
    rendered, result = operations.gen_dag(options, out, tuple(services or ()), dag_id=dag_id, schedule=schedule,
                                          pin=pin, force=force, strict=strict,
                                          aws=_aws_flags(aws_profile, endpoint_url, sandbox, 8))
    output.print_messages("warning", list(rendered.warnings) + list(result.generated.warnings), no_color=no_color)
    output.print_messages("gen-dag", list(result.written.messages), no_color=no_color)
    if not result.written.ok:
        raise typer.Exit(1)


def main() -> None:
    if os.environ.get("NO_COLOR"):
        os.environ.setdefault("TERM", "dumb")
    app(prog_name="ecsflow")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
