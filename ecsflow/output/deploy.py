"""`deploy` output: what happens as it goes (on stderr: each new ECS service event once, a rollout's counts when
they change, a job's log lines), and how each service and job ended (stdout: a table, or the documented JSON)."""

from __future__ import annotations

from ecsflow.output.console import Environment, current_masker, mask, print_messages, stderr_console, stdout_console
from ecsflow.output.services import short

STYLES = {"created": "green", "updated": "green", "unchanged": "dim", "started": "cyan", "failed": "red",
          "rolled-back": "red", "timeout": "red", "superseded": "yellow", "would-create": "cyan",
          "would-update": "cyan", "not-started": "yellow", "succeeded": "green", "not-executed": "yellow",
          "skipped": "dim", "would-run": "cyan"}
_ORDER = ("created", "updated", "unchanged", "started", "would-create", "would-update", "failed", "rolled-back",
          "timeout", "superseded", "not-started")


class DeployProgress:
    """What `deploy` prints on stderr while it works: ``event(ecs_service, text)`` (each new event of a service,
    once), ``progress(name, text)`` (a rollout's counts, a job's task status, when they change), ``lines(job,
    lines)`` (a job's log), all masked."""

    def __init__(self, env: Environment) -> None:
        self.env = env

    def _print(self, name: str, text: str, style: str) -> None:
        from rich.markup import escape

        stderr_console(self.env).print(f"[{style}]{escape(name)}:[/] {escape(mask(text))}", soft_wrap=True)

    def event(self, ecs_service: str, text: str) -> None:
        self._print(ecs_service, text, "cyan")

    def progress(self, name: str, text: str) -> None:
        self._print(name, text, "dim")

    def lines(self, job: str, lines: list[str]) -> None:
        masker = current_masker()
        self.env.stderr.write("".join(f"{job} | {masker.text(line, arguments=False)}\n" for line in lines))
        self.env.stderr.flush()


def write_deploy_result(result, fmt: str, *, env: Environment, interrupted: str | None = None,
                        dry_run: bool = False) -> None:
    """The end of `ecsflow deploy`: one row per service (and per job it ran), or the documented JSON."""
    if interrupted:
        left = sum(o.status == "not-started" for o in result.services)
        print_messages("warning", [f"interrupted ({interrupted}): no new write was started; {left} service(s) not "
                                   "started (run deploy again to converge)"], env=env)
    if fmt == "json":
        from ecsflow.output.console import write_document

        write_document({"services": [o.to_json() for o in result.services], "jobs": [j.to_json() for j in result.jobs],
                        "interrupted": bool(interrupted)}, env=env)
        return
    from rich.markup import escape
    from rich.table import Table

    console = stdout_console(env)
    if result.jobs:
        jobs = Table(box=None, pad_edge=False, title="jobs", title_justify="left")
        for column in ("job", "family", "status", "revision", "detail"):
            jobs.add_column(column, overflow="fold")
        for job in result.jobs:
            jobs.add_row(escape(job.service), escape(job.family), f"[{STYLES[job.status]}]{job.status}[/]",
                         "" if job.revision is None else str(job.revision), escape(mask(job.error or job.note or "")))
        console.print(jobs)
        console.print()
    table = Table(box=None, pad_edge=False)
    for column in ("service", "ECS service", "status", "task definition", "detail"):
        table.add_column(column, overflow="fold")
    for o in result.services:
        table.add_row(escape(o.service), escape(o.ecs_service), f"[{STYLES[o.status]}]{o.status}[/]",
                      escape(short(o.task_definition) or ""), escape(mask(_detail(o))))
    console.print(table)
    for o in result.services:
        if o.events and not o.done:
            console.print(f"[bold]{escape(o.ecs_service)}[/], what ECS said:")
            for line in o.events:
                console.print(f"    {escape(mask(line))}", soft_wrap=True)
    console.print(_summary(result, dry_run))


def _detail(o) -> str:
    if o.error or o.note:
        return "; ".join(part for part in (o.error, o.note) if part)
    if o.status in ("updated", "would-update") and o.changes:
        paths = list(dict.fromkeys(c.path.split(".")[0].split("[")[0] for c in o.changes))
        return "changed: " + ", ".join(paths)
    if o.status in ("created", "would-create") and o.desired_count is not None:
        return f"{o.desired_count} task(s) (desired count: {o.desired_count_owner})"
    return ""


def _summary(result, dry_run: bool) -> str:
    counts = {status: sum(o.status == status for o in result.services) for status in _ORDER}
    if dry_run:
        head = f"dry run: {counts['would-create']} would be created, {counts['would-update']} would be updated"
        return f"{head}, {counts['unchanged']} unchanged."
    parts = [f"{counts[s]} {s}" for s in _ORDER if counts[s] or s in ("created", "updated", "unchanged")]
    failed_jobs = [j.service for j in result.jobs if not j.done]
    tail = f"; job(s) {', '.join(failed_jobs)} did not succeed" if failed_jobs else ""
    return ", ".join(parts) + tail + "."
