"""Everything ecsflow prints. Machine output goes to stdout; messages, warnings and notes to stderr.

Everything printed is masked first (``ecsflow.masking``): by name and shape, and by value with the secret-looking
variables of this process's environment and, once the compose project is loaded, of the environment it was
interpolated with (``mask_environment``). Only ``diff --show-values`` and ``render --show-values`` print values
as they are.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from ecsflow.errors import EcsflowError
from ecsflow.masking import Masker

# The current command's masker (see begin_masking); None: this process's environment only.
_masker: Masker | None = None


def begin_masking(environ: Mapping[str, str] | None = None) -> None:
    """Start a command: mask the secret-looking values of ``environ`` (this process's environment) from now on."""
    global _masker
    _masker = Masker.for_environment(os.environ if environ is None else environ)


def mask_environment(environment: Mapping[str, str]) -> None:
    """Also mask the secret-looking values of ``environment`` (a loaded project's: shell + .env)."""
    global _masker
    _masker = _current_masker().with_environment(environment)


def end_masking() -> None:
    global _masker
    _masker = None


def _current_masker() -> Masker:
    return _masker if _masker is not None else Masker.for_environment(os.environ)


def _mask(text: str) -> str:
    return _current_masker().text(text)


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
    console.print(f"[bold red]error:[/] {escape(_mask(where + ': ' if where else ''))}{escape(_mask(error.message))}",
                  soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(_mask(error.hint))}", soft_wrap=True)


def print_unexpected(exc: BaseException, *, no_color: bool = False) -> None:
    from rich.markup import escape

    console = _stderr_console(no_color)
    console.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: {escape(_mask(str(exc)))}", soft_wrap=True)
    console.print("[dim]hint:[/] run again with --debug for the traceback, and report it", soft_wrap=True)


def print_messages(kind: str, messages: list[str], *, no_color: bool = False) -> None:
    """Warnings and notes, one line each, on stderr."""
    if not messages:
        return
    from rich.markup import escape

    console = _stderr_console(no_color)
    style = {"warning": "yellow", "note": "cyan"}.get(kind, "white")
    for message in messages:
        console.print(f"[{style}]{kind}:[/] {escape(_mask(message))}", soft_wrap=True)


def write_document(value: Any, fmt: str = "json", *, mask: bool = True) -> None:
    """A JSON (or YAML) document on stdout, and nothing else; masked unless `mask` is False (already masked, or
    --show-values)."""
    if mask:
        value = _current_masker().tree(value)
    if fmt == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False))
    else:
        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def write_render(requests: list[dict], fmt: str = "json", *, show_values: bool = False, no_color: bool = False) -> None:
    """`ecsflow render`: the RegisterTaskDefinition requests, masked unless show_values; a note on stderr says
    when something was masked, since a masked request is not the one to register."""
    masked = requests if show_values else _current_masker().tree(requests)
    write_document(masked, fmt, mask=False)
    if masked != requests:
        print_messages("note", ["values that look secret are shown as (sensitive); pass --show-values to print "
                                "the requests as they are (to pipe into aws ecs register-task-definition)"],
                       no_color=no_color)


def write_settings(project: str, rows: list[tuple[str, str, str]], fmt: str, *, no_color: bool = False) -> None:
    """`ecsflow config`: each setting, its value and its origin."""
    rows = [(name, _mask(value) if isinstance(value, str) else value, origin) for name, value, origin in rows]
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
                    no_color: bool = False, checks: tuple | None = None) -> None:
    """`ecsflow diff`: a plan in the style of `terraform plan` (text), a pull-request comment (markdown),
    or the documented JSON. Masked (see ecsflow.masking) unless show_values. ``checks`` (`diff --verify`):
    verify's results, after the plan (JSON: under "verify")."""
    from ecsflow.diff import to_json_dict

    requests = requests or {}
    if not show_values:
        masker = _current_masker()
        changeset = masker.changeset(changeset)
        requests = {family: masker.tree(request) for family, request in requests.items()}
    if fmt == "json":
        document = to_json_dict(changeset)
        if checks is not None:
            from ecsflow.verify import to_json

            document["verify"] = _current_masker().tree(to_json(checks))
        write_document(document, mask=False)
        return
    if fmt == "markdown":
        sys.stdout.write(_changeset_markdown(changeset, requests))
        sys.stdout.flush()
        if checks is not None:
            write_verify(checks, fmt)
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
            for change in family.changes:
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
    if checks is not None:
        console.print()
        write_verify(checks, fmt, no_color=no_color)


