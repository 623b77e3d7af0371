"""Errors that ecsflow reports to its user: one message, where it happened, and a hint."""

from __future__ import annotations


class EcsflowError(Exception):
    """An error the user can act on. The CLI prints it in one block; a traceback only with --debug."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        service: str | None = None,
        key: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.service = service
        self.key = key
        self.hint = hint

    def where(self) -> str:
        """`file:line:column, service 'x', key 'y'` with whatever is known."""
        parts = []
        if self.file:
            loc = str(self.file)
            if self.line is not None:
                loc += f":{self.line}"
                if self.column is not None:
                    loc += f":{self.column}"
            parts.append(loc)
        if self.service:
            parts.append(f"service '{self.service}'")
        if self.key:
            parts.append(f"key '{self.key}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class ComposeError(EcsflowError):
    """The compose files cannot be loaded as Docker Compose would load them."""


class BuildError(EcsflowError):
    """A service cannot become a valid Fargate task definition."""


class SettingsError(EcsflowError):
    """A setting is missing, malformed, or its source (Consul) cannot be read."""


class AwsError(EcsflowError):
    """AWS refused or failed a call."""
