"""Where a command prints (``Environment``), the consoles, the masking of everything printed, errors, messages,
and plain documents on stdout."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from ecsflow.errors import EcsflowError
from ecsflow.masking import Masker
from ecsflow.messages import grouped

# The style of each status and line kind that `verify` and `prune` print.
STYLES = {"ok": "green", "missing": "red", "failed": "red", "error": "bold red", "not checked": "dim",
          "skip": "dim", "head": "bold", "keep": "green", "remove": "red", "summary": "bold", "skipped": "yellow"}
PIPED_WIDTH = 240  # stdout's width when it is not a terminal: piped output does not fold long ARNs at 80 columns


def _color_allowed() -> bool:
    return not os.environ.get("NO_COLOR")  # https://no-color.org


@dataclass(frozen=True)
class Environment:
    """Where and how one command prints, as httpie's ``Environment``: its two streams, whether in colour (not
    with --no-color or NO_COLOR), and stdout's width (None: the terminal's own, ``PIPED_WIDTH`` when stdout is
    not a terminal). Built once, at the CLI's boundary (``for_command``), and handed to every printer and to
    the sandbox's notes. ``Environment()`` is this process's streams as they are now."""

    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    color: bool = field(default_factory=_color_allowed)
    width: int | None = None

    @classmethod
    def for_command(cls, *, no_color: bool = False) -> Environment:
        return cls(color=not no_color and _color_allowed())


# The current command's masker (see begin_masking); None: this process's environment only.
_masker: Masker | None = None


def begin_masking(environ: Mapping[str, str] | None = None) -> None:
    """Start a command: mask the secret-looking values of ``environ`` (this process's environment) from now on."""
    global _masker
    _masker = Masker.for_environment(os.environ if environ is None else environ)


def mask_environment(environment: Mapping[str, str]) -> None:
    """Also mask the secret-looking values of ``environment`` (a loaded project's: shell + .env)."""
    global _masker
    _masker = current_masker().with_environment(environment)


def end_masking() -> None:
    global _masker
    _masker = None


def current_masker() -> Masker:
    return _masker if _masker is not None else Masker.for_environment(os.environ)


def mask(text: str) -> str:
    return current_masker().text(text)


def stderr_console(env: Environment):
    from rich.console import Console

    # emoji=False: rich would turn `:secret:` inside a Secrets Manager ARN into an emoji.
    return Console(file=env.stderr, no_color=not env.color, highlight=False, emoji=False)


def stdout_console(env: Environment):
    from rich.console import Console

    console = Console(file=env.stdout, no_color=not env.color, highlight=False, emoji=False)
    if env.width is not None:
        console.width = env.width
    elif not console.is_terminal:
        console.width = PIPED_WIDTH
    return console


def print_error(error: EcsflowError, *, env: Environment) -> None:
    from rich.markup import escape

    console = stderr_console(env)
    where = error.where()
    console.print(f"[bold red]error:[/] {escape(mask(where + ': ' if where else ''))}{escape(mask(error.message))}",
                  soft_wrap=True)
    if error.hint:
        console.print(f"[dim]hint:[/] {escape(mask(error.hint))}", soft_wrap=True)


def stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader went away (`ecsflow diff | head -1`): what a BrokenPipeError then
    means. poll() reports an error on the write end of such a pipe; where there is no poll(), any
    BrokenPipeError is taken for one, as Python's documentation does."""
    import select

    try:
        fd = sys.__stdout__.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def print_unexpected(exc: BaseException, *, env: Environment) -> None:
    from rich.markup import escape

    console = stderr_console(env)
    console.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: {escape(mask(str(exc)))}", soft_wrap=True)
    console.print("[dim]hint:[/] run again with --debug for the traceback, and report it", soft_wrap=True)


def print_messages(kind: str, messages: list[str], *, env: Environment) -> None:
    """Warnings and notes, one line each, on stderr: each once, what is said of several services said once
    naming them all (``ecsflow.messages.grouped``)."""
    if not messages:
        return
    from rich.markup import escape

    console = stderr_console(env)
    style = {"warning": "yellow", "note": "cyan"}.get(kind, "white")
    for message in grouped(messages):
        console.print(f"[{style}]{kind}:[/] {escape(mask(message))}", soft_wrap=True)


def write_document(value: Any, fmt: str = "json", *, env: Environment, mask: bool = True) -> None:
    """A JSON (or YAML) document on stdout, and nothing else; masked unless `mask` is False (already masked, or
    --show-values)."""
    if mask:
        value = current_masker().tree(value)
    if fmt == "yaml":
        import yaml

        env.stdout.write(yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False))
    else:
        env.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")
    env.stdout.flush()


def write_text(text: str, *, env: Environment) -> None:
    """Plain text on stdout (``init``'s block), masked as everything printed is."""
    env.stdout.write(mask(text))
    env.stdout.flush()


def md_cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = text.replace("|", "\\|").replace("\n", " ")
    return f"`{text}`" if "`" not in text else text
