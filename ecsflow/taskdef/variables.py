"""A service's environment and secrets: compose values, Consul values, secret references (never values)."""

from __future__ import annotations

import re

from ecsflow.errors import BuildError
from ecsflow.taskdef.context import Context, partition


def environment_and_secrets(ctx: Context) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    env = _project_environment(ctx)
    env.update((k, v) for k, v in ctx.service.environment.items() if v is not None or k not in env)
    for name in ctx.x_ecsflow.environment_values:
        if ctx.consul_values is None or name not in ctx.consul_values:
            raise _consul_missing(ctx, name, "environment_values")
        if env.get(name) is not None:
            ctx.note(f"environment variable {name} takes its value from Consul, not the compose file")
        env[name] = ctx.consul_values[name]

    references: dict[str, tuple[str, bool]] = {  # name -> (reference, written in the compose file)
        name: (ref, True) for name, ref in ctx.x_ecsflow.secrets.items()
    }
    for name in ctx.x_ecsflow.secret_values:
        if name in references:
            raise ctx.error(
                f"secret {name} is both in x-ecsflow.secrets and in x-ecsflow.secret_values",
                key="x-ecsflow.secret_values",
            )
        if ctx.consul_secrets is None or name not in ctx.consul_secrets:
            raise _consul_missing(ctx, name, "secret_values")
        # What Consul holds should be a reference, but never echo it in case it is the secret itself.
        references[name] = (ctx.consul_secrets[name], False)
    secrets = [
        {"name": name, "valueFrom": _secret_arn(ctx, name, ref, echo)}
        for name, (ref, echo) in sorted(references.items())
    ]
    for name in ctx.x_ecsflow.environment_values:
        if name in references:
            raise ctx.error(f"{name} is both in x-ecsflow.environment_values and a secret",
                            key="x-ecsflow.environment_values", hint="keep it in one of them")

    from ecsflow.masking import looks_sensitive

    environment = []
    for name, value in env.items():
        if name in references:
            # The compose value serves `docker compose up`; on ECS the secret supplies the variable, and
            # the plain value is never sent (nor printed: the note has no value).
            if value:
                ctx.note(f"{name} is both an environment variable and a secret: on ECS the secret "
                         "supplies it, and the compose value is left out of the task definition")
            continue
        if name in ctx.x_ecsflow.runtime_env:
            # Given at run time (DAG params, `run -e`). A value the shell happens to hold now must not
            # reach the definition: it would make a new revision whenever the shell differs.
            if value is not None:
                ctx.note(f"environment variable {name} is in x-ecsflow.runtime_env: its local value is not "
                         "put in the task definition (it is given when the task runs)")
            continue
        if value is None:
            ctx.warn(f"environment variable {name} has no value (not in shell or .env) and is dropped")
            continue
        if value == "":
            ctx.warn(f"environment variable {name} is empty; ECS may drop empty values")
        elif looks_sensitive(name, value):
            what = "name looks secret" if looks_sensitive(name) else "value has a password in a URL"
            ctx.warn(f"environment variable {name} is registered in plain text in the task definition, but "
                     f"its {what}: move it to x-ecsflow.secrets (an SSM or Secrets Manager reference)")
        environment.append({"name": name, "value": value})
    return environment, secrets


def _project_environment(ctx: Context) -> dict[str, str | None]:
    """The top-level x-ecsflow environment and environment_values (Consul), for the names this service does not
    set itself (its environment, env_file, secrets, environment_values, runtime_env): a service's own value wins."""
    x_project = ctx.project.x_ecsflow
    own = {k for k, v in ctx.service.environment.items() if v is not None}
    own |= {*ctx.x_ecsflow.secrets, *ctx.x_ecsflow.secret_values, *ctx.x_ecsflow.environment_values,
            *ctx.x_ecsflow.runtime_env}
    env: dict[str, str | None] = {k: v for k, v in x_project.environment.items() if k not in own}
    for name in x_project.environment_values:
        if name in own:
            continue
        if ctx.consul_values is None or name not in ctx.consul_values:
            raise _consul_missing(ctx, name, "environment_values", project=True)
        env[name] = ctx.consul_values[name]
    return env


