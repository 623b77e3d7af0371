"""Everything ecsflow prints. Machine output goes to stdout; messages, warnings and notes to stderr."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from ecsflow.errors import EcsflowError


def _stderr_console(no_color: bool = False):
    from rich.console import Console

    return Console(stderr=True, no_color=no_color or bool(os.environ.get("NO_COLOR")), highlight=False)


def _stdout_console(no_color: bool = False):
    from rich.console import Console

    console = Console(no_color=no_color or bool(os.environ.get("NO_COLOR")), highlight=False)
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
    for name, value, origin in rows:
        table.add_row(name, value or "-", origin)
    _stdout_console(no_color).print(table)
