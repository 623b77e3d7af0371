"""One service being mapped: what it is mapped from, and where its warnings, notes and errors go."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ecsflow.compose.model import ComposeProject, Service
from ecsflow.errors import BuildError
from ecsflow.messages import Message
from ecsflow.settings import Settings
from ecsflow.validators import describe, variables_in

# Keys the mapping names by the value it reads, which a compose file may write in another place (the deploy one
# wins, as in the model): an error about it points at the one written.
_WRITTEN_AS = {
    "cpus": ("deploy.resources.limits.cpus", "cpus"),
    "mem_limit": ("deploy.resources.limits.memory", "mem_limit"),
    "mem_reservation": ("deploy.resources.reservations.memory", "mem_reservation"),
}


class Context:
    """The service, its project and settings, the Consul values read for it, and its messages.

    `strict` (--strict) turns each adaptation of something written for Docker Compose into an error."""

    def __init__(
        self,
        project: ComposeProject,
        service: Service,
        settings: Settings,
        strict: bool = False,
        consul_values: Mapping[str, str] | None = None,
        consul_secrets: Mapping[str, str] | None = None,
        consul_prefix: str | None = None,
    ) -> None:
        self.project = project
        self.service = service
        self.x_ecsflow = service.x_ecsflow  # the service's x-ecsflow block
        self.settings = settings
        self.strict = strict
        self.consul_values = consul_values
        self.consul_secrets = consul_secrets
        self.consul_prefix = consul_prefix  # only names where the Consul values came from, in errors
        self.warnings: list[Message] = []
        self.notes: list[Message] = []

    def pattern(self, setting: str) -> str:
        """The `family` or `log_group` setting with {project} and {service} filled in."""
        pattern = getattr(self.settings, setting)
        try:
            return pattern.format(project=self.project.name, service=self.service.name)
        except (KeyError, IndexError, ValueError) as exc:
            raise self.error(f"the {setting.replace('_', ' ')} pattern '{pattern}' cannot be formatted ({exc})",
                             key=setting, hint="the pattern may use {project} and {service}") from None

    def error(self, message: str, key: str | None = None, hint: str | None = None) -> BuildError:
        """An error about ``key`` of this service, pointing where the key was written (else at the service)."""
        s = self.service
        written = next((k for k in _WRITTEN_AS.get(key or "", ()) if k in s.positions.keys), key)
        return BuildError(message, **s.where(written), service=s.name, key=key, hint=hint)

    def shown(self, value: Any) -> str:
        """A value of this service as an error shows it: what came from interpolation (.env, --env-file) is
        named by its variables, never shown."""
        return describe(value, variables_in(self.service.raw, self.project.interpolated))

    def warn(self, message: str) -> None:
        self.warnings.append(Message(message, (self.service.name,)))

    def note(self, message: str) -> None:
        self.notes.append(Message(message, (self.service.name,)))

    def not_possible(self, key: str, detail: str = "") -> None:
        what = f"key '{key}'" + (f" ({detail})" if detail else "")
        self.adapted(key, f"{what} is not possible on Fargate and is ignored",
                     f"{what} is not possible on Fargate", "remove it from the service")

    def adapted(self, key: str, warning: str, error: str | None = None, hint: str | None = None,
                note: bool = False) -> None:
        """Something written for Docker Compose that ECS gets in another form (or not at all): a warning (a
        note with `note`), and under --strict an error whose hint names the lenient way."""
        if self.strict:
            lenient = "or build without --strict to accept it with a warning"
            raise self.error(error or warning, key=key, hint=f"{hint}, {lenient}" if hint else lenient)
        (self.note if note else self.warn)(warning)


def partition(region: str | None) -> str:
    """The ARN partition of a region."""
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"
