"""The ECS adapter: the only code that calls botocore (docs/design.md sections 2 and 4). Import from the submodules.

- ``options``: ``AwsOptions``, where and as whom to call AWS;
- ``client``: the botocore clients (session, retries, the known-regions check), and ``Ecs``, the facade the
  rest of ecsflow calls (operations and the sandbox never hold a botocore client);
- ``definitions``: describe task definitions, many families at once;
- ``register``: register them, many families at once; a registration whose answer was lost is described,
  not sent again blindly;
- ``converge``: after a registration, the duplicates a concurrent sync made are deregistered;
- ``limits``: the timeouts and attempts that bound every call;
- ``pool``: the bounded thread pool those calls share;
- ``tasks``: run one task, follow it to STOPPED with its logs, stop it (`ecsflow run`);
- ``prune``: list a family's revisions, find what a cluster uses, deregister and delete (`ecsflow prune`);
- ``verify``: look up the images, roles, parameters, secrets, log groups and network a definition names
  (`ecsflow verify`: its own clients, one per service and region);
- ``errors``: boto3/botocore exceptions and ECS's error answers as ``AwsError`` s with hints.
"""
