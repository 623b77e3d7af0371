"""Compose servers as ECS services (`ecsflow deploy`, design/services.md), the pure part: no AWS call.

- build: a compose service + settings + its task-definition build -> `ServiceSpec` (CreateService/UpdateService)
- deployment: the deploymentConfiguration (rolling update percentages, circuit breaker)
- connect: Service Connect (compose names as hosts) and the warning when they will not resolve
- compare: a DescribeServices answer against a spec, field by field
- order: the order `depends_on` gives a deploy (rollouts waited for, jobs run first)

The kind rule (which services are servers) is `ecsflow.compose.kind`, shared with gen-dag.
"""
