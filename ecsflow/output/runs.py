"""`run` output: the task's status changes, its log lines, and how it ended."""

from __future__ import annotations

from ecsflow.output.console import Environment, current_masker, mask, stderr_console, write_document


def print_run_status(state, *, env: Environment) -> None:
    """A task status change, on stderr: `task 1a2b3c4d: RUNNING`."""
    from rich.markup import escape

    style = {"STOPPED": "bold", "RUNNING": "green"}.get(state.last_status, "cyan")
    status = escape(mask(state.last_status))
    stderr_console(env).print(f"[dim]task {escape(state.task_id)}:[/] [{style}]{status}[/]", soft_wrap=True)


def write_log_lines(lines: list[str], *, env: Environment, to_stderr: bool = False) -> None:
    """The container's log lines (no markup, no colour): stdout, or stderr when stdout carries JSON. Known
    secret values, URL passwords and credential shapes are masked; the job's own words are not guessed at."""
    stream = env.stderr if to_stderr else env.stdout
    masker = current_masker()
    stream.write("".join(masker.text(line, arguments=False) + "\n" for line in lines))
    stream.flush()


def write_run_result(result, fmt: str, *, env: Environment) -> None:
    """The end of `ecsflow run`: the documented JSON on stdout, or (text) one line on stderr; with --no-wait
    the text form prints the task ARN on stdout. A task not executed (the sandbox without the opt-in) is said
    so, with the command it would have run (masked)."""
    if fmt == "json":
        write_document(result.to_json(), env=env)
        return
    from rich.markup import escape

    console = stderr_console(env)
    if not result.executed:  # the sandbox without the opt-in: the message says what would have run, and how
        console.print(f"[yellow]{escape(mask(result.message or 'not executed'))}[/]", soft_wrap=True)
        return
    task_id = result.task_arn.rsplit("/", 1)[-1]
    if not result.waited:
        env.stdout.write(result.task_arn + "\n")
        env.stdout.flush()
        console.print(f"[dim]task {escape(task_id)}:[/] started ({escape(result.status)}); not waiting for it",
                      soft_wrap=True)
        return
    # "Essential container in task exited" says nothing the exit code does not.
    plain = result.stopped_reason and result.stopped_reason != "Essential container in task exited"
    reason = f" ({escape(mask(result.stopped_reason))})" if plain else ""
    after = ""
    if result.interrupted:  # the last task replaced one (or more) that Spot interrupted
        earlier = ", ".join(escape(task.task_arn.rsplit("/", 1)[-1]) for task in result.interrupted)
        after = f" (on {escape(result.capacity_provider or 'FARGATE')}, after Spot interrupted task {earlier})"
    if result.timed_out:
        console.print(f"[red]task {escape(task_id)} timed out[/]: {escape(result.status)}{reason}; exit 124",
                      soft_wrap=True)
    elif result.stop is not None and result.stop.infrastructure:
        cause = escape(_cause(result.stop.cause or "", mask(result.stopped_reason or "")))
        if result.stop.cause == "SpotInterruption" and not result.spot_fallback:
            console.print(f"[bold red]task {escape(task_id)} was interrupted by Spot[/] ({cause}): --no-spot-fallback "
                          "(or x-ecsflow.spot_fallback: false) makes that the run's result; exit 1", soft_wrap=True)
        else:
            console.print(f"[bold red]task {escape(task_id)} was stopped by the infrastructure, not by its "
                          f"container[/] ({cause}){after}; exit 1", soft_wrap=True)
    elif result.exit_code is None:
        console.print(f"[bold red]task {escape(task_id)} stopped without an exit code[/]{reason}{after}",
                      soft_wrap=True)
    else:
        style = "green" if result.exit_code == 0 else "bold red"
        console.print(f"[{style}]task {escape(task_id)} exited with code {result.exit_code}[/]{reason}{after}",
                      soft_wrap=True)


def _cause(cause: str, reason: str) -> str:
    """`CAUSE: REASON`, the cause said once: a reason that names it already is said as it is."""
    if not reason:
        return cause
    return reason if cause in reason else f"{cause}: {reason}"
