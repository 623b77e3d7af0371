"""Everything ecsflow prints. Machine output goes to stdout; messages, warnings and notes to stderr.

Everything printed is masked first (``ecsflow.masking``): by name and shape, and by value with the secret-looking
variables of this process's environment and, once the compose project is loaded, of the environment it was
interpolated with (``mask_environment``). Only ``diff --show-values`` and ``render --show-values`` print values
as they are.

Every printer takes the command's ``Environment`` (its streams, colour and width), built once by the CLI.

The modules: `console` (the environment, consoles, masking, errors and messages), `plans` (render, config, diff,
sync), `bars` (progress bars), `verify`, `prune` and `runs` (the output of those commands).
"""

from ecsflow.output.bars import phases, progress
from ecsflow.output.console import (
    Environment,
    begin_masking,
    end_masking,
    mask_environment,
    print_error,
    print_messages,
    print_unexpected,
    stdout_closed,
    write_document,
    write_text,
)
from ecsflow.output.plans import plan_summary, write_changeset, write_render, write_settings, write_sync_outcomes
from ecsflow.output.prune import write_lines, write_prune_plan, write_prune_result
from ecsflow.output.runs import print_run_status, write_log_lines, write_run_result
from ecsflow.output.verify import write_verify

__all__ = [
    "Environment", "begin_masking", "end_masking", "mask_environment", "phases", "plan_summary", "print_error",
    "print_messages", "print_run_status", "print_unexpected", "progress", "stdout_closed", "write_changeset",
    "write_document", "write_lines", "write_log_lines", "write_prune_plan", "write_prune_result", "write_render",
    "write_run_result", "write_settings", "write_sync_outcomes", "write_text", "write_verify",
]
