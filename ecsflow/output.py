"""Everything ecsflow prints. Machine output goes to stdout; messages, warnings and notes to stderr."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from ecsflow.errors import EcsflowError


def _stderr_console(no_color: bool = False):
    from rich.console import Console

    # emoji=False: rich would turn `:secret:` inside a Secrets Manager ARN into an emoji.
    return Console(stderr=True, no_color=no_color or bool(os.environ.get("NO_COLOR")), highlight=False, emoji=False)


def _stdout_console(no_color: bool = False):
    from rich.console import Console

    console = Console(no_color=no_color or bool(os.environ.get("NO_COLOR")), highlight=False, emoji=False)
    if not console.is_terminal:
        console.width = 240  # piped output: do not fold long ARNs at 80 columns
    return console


def print_error(error: EcsflowError, *, no_color: bool = False) -> None:
    from rich.markup import escape

    console = _stderr_console(no_color)
    where = error.where()
    console.print(f"[bold red]error:[/] {escape(where + ': ' if where else '')}{escape(error.message)}",
                  soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(error.hint)}", soft_wrap=True)


def print_unexpected(exc: BaseException, *, no_color: bool = False) -> None:
    from rich.markup import escape

    console = _stderr_console(no_color)
    console.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: {escape(str(exc))}", soft_wrap=True)
    console.print("[dim]hint:[/] run again with --debug for the traceback, and report it", soft_wrap=True)


def print_messages(kind: str, messages: list[str], *, no_color: bool = False) -> None:
    """Warnings and notes, one line each, on stderr."""
    if not messages:
        return
    from rich.markup import escape

    console = _stderr_console(no_color)
    style = {"warning": "yellow", "note": "cyan"}.get(kind, "white")
    for message in messages:
        console.print(f"[{style}]{kind}:[/] {escape(message)}", soft_wrap=True)


def write_document(value: Any, fmt: str = "json") -> None:
    """A JSON (or YAML) document on stdout, and nothing else."""
    if fmt == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False))
    else:
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def write_settings(project: str, rows: list[tuple[str, str, str]], fmt: str, *, no_color: bool = False) -> None:
    """`ecsflow config`: each setting, its value and its origin."""
    if fmt == "json":
        write_document({"project": project,
                        "settings": [{"name": n, "value": v, "origin": o} for n, v, o in rows]})
        return
    from rich.table import Table

    table = Table(title=f"settings for project {project}", title_justify="left", box=None, pad_edge=False)
    for column in ("setting", "value", "origin"):
        table.add_column(column, overflow="fold")
    from rich.markup import escape

    for name, value, origin in rows:
        table.add_row(escape(name), escape(value or "-"), escape(origin))
    _stdout_console(no_color).print(table)


def _value_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False)


def _new_family_summary(request: dict | None) -> list[str]:
    """What a new family would hold, in a line or two: the images and the task size."""
    if not request:
        return []
    lines = [f"cpu {request.get('cpu')} / memory {request.get('memory')} MiB"]
    for container in request.get("containerDefinitions", []):
        lines.append(f"container {container.get('name')}: {container.get('image')}")
    return lines


def plan_summary(counts: dict[str, int]) -> str:
    return (f"{counts['new']} to register as new, {counts['changed']} to register as changed, "
            f"{counts['unchanged']} unchanged")


def write_changeset(changeset, fmt: str, *, requests: dict[str, dict] | None = None, show_values: bool = False,
                    no_color: bool = False) -> None:
    """`ecsflow diff`: a plan in the style of `terraform plan` (text), a pull-request comment (markdown),
    or the documented JSON. Values of secret-looking variables are masked unless show_values."""
    from ecsflow.diff import mask_secret_values, to_json_dict

    requests = requests or {}
    if fmt == "json":
        write_document(to_json_dict(changeset, show_values=show_values))
        return
    if fmt == "markdown":
        sys.stdout.write(_changeset_markdown(changeset, requests, show_values))
        sys.stdout.flush()
        return
    from rich.markup import escape

    console = _stdout_console(no_color)
    for family in changeset.families:
        if family.status == "unchanged":
            continue
        if family.status == "new":
            console.print(f"[green]+ {escape(family.family)}[/] (service {escape(family.service)}): new family")
            for line in _new_family_summary(requests.get(family.family)):
                console.print(f"    [green]+[/] {escape(line)}")
        else:
            console.print(f"[yellow]~ {escape(family.family)}[/] (service {escape(family.service)}): "
                          f"changes against live revision {family.live_revision}")
            for change in mask_secret_values(family.changes, show_values):
                if change.old is None:
                    console.print(f"    [green]+[/] {escape(change.path)}: {escape(_value_text(change.new))}")
                elif change.new is None:
                    console.print(f"    [red]-[/] {escape(change.path)}: {escape(_value_text(change.old))}")
                else:
                    console.print(f"    [yellow]~[/] {escape(change.path)}: {escape(_value_text(change.old))} "
                                  f"-> {escape(_value_text(change.new))}")
        console.print()
    counts = changeset.counts
    if changeset.has_changes:
        console.print(f"[bold]Plan:[/] {plan_summary(counts)}.")
    else:
        console.print(f"[bold]No changes.[/] {counts['unchanged']} task definition(s) match ECS.")


def _md_cell(value: Any) -> str:
    text = value if isinstance(value, str) else _value_text(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if "`" not in text else text


def _changeset_markdown(changeset, requests: dict[str, dict], show_values: bool) -> str:
    from ecsflow.diff import mask_secret_values

    counts = changeset.counts
    lines = [
        "### ecsflow diff",
        "",
        (f"**{plan_summary(counts)}.**" if changeset.has_changes else
         f"**No changes.** {counts['unchanged']} task definition(s) match ECS."),
        "",
    ]
    for family in changeset.families:
        if family.status == "unchanged":
            continue
        marker = "+" if family.status == "new" else "~"
        where = "new family" if family.status == "new" else f"changed, live revision {family.live_revision}"
        lines += ["<details>", f"<summary>{marker} <code>{family.family}</code> (service "
                  f"<code>{family.service}</code>): {where}</summary>", ""]
        if family.status == "new":
            lines += [f"- {line}" for line in _new_family_summary(requests.get(family.family))]
        else:
            lines += ["| | path | live | desired |", "| --- | --- | --- | --- |"]
            for change in mask_secret_values(family.changes, show_values):
                sign = "+" if change.old is None else "-" if change.new is None else "~"
                old = "" if change.old is None else _md_cell(change.old)
                new = "" if change.new is None else _md_cell(change.new)
                lines.append(f"| {sign} | `{change.path}` | {old} | {new} |")
        lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def write_sync_outcomes(outcomes, fmt: str, *, no_color: bool = False) -> None:
    """`ecsflow sync`: one row per family (registered / unchanged / failed), or the documented JSON."""
    if fmt == "json":
        write_document({"families": [
            {"service": o.service, "family": o.family, "status": o.status, "revision": o.revision,
             "arn": o.arn, "error": o.error}
            for o in outcomes
        ]})
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("service", "family", "status", "revision", "detail"):
        table.add_column(column, overflow="fold")
    # `would-register` only appears with --dry-run.
    style = {"registered": "green", "would-register": "cyan", "unchanged": "dim", "failed": "red"}
    for o in outcomes:
        detail = o.error or o.arn or ""
        table.add_row(escape(o.service), escape(o.family), f"[{style[o.status]}]{o.status}[/]",
                      "" if o.revision is None else str(o.revision), escape(detail))
    console = _stdout_console(no_color)
    console.print(table)
    counts = {status: sum(1 for o in outcomes if o.status == status) for status in style}
    summary = f"{counts['registered']} registered, {counts['unchanged']} unchanged, {counts['failed']} failed."
    if counts["would-register"]:
        summary = f"dry run: {counts['would-register']} would be registered, {counts['unchanged']} unchanged."
    console.print(summary)


class progress:
    """A progress bar on stderr while families are registered, only on a terminal and for more than a few."""

    threshold = 3

    def __init__(self, label: str, *, no_color: bool = False) -> None:
        self.label, self.no_color = label, no_color
        self._progress = None
        self._task = None

    def __enter__(self) -> progress:
        return self

    def start(self, total: int) -> None:
        console = _stderr_console(self.no_color)
        if total <= self.threshold or not console.is_terminal:
            return
        from rich.progress import Progress

        self._progress = Progress(console=console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=total)

    def advance(self, _outcome: Any = None) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()


# ---------------------------------------------------------------------------------------------------------
# ecsflow run


def print_run_status(state, *, no_color: bool = False) -> None:
    """A task status change, on stderr: `task 1a2b3c4d: RUNNING`."""
    from rich.markup import escape

    style = {"STOPPED": "bold", "RUNNING": "green"}.get(state.last_status, "cyan")
    _stderr_console(no_color).print(f"[dim]task {escape(state.task_id)}:[/] [{style}]{escape(state.last_status)}[/]",
                                    soft_wrap=True)


def write_log_lines(lines: list[str], *, to_stderr: bool = False) -> None:
    """The container's log lines, verbatim (no markup, no colour): stdout, or stderr when stdout carries JSON."""
    stream = sys.stderr if to_stderr else sys.stdout
    stream.write("".join(line + "\n" for line in lines))
    stream.flush()


