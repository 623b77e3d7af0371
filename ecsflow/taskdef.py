"""One compose service + settings -> the keyword arguments of `ecs.register_task_definition`.

Pure: no AWS client, no printing, no network. The mapping is DESIGN.md section 3. Anything the service asks
for that Fargate cannot do becomes a warning (an error with strict=True); anything that would make ECS refuse
the request, or silently run something else than the user wrote, is a BuildError before any AWS call.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ecsflow.compose.model import ComposeProject, Service
from ecsflow.errors import BuildError
from ecsflow.fargate import DEFAULT_SIZE, LARGEST_HINT, SizeError, exact_size, smallest_size
from ecsflow.settings import Settings

MIB = 1024 * 1024
# ECS's quota: "Task definition max size: 64 KiB".
MAX_TASK_DEFINITION_BYTES = 64 * 1024
# Tags ecsflow puts on every revision it registers (and that no compose file or setting may set).
RESERVED_TAG_PREFIX = "ecsflow:"
MANAGED_TAG = "ecsflow:managed"
PROJECT_TAG = "ecsflow:project"
SERVICE_TAG = "ecsflow:service"

# PortMapping.appProtocol values in the ECS API.
APP_PROTOCOLS = ("http", "http2", "grpc")

# ECS HealthCheck limits, in seconds (retries: a count). Source: the ECS API reference, HealthCheck
# (https://docs.aws.amazon.com/sdk-for-python/v4/reference/clients/ecs/dictionaries/HealthCheckDict/).
HEALTHCHECK_RANGES: dict[str, tuple[int, int]] = {
    "interval": (5, 300),
    "timeout": (2, 60),
    "retries": (1, 10),
    "startPeriod": (0, 300),
}
MAX_STOP_TIMEOUT = 120  # ContainerDefinition.stopTimeout on Fargate

ULIMIT_NAMES = frozenset(
    "core cpu data fsize locks memlock msgqueue nice nofile nproc rss rtprio rttime sigpending stack".split()
)

# Compose keys read through the Service model (or below, from `raw`).
_MAPPED = frozenset(
    "image build command entrypoint environment env_file healthcheck ports expose cpus mem_limit "
    "mem_reservation deploy working_dir user labels stop_grace_period init read_only ulimits platform "
    "logging depends_on profiles cap_add cap_drop".split()
)
# Keys that only matter to Docker Compose on one machine: nothing to carry over, nothing lost.
_QUIET = frozenset(
    "networks restart container_name scale attach pull_policy links external_links stdin_open tty extends "
    "label_file annotations develop".split()
)
# Keys whose effect Fargate cannot give: a warning naming service and key, an error under strict.
_NOT_POSSIBLE = frozenset(
    "privileged devices tmpfs extra_hosts dns dns_search dns_opt network_mode pid ipc sysctls shm_size "
    "security_opt cgroup cgroup_parent userns_mode uts runtime volumes_from hostname domainname mac_address "
    "isolation gpus device_cgroup_rules blkio_config cpu_shares cpu_quota cpu_period cpu_rt_period "
    "cpu_rt_runtime cpuset cpu_count cpu_percent oom_kill_disable oom_score_adj pids_limit mem_swappiness "
    "memswap_limit storage_opt group_add stop_signal post_start pre_stop credential_spec use_api_socket "
    "provider models".split()
)
# Keys that mostly serve local development (source mounts, files from the host): not carried over, with a
# warning, but not an error under strict, because the image usually already holds what they provide.
_NOT_CARRIED = {
    "volumes": "volumes are not mounted on ECS (bind mounts cannot work on Fargate; named volumes need EFS)",
    "secrets": "compose file secrets are not mounted on ECS; use x-ecsflow.secrets",
    "configs": "compose configs are not mounted on ECS; bake them into the image or use environment",
}
_ARCHITECTURES = {"amd64": "X86_64", "x86_64": "X86_64", "arm64": "ARM64", "aarch64": "ARM64"}
_INVALID_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class TaskDefinitionBuild:
    """One service's desired task definition: `request` is exactly the kwargs of register_task_definition."""

    service: str
    family: str
    request: dict[str, Any]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    """The services that become task definitions, and what is said once about those left out (as warnings:
    diff, sync and gen-dag print warnings only, and a service missing from ECS should be seen)."""

    services: tuple[Service, ...]
    warnings: tuple[str, ...] = ()


