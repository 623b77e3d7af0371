"""`verify`, `prune` and `run` output."""

from __future__ import annotations

from ecsflow.output.console import (
    Environment,
    current_masker,
    mask,
    md_cell,
    print_messages,
    stderr_console,
    stdout_console,
    write_document,
)

_STYLE = {"ok": "green", "missing": "red", "failed": "red", "error": "bold red", "not checked": "dim",
          "skip": "dim", "head": "bold", "keep": "green", "remove": "red", "summary": "bold", "skipped": "yellow"}


def write_verify(results, fmt: str, *, env: Environment) -> None:
    """`ecsflow verify`: one line per family and check (text table, markdown for a pull request, JSON)."""
    from ecsflow.verify import FAILING, summary_text, to_json

    if fmt == "json":
        write_document(to_json(results), env=env)
        return
    rows = [(r.family or "(settings)", r.check, mask(r.subject), r.status, mask(r.detail or "")) for r in results]
    if fmt == "markdown":
        lines = ["### ecsflow verify", "", f"**{summary_text(results)}.**", "",
                 "| family | check | subject | status | detail |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {md_cell(row[0])} | {row[1]} | {md_cell(row[2])} | "
                  f"{f'**{row[3]}**' if row[3] in FAILING else row[3]} | {row[4].replace('|', '/')} |" for row in rows]
        env.stdout.write("\n".join(lines) + "\n")
        env.stdout.flush()
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("family", "check", "subject", "status", "detail"):
        table.add_column(column, overflow="fold")
    for family, check, subject, status, detail in rows:
        table.add_row(escape(family), check, escape(subject), f"[{_STYLE[status]}]{status}[/]", escape(detail))
    console = stdout_console(env)
    console.print(table)
    console.print(f"verify: {summary_text(results)}.")


def write_prune_plan(plan, fmt: str, *, env: Environment) -> None:
    """`ecsflow prune`'s plan, as soon as it is made (before --yes acts on it): its notes on stderr and, in
    text, the plan on stdout (the JSON document comes whole at the end)."""
    from ecsflow.prune import plan_lines

    print_messages("note", list(plan.notes), env=env)
    if fmt != "json":
        write_lines(plan_lines(plan), env=env)


def write_prune_result(result, fmt: str, *, env: Environment) -> None:
    """The end of `ecsflow prune`: the JSON document (plan and outcomes), or (text) what --yes did."""
    from ecsflow.prune import outcome_lines, plan_to_json

    if fmt == "json":
        write_document(plan_to_json(result.plan, result.outcomes), env=env)
    elif result.outcomes is not None:
        write_lines(outcome_lines(result.outcomes), env=env)
    elif result.plan.counts["deregister"] or result.plan.counts["delete"]:
        write_lines([("summary", "Nothing changed: run again with --yes to do it.")], env=env)


def write_lines(lines: list[tuple[str, str]], *, env: Environment) -> None:
    """``(kind, text)`` lines on stdout (`prune`'s plan and outcomes), masked, styled by kind."""
    from rich.markup import escape

    console = stdout_console(env)
    for kind, text in lines:
        style = _STYLE.get(kind)
        console.print(f"[{style}]{escape(mask(text))}[/]" if style else escape(mask(text)), soft_wrap=True)


# ---------------------------------------------------------------------------------------------------------
# ecsflow run


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
    if result.timed_out:
        console.print(f"[red]task {escape(task_id)} timed out[/]: {escape(result.status)}{reason}; exit 124",
                      soft_wrap=True)
    elif result.exit_code is None:
        console.print(f"[bold red]task {escape(task_id)} stopped without an exit code[/]{reason}", soft_wrap=True)
    else:
        style = "green" if result.exit_code == 0 else "bold red"
        console.print(f"[{style}]task {escape(task_id)} exited with code {result.exit_code}[/]{reason}",
                      soft_wrap=True)
