"""The `ecsflow` command line: options in, pipeline called, output printed. No logic of its own.

Each command declares only its own options; the option groups it shares with other commands (compose, settings,
AWS, output: `ecsflow.cli_options`) are added to its signature by `command()` and handed to it as one `Shared`
object, with the one `Environment` (streams, colour, width) that everything it prints goes through. Every command
ends the same way, in `finish`: its warnings, its notes, its result, its exit status. Heavy modules (boto3,
deepdiff, rich's console) are imported inside the commands that need them, so `ecsflow --help` stays fast.
"""

from __future__ import annotations

import functools
import inspect
import os
import signal
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ecsflow import __version__
from ecsflow.cli_options import (
    AWS,
    COMPOSE,
    CONCURRENCY,
    EXECUTE,
    NETWORK,
    OUTPUT,
    SETTINGS,
    STRICT,
    DiffFormat,
    FormatOpt,
    RenderFormat,
    ServicesArg,
    Shared,
    TextOrJson,
    duration_option,
    idempotency_key_option,
    seconds_of,
)
from ecsflow.errors import EcsflowError
from ecsflow.status import ExitStatus, interrupt_name, raise_terminated, status_of

if TYPE_CHECKING:
    from ecsflow.output import Environment

app = typer.Typer(
    name="ecsflow",
    help="Run your docker-compose services on ECS Fargate and from Airflow. New here? `ecsflow init` proposes the "
    "settings from your AWS account, `ecsflow render` shows what ECS would get.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def command(name: str | None = None, groups: tuple[tuple[inspect.Parameter, ...], ...] = (), **settings: Any):
    """Register a command whose last parameter is `shared: Shared`: its signature gains the options of
    `groups` (and OUTPUT), and errors end as one message and an exit status (see `status.py`)."""
    groups = (*groups, OUTPUT)

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(function, eval_str=True).parameters.values() if p.name != "shared"]
        extra = [parameter for group in groups for parameter in group]
        names = {p.name for p in extra}

        @functools.wraps(function)
        def wrapper(**kwargs: Any) -> None:
            from ecsflow import output

            shared = Shared.from_options({k: kwargs.pop(k) for k in list(kwargs) if k in names})
            output.begin_masking(os.environ)  # and the project's environment once loaded (Shared.project)
            try:
                function(**kwargs, shared=shared)
            except (typer.Exit, typer.Abort, typer.BadParameter):  # a usage error stays one: exit 2
                raise
            except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: whatever was running was asked to stop
                raise typer.Exit(status_of(exc)) from None
            except Exception as exc:
                # --debug: the traceback. A closed stdout (`| head -1`): typer ends the command as click and rich
                # do, quietly, with exit 1 (the output was not all delivered).
                if shared.debug or isinstance(exc, BrokenPipeError) and output.stdout_closed():
                    raise
                if isinstance(exc, EcsflowError):
                    output.print_error(exc, env=shared.env)
                else:  # the last line of defence: no traceback without --debug
                    output.print_unexpected(exc, env=shared.env)
                raise typer.Exit(status_of(exc)) from None
            finally:
                output.end_masking()

        wrapper.__signature__ = inspect.Signature(own + extra)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
        app.command(name, **settings)(wrapper)
        return wrapper

    return decorate


def finish(env: Environment | None, *, warnings: Iterable[str] = (), notes: Iterable[str] = (),
           show: Callable[..., None] | None = None, status: int = ExitStatus.SUCCESS) -> None:
    """How every command ends: its warnings, then its notes (stderr), then its result (``show(env=env)``),
    then its exit status (unless 0)."""
    from ecsflow import output

    output.print_messages("warning", list(warnings), env=env)
    output.print_messages("note", list(notes), env=env)
    if show is not None:
        show(env=env)
    if status:
        raise typer.Exit(status)


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