def select_services(project: ComposeProject, service_names: Iterable[str] | None = None, *,
                    strict: bool = False) -> Selection:
    """The named services (all when None) in compose order, less those left out of ECS: `x-ecsflow.skip`
    and `provider:` services, which have no image (an error with strict, unless skipped explicitly).

    A left-out service named explicitly is an error: the command asked for something it will not do."""
    named = service_names is not None
    warnings: list[str] = []
    kept = []
    for service in project.select(None if service_names is None else list(service_names)):
        if service.x_ecsflow.skip:
            why, key, hint = "it has x-ecsflow.skip: true", "x-ecsflow.skip", "remove skip to put it on ECS"
        elif service.raw.get("provider") is not None and not service.image:
            why, key = "it is a provider service (no image: Compose delegates it to a provider plugin)", "provider"
            hint = "run what it provides outside ECS, and say so with `x-ecsflow: {skip: true}`"
        else:
            kept.append(service)
            continue
        where = {"file": service.source_file, "line": service.source_line, "service": service.name, "key": key}
        if named:
            raise BuildError(f"service '{service.name}' is left out of ECS: {why}", **where,
                             hint=f"{hint}, or do not name it")
        message = f"service '{service.name}' is left out of ECS and Airflow: {why}"
        if key == "x-ecsflow.skip":
            warnings.append(message)
        elif strict:
            raise BuildError(f"service '{service.name}' cannot run on ECS: {why}", **where, hint=hint)
        else:
            warnings.append(f"{message}; {hint}")
    return Selection(tuple(kept), tuple(warnings))


def build_task_definitions(
    project: ComposeProject,
    settings: Settings,
    service_names: Iterable[str] | None = None,
    *,
    strict: bool = False,
    consul_values: Mapping[str, str] | None = None,
    consul_secrets: Mapping[str, str] | None = None,
    consul_prefix: str | None = None,
) -> list[TaskDefinitionBuild]:
    """Build the selected services (all when None) in compose order, less those `select_services` leaves
    out; all are checked before raising."""
    services = select_services(project, service_names, strict=strict).services

    builds: list[TaskDefinitionBuild] = []
    errors: list[BuildError] = []
    for service in services:
        try:
            builds.append(
                build_task_definition(
                    project,
                    service,
                    settings,
                    strict=strict,
                    consul_values=consul_values,
                    consul_secrets=consul_secrets,
                    consul_prefix=consul_prefix,
                )
            )
        except BuildError as error:
            errors.append(error)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise BuildError(
            f"{len(errors)} services cannot become task definitions:\n" + "\n".join(f"- {e}" for e in errors)
        )

    # Two services registering into one family would overwrite each other's revisions.
    owners: dict[str, str] = {}
    for build in builds:
        if build.family in owners:
            raise BuildError(
                f"services '{owners[build.family]}' and '{build.service}' both have family '{build.family}'",
                service=build.service,
                key="x-ecsflow.family",
                hint="give one of them its own x-ecsflow.family",
            )
        owners[build.family] = build.service
    return builds


def build_task_definition(
    project: ComposeProject,
    service: Service,
    settings: Settings,
    *,
    strict: bool = False,
    consul_values: Mapping[str, str] | None = None,
    consul_secrets: Mapping[str, str] | None = None,
    consul_prefix: str | None = None,
) -> TaskDefinitionBuild:
    """Map one compose service to a validated RegisterTaskDefinition request (DESIGN.md section 3).

    `consul_prefix` only names where the Consul values came from, in errors."""
    return _Builder(project, service, settings, strict, consul_values, consul_secrets, consul_prefix).build()


