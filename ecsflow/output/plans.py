"""`render`, `config`, `diff` and `sync` output."""

from __future__ import annotations

import json
from typing import Any

from ecsflow.output.console import (
    Environment,
    current_masker,
    mask,
    md_cell,
    print_messages,
    stdout_console,
    write_document,
)
from ecsflow.output.verify import write_verify


def write_render(requests: list[dict], fmt: str = "json", *, show_values: bool = False, env: Environment,
                 call: str = "register-task-definition") -> None:
    """`ecsflow render`: the RegisterTaskDefinition requests (or, with --services, the CreateService ones:
    ``call``), masked unless show_values; a note on stderr says when something was masked, since a masked
    request is not the one to send."""
    masked = requests if show_values else current_masker().tree(requests)
    write_document(masked, fmt, env=env, mask=False)
    if masked != requests:
        print_messages("note", ["values that look secret are shown as (sensitive); pass --show-values to print "
                               f"the requests as they are (to pipe into aws ecs {call})"], env=env)


def write_settings(project: str, rows: list[tuple[str, str, str]], fmt: str, *, env: Environment) -> None:
    """`ecsflow config`: each setting, its value and its origin."""
    rows = [(name, mask(value) if isinstance(value, str) else value, origin) for name, value, origin in rows]
    if fmt == "json":
        write_document({"project": project,
                        "settings": [{"name": n, "value": v, "origin": o} for n, v, o in rows]}, env=env)
        return
    from rich.table import Table

    table = Table(title=f"settings for project {project}", title_justify="left", box=None, pad_edge=False)
    for column in ("setting", "value", "origin"):
        table.add_column(column, overflow="fold")
    from rich.markup import escape

    for name, value, origin in rows:
        table.add_row(escape(name), escape(value or "-"), escape(origin))
    stdout_console(env).print(table)


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
                    env: Environment, checks: tuple | None = None, services=None) -> None:
    """`ecsflow diff`: a plan in the style of `terraform plan` (text), a pull-request comment (markdown),
    or the documented JSON. Masked (see ecsflow.masking) unless show_values. ``checks`` (`diff --verify`):
    verify's results, after the plan (JSON: under "verify"). ``services``: the ECS services' plan
    (``ecsflow.operations.service_plan.ServicesPlan``), after the families (JSON: under "services")."""
    from ecsflow.diff import to_json_dict
    from ecsflow.output.services import services_json, services_markdown, write_services_text

    requests = requests or {}
    if not show_values:
        masker = current_masker()
        changeset = masker.changeset(changeset)
        requests = {family: masker.tree(request) for family, request in requests.items()}
    if fmt == "json":
        document = to_json_dict(changeset)
        if services is not None:
            document["services"] = services_json(services, show_values=show_values)
        if checks is not None:
            from ecsflow.verify import to_json

            document["verify"] = current_masker().tree(to_json(checks))
        write_document(document, env=env, mask=False)
        return
    if fmt == "markdown":
        env.stdout.write(_changeset_markdown(changeset, requests))
        if services is not None and services.services:
            env.stdout.write("\n".join(services_markdown(services, show_values=show_values)) + "\n")
        env.stdout.flush()
        if checks is not None:
            write_verify(checks, fmt, env=env)
        return
    from rich.markup import escape

    console = stdout_console(env)
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
    if services is not None and services.services:
        console.print()
        write_services_text(console, services, show_values=show_values)
    if checks is not None:
        console.print()
        write_verify(checks, fmt, env=env)


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
                old = "" if change.old is None else md_cell(change.old)
                new = "" if change.new is None else md_cell(change.new)
                lines.append(f"| {sign} | `{change.path}` | {old} | {new} |")
        lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"


def write_sync_outcomes(outcomes, fmt: str, *, env: Environment, interrupted: str | None = None) -> None:
    """`ecsflow sync`: one row per family (registered / unchanged / failed; not-started / interrupted when
    ``interrupted``, the signal's name, stopped it), or the documented JSON; a row's detail is its error, else
    its note, else its ARN."""
    from dataclasses import replace

    outcomes = [replace(o, error=o.error and mask(o.error), note=o.note and mask(o.note))
                for o in outcomes]
    if interrupted:
        left = sum(o.status in ("not-started", "interrupted") for o in outcomes)
        print_messages("warning", [f"interrupted ({interrupted}): stopped registering; {left} family(ies) not "
                                   "registered or cut short (run sync again to converge)"], env=env)
    if fmt == "json":
        write_document({"families": [
            {"service": o.service, "family": o.family, "status": o.status, "revision": o.revision,
             "arn": o.arn, "error": o.error, "note": o.note}
            for o in outcomes
        ], "interrupted": bool(interrupted)}, env=env)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("service", "family", "status", "revision", "detail"):
        table.add_column(column, overflow="fold")
    # `would-register` only appears with --dry-run.
    style = {"registered": "green", "would-register": "cyan", "unchanged": "dim", "failed": "red",
             "not-started": "yellow", "interrupted": "red"}
    for o in outcomes:
        detail = o.error or o.note or o.arn or ""  # a note (a lost answer, a duplicate removed) before the ARN
        table.add_row(escape(o.service), escape(o.family), f"[{style[o.status]}]{o.status}[/]",
                      "" if o.revision is None else str(o.revision), escape(detail))
    console = stdout_console(env)
    console.print(table)
    counts = {status: sum(1 for o in outcomes if o.status == status) for status in style}
    summary = f"{counts['registered']} registered, {counts['unchanged']} unchanged, {counts['failed']} failed."
    if counts["would-register"]:
        summary = f"dry run: {counts['would-register']} would be registered, {counts['unchanged']} unchanged."
    if interrupted:
        summary = (f"interrupted: {summary[:-1]}, {counts['not-started']} not started, {counts['interrupted']} cut "
                   "short.")
    console.print(summary)
