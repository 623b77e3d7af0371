"""The ECS services in `ecsflow diff` (its services section: text, markdown, JSON under "services")."""

from __future__ import annotations

import json
from typing import Any

from ecsflow.output.console import current_masker, md_cell


def short(arn: Any) -> Any:
    """``etl-api:7`` for a task definition ARN, as people name revisions."""
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) and ":task-definition/" in arn else arn


def services_summary(counts: dict[str, int]) -> str:
    text = f"{counts['new']} to create, {counts['changed']} to update, {counts['unchanged']} unchanged"
    return text + (f", {counts['refused']} that deploy refuses" if counts.get("refused") else "")


def change_lines(diff, *, show_values: bool = False) -> list[tuple[str, str]]:
    """(sign, text) for each change of a ServiceDiff, tags included, values masked unless ``show_values``."""
    masker = current_masker()

    def value(v: Any) -> str:
        return json.dumps(v if show_values else masker.tree(v), ensure_ascii=False)

    lines = []
    for change in diff.changes:
        if change.path == "taskDefinition":
            lines.append(("~", f"taskDefinition ({short(change.old)} → {short(change.new)})"))
        elif change.old is None:
            lines.append(("+", f"{change.path}: {value(change.new)}"))
        elif change.new is None:
            lines.append(("-", f"{change.path}: {value(change.old)}"))
        else:
            lines.append(("~", f"{change.path}: {value(change.old)} -> {value(change.new)}"))
    lines += [("+", f"tag {key}: {value(val)}") for key, val in sorted(diff.tags_to_add.items())]
    lines += [("-", f"tag {key}") for key in diff.tags_to_remove]
    return lines


def _headline(plan) -> str:
    spec = plan.spec
    if plan.status == "refused":
        return f"refused: {plan.refusal}"
    if plan.status == "new":
        return (f"new: {spec.desired_count} task(s) (desired count: {spec.desired_count_owner}), family "
                f"{spec.family}")
    return "changed" if plan.status == "changed" else "unchanged"


def write_services_text(console, services, *, show_values: bool = False) -> None:
    from rich.markup import escape

    marks = {"new": "[green]+", "changed": "[yellow]~", "refused": "[red]!"}
    colours = {"+": "green", "-": "red", "~": "yellow"}
    for plan in services.services:
        if plan.status == "unchanged":
            continue
        console.print(f"{marks[plan.status]} ECS service {escape(plan.spec.ecs_service)}[/] (service "
                      f"{escape(plan.spec.service)}): {escape(current_masker().text(_headline(plan)))}")
        for sign, text in change_lines(plan.diff, show_values=show_values) if plan.status == "changed" else []:
            console.print(f"    [{colours[sign]}]{sign}[/] {escape(text)}")
        for note in plan.diff.notes:
            console.print(f"    [dim]note:[/] {escape(note)}")
        console.print()
    console.print(f"[bold]ECS services:[/] {services_summary(services.counts)}.")


def services_markdown(services, *, show_values: bool = False) -> list[str]:
    lines = ["#### ECS services", "", f"**{services_summary(services.counts)}.**", ""]
    for plan in services.services:
        if plan.status == "unchanged":
            continue
        marker = {"new": "+", "changed": "~", "refused": "!"}[plan.status]
        lines += ["<details>", f"<summary>{marker} <code>{plan.spec.ecs_service}</code> (service "
                  f"<code>{plan.spec.service}</code>): {current_masker().text(_headline(plan))}</summary>", ""]
        if plan.status == "changed":
            lines += ["| | change |", "| --- | --- |"]
            lines += [f"| {sign} | {md_cell(text)} |"
                      for sign, text in change_lines(plan.diff, show_values=show_values)]
        lines += [f"- note: {note}" for note in plan.diff.notes]
        lines += ["", "</details>", ""]
    return lines


def services_json(services, *, show_values: bool = False) -> list[dict]:
    """The documented JSON of the services section ("services" of `diff --format json`)."""
    masker = current_masker()

    def value(v: Any) -> Any:
        return v if show_values else masker.tree(v)

    return [{
        "service": plan.spec.service, "ecs_service": plan.spec.ecs_service, "cluster": plan.spec.cluster,
        "status": plan.status, "live_task_definition": plan.diff.live_task_definition,
        "desired_count": plan.spec.desired_count, "desired_count_owner": plan.spec.desired_count_owner,
        "changes": [{"path": c.path, "old": value(c.old), "new": value(c.new)} for c in plan.diff.changes],
        "tags_to_add": value(dict(plan.diff.tags_to_add)), "tags_to_remove": list(plan.diff.tags_to_remove),
        "refusal": plan.refusal, "notes": list(plan.diff.notes),
    } for plan in services.services]
