"""One function per command, joining the pure core (load, build, diff) to the adapters (ECS, Consul):
`core` (what every command shares: load, resolve, render, the ECS session; and `config`), `plan` (`diff` and
`sync`), `dags` (`gen-dag`), `runs` (`run`), `prune` (`prune`), `verify` (`verify`, `diff --verify`),
`services` (the ECS services: `render --services`), `service_plan` (the services against ECS: `diff`,
`deploy`), `deploy` with `deploy_work`, `deploy_steps` and `rollouts` (`deploy`)."""

from ecsflow.operations.core import (
    AwsFlags,
    ConfigResult,
    ProjectOptions,
    RenderResult,
    aws_session,
    config,
    render,
    resolve,
    resolve_with_consul,
)
from ecsflow.operations.dags import gen_dag
from ecsflow.operations.deploy import DeployResult, deploy
from ecsflow.operations.deploy_work import DeployCallbacks, DeployOptions
from ecsflow.operations.plan import PlanResult, SyncResult, plan, sync
from ecsflow.operations.prune import PruneCallbacks, PruneOptions, PruneResult, prune
from ecsflow.operations.runs import RunCallbacks, RunOptions, RunResult, run
from ecsflow.operations.services import ServicesResult, service_specs
from ecsflow.operations.verify import VerifyResult, diff_and_verify, verify

__all__ = [
    "AwsFlags", "ConfigResult", "PlanResult", "ProjectOptions", "RenderResult", "RunCallbacks", "RunOptions",
    "RunResult", "SyncResult", "aws_session", "config", "gen_dag", "plan", "render", "resolve",
    "resolve_with_consul", "run", "sync",
    "PruneCallbacks", "PruneOptions", "PruneResult", "prune", "VerifyResult", "diff_and_verify", "verify",
    "ServicesResult", "service_specs", "DeployCallbacks", "DeployOptions", "DeployResult", "deploy",
]