def _consul_missing(ctx: Context, name: str, key: str, project: bool = False) -> BuildError:
    if ctx.consul_prefix is None:
        hint = ("no Consul values were read: set --consul-prefix, ECSFLOW_CONSUL_PREFIX or x-ecsflow.consul_prefix "
                "(and CONSUL_HTTP_ADDR)")
    else:
        hint = "add the key in Consul under the configured prefix, or remove the name"
    folder = "values" if key == "environment_values" else "secrets"
    where = f"Consul key '{ctx.consul_prefix}/{folder}/{name}'" if ctx.consul_prefix else "Consul"
    return ctx.error(
        f"{name} is listed in {'the top-level ' if project else ''}x-ecsflow.{key} but {where} has no value for it",
        key=f"x-ecsflow.{key}",
        hint=hint,
    )


# ContainerDefinition.secrets[].valueFrom: "the full ARN of the Secrets Manager secret or the full ARN of the
# parameter in the SSM Parameter Store" (a secret's ARN may go on with :json-key:version-stage:version-id).
_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:(?:ssm:[a-z0-9-]+:\d{12}:parameter/|secretsmanager:[a-z0-9-]+:\d{12}:secret:)"
                         r"\S+")


def _secret_arn(ctx: Context, name: str, reference: str, echo: bool) -> str:
    """`valueFrom` for a secret: an ARN as given, or the ssm:/secretsmanager: shorthand expanded."""
    if reference.startswith("arn:"):
        if _SECRET_ARN.fullmatch(reference):
            return reference
        # RegisterTaskDefinition takes any text; the task then fails to start ("ResourceInitializationError").
        service = reference.split(":")[2] if reference.count(":") >= 2 else ""
        kind = f"an ARN of {service!r}" if re.fullmatch(r"[a-z0-9-]{1,40}", service) else "an ARN"
        raise ctx.error(f"secret {name}: {'the value in x-ecsflow.secrets' if echo else 'the value from Consul'} is "
                        f"{kind}, not of an SSM parameter (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME) nor of a "
                        "Secrets Manager secret (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME): ECS reads "
                        "secrets from those two only, and the task would fail to start",
                        key="x-ecsflow.secrets" if echo else "x-ecsflow.secret_values",
                        hint="name an SSM parameter or a Secrets Manager secret (ssm:/path or "
                        "secretsmanager:name[:json-key] are short for their ARNs)")
    kind, _, rest = reference.partition(":")
    if kind in ("ssm", "secretsmanager") and rest:
        region, account = ctx.settings.region, ctx.settings.account
        if not region or not account:
            raise ctx.error(
                f"secret {name}: the {kind}: shorthand needs the region and account settings",
                key="x-ecsflow.secrets",
                hint="set region and account (top-level x-ecsflow, ECSFLOW_* variables or --region), "
                "or write the full ARN",
            )
        prefix = f"arn:{partition(region)}:{kind}:{region}:{account}"
        if kind == "ssm":
            return f"{prefix}:parameter/{rest.lstrip('/')}"
        secret, _, json_key = rest.partition(":")
        # ECS reads a JSON key as secret:name:json-key:version-stage:version-id (both empty: current).
        return f"{prefix}:secret:{secret}" + (f":{json_key}::" if json_key else "")
    shown = "the value in x-ecsflow.secrets" if echo else "the value from Consul"  # never the value itself
    raise ctx.error(
        f"secret {name}: {shown} is not an ARN, ssm:/path or secretsmanager:name[:json-key]",
        key="x-ecsflow.secrets" if echo else "x-ecsflow.secret_values",
        hint="a secret is a reference to SSM Parameter Store or Secrets Manager, never the value itself",
    )
