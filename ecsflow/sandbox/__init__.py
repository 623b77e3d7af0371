"""``--sandbox``: ECS without an AWS account, answered by moto in this process. Import from the submodules.

- ``session``: the sandbox itself (moto in-process, a safe environment, task definitions kept on disk and
  replayed into moto at the start of each session);
- ``runner``: the local task runner, which runs the tasks moto's ECS starts as local processes and writes
  their output to moto's CloudWatch Logs (also used by the tests' endpoint);
- ``moto_patches``: how the runner hooks into moto's ECS backend, and the moto internals it touches.
"""