@command(groups=(COMPOSE, SETTINGS, NETWORK, STRICT), short_help="Print the task definitions (offline).")
def render(
    services: ServicesArg = None,
    output_format: Annotated[RenderFormat, typer.Option("--format", help="json or yaml.")] = RenderFormat.json,
    show_values: Annotated[bool, typer.Option(
        "--show-values", help="Print the requests as they are, secret-looking values included (to pipe into "
        "aws ecs register-task-definition).")] = False,
    ecs_services: Annotated[bool, typer.Option(
        "--services", help="Print the CreateService request of each server (x-ecsflow.kind: service, or "
        "inferred) instead; taskDefinition is its family.")] = False,
    *, shared: Shared,
) -> None:
    """Print each service's RegisterTaskDefinition request (offline: no AWS call). Values that look secret are
    masked unless --show-values."""
    from ecsflow import operations, output

    if ecs_services:
        specs = operations.service_specs(shared.project(), services=tuple(services or ()), strict=shared.strict)
        finish(shared.env, warnings=specs.warnings, notes=specs.notes, show=functools.partial(
            output.write_render, [spec.create_request(spec.family, preview=True) for spec in specs.specs],
            output_format, show_values=show_values, call="create-service"))
        return
    result = operations.render(shared.project(), services=tuple(services or ()), strict=shared.strict)
    finish(shared.env, warnings=result.warnings, notes=result.notes, show=functools.partial(
        output.write_render, [build.request for build in result.builds], output_format, show_values=show_values))


@command(groups=(COMPOSE, SETTINGS, NETWORK), short_help="Show each setting and where it came from.")
def config(output_format: FormatOpt = TextOrJson.text, *, shared: Shared) -> None:
    """Show every resolved setting with where it came from (default, consul, compose, env, flag)."""
    from ecsflow import operations, output

    result = operations.config(shared.project())
    finish(shared.env, warnings=result.warnings,
           show=functools.partial(output.write_settings, result.project.name, list(result.rows), output_format))


@command(groups=(COMPOSE, SETTINGS, NETWORK, AWS, CONCURRENCY, STRICT),
         short_help="Show what would change in ECS (writes nothing).")
def diff(
    services: ServicesArg = None,
    output_format: Annotated[DiffFormat, typer.Option("--format", help="text, markdown or json.")] = DiffFormat.text,
    exit_code: Annotated[bool, typer.Option("--exit-code", help="Exit 2 when something would change.")] = False,
    show_values: Annotated[bool, typer.Option(
        "--show-values", help="Show every value as it is, secret-looking ones included (not for pull-request "
        "comments).")] = False,
    verify: Annotated[bool, typer.Option(
        "--verify", help="Also run `ecsflow verify`'s checks; exit 1 when one fails.")] = False,
    no_services: Annotated[bool, typer.Option(
        "--no-services", help="Leave the ECS services (what `deploy` would create or update) out.")] = False,
    *, shared: Shared,
) -> None:
    """Compare the services' task definitions, and the servers' ECS services, with what ECS holds, and show the
    change set. Writes nothing."""
    from ecsflow import operations, output

    args = (shared.project(), shared.aws(), tuple(services or ()), shared.strict)
    result, checks = (operations.diff_and_verify(*args, with_services=not no_services) if verify else
                      (operations.plan(*args, with_services=not no_services), None))
    requests = {build.family: build.request for build in result.builds}
    status = (ExitStatus.ERROR if checks is not None and checks.failed else
              ExitStatus.CHANGES if exit_code and result.has_changes else ExitStatus.SUCCESS)
    notes = ((result.kinds_note,) if result.kinds_note else ()) + (result.services.notes if result.services else ())
    notes += tuple(checks.notes) if checks is not None else ()
    notes += (result.log_note,) if result.log_note else ()
    finish(shared.env, warnings=result.warnings, notes=notes, status=status,
           show=functools.partial(output.write_changeset, result.changeset, output_format, requests=requests,
                                  show_values=show_values, checks=checks and checks.results,
                                  services=result.services, log_groups=result.log_groups))