def write_run_result(result, fmt: str, *, no_color: bool = False) -> None:
    """The end of `ecsflow run`: the documented JSON on stdout, or (text) one line on stderr; with --no-wait
    the text form prints the task ARN on stdout."""
    if fmt == "json":
        write_document(result.to_json())
        return
    from rich.markup import escape

    console = _stderr_console(no_color)
    task_id = result.task_arn.rsplit("/", 1)[-1]
    if not result.waited:
        sys.stdout.write(result.task_arn + "\n")
        sys.stdout.flush()
        console.print(f"[dim]task {escape(task_id)}:[/] started ({escape(result.status)}); not waiting for it",
                      soft_wrap=True)
        return
    # "Essential container in task exited" says nothing the exit code does not.
    plain = result.stopped_reason and result.stopped_reason != "Essential container in task exited"
    reason = f" ({escape(result.stopped_reason)})" if plain else ""
    if result.timed_out:
        console.print(f"[red]task {escape(task_id)} timed out[/]: {escape(result.status)}{reason}; exit 124",
                      soft_wrap=True)
    elif result.exit_code is None:
        console.print(f"[bold red]task {escape(task_id)} stopped without an exit code[/]{reason}", soft_wrap=True)
    else:
        style = "green" if result.exit_code == 0 else "bold red"
        console.print(f"[{style}]task {escape(task_id)} exited with code {result.exit_code}[/]{reason}",
                      soft_wrap=True)
