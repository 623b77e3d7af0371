"""The ECS services of a project (`render --services`, `diff`, `verify`, `deploy`): the servers among the
rendered services, each as a `ServiceSpec` whose CreateService request passes botocore's validation. No AWS
call."""

from __future__ import annotations

from dataclasses import dataclass

from ecsflow.compose.model import ComposeProject
from ecsflow.operations.core import ProjectOptions, RenderResult, render


@dataclass(frozen=True)
class ServicesResult:
    """The project's rendering, its ECS service specs (compose order), the kind of every service on ECS (for
    `ecsflow.service.order.deploy_order`), and what was said about them."""

    rendered: RenderResult
    specs: tuple = ()  # ecsflow.service.build.ServiceSpec
    kinds: tuple = ()  # (compose service, Kind) for every service of the project on ECS
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def project(self) -> ComposeProject:
        return self.rendered.project


def service_specs(options: ProjectOptions, services: tuple[str, ...] = (), strict: bool = False) -> ServicesResult:
    """Render the project (the named services, or all), then build the specs of those that are servers. Naming
    a job is an error that names x-ecsflow.kind; every CreateService request is checked with botocore's model."""
    return specs_for(render(options, services, strict), services, strict)  # an unknown service: an error there


def specs_for(rendered: RenderResult, named: tuple[str, ...] = (), strict: bool = False, *,
              refuse_jobs: bool = True) -> ServicesResult:
    """The specs of the servers among ``rendered``'s services. ``named``: the services the user named (with
    ``refuse_jobs``, naming a job is an error: `deploy` and `render --services`)."""
    from ecsflow.compose.kind import not_a_job_error, workload_kind
    from ecsflow.ecs.validate import api_features, check_create_service_request
    from ecsflow.service.build import build_service_specs

    project = rendered.project
    known = dict(rendered.kinds)
    for build in rendered.builds:
        kind = known.get(build.service) or workload_kind(project.service(build.service))  # an error, if not known
        if refuse_jobs and build.service in named and not kind.is_service:
            raise not_a_job_error(project.service(build.service), kind, "deploy", "runs the servers as ECS services "
                                  "(jobs run with `ecsflow run` or from Airflow)")
    kinds = project_kinds(project)
    specs = build_service_specs(project, rendered.resolved.settings, rendered.builds, {**kinds, **known},
                                strict=strict, api=api_features())
    for spec in specs:
        check_create_service_request(spec.create_request(spec.family, preview=True), spec.service)
    warnings = [w for spec in specs for w in spec.warnings]
    notes = [n for spec in specs for n in spec.notes]
    return ServicesResult(rendered=rendered, specs=tuple(specs), kinds=tuple(kinds.items()),
                          warnings=rendered.warnings + tuple(warnings), notes=rendered.notes + tuple(notes))


def project_kinds(project: ComposeProject) -> dict:
    """The kind of every service of the project on ECS (not x-ecsflow.skip): compose service -> Kind. A service
    whose kind is an error (deploy.mode: global) is left out here; it is an error where it is rendered."""
    from ecsflow.compose.kind import workload_kind
    from ecsflow.errors import ComposeError
    from ecsflow.taskdef import select_services

    kinds = {}
    for service in select_services(project).services:
        try:
            kinds[service.name] = workload_kind(service)
        except ComposeError:
            continue
    return kinds