def _register_rate(text: str | None) -> str | None:
    from ecsflow.ecs.limits import parse_rate

    try:
        text is None or parse_rate(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    return text


@command(groups=(COMPOSE, SETTINGS, AWS, CONCURRENCY, STRICT), short_help="Register what is new or changed.")
def sync(
    services: ServicesArg = None,
    output_format: FormatOpt = TextOrJson.text,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be registered; register nothing.")] = False,
    register_rate: Annotated[str | None, typer.Option(
        "--register-rate", envvar="ECSFLOW_REGISTER_RATE", callback=_register_rate,
        help="Pace registrations: BURST,PER_SECOND (default: ECS's rate, 20,1), or off.")] = None,
    *, shared: Shared,
) -> None:
    """Register a new revision for each new or changed family, and nothing else (with log_retention, the log
    groups are created or given their retention first)."""
    from ecsflow import operations, output
    from ecsflow.ecs.limits import parse_rate

    aws = shared.aws() if register_rate is None else replace(shared.aws(), register_rate=parse_rate(register_rate))
    signal.signal(signal.SIGTERM, raise_terminated)  # a cancelled CI job: as Ctrl-C, then exit 143
    with output.progress("registering", env=shared.env) as progress:
        result = operations.sync(shared.project(), aws, services=tuple(services or ()), strict=shared.strict,
                                 dry_run=dry_run, on_start=progress.start, on_done=progress.advance)
    status = (status_of(result.interrupted) if result.interrupted else
              ExitStatus.ERROR if result.failed else ExitStatus.SUCCESS)
    finish(shared.env, warnings=result.plan.warnings, notes=result.notes, status=status, show=functools.partial(
        output.write_sync_outcomes, result.outcomes, output_format,
        interrupted=result.interrupted and interrupt_name(result.interrupted), log_groups=result.log_groups))


@command(groups=(COMPOSE, SETTINGS, NETWORK, AWS, EXECUTE, CONCURRENCY, STRICT),
         context_settings={"allow_interspersed_args": True},
         short_help="Run the servers as ECS services and follow each rollout.")
def deploy(
    ctx: typer.Context,
    services: ServicesArg = None,
    wait: Annotated[bool, typer.Option(
        "--wait/--no-wait", help="Wait for each rollout to end (--no-wait: `started` once ECS accepted it; a "
        "service others depend on is still waited for).")] = True,
    timeout: Annotated[str, typer.Option(
        "--timeout", callback=duration_option,
        help="How long each rollout (and each job) may take: 15m, 90s, 1h.")] = "15m",
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Say what would be created or updated, field by field; write nothing.")] = False,
    force_new_deployment: Annotated[bool, typer.Option(
        "--force-new-deployment", help="Start a new deployment of every service, changed or not (a newer image "
        "under the same tag).")] = False,
    poll_interval: Annotated[float | None, typer.Option(
        "--poll-interval", min=0.01, help="Seconds between DescribeServices polls at first (default 5, backing off "
        "to 15; 0.1 in the sandbox).")] = None,
    output_format: FormatOpt = TextOrJson.text,
    *, shared: Shared,
) -> None:
    """Run the servers of the compose file (x-ecsflow.kind: service, or inferred) as ECS services: register
    their task definitions as sync does, create or update each service (only what changed), in depends_on
    order, and follow each rollout to its end. The jobs they wait for (service_completed_successfully) run
    once first. Exit 1 when a service is not created, updated, unchanged or started."""
    from ecsflow import operations, output
    from ecsflow.output.deploy import DeployProgress, write_deploy_result

    execution = shared.local_execution(ctx)  # a usage error first: --execute-locally without --sandbox
    aws = replace(shared.aws(), execute_locally=execution.allowed)
    how = operations.DeployOptions(wait=wait, timeout=seconds_of(timeout), dry_run=dry_run,
                                   force_new_deployment=force_new_deployment, poll_interval=poll_interval,
                                   strict=shared.strict)
    live = DeployProgress(shared.env)
    signal.signal(signal.SIGTERM, raise_terminated)  # a cancelled CI job: as Ctrl-C, then exit 143
    with output.progress("registering", env=shared.env) as bar:
        callbacks = operations.DeployCallbacks(
            message=lambda kind, text: output.print_messages(kind, [text], env=shared.env),
            registering=bar.start, registered=bar.advance, event=live.event, progress=live.progress,
            job_lines=live.lines)
        result = operations.deploy(shared.project(), aws, tuple(services or ()), how, callbacks)
    status = (status_of(result.interrupted) if result.interrupted else
              ExitStatus.ERROR if result.failed else ExitStatus.SUCCESS)
    notes = ([execution.note] if execution.note else []) + list(result.notes)
    finish(shared.env, warnings=result.warnings, notes=notes, status=status, show=functools.partial(
        write_deploy_result, result, output_format, dry_run=dry_run,
        interrupted=result.interrupted and interrupt_name(result.interrupted)))


@command(groups=(COMPOSE, SETTINGS, NETWORK, AWS, CONCURRENCY, STRICT),
         short_help="Check that what the definitions name exists.")
def verify(
    services: ServicesArg = None,
    output_format: Annotated[DiffFormat, typer.Option("--format", help="text, markdown or json.")] = DiffFormat.text,
    *, shared: Shared,
) -> None:
    """Check that the images, roles, secrets' parameters, log groups, cluster and network the task definitions
    name exist (read-only; no secret value is read). Exit 1 when a check fails."""
    from ecsflow import operations, output

    with output.progress("checking", env=shared.env) as progress:
        result = operations.verify(shared.project(), shared.aws(), services=tuple(services or ()),
                                   strict=shared.strict, on_start=progress.start, on_done=progress.advance)
    finish(shared.env, warnings=result.warnings, notes=result.notes,
           show=functools.partial(output.write_verify, result.results, output_format),
           status=ExitStatus.ERROR if result.failed else ExitStatus.SUCCESS)


@command(groups=(COMPOSE, SETTINGS, NETWORK, AWS, CONCURRENCY, STRICT),
         short_help="Deregister old revisions (plans first).")
def prune(
    services: ServicesArg = None,
    keep: Annotated[int, typer.Option("--keep", min=1, help="ACTIVE revisions to keep per family, newest first.")] = 5,
    delete: Annotated[bool, typer.Option(
        "--delete", help="Also delete INACTIVE revisions (and those deregistered now).")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do it; without --yes, only show the plan.")] = False,
    all_families: Annotated[bool, typer.Option(
        "--all", help="Also prune families whose latest revision lacks the ecsflow:managed tag.")] = False,
    dags: Annotated[list[Path] | None, typer.Option(
        "--dags", help="Folder of generated DAGs: keep the revisions they pin (repeatable; gen-dag's --out "
        "folders are remembered).")] = None,
    orphans: Annotated[bool, typer.Option(
        "--orphans", help="Also prune the project's families that no service makes now (a service removed, "
        "its family renamed, or made a sidecar): every revision nothing uses or pins.")] = False,
    output_format: FormatOpt = TextOrJson.text,
    *, shared: Shared,
) -> None:
    """Deregister (with --delete, then delete) the old revisions of the project's families: never the newest
    --keep, never one that a service or task of the cluster uses or a generated DAG pins. Plans first: nothing
    changes without --yes. The project's families that no service makes now are named in a note (--orphans
    prunes them too)."""
    from ecsflow import operations, output

    with output.phases(env=shared.env) as bars:
        def planned(plan) -> None:
            bars.stop()
            output.write_prune_plan(plan, output_format, env=shared.env)

        how = operations.PruneOptions(keep=keep, delete=delete, include_unmanaged=all_families, execute=yes,
                                      dags=tuple(dags or ()), orphans=orphans)
        callbacks = operations.PruneCallbacks(phase=bars.start, advance=bars.advance, planned=planned)
        result = operations.prune(shared.project(), shared.aws(), tuple(services or ()), how, callbacks,
                                  strict=shared.strict)
    finish(shared.env, warnings=result.warnings, show=functools.partial(output.write_prune_result, result,
                                                                         output_format),
           status=ExitStatus.ERROR if result.failed else ExitStatus.SUCCESS)


@command(groups=(COMPOSE, SETTINGS, NETWORK, AWS, EXECUTE, STRICT),
         context_settings={"allow_interspersed_args": True}, short_help="Run one service once and follow its logs.")
def run(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="The service to run once.")],
    command: Annotated[list[str] | None, typer.Argument(
        help="After `--`: the command to run instead of the service's (its entrypoint stays).")] = None,
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
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", envvar="ECSFLOW_IDEMPOTENCY_KEY", callback=idempotency_key_option,
        help="Start the task with startedBy=KEY; if a task with it runs already, follow that one instead.")] = None,
    no_spot_fallback: Annotated[bool, typer.Option(
        "--no-spot-fallback", help="On FARGATE_SPOT, a Spot interruption is the result (exit 1), not a second "
        "task on FARGATE.")] = False,
    output_format: FormatOpt = TextOrJson.text,
    *, shared: Shared,
) -> None:
    """Run one service once on ECS Fargate: make its task definition current, start a task, stream its logs to
    stdout and exit with its exit code (1 if it stopped without one; 124 on --timeout, 130 on Ctrl-C, 143 on
    SIGTERM, after stopping the task). In the sandbox, nothing is executed without --execute-locally. Status
    goes to stderr; with --format json, stdout holds only the final JSON document and the logs go to stderr."""
    from ecsflow import operations, output

    out = shared.env  # where run prints (the name env is --env's)
    run_options = operations.RunOptions(
        service=service, environment=tuple(env or ()), command=tuple(command or ()), cpu=cpu, memory=memory,
        wait=not no_wait, timeout=timeout, poll_interval=poll_interval, strict=shared.strict,
        idempotency_key=idempotency_key, spot_fallback=False if no_spot_fallback else None)
    callbacks = operations.RunCallbacks(
        message=lambda kind, text: output.print_messages(kind, [text], env=out),
        status=lambda state: output.print_run_status(state, env=out),
        lines=lambda lines: output.write_log_lines(lines, env=out, to_stderr=output_format == "json"),
    )
    execution = shared.local_execution(ctx)  # a usage error first: --execute-locally without --sandbox
    output.print_messages("note", [execution.note] if execution.note else [], env=out)
    aws = replace(shared.aws(concurrency=1), execute_locally=execution.allowed)
    # SIGTERM (a CI job cancelled, `kill`) takes the Ctrl-C path: the task is asked to stop, then exit 143.
    signal.signal(signal.SIGTERM, raise_terminated)
    result = operations.run(shared.project(), aws, run_options, callbacks)
    finish(out, show=functools.partial(output.write_run_result, result, output_format), status=result.exit_status)


