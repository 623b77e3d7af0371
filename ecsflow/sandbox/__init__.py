"""``--sandbox``: ECS without an AWS account, answered by moto in this process. Import from the submodules.

- ``session``: the sandbox itself (moto in-process, a safe environment, task definitions and services kept on
  disk and replayed into moto at the start of each session); ``state_files``: the rules of its files;
  ``services_state``: the services' files; ``answers``: the describes of an unchanged state, answered without moto;
- ``runner``: the local task runner, which runs the tasks moto's ECS starts as local processes and writes
  their output to moto's CloudWatch Logs (also used by the tests' endpoint);
- ``moto_services``: ECS services as ECS runs them (``service_life``: what ECS does with a service over time;
  ``service_answers``: what it answers), also used by the tests' endpoint;
- ``moto_patches``: how the runner hooks into moto's ECS backend, and the moto internals it touches;
  ``moto_pin``: the moto these patches are written against, and every internal of it they use.
"""

from __future__ import annotations

from ecsflow.errors import EcsflowError


def moto_missing(module: str | None = "moto") -> EcsflowError:
    """The error of a sandbox that cannot start: moto (or a module it needs, ``module``) is not installed."""
    part = "" if module in (None, "moto") else f" (it cannot import {module})"
    return EcsflowError(f"--sandbox needs moto, which is not installed{part}", hint="pip install 'ecsflow[sandbox]'")