def _md_cell(value: Any) -> str:
    text = value if isinstance(value, str) else _value_text(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if "`" not in text else text


def _changeset_markdown(changeset, requests: dict[str, dict]) -> str:
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
            for change in family.changes:
                sign = "+" if change.old is None else "-" if change.new is None else "~"
                old = "" if change.old is None else _md_cell(change.old)
                new = "" if change.new is None else _md_cell(change.new)
                lines.append(f"| {sign} | `{change.path}` | {old} | {new} |")
        lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def write_sync_outcomes(outcomes, fmt: str, *, no_color: bool = False) -> None:
    """`ecsflow sync`: one row per family (registered / unchanged / failed), or the documented JSON; a row's
    detail is its error, else its note, else its ARN."""
    from dataclasses import replace

    outcomes = [replace(o, error=o.error and _mask(o.error), note=o.note and _mask(o.note))
                for o in outcomes]
    if fmt == "json":
        write_document({"families": [
            {"service": o.service, "family": o.family, "status": o.status, "revision": o.revision,
             "arn": o.arn, "error": o.error, "note": o.note}
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
        detail = o.error or o.note or o.arn or ""  # a note (a lost answer, a duplicate removed) before the ARN
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
        self._progress = self._task = self._eta = None

    def __enter__(self) -> progress:
        return self

    def start(self, total: int, eta: Any = None) -> None:
        """``eta()``: the seconds left, for paced registrations (a burst, then one a second), where rich's
        estimate from the speed so far would be wrong; it is asked again as each family is done."""
        console = _stderr_console(self.no_color)
        if total <= self.threshold or not console.is_terminal:
            return
        from rich.progress import Progress, TextColumn, TimeRemainingColumn

        self._eta, left = eta, TextColumn("about {task.fields[left]:.0f} s left", style="progress.remaining")
        columns = [left if eta and isinstance(c, TimeRemainingColumn) else c for c in Progress.get_default_columns()]
        self._progress = Progress(*columns, console=console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(self.label, total=total, left=eta() if eta else 0)

    def advance(self, _outcome: Any = None) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, **({"left": self._eta()} if self._eta else {}))

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()


class phases:
    """One progress bar per phase of a long command (`prune`: listing, deregistering, deleting)."""

    def __init__(self, *, no_color: bool = False) -> None:
        self.no_color = no_color
        self._bar: progress | None = None

    def __enter__(self) -> phases:
        return self

    def start(self, label: str, total: int) -> None:
        self.stop()
        self._bar = progress(label, no_color=self.no_color)
        self._bar.start(total)

    def advance(self, *_: Any) -> None:
        if self._bar is not None:
            self._bar.advance()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.__exit__()
            self._bar = None

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------------------
# ecsflow verify and ecsflow prune

_STYLE = {"ok": "green", "missing": "red", "failed": "red", "error": "bold red", "not checked": "dim",
          "skip": "dim", "head": "bold", "keep": "green", "remove": "red", "summary": "bold", "skipped": "yellow"}


def write_verify(results, fmt: str, *, no_color: bool = False) -> None:
    """`ecsflow verify`: one line per family and check (text table, markdown for a pull request, JSON)."""
    from ecsflow.verify import FAILING, summary_text, to_json

    if fmt == "json":
        write_document(to_json(results))
        return
    rows = [(r.family or "(settings)", r.check, _mask(r.subject), r.status, _mask(r.detail or "")) for r in results]
    if fmt == "markdown":
        lines = ["### ecsflow verify", "", f"**{summary_text(results)}.**", "",
                 "| family | check | subject | status | detail |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {_md_cell(row[0])} | {row[1]} | {_md_cell(row[2])} | "
                  f"{f'**{row[3]}**' if row[3] in FAILING else row[3]} | {row[4].replace('|', '/')} |" for row in rows]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("family", "check", "subject", "status", "detail"):
        table.add_column(column, overflow="fold")
    for family, check, subject, status, detail in rows:
        table.add_row(escape(family), check, escape(subject), f"[{_STYLE[status]}]{status}[/]", escape(detail))
    console = _stdout_console(no_color)
    console.print(table)
    console.print(f"verify: {summary_text(results)}.")


def write_prune_plan(plan, fmt: str, *, no_color: bool = False) -> None:
    """`ecsflow prune`'s plan, as soon as it is made (before --yes acts on it): its notes on stderr and, in
    text, the plan on stdout (the JSON document comes whole at the end)."""
    from ecsflow.prune import plan_lines

    print_messages("note", list(plan.notes), no_color=no_color)
    if fmt != "json":
        write_lines(plan_lines(plan), no_color=no_color)


def write_prune_result(result, fmt: str, *, no_color: bool = False) -> None:
    """The end of `ecsflow prune`: the JSON document (plan and outcomes), or (text) what --yes did."""
    from ecsflow.prune import outcome_lines, plan_to_json

    if fmt == "json":
        write_document(plan_to_json(result.plan, result.outcomes))
    elif result.outcomes is not None:
        write_lines(outcome_lines(result.outcomes), no_color=no_color)
    elif result.plan.counts["deregister"] or result.plan.counts["delete"]:
        write_lines([("summary", "Nothing changed: run again with --yes to do it.")], no_color=no_color)


def write_lines(lines: list[tuple[str, str]], *, no_color: bool = False) -> None:
    """``(kind, text)`` lines on stdout (`prune`'s plan and outcomes), masked, styled by kind."""
    from rich.markup import escape

    console = _stdout_console(no_color)
    for kind, text in lines:
        style = _STYLE.get(kind)
        console.print(f"[{style}]{escape(_mask(text))}[/]" if style else escape(_mask(text)), soft_wrap=True)


# ---------------------------------------------------------------------------------------------------------
# ecsflow run


def print_run_status(state, *, no_color: bool = False) -> None:
    """A task status change, on stderr: `task 1a2b3c4d: RUNNING`."""
    from rich.markup import escape

    style = {"STOPPED": "bold", "RUNNING": "green"}.get(state.last_status, "cyan")
    status = escape(_mask(state.last_status))
    _stderr_console(no_color).print(f"[dim]task {escape(state.task_id)}:[/] [{style}]{status}[/]", soft_wrap=True)


def write_log_lines(lines: list[str], *, to_stderr: bool = False) -> None:
    """The container's log lines (no markup, no colour): stdout, or stderr when stdout carries JSON. Known
    secret values, URL passwords and credential shapes are masked; the job's own words are not guessed at."""
    stream = sys.stderr if to_stderr else sys.stdout
    masker = _current_masker()
    stream.write("".join(masker.text(line, arguments=False) + "\n" for line in lines))
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
    reason = f" ({escape(_mask(result.stopped_reason))})" if plain else ""
    if result.timed_out:
        console.print(f"[red]task {escape(task_id)} timed out[/]: {escape(result.status)}{reason}; exit 124",
                      soft_wrap=True)
    elif result.exit_code is None:
        console.print(f"[bold red]task {escape(task_id)} stopped without an exit code[/]{reason}", soft_wrap=True)
    else:
        style = "green" if result.exit_code == 0 else "bold red"
        console.print(f"[{style}]task {escape(task_id)} exited with code {result.exit_code}[/]{reason}",
                      soft_wrap=True)