@command("gen-dag", groups=(COMPOSE, SETTINGS, NETWORK, AWS, STRICT), short_help="Write an Airflow DAG of the jobs.")
def gen_dag(
    services: ServicesArg = None,
    out: Annotated[Path, typer.Option(
        "--out", help="Folder for the three files: the DAG (<dag_id>.py), its task factories (<dag_id>_tasks.py, "
        "with _ for - and .) and its pools (<dag_id>.pools.json).")] = ...,
    dag_id: Annotated[str | None, typer.Option("--dag-id", help="DAG id (default: the project name).")] = None,
    schedule: Annotated[str | None, typer.Option(
        "--schedule", help="Cron expression or preset (default: x-ecsflow.schedule, else manual).")] = None,
    pin: Annotated[bool, typer.Option(
        "--pin", help="Run the current revisions (looked up in ECS), not the latest.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite files edited since they were generated.")] = False,
    *, shared: Shared,
) -> None:
    """Write an Airflow DAG that runs the services' task definitions with EcsRunTaskOperator."""
    from ecsflow import operations, output

    rendered, result = operations.gen_dag(shared.project(), out, tuple(services or ()), dag_id=dag_id,
                                          schedule=schedule, pin=pin, force=force, strict=shared.strict,
                                          aws=shared.aws())
    finish(shared.env, warnings=[*rendered.warnings, *result.generated.warnings],
           show=functools.partial(output.print_messages, "gen-dag", list(result.written.messages)),
           status=ExitStatus.SUCCESS if result.written.ok else ExitStatus.ERROR)


