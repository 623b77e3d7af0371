"""`ecsflow gen-dag`: the Airflow files that run the project's families."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ecsflow.operations.core import AwsFlags, ProjectOptions, aws_session, render


def gen_dag(
    options: ProjectOptions,
    out_dir: Path,
    services: tuple[str, ...] = (),
    *,
    dag_id: str | None = None,
    schedule: str | None = None,
    pin: bool = False,
    force: bool = False,
    aws: AwsFlags | None = None,
    strict: bool = False,
):
    """`ecsflow gen-dag`: the Airflow DAG, its task factories module and its pools file, which run the services'
    families (for Airflow 2.10+ and 3.x).

    With `pin`, each task runs the family's current revision (looked up in ECS) instead of the latest ACTIVE
    one at run time; a family not registered yet is an error (sync first)."""
    from ecsflow.airflow import gen_dag as generate_and_write
    from ecsflow.errors import EcsflowError

    rendered = render(options, (), strict, (aws or AwsFlags()) if pin else None)
    if services:  # a named service left out of ECS is an error, as in render
        from ecsflow.taskdef import select_services

        select_services(rendered.project, services)
    pinned = None
    if pin:
        aws = aws or AwsFlags()
        with aws_session(aws, rendered.project, rendered.region) as ecs:
            live = ecs.describe_families([build.family for build in rendered.builds])
        pinned = {family: answer["taskDefinition"].get("taskDefinitionArn")
                  or f"{family}:{answer['taskDefinition']['revision']}" for family, answer in live.items() if answer}
        wanted = [b for b in rendered.builds if not services or b.service in services]
        missing = [b.family for b in wanted if b.family not in pinned]
        if missing:
            raise EcsflowError(f"--pin needs registered task definitions; not in ECS yet: {', '.join(missing)}",
                               hint="run `ecsflow sync` first")
        from ecsflow.diff import diff_family

        stale = [
            f"{b.family}: the compose file has changes not synced yet; the DAG pins revision "
            f"{live[b.family]['taskDefinition'].get('revision')}, which does not have them (run `ecsflow sync`)"
            for b in wanted if diff_family(b.service, b.family, b.request, live[b.family]).status == "changed"
        ]
        rendered = replace(rendered, warnings=rendered.warnings + tuple(stale))
    result = generate_and_write(rendered.project, rendered.resolved, rendered.builds, Path(out_dir),
                                services=list(services) or None, dag_id=dag_id, schedule=schedule,
                                pinned_arns=pinned, force=force)
    if result.written.ok:  # so that prune keeps what the DAGs there pin
        from ecsflow.airflow.pins import record_folder

        warning = record_folder(rendered.project.working_dir, Path(out_dir))
        if warning:
            rendered = replace(rendered, warnings=rendered.warnings + (warning,))
    return rendered, result