@functools.lru_cache(maxsize=1)
def _register_input_shape() -> Any:
    # Imported here so that `import ecsflow.taskdef` (and `ecsflow --help`) stays fast.
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def validate_request(request: dict) -> None:
    """Check a request with botocore's own validator for ecs.register_task_definition."""
    from botocore.validate import ParamValidator

    report = ParamValidator().validate(request, _register_input_shape())
    if report.has_errors():
        raise BuildError(
            f"the request for family '{request.get('family')}' does not fit the ECS API:\n" + report.generate_report(),
            hint="this is a bug in ecsflow's mapping unless the value came verbatim from the compose file",
        )


def _ceil(value: float) -> int:
    # Durations arrive as floats parsed from "1m30s" etc.; a hair of float noise must not add a second.
    return math.ceil(value - 1e-9)


def _mib(size_bytes: int) -> int:
    return math.ceil(size_bytes / MIB)


def _partition(region: str | None) -> str:
    if region and region.startswith("cn-"):
        return "aws-cn"
    if region and region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _has_registry_host(image: str) -> bool:
    first, slash, _ = image.partition("/")
    return bool(slash) and ("." in first or ":" in first or first == "localhost")


class _Builder:
    def __init__(
        self,
        project: ComposeProject,
        service: Service,
        settings: Settings,
        strict: bool,
        consul_values: Mapping[str, str] | None,
        consul_secrets: Mapping[str, str] | None,
        consul_prefix: str | None = None,
    ) -> None:
        self.consul_prefix = consul_prefix
        self.project = project
        self.service = service
        self.settings = settings
        self.strict = strict
        self.consul_values = consul_values
        self.consul_secrets = consul_secrets
        self.x = service.x_ecsflow
        self.warnings: list[str] = []
        self.notes: list[str] = []

    # -- reporting ------------------------------------------------------------------------------------------

    def error(self, message: str, key: str | None = None, hint: str | None = None) -> BuildError:
        s = self.service
        return BuildError(message, file=s.source_file, line=s.source_line, service=s.name, key=key, hint=hint)

    def warn(self, message: str) -> None:
        self.warnings.append(f"service '{self.service.name}': {message}")

    def note(self, message: str) -> None:
        self.notes.append(f"service '{self.service.name}': {message}")

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

    # -- the request ----------------------------------------------------------------------------------------

    def build(self) -> TaskDefinitionBuild:
        family = self.family()
        container = self.container()
        cpu, memory = self.task_size()
        reservation = container.get("memoryReservation")
        if reservation is not None and reservation > memory:
            raise self.error(
                f"mem_reservation {reservation} MiB is more than the task memory {memory} MiB",
                key="mem_reservation",
                hint="lower mem_reservation or raise x-ecsflow.memory",
            )

        request: dict[str, Any] = {"family": family}
        task_role = self.role("task_role")
        execution_role = self.role("execution_role")
        if task_role:
            request["taskRoleArn"] = task_role
        if execution_role:
            request["executionRoleArn"] = execution_role
        else:
            # Real ECS refuses awslogs on Fargate without one, so say it now rather than at sync time.
            self.warn(
                "no execution role: Fargate needs one to write awslogs logs, read secrets and pull from ECR"
                " (set execution_role)"
            )
        request.update(
            networkMode="awsvpc",
            containerDefinitions=[container],
            requiresCompatibilities=["FARGATE"],
            cpu=str(cpu),
            memory=str(memory),
        )
        if self.service.platform:
            request["runtimePlatform"] = self.runtime_platform(self.service.platform)
        if self.x.ephemeral_storage is not None:
            request["ephemeralStorage"] = {"sizeInGiB": self.x.ephemeral_storage}
        tags = {**self.settings.tags, **self.x.tags}
        reserved = sorted(k for k in tags if k.startswith(RESERVED_TAG_PREFIX))
        if reserved:
            raise self.error(f"tag key '{reserved[0]}' is reserved: ecsflow sets the {RESERVED_TAG_PREFIX}* tags "
                             "itself", key="x-ecsflow.tags")
        # The tags `sync` registers with, so that render prints exactly the request sync sends.
        tags.update({MANAGED_TAG: "true", PROJECT_TAG: self.project.name, SERVICE_TAG: self.service.name})
        request["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]

        validate_request(request)
        size = len(json.dumps(request).encode())
        if size > MAX_TASK_DEFINITION_BYTES:
            raise self.error(f"the task definition is {size} bytes; ECS refuses more than 64 KiB",
                             hint="move large values out of the environment (into S3, SSM or the image)")
        return TaskDefinitionBuild(
            service=self.service.name,
            family=family,
            request=request,
            warnings=tuple(self.warnings),
            notes=tuple(self.notes),
        )

    def family(self) -> str:
        wanted = self.x.family
        if wanted is None:
            try:
                wanted = self.settings.family.format(project=self.project.name, service=self.service.name)
            except (KeyError, IndexError, ValueError) as exc:
                raise self.error(
                    f"the family pattern '{self.settings.family}' cannot be formatted ({exc})",
                    key="family",
                    hint="the pattern may use {project} and {service}",
                ) from None
        family = _INVALID_NAME_CHARS.sub("-", wanted)[:255]
        if not family.strip("-_"):
            raise self.error(f"family '{wanted}' has no letters or digits", key="x-ecsflow.family")
        if family != wanted:
            self.note(f"family '{wanted}' becomes '{family}' (ECS allows [A-Za-z0-9_-], 255 at most)")
        return family

    def role(self, key: str) -> str | None:
        role = getattr(self.x, key) or getattr(self.settings, key)
        if role and not role.startswith("arn:") and self.settings.account:
            # ECS answers with the full ARN; sending the same avoids a diff on every run.
            role = f"arn:{_partition(self.settings.region)}:iam::{self.settings.account}:role/{role}"
        return role or None

    def task_size(self) -> tuple[int, int]:
        s = self.service
        need_cpu = math.ceil(s.cpus * 1024 - 1e-9) if s.cpus else None
        memories = [_mib(b) for b in (s.mem_limit, s.mem_reservation) if b]
        need_memory = max(memories) if memories else None
        x_cpu, x_memory = self.x.cpu, self.x.memory
        if x_cpu is not None or x_memory is not None:
            try:
                return exact_size(x_cpu, x_memory, need_cpu, need_memory, ("x-ecsflow.cpu", "x-ecsflow.memory"))
            except SizeError as exc:
                raise self.error(exc.message, key=f"x-ecsflow.{exc.key}", hint=exc.hint) from None
        if need_cpu is None and need_memory is None:
            return DEFAULT_SIZE

        size = smallest_size(need_cpu, need_memory)
        asked = " and ".join(
            part
            for part in (
                f"cpus {s.cpus:g} ({need_cpu} units)" if need_cpu else "",
                f"memory {need_memory} MiB" if need_memory else "",
            )
            if part
        )
        if size is None:
            raise self.error(
                f"no Fargate task size holds {asked}",
                key="cpus" if need_cpu and need_cpu > 16384 else "mem_limit",
                hint=LARGEST_HINT,
            )
        rounded = (need_cpu and size[0] != need_cpu) or (need_memory and size[1] != need_memory)
        self.note(
            f"task size cpu {size[0]} / memory {size[1]} MiB: the smallest Fargate size that holds {asked}"
            + (" (rounded up)" if rounded else "")
        )
        return size

    def runtime_platform(self, platform: str) -> dict[str, str]:
        system, _, rest = platform.lower().partition("/")
        architecture = rest.partition("/")[0]
        if system == "linux" and architecture == "386":
            self.adapted("platform", f"platform '{platform}' runs on Fargate as X86_64 (x86-64 CPUs run 32-bit "
                         "x86 programs)",
                         f"platform '{platform}' is not a Fargate platform", "write platform: linux/amd64")
            architecture = "amd64"
        if system != "linux" or architecture not in _ARCHITECTURES:
            raise self.error(
                f"platform '{platform}' cannot run on Fargate, which runs linux/amd64 and linux/arm64 images",
                key="platform",
                hint="leave the service out of ECS with `x-ecsflow: {skip: true}` (it still runs with "
                "docker compose), or build its image for linux/amd64 or linux/arm64",
            )
        return {"cpuArchitecture": _ARCHITECTURES[architecture], "operatingSystemFamily": "LINUX"}

    # -- the container --------------------------------------------------------------------------------------

    def container(self) -> dict[str, Any]:
        s = self.service
        name = _INVALID_NAME_CHARS.sub("-", s.name)[:255]
        if name != s.name:
            self.note(f"container name '{name}' (ECS allows letters, digits, '-' and '_')")
        c: dict[str, Any] = {"name": name, "image": self.image(), "essential": True}
        c.update(self.entry_point_and_command())
        environment, secrets = self.environment_and_secrets()
        if environment:
            c["environment"] = environment
        if secrets:
            c["secrets"] = secrets
        ports = self.port_mappings()
        if ports:
            c["portMappings"] = ports
        health = self.health_check()
        if health:
            c["healthCheck"] = health
        if s.mem_reservation:
            c["memoryReservation"] = _mib(s.mem_reservation)
        if s.working_dir:
            c["workingDirectory"] = s.working_dir
        if s.user:
            c["user"] = s.user
        if s.labels:
            c["dockerLabels"] = {str(k): str(v) for k, v in s.labels.items()}
        if s.stop_grace_period is not None:
            c["stopTimeout"] = self.stop_timeout(s.stop_grace_period)
        linux = self.linux_parameters()
        if linux:
            c["linuxParameters"] = linux
        if s.read_only:
            c["readonlyRootFilesystem"] = True
        ulimits = self.ulimits()
        if ulimits:
            c["ulimits"] = ulimits
        c["logConfiguration"] = self.log_configuration()
        self.check_other_keys()
        return c

    def entry_point_and_command(self) -> dict[str, list[str]]:
        entrypoint, command = self.service.entrypoint, self.service.command
        if entrypoint is None or any(entrypoint):
            return {k: list(v) for k, v in (("entryPoint", entrypoint), ("command", command)) if v}
        # `entrypoint: []` (or "", or [""]) clears the image's ENTRYPOINT in Docker. ECS has no way to say so
        # (it drops an empty entryPoint), but an explicit entryPoint also discards the image's CMD, as
        # Docker's does: entryPoint = the command runs exactly the same program and arguments.
        if command:
            self.note("entrypoint: [] clears the image's ENTRYPOINT: the command becomes the ECS entryPoint (a "
                      "command given at run time is appended to it)")
            return {"entryPoint": list(command)}
        self.adapted("entrypoint", "entrypoint: [] clears the image's ENTRYPOINT, which ECS cannot express "
                     "without a command: the image's ENTRYPOINT runs on ECS",
                     hint="add the command to run (it becomes the ECS entryPoint)")
        return {}

    def image(self) -> str:
        image, registry = self.service.image, self.settings.registry
        if not image:
            raise self.error(
                "has no image; ECS runs images from a registry and cannot build",
                key="image",
                hint="build and push the image, then name it with `image:` next to `build:`",
            )
        if registry and not _has_registry_host(image):
            return f"{registry.rstrip('/')}/{image}"
        return image

    def environment_and_secrets(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        env: dict[str, str | None] = dict(self.service.environment)
        for name in self.x.environment_values:
            if self.consul_values is None or name not in self.consul_values:
                raise self.consul_missing(name, "environment_values")
            if env.get(name) is not None:
                self.note(f"environment variable {name} takes its value from Consul, not the compose file")
            env[name] = self.consul_values[name]

        references: dict[str, tuple[str, bool]] = {  # name -> (reference, may it be echoed in errors)
            name: (ref, True) for name, ref in self.x.secrets.items()
        }
        for name in self.x.secret_values:
            if name in references:
                raise self.error(
                    f"secret {name} is both in x-ecsflow.secrets and in x-ecsflow.secret_values",
                    key="x-ecsflow.secret_values",
                )
            if self.consul_secrets is None or name not in self.consul_secrets:
                raise self.consul_missing(name, "secret_values")
            # What Consul holds should be a reference, but never echo it in case it is the secret itself.
            references[name] = (self.consul_secrets[name], False)
        secrets = [
            {"name": name, "valueFrom": self.secret_arn(name, ref, echo)}
            for name, (ref, echo) in sorted(references.items())
        ]
        for name in self.x.environment_values:
            if name in references:
                raise self.error(f"{name} is both in x-ecsflow.environment_values and a secret",
                                 key="x-ecsflow.environment_values", hint="keep it in one of them")

        from ecsflow.diff import looks_sensitive  # here: diff loads deepdiff

        environment = []
        for name, value in env.items():
            if name in references:
                # The compose value serves `docker compose up`; on ECS the secret supplies the variable, and
                # the plain value is never sent (nor printed: the note has no value).
                if value:
                    self.note(f"{name} is both an environment variable and a secret: on ECS the secret "
                              "supplies it, and the compose value is left out of the task definition")
                continue
            if name in self.x.runtime_env:
                # Given at run time (DAG params, `run -e`). A value the shell happens to hold now must not
                # reach the definition: it would make a new revision whenever the shell differs.
                if value is not None:
                    self.note(f"environment variable {name} is in x-ecsflow.runtime_env: its local value is not "
                              "put in the task definition (it is given when the task runs)")
                continue
            if value is None:
                self.warn(f"environment variable {name} has no value (not in shell or .env) and is dropped")
                continue
            if value == "":
                self.warn(f"environment variable {name} is empty; ECS may drop empty values")
            elif looks_sensitive(name, value):
                what = "name looks secret" if looks_sensitive(name) else "value has a password in a URL"
                self.warn(f"environment variable {name} is registered in plain text in the task definition, but "
                          f"its {what}: move it to x-ecsflow.secrets (an SSM or Secrets Manager reference)")
            environment.append({"name": name, "value": value})
        return environment, secrets

    def consul_missing(self, name: str, key: str) -> BuildError:
        if self.consul_prefix is None:
            hint = ("no Consul values were read: set --consul-prefix, ECSFLOW_CONSUL_PREFIX or x-ecsflow.consul_prefix "
                    "(and CONSUL_HTTP_ADDR)")
        else:
            hint = "add the key in Consul under the configured prefix, or remove the name"
        folder = "values" if key == "environment_values" else "secrets"
        where = f"Consul key '{self.consul_prefix}/{folder}/{name}'" if self.consul_prefix else "Consul"
        return self.error(
            f"{name} is listed in x-ecsflow.{key} but {where} has no value for it",
            key=f"x-ecsflow.{key}",
            hint=hint,
        )

    def secret_arn(self, name: str, reference: str, echo: bool) -> str:
        """`valueFrom` for a secret: an ARN as given, or the ssm:/secretsmanager: shorthand expanded."""
        if reference.startswith("arn:"):
            return reference
        kind, _, rest = reference.partition(":")
        if kind in ("ssm", "secretsmanager") and rest:
            region, account = self.settings.region, self.settings.account
            if not region or not account:
                raise self.error(
                    f"secret {name}: the {kind}: shorthand needs the region and account settings",
                    key="x-ecsflow.secrets",
                    hint="set region and account (top-level x-ecsflow, ECSFLOW_* variables or --region), "
                    "or write the full ARN",
                )
            prefix = f"arn:{_partition(region)}:{kind}:{region}:{account}"
            if kind == "ssm":
                return f"{prefix}:parameter/{rest.lstrip('/')}"
            secret, _, json_key = rest.partition(":")
            # ECS reads a JSON key as secret:name:json-key:version-stage:version-id (both empty: current).
            return f"{prefix}:secret:{secret}" + (f":{json_key}::" if json_key else "")
        shown = f"'{reference}'" if echo else "the value from Consul"
        raise self.error(
            f"secret {name}: {shown} is not an ARN, ssm:/path or secretsmanager:name[:json-key]",
            key="x-ecsflow.secrets" if echo else "x-ecsflow.secret_values",
            hint="a secret is a reference to SSM Parameter Store or Secrets Manager, never the value itself",
        )

    def port_mappings(self) -> list[dict[str, Any]]:
        mappings: list[dict[str, Any]] = []
        seen: set[tuple[int, str]] = set()

        def add(port: int, protocol: str, key: str, name: str | None = None, app_protocol: str | None = None) -> None:
            if protocol not in ("tcp", "udp"):
                raise self.error(f"port {port}/{protocol}: ECS maps tcp and udp only", key=key)
            if (port, protocol) not in seen:
                seen.add((port, protocol))
                # With awsvpc the task has its own address: hostPort must equal containerPort.
                mapping: dict[str, Any] = {"containerPort": port, "hostPort": port, "protocol": protocol}
                # Compose's long syntax `name` / `app_protocol` are ECS's (Service Connect) `name` / `appProtocol`.
                if name:
                    mapping["name"] = name
                if app_protocol in APP_PROTOCOLS:
                    mapping["appProtocol"] = app_protocol
                elif app_protocol:
                    # Only Service Connect reads it, and it knows these three: the port itself is kept.
                    self.adapted(key, f"port {port}: app_protocol '{app_protocol}' is not one ECS knows "
                                 f"({', '.join(APP_PROTOCOLS)}) and is left out",
                                 hint="remove app_protocol or use one of those", note=True)
                mappings.append(mapping)

        for port in self.service.ports:
            if port.published is not None and port.published != str(port.target):
                self.warn(
                    f"published port {port.published} differs from target {port.target}; "
                    f"with awsvpc the task listens on {port.target} itself"
                )
            add(port.target, port.protocol, "ports", port.name, port.app_protocol)
        for entry in self.service.expose:
            match = re.fullmatch(r"(\d+)(?:/(\w+))?", str(entry))
            if not match:
                raise self.error(
                    f"expose '{entry}' is not a single port; port ranges are not possible",
                    key="expose",
                    hint="list each port on its own",
                )
            add(int(match[1]), (match[2] or "tcp").lower(), "expose")
        return mappings

    def health_check(self) -> dict[str, Any] | None:
        hc = self.service.healthcheck
        if hc is None or hc.disable or (hc.test and hc.test[0] == "NONE"):
            return None
        if not hc.test:
            if any(v is not None for v in (hc.interval, hc.timeout, hc.retries, hc.start_period)):
                self.warn(
                    "healthcheck has timings but no test; ECS needs a command (it ignores the image's "
                    "HEALTHCHECK), so there is no health check"
                )
            return None
        if hc.test[0] not in ("CMD", "CMD-SHELL"):
            raise self.error(
                f"healthcheck test must start with CMD, CMD-SHELL or NONE, not {hc.test[0]!r}",
                key="healthcheck.test",
            )
        check: dict[str, Any] = {"command": list(hc.test)}
        written = self.service.raw.get("healthcheck") or {}
        for compose_key, ecs_key, value in (
            ("interval", "interval", hc.interval),
            ("timeout", "timeout", hc.timeout),
            ("retries", "retries", hc.retries),
            ("start_period", "startPeriod", hc.start_period),
        ):
            if value is None:
                continue
            number = _ceil(value)
            if number == 0 and ecs_key != "startPeriod":
                continue  # Docker reads 0 as "not set": the default applies, as in ECS when the field is absent
            low, high = HEALTHCHECK_RANGES[ecs_key]
            used = min(max(number, low), high)
            if used != number:
                unit = "" if ecs_key == "retries" else " seconds"
                shown = written.get(compose_key, number) if isinstance(written, Mapping) else number
                self.adapted(
                    f"healthcheck.{compose_key}",
                    f"healthcheck {compose_key} {shown} is outside ECS's range ({low} to {high}{unit}): "
                    f"{ecs_key} {used} is used",
                    f"healthcheck {compose_key} is {shown}; ECS allows {low} to {high}{unit}",
                    f"write a value from {low} to {high}",
                )
            check[ecs_key] = used
        if hc.start_interval is not None:
            self.warn("healthcheck start_interval has no ECS equivalent and is ignored")
        return check

    def stop_timeout(self, seconds: float) -> int:
        timeout = _ceil(seconds)
        if timeout > MAX_STOP_TIMEOUT:
            # Clamped rather than refused: a generous local grace period should not block a deploy.
            if self.strict:
                raise self.error(
                    f"stop_grace_period is {timeout}s; Fargate allows at most {MAX_STOP_TIMEOUT} seconds",
                    key="stop_grace_period",
                )
            self.warn(
                f"stop_grace_period {timeout}s is more than Fargate's {MAX_STOP_TIMEOUT}s; "
                f"stopTimeout is {MAX_STOP_TIMEOUT}"
            )
            timeout = MAX_STOP_TIMEOUT
        return timeout

    def linux_parameters(self) -> dict[str, Any]:
        raw = self.service.raw
        linux: dict[str, Any] = {}
        if self.service.init:
            linux["initProcessEnabled"] = True
        capabilities: dict[str, list[str]] = {}
        add = []
        for cap in raw.get("cap_add") or ():
            name = str(cap).upper().removeprefix("CAP_")
            if name == "SYS_PTRACE":  # the only capability Fargate lets a task add
                add.append(name)
            else:
                self.not_possible("cap_add", name)
        if add:
            capabilities["add"] = add
        drop = [str(cap).upper().removeprefix("CAP_") for cap in raw.get("cap_drop") or ()]
        if drop:
            capabilities["drop"] = drop
        if capabilities:
            linux["capabilities"] = capabilities
        return linux

    def ulimits(self) -> list[dict[str, Any]]:
        result = []
        for name, value in self.service.ulimits.items():
            if name not in ULIMIT_NAMES:
                self.not_possible("ulimits", name)
                continue
            if isinstance(value, Mapping):
                soft, hard = value.get("soft", value.get("hard")), value.get("hard", value.get("soft"))
            else:
                soft = hard = value
            result.append({"name": name, "softLimit": int(soft), "hardLimit": int(hard)})
        return result

    def log_configuration(self) -> dict[str, Any]:
        try:
            group = self.settings.log_group.format(project=self.project.name, service=self.service.name)
        except (KeyError, IndexError, ValueError) as exc:
            raise self.error(
                f"the log group pattern '{self.settings.log_group}' cannot be formatted ({exc})",
                key="log_group",
                hint="the pattern may use {project} and {service}",
            ) from None
        options = {"awslogs-group": group}
        if self.settings.region:
            options["awslogs-region"] = self.settings.region
        options.update({"awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"})
        logging = self.service.logging
        if logging and logging.driver == "awslogs":
            options.update({str(k): str(v) for k, v in logging.options.items()})
        elif logging and logging.driver:
            self.warn(
                f"logging driver '{logging.driver}' is not used on ECS; logs go to CloudWatch Logs "
                f"group {options['awslogs-group']} (awslogs)"
            )
        return {"logDriver": "awslogs", "options": options}

    def check_other_keys(self) -> None:
        """Every compose key not mapped above: quiet, warned, or not possible (DESIGN.md section 3)."""
        for key, value in self.service.raw.items():
            # Compose omits empty values itself; `privileged: false` and the like ask for nothing.
            if key.startswith("x-") or key in _MAPPED or key in _QUIET or value in (None, False, "", [], {}):
                continue
            if key in _NOT_POSSIBLE:
                self.not_possible(key)
            elif key in _NOT_CARRIED:
                self.warn(f"key '{key}' is ignored: {_NOT_CARRIED[key]}")
            else:
                self.warn(f"key '{key}' is not known to ecsflow and is ignored")
        resources = (self.service.raw.get("deploy") or {}).get("resources") or {}
        reservations = resources.get("reservations") or {}
        if reservations.get("devices") or reservations.get("generic_resources"):
            self.not_possible("deploy.resources.reservations.devices", "GPUs and devices")
