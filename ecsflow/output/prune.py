"""`prune` output: the plan as soon as it is made, then what --yes did."""

from __future__ import annotations

from ecsflow.output.console import STYLES, Environment, mask, print_messages, stdout_console, write_document


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
        style = STYLES.get(kind)
        console.print(f"[{style}]{escape(mask(text))}[/]" if style else escape(mask(text)), soft_wrap=True)
