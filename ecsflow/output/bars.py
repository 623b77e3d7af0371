"""Progress bars on stderr, for long work on a terminal."""

from __future__ import annotations

from typing import Any

from ecsflow.output.console import Environment, stderr_console


class progress:
    """A progress bar on stderr while families are registered, only on a terminal and for more than a few."""

    threshold = 3

    def __init__(self, label: str, *, env: Environment) -> None:
        self.label, self.env = label, env
        self._progress = self._task = self._eta = None

    def __enter__(self) -> progress:
        return self

    def start(self, total: int, eta: Any = None) -> None:
        """``eta()``: the seconds left, for paced registrations (a burst, then one a second), where rich's
        estimate from the speed so far would be wrong; it is asked again as each family is done."""
        console = stderr_console(self.env)
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

    def __init__(self, *, env: Environment) -> None:
        self.env = env
        self._bar: progress | None = None

    def __enter__(self) -> phases:
        return self

    def start(self, label: str, total: int) -> None:
        self.stop()
        self._bar = progress(label, env=self.env)
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