@command(groups=(COMPOSE, SETTINGS, NETWORK, AWS), short_help="Propose the settings from your AWS account.")
def init(
    write: Annotated[bool, typer.Option(
        "--write", help="Add the block to the compose file (the first one) if it has no top-level x-ecsflow; "
        "every other byte of the file is kept.")] = False,
    *, shared: Shared,
) -> None:
    """Propose the top-level x-ecsflow block from the AWS account the credentials can see: region, account
    (STS), cluster, an execution role trusted by ecs-tasks.amazonaws.com, the default VPC's subnets and security
    group, each with a comment saying where it came from. Read-only calls; settings already set are kept."""
    from ecsflow import operations, output

    result = operations.init(shared.project(), shared.aws(), write=write)
    finish(shared.env, warnings=result.warnings, notes=result.notes,
           show=functools.partial(output.write_text, result.block))


def main() -> None:
    from ecsflow import collector

    collector.pause()  # until ECS is connected: what start-up makes lives as long as the process
    if os.environ.get("NO_COLOR"):
        os.environ.setdefault("TERM", "dumb")
    try:
        app(prog_name="ecsflow")
    finally:
        # The process ends here: spare the interpreter's last garbage collections over everything it loaded
        # (with the sandbox, moto: half a second after a task that took less).
        import gc

        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
