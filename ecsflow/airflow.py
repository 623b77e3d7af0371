"""Airflow DAG source and pools file for the task definitions ecsflow builds (`ecsflow gen-dag`).

Pure: this module imports nothing from Airflow and talks to no AWS endpoint. It turns the loaded project,
the resolved settings and the task-definition builds into the text of one DAG file (one
`EcsRunTaskOperator` task per service, Airflow 3 imports) and of the pools file that `airflow pools import`
reads, and it writes them without clobbering a file somebody edited by hand.

Safety rules for the generated source:
- every value from a compose file or a setting reaches the source as a string literal made by `repr()`
  (quotes normalised as black does), never pasted into code; in comments it appears as such a literal too,
  so it cannot end a comment line;
- a value placed in one of the operator's templated fields that Jinja would change (it holds `{`, or a
  line break that Jinja would normalise or strip) is wrapped in `airflow.sdk.literal()`, so it reaches ECS
  unchanged;
- runtime values (`x-ecsflow.runtime_env`) are the only templates: `{{ params['NAME'] }}`, with NAME a Jinja
  string literal in which every character but a plain few is a hex escape.
"""

from __future__ import annotations

import hashlib
import json
import keyword
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ecsflow.compose.extension import ProjectExtension
from ecsflow.compose.model import ComposeProject, Service
from ecsflow.errors import EcsflowError
from ecsflow.runtask import LAUNCH_TYPE, launch_type_warning, network_configuration

# Airflow's KEY_REGEX is `^[\w.-]+$` with a Unicode `\w`; ids are kept to ASCII so they read the same
# everywhere (file names, URLs, the CLI). ID_LEN is Airflow's limit for dag and task ids.
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_ID_LEN = 250
_PY_LINE = 88  # black's default line length: the generated file is laid out as black would lay it out
_VAR_LEN = 38  # task variable names: short enough that `a >> b` always fits in one line
# Names the generated module binds itself; a task variable never takes one of them.
_RESERVED = {"dag", "DAG", "Param", "EcsRunTaskOperator", "literal"}
_HASH_LINE = re.compile(r"^# ecsflow: sha256 ([0-9a-f]{64})$")
_POOLS_HASH_LINE = re.compile(r"^# ecsflow: pools sha256 ([0-9a-f]{64})$")
_EDGE_CONDITION = "service_completed_successfully"
_DEFAULT_POOL = "default_pool"  # Airflow's own pool: it exists already, importing it would resize it


class DagError(EcsflowError):
    """The selected services cannot become one Airflow DAG (a cycle, a bad id, a missing build...)."""


@dataclass(frozen=True)
class GeneratedDag:
    """One DAG file's text and the pools it uses (`airflow pools import` format)."""

    dag_id: str
    source: str
    pools: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # the services that became tasks, in compose order
    task_ids: Mapping[str, str] = field(default_factory=dict)  # service -> task id
    edges: tuple[tuple[str, str], ...] = ()  # (upstream task id, downstream task id)
    params: tuple[str, ...] = ()  # DAG params (runtime_env names)

    @property
    def file_name(self) -> str:
        return f"{self.dag_id}.py"

    @property
    def pools_file_name(self) -> str:
        return f"{self.dag_id}.pools.json"

    @property
    def pools_source(self) -> str:
        return pools_json(self.pools)


@dataclass(frozen=True)
class WriteResult:
    """What `write_dag` did with each file. Nothing is written when any file is refused."""

    written: tuple[Path, ...] = ()  # created or replaced
    unchanged: tuple[Path, ...] = ()  # already held exactly the generated text
    refused: tuple[Path, ...] = ()  # edited by hand (or not made by ecsflow): kept, needs --force
    skipped: tuple[Path, ...] = ()  # would have been written, but another file was refused
    messages: tuple[str, ...] = ()  # one line per file, for the CLI to print

    @property
    def ok(self) -> bool:
        return not self.refused


@dataclass(frozen=True)
class GenDagResult:
    generated: GeneratedDag
    written: WriteResult


# --- the public entry points ---


def gen_dag(
    project: ComposeProject,
    resolved_settings: Any,
    builds: Sequence[Any],
    out_dir: Path,
    *,
    services: Iterable[str] | None = None,
    dag_id: str | None = None,
    schedule: str | None = None,
    pinned_arns: Mapping[str, str] | None = None,
    force: bool = False,
) -> GenDagResult:
    """`ecsflow gen-dag` without the printing: generate the DAG, then write it and its pools file."""
    generated = generate_dag(
        project, resolved_settings, builds, services=services, dag_id=dag_id, schedule=schedule,
        pinned_arns=pinned_arns,
    )
    return GenDagResult(generated=generated, written=write_dag(generated, out_dir, force=force))


def generate_dag(
    project: ComposeProject,
    resolved_settings: Any,
    builds: Sequence[Any],
    *,
    services: Iterable[str] | None = None,
    dag_id: str | None = None,
    schedule: str | None = None,
    pinned_arns: Mapping[str, str] | None = None,
) -> GeneratedDag:
    """The DAG file for the selected services (see the module docstring).

    `resolved_settings` is a `ResolvedSettings` (or a bare `Settings`); `builds` the `TaskDefinitionBuild`s of
    (at least) the selected services: the family, the container name and the awslogs options come from
    their requests, so the DAG runs exactly what `sync` registers. `services=None` selects every built
    service except long-running ones (ports, expose, restart: always/unless-stopped), with a warning naming
    them: an `EcsRunTaskOperator` waits for its task to stop. `dag_id` / `schedule` override the top-level
    `x-ecsflow.dag_id` / `x-ecsflow.schedule` (default: the project name / no schedule, i.e. manual runs);
    every schedule given must pass `schedule_problem` (else DagError), and `@continuous` adds max_active_runs=1.
    `pinned_arns` maps family -> task definition ARN to run that revision instead of the latest ACTIVE one.
    """
    settings = getattr(resolved_settings, "settings", resolved_settings)
    x_project = project.x_ecsflow
    warnings: list[str] = []

    dag_id = _dag_id(dag_id, x_project, project.name)
    by_service = {build.service: build for build in builds}
    selected = _select(project, by_service, services, warnings)
    schedule_value = _schedule(schedule, x_project, selected)

    # Task ids and Python names: derived from service names, unique, valid.
    task_ids = _unique([_task_id(s.name) for s in selected], _ID_LEN)
    variables = _unique([_variable(t) for t in task_ids], _VAR_LEN, reserved=_RESERVED, python=True)
    task_of = dict(zip((s.name for s in selected), task_ids, strict=True))
    var_of = dict(zip((s.name for s in selected), variables, strict=True))

    launch_warning = launch_type_warning(settings, "the DAG runs them")
    if launch_warning:
        warnings.append(launch_warning)
    network = network_configuration(settings)
    if network is None:
        warnings.append(
            "no subnets are set: a Fargate task needs them, so the DAG has no network_configuration and ECS will "
            "refuse to run it (set subnets and security_groups)"
        )

    # Params: one per runtime_env name, in first-use order.
    params: dict[str, list[str]] = {}
    for service in selected:
        for name in _runtime_env(service):
            params.setdefault(name, []).append(service.name)

    # Pools: name -> slots (the largest pool_slots given for it) and the services using it.
    pools: dict[str, dict[str, Any]] = {}
    for service in selected:
        pool = service.x_ecsflow.pool
        if pool is None:
            continue
        slots = _slots(service)
        entry = pools.setdefault(pool, {"slots": slots, "services": []})
        if slots != entry["slots"]:
            warnings.append(
                f"pool {pool!r} gets pool_slots {slots} from {service.name!r} and {entry['slots']} from "
                f"{', '.join(repr(s) for s in entry['services'])}; the pools file uses the larger"
            )
            entry["slots"] = max(slots, entry["slots"])
        entry["services"].append(service.name)

    edges, notes = _edges(selected, task_of)
    _check_acyclic(edges, selected)

    tasks = [
        _task(service, by_service[service.name], settings, network, task_of[service.name], pinned_arns, warnings)
        for service in selected
    ]
    body = _render_module(
        project=project,
        dag_id=dag_id,
        schedule=schedule_value,
        params=params,
        tasks=tasks,
        variables=[var_of[s.name] for s in selected],
        edges=[(var_of[a], var_of[b]) for a, b in edges],
        notes=notes,
    )
    pool_file = {
        name: {
            "slots": entry["slots"],
            "description": f"ecsflow: DAG {dag_id}, services {', '.join(entry['services'])}",
            "include_deferred": True,
        }
        for name, entry in pools.items()
        if name != _DEFAULT_POOL
    }
    if _DEFAULT_POOL in pools:
        warnings.append(f"pool {_DEFAULT_POOL!r} is Airflow's own: it is not in the pools file")
    source = _with_header(project, body, pools_json(pool_file))
    return GeneratedDag(
        dag_id=dag_id,
        source=source,
        pools=pool_file,
        warnings=tuple(warnings),
        services=tuple(s.name for s in selected),
        task_ids=task_of,
        edges=tuple((task_of[a], task_of[b]) for a, b in edges),
        params=tuple(params),
    )


def write_dag(generated: GeneratedDag, out_dir: Path, *, force: bool = False) -> WriteResult:
    """Write `<dag_id>.py` and `<dag_id>.pools.json` into out_dir (created if missing).

    A file that already holds the generated text is left alone ("unchanged"). A file that was changed since
    ecsflow wrote it (its text no longer matches the hash in the DAG file's header), or that ecsflow did not
    write, is refused unless `force`; when one file is refused, neither is written.
    """
    out_dir = Path(out_dir)
    dag_path = out_dir / generated.file_name
    pools_path = out_dir / generated.pools_file_name
    existing_dag = _read(dag_path)
    existing_pools = _read(pools_path)
    recorded = parse_header(existing_dag) if existing_dag is not None else None

    plans: list[tuple[Path, str, str | None]] = []  # (path, text, why it is refused)
    plans.append((dag_path, generated.source, _dag_refusal(existing_dag, recorded)))
    pools_text = generated.pools_source
    pools_refusal = None
    if existing_pools is not None and existing_pools != pools_text:
        if recorded is None:
            pools_refusal = (
                f"it differs from what ecsflow generates, and {dag_path.name} "
                + ("does not exist" if existing_dag is None else "has no ecsflow hash")
                + " to tell whether ecsflow wrote it"
            )
        elif _sha(existing_pools) != recorded[1]:
            pools_refusal = f"it was edited since ecsflow generated it (hash in {dag_path.name})"
    plans.append((pools_path, pools_text, pools_refusal))

    written: list[Path] = []
    unchanged: list[Path] = []
    refused: list[Path] = []
    skipped: list[Path] = []
    messages: list[str] = []
    blocked = not force and any(why for _, _, why in plans)
    for path, text, why in plans:
        current = existing_dag if path == dag_path else existing_pools
        if current == text:
            unchanged.append(path)
            messages.append(f"unchanged {path}")
        elif why and not force:
            refused.append(path)
            messages.append(f"refused {path}: {why}; use --force to overwrite it")
        elif blocked:
            skipped.append(path)
            messages.append(f"not written {path}: another file was refused")
        else:
            verb = "created" if current is None else "overwrote" if why else "updated"
            _write_atomic(path, text)
            written.append(path)
            messages.append(f"{verb} {path}" + (f" ({why}; --force)" if why else ""))
    return WriteResult(
        written=tuple(written),
        unchanged=tuple(unchanged),
        refused=tuple(refused),
        skipped=tuple(skipped),
        messages=tuple(messages),
    )


def parse_header(text: str) -> tuple[str, str] | None:
    """(sha256 of the DAG body, sha256 of the pools file) recorded in a generated DAG file's header, or None."""
    split = _split(text)
    return split[0] if split else None


def is_edited(text: str) -> bool:
    """True when a DAG file's text after the hash line no longer matches that hash (or there is none)."""
    split = _split(text)
    return split is None or _sha(split[1]) != split[0][0]


def _split(text: str) -> tuple[tuple[str, str], str] | None:
    """((DAG hash, pools hash), the text the DAG hash covers) when the leading comments hold both hash lines:
    `# ecsflow: sha256 H` then `# ecsflow: pools sha256 P`; the DAG hash covers the text after the second."""
    lines = text.split("\n")
    offset = 0
    for index, line in enumerate(lines[:12]):
        offset += len(line) + 1
        match = _HASH_LINE.match(line)
        if match:
            pools = _POOLS_HASH_LINE.match(lines[index + 1]) if index + 1 < len(lines) else None
            if pools is None:
                return None
            offset += len(lines[index + 1]) + 1
            return (match.group(1), pools.group(1)), text[offset:]
        if not line.startswith("#"):
            break
    return None


def pools_json(pools: Mapping[str, Mapping[str, Any]]) -> str:
    """The pools file text: `{"NAME": {"slots": N, "description": "...", "include_deferred": true}}`."""
    return json.dumps({name: dict(spec) for name, spec in sorted(pools.items())}, indent=2) + "\n"


# --- selection, ids, settings ---


def _dag_id(flag: str | None, x_project: ProjectExtension, project_name: str) -> str:
    value = flag if flag not in (None, "") else x_project.dag_id or project_name
    if not isinstance(value, str) or not value:
        raise DagError(f"dag_id must be a non-empty string, not {value!r}", key="x-ecsflow.dag_id")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", value) or value.startswith(".") or len(value) > _ID_LEN:
        raise DagError(
            f"dag_id {value!r} is not a valid Airflow DAG id",
            key="dag_id",
            hint=f"use letters, digits, '_', '-' and '.', not first, at most {_ID_LEN} characters "
            "(it is also the file name)",
        )
    return value


def _long_running(service: Service) -> str | None:
    """Why a service looks like a server rather than a job that finishes, or None."""
    if service.ports:
        return "it publishes ports"
    if service.expose:
        return "it exposes ports"
    restart = service.raw.get("restart")
    if restart in ("always", "unless-stopped"):
        return f"it has restart: {restart}"
    return None


def _select(
    project: ComposeProject, by_service: Mapping[str, Any], wanted: Iterable[str] | None, warnings: list[str]
) -> list[Service]:
    if wanted is not None:
        chosen = list(project.select(wanted))
    else:
        chosen = []
        for service in project.services:
            if service.name not in by_service:
                continue
            why = _long_running(service)
            if why:
                warnings.append(
                    f"service {service.name!r} is left out of the DAG: {why}, so it looks like a long-running "
                    "server, and an Airflow task waits for its ECS task to stop (name it to include it)"
                )
                continue
            chosen.append(service)
    missing = [s.name for s in chosen if s.name not in by_service]
    if missing:
        raise DagError(f"no task definition was built for {', '.join(repr(n) for n in missing)}")
    if not chosen:
        raise DagError("no services to put in the DAG", hint="name the services to include")
    return chosen


def _schedule(flag: str | None, x_project: ProjectExtension, selected: Sequence[Service]) -> str | None:
    """The DAG's schedule: --schedule, else the selected services' (all the same), else the top-level one.

    Every schedule given is checked (even one that another overrides), so that a value Airflow would refuse
    is reported here, before anything is written, instead of as an import error in Airflow."""
    chosen = _schedule_value(flag, "--schedule") if flag not in (None, "") else None
    per_service = {
        s.name: _schedule_value(s.x_ecsflow.schedule, "x-ecsflow.schedule", s.name)
        for s in selected
        if s.x_ecsflow.schedule is not None
    }
    top = x_project.schedule
    top_value = _schedule_value(top, "top-level x-ecsflow.schedule") if top is not None else None
    if chosen is not None:
        return chosen
    distinct = set(per_service.values())
    if len(distinct) > 1:
        raise DagError(
            "the services of one DAG have different schedules: "
            + ", ".join(f"{name} {value!r}" for name, value in per_service.items()),
            key="x-ecsflow.schedule",
            hint="generate one DAG per schedule (gen-dag SERVICE... --dag-id ID), or pass --schedule",
        )
    if distinct:
        return distinct.pop()
    return top_value


# What Airflow 3's DAG(schedule="...") takes as a preset: "@once" (OnceTimetable), "@continuous"
# (ContinuousTimetable) and the cron presets of airflow.sdk.definitions.timetables._cron.CRON_PRESETS. Other
# "@..." words reach croniter, which happens to know "@midnight" and "@annually"; they are not Airflow's
# presets, so they are refused with the preset that means the same.
SCHEDULE_PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")
_PRESET_ALIASES = {"@midnight": "@daily", "@annually": "@yearly"}
_MONTHS = {name: i for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_WEEKDAYS = {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (name, lowest, highest, names) of the five fields of a cron expression, as croniter reads them; the day of
# week also takes 7 for Sunday.
_CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_CRON_ITEM = re.compile(r"(?P<base>[^/]+)(?:/(?P<step>[^/]*))?")
SCHEDULE_HINT = (
    "use one of the presets " + ", ".join(SCHEDULE_PRESETS) + ", or a cron expression of 5 fields "
    "(minute hour day-of-month month day-of-week), e.g. '0 3 * * *' or '30 2 * * mon-fri'; each field is "
    "*, a number, a range a-b, a step */n, a-b/n or a/n, or a comma-separated list of these; months may be "
    "jan-dec and days of week sun-sat (0-7, 0 and 7 are Sunday); ? means * in day-of-month and day-of-week"
)


def schedule_problem(value: str) -> str | None:
    """Why Airflow 3 would refuse `value` as `DAG(schedule=value)` (or would read it otherwise than it says),
    or None when it is one of `SCHEDULE_PRESETS` or a 5-field cron expression that croniter reads as written.

    Stricter than Airflow where Airflow's reading surprises: 6 or 7 fields (croniter's trailing seconds and
    year, not Quartz's leading seconds), `a-a` (croniter reads it as the whole field), ranges that wrap around
    (`fri-mon`), croniter's extensions (L, W, #, H), and days that no chosen month has (`0 0 30 2 *`)."""
    if value.startswith("@"):
        if value in SCHEDULE_PRESETS:
            return None
        if value.lower() in SCHEDULE_PRESETS:
            return f"presets are lower case: write {value.lower()!r}"
        if value.lower() in _PRESET_ALIASES:
            return f"{value!r} is not one of Airflow's presets: write {_PRESET_ALIASES[value.lower()]!r}"
        return f"{value!r} is not one of Airflow's presets"
    fields = re.split(r"[ \t]+", value.strip(" \t"))
    if len(fields) != len(_CRON_FIELDS):
        if len(fields) in (6, 7):
            return (
                f"it has {len(fields)} fields: only 5-field cron expressions are supported (Airflow would read a "
                "6th field as seconds and a 7th as the year, not as Quartz's leading seconds)"
            )
        return f"a cron expression has 5 fields separated by spaces, this has {len(fields)}"
    chosen: list[set[int] | None] = []
    for index, text in enumerate(fields):
        values, problem = _cron_field(index, text)
        if problem:
            return f"{_CRON_FIELDS[index][0]} field {text!r}: {problem}"
        chosen.append(values)
    days, months, weekdays = chosen[2], chosen[3], chosen[4]
    if days is not None and weekdays is None:  # the day of week restricts nothing: only these days run
        longest = max(_MONTH_DAYS[m - 1] for m in months) if months is not None else 31
        if min(days) > longest:
            return f"day {min(days)} never comes in the chosen month(s), so it would never run"
    return None


def _cron_field(index: int, text: str) -> tuple[set[int] | None, str | None]:
    """(the values a field selects, None for all of them; a problem or None)."""
    name, low, high, names = _CRON_FIELDS[index]
    top = 6 if index == 4 else high  # 7 is another name for Sunday; croniter's range ends at 6
    if text in ("*", "?"):
        if text == "?" and index not in (2, 4):
            return None, "? is only allowed in day-of-month and day-of-week"
        return None, None
    selected: set[int] = set()
    for item in text.split(","):
        if item in ("*", "?"):  # croniter keeps a listed * as a value of its own
            return None, f"{item} cannot be part of a list"
        match = _CRON_ITEM.fullmatch(item)
        if not match:
            return None, f"{item!r} is not a value, a range or a step" if item else "a list has an empty item"
        base, step = match.group("base"), match.group("step")
        if step is not None:
            if not step.isascii() or not step.isdigit():
                return None, f"the step of {item!r} must be a whole number"
            if not 1 <= int(step) <= top - low + 1:
                return None, f"the step of {item!r} must be between 1 and {top - low + 1}"
        stride = int(step) if step is not None else 1
        if base == "*":
            first, last = low, top
        elif "-" in base:
            start_text, _, end_text = base.partition("-")
            first, problem = _cron_value(start_text, low, high, names)
            if problem:
                return None, problem
            last, problem = _cron_value(end_text, low, high, names)
            if problem:
                return None, problem
            if first == last:
                return None, (
                    f"the range {base!r} has equal ends (croniter reads it as the whole field): write {start_text!r}"
                )
            if first > last:
                return None, (
                    f"the range {base!r} runs backwards: split it, e.g. '{start_text}-{high},{low}-{end_text}'"
                )
        else:
            first, problem = _cron_value(base, low, high, names)
            if problem:
                return None, problem
            if index == 4 and first == 7:
                first = 0  # Sunday
            last = top if step is not None else first
        selected.update(v % 7 if index == 4 else v for v in range(first, last + 1, stride))
    return selected, None


def _cron_value(text: str, low: int, high: int, names: Mapping[str, int]) -> tuple[int, str | None]:
    if text.isascii() and text.isdigit():
        number = int(text)
        if low <= number <= high:
            return number, None
        return number, f"{text} is out of range ({low}-{high})"
    if text.lower() in names:
        return names[text.lower()], None
    allowed = f"a number {low}-{high}" + (f" or one of {', '.join(names)}" if names else "")
    return 0, f"{text!r} is not {allowed}"


def _schedule_value(value: Any, where: str, service: str | None = None) -> str:
    source = f"x-ecsflow.schedule of service {service!r}" if service else where
    key = "x-ecsflow.schedule" if "x-ecsflow" in where else None
    if not isinstance(value, str) or not value.strip():
        raise DagError(
            f"{source} must be a cron expression or a preset like '@daily', not {value!r}",
            service=service,
            key=key,
            hint=SCHEDULE_HINT,
        )
    value = value.strip()
    problem = schedule_problem(value)
    if problem:
        raise DagError(
            f"{source} {value!r} is not a schedule Airflow accepts: {problem}",
            service=service,
            key=key,
            hint=SCHEDULE_HINT,
        )
    return value


def _task_id(name: str) -> str:
    return _ID_CHARS.sub("_", name)[:_ID_LEN] or "_"


def _variable(task_id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", task_id)[:_VAR_LEN]
    if not name or name[0].isdigit():
        name = ("t_" + name)[:_VAR_LEN]
    return name


def _unique(names: Sequence[str], limit: int, reserved: Iterable[str] = (), python: bool = False) -> list[str]:
    """Make names unique with _2, _3... suffixes, within `limit` characters (python: never a keyword)."""
    taken = set(reserved)
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in taken or (python and keyword.iskeyword(candidate)):
            n += 1
            suffix = f"_{n}"
            candidate = name[: limit - len(suffix)] + suffix
        taken.add(candidate)
        out.append(candidate)
    return out


def _runtime_env(service: Service) -> list[str]:
    return list(service.x_ecsflow.runtime_env)


def _slots(service: Service) -> int:
    return service.x_ecsflow.pool_slots or 1


def _edges(selected: Sequence[Service], task_of: Mapping[str, str]) -> tuple[list[tuple[str, str]], list[list[str]]]:
    """(upstream service, downstream service) pairs, and comment blocks for depends_on that make no edge."""
    edges: list[tuple[str, str]] = []
    notes: list[list[str]] = []
    for service in selected:
        for dependency, spec in service.depends_on.items():
            condition = getattr(spec, "condition", "service_started")
            if dependency not in task_of:
                notes.append([
                    f"{py_str(service.name)} depends on {py_str(dependency)}, which is not a task of this",
                    "DAG: no edge.",
                ])
            elif condition == _EDGE_CONDITION:
                edges.append((dependency, service.name))
            else:
                notes.append([
                    f"{py_str(service.name)} depends on {py_str(dependency)} with condition "
                    f"{py_str(condition)}: no edge.",
                    "Only service_completed_successfully means 'after it finished'; the other conditions",
                    "mean 'while it runs', which separate ECS tasks in Airflow do not express.",
                ])
    return edges, notes


def _check_acyclic(edges: Sequence[tuple[str, str]], selected: Sequence[Service]) -> None:
    downstream: dict[str, list[str]] = {s.name: [] for s in selected}
    for a, b in edges:
        downstream[a].append(b)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in downstream[node]:
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                raise DagError(
                    "depends_on (service_completed_successfully) has a cycle: " + " -> ".join(cycle),
                    service=nxt,
                    key="depends_on",
                    hint="an Airflow DAG cannot have cycles; remove one of these dependencies",
                )
            if nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for service in selected:
        if service.name not in state:
            visit(service.name)


# --- the operator arguments ---


@dataclass(frozen=True)
class _Task:
    service: str
    kwargs: list[tuple[str, Any]]  # keyword -> node


def _task(
    service: Service,
    build: Any,
    settings: Any,
    network: dict[str, Any] | None,
    task_id: str,
    pinned: Mapping[str, str] | None,
    warnings: list[str],
) -> _Task:
    request = build.request
    family = build.family
    containers = request.get("containerDefinitions") or []
    if len(containers) != 1:
        raise DagError(f"the task definition of {service.name!r} has {len(containers)} containers, not 1",
                       service=service.name)
    container = containers[0]
    container_name = container["name"]
    if pinned is not None:
        if family not in pinned:
            raise DagError(
                f"no registered revision is known for family {family!r}",
                service=service.name,
                hint="run `ecsflow sync` first, or generate the DAG without --pin",
            )
        task_definition = pinned[family]
    else:
        task_definition = family

    kwargs: list[tuple[str, Any]] = [
        ("task_id", _Str(task_id)),
        ("cluster", _tpl(settings.cluster)),
        ("task_definition", _tpl(task_definition)),
        ("launch_type", _Str(LAUNCH_TYPE)),
    ]
    if settings.region:
        kwargs.append(("region_name", _Str(settings.region)))
    if network is not None:
        kwargs.append(("network_configuration", _tpl_tree(network)))
    kwargs.append(("container_name", _tpl(container_name)))
    kwargs.append(("overrides", _overrides(service, container_name)))

    log = container.get("logConfiguration") or {}
    options = log.get("options") or {}
    if log.get("logDriver") == "awslogs" and options.get("awslogs-group") and options.get("awslogs-stream-prefix"):
        kwargs.append(("awslogs_group", _tpl(options["awslogs-group"])))
        if options.get("awslogs-region"):
            kwargs.append(("awslogs_region", _tpl(options["awslogs-region"])))
        # ECS names the stream PREFIX/CONTAINER/TASK-ID; the operator appends /TASK-ID (and, in recent
        # providers, /CONTAINER unless the prefix already ends with it).
        kwargs.append(("awslogs_stream_prefix", _tpl(f"{options['awslogs-stream-prefix']}/{container_name}")))
    else:
        warnings.append(f"service {service.name!r} does not log with awslogs: Airflow will not show its logs")

    pool = service.x_ecsflow.pool
    if pool is not None:
        kwargs.append(("pool", _Str(pool)))
    return _Task(service=service.name, kwargs=kwargs)


def _overrides(service: Service, container_name: str) -> Any:
    names = _runtime_env(service)
    if not names:
        return _Dict([])
    environment = _List([
        _Dict([(_Str("name"), _tpl(name)), (_Str("value"), _Str(f"{{{{ params[{_jinja_str(name)}] }}}}"))])
        for name in names
    ])
    container = _Dict([(_Str("name"), _tpl(container_name)), (_Str("environment"), environment)])
    return _Dict([(_Str("containerOverrides"), _List([container]))])


def _needs_literal(value: str) -> bool:
    # Jinja reads {{ {% {# as syntax, turns \r\n and \r into \n, and Airflow's environment drops one trailing
    # newline: a value with any of these would not arrive as written.
    return "{" in value or "\r" in value or "\n" in value


def _tpl(value: str) -> Any:
    """A string for a templated operator field: kept literal when Jinja would change it."""
    return _Call("literal", [_Str(value)]) if _needs_literal(value) else _Str(value)


def _tpl_tree(value: Any) -> Any:
    if isinstance(value, str):
        return _tpl(value)
    if isinstance(value, Mapping):
        return _Dict([(_Str(k), _tpl_tree(v)) for k, v in value.items()])
    if isinstance(value, list | tuple):
        return _List([_tpl_tree(v) for v in value])
    return _Raw(repr(value))


_JINJA_PLAIN = re.compile(r"[A-Za-z0-9_.-]")


def _jinja_str(value: str) -> str:
    """A Jinja string literal for any text: characters other than letters, digits and _.- as \\x / \\u
    escapes (Jinja decodes string literals with Python's unicode-escape), so no quote, brace or line break
    of the value ever appears in the template."""
    out = []
    for char in value:
        if _JINJA_PLAIN.fullmatch(char):
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "'" + "".join(out) + "'"


# --- source layout: a tiny expression tree laid out the way black lays it out ---


@dataclass(frozen=True)
class _Str:
    value: str


@dataclass(frozen=True)
class _Raw:
    code: str


@dataclass(frozen=True)
class _Call:
    func: str
    args: list[Any]
    kwargs: list[tuple[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _List:
    items: list[Any]


@dataclass(frozen=True)
class _Dict:
    items: list[tuple[Any, Any]]


def py_str(value: str) -> str:
    """A Python string literal for `value`, made by repr() with black's quote preference applied."""
    return _black_quotes(repr(value))


def _black_quotes(literal: str) -> str:
    # black's normalize_string_quotes (black/strings.py) for a plain, non-triple-quoted literal.
    if literal[0] == '"':
        orig, new = '"', "'"
    else:
        orig, new = "'", '"'
    unescaped_new = re.compile(rf"(([^\\]|^)(\\\\)*){new}")
    escaped_new = re.compile(rf"([^\\]|^)\\((?:\\\\)*){new}")
    escaped_orig = re.compile(rf"([^\\]|^)\\((?:\\\\)*){orig}")
    body = literal[1:-1]

    def sub_twice(regex: re.Pattern[str], replacement: str, text: str) -> str:
        return regex.sub(replacement, regex.sub(replacement, text))

    new_body = sub_twice(escaped_new, rf"\1\2{new}", body)
    if body != new_body:
        body = new_body
        literal = f"{orig}{body}{orig}"
    new_body = sub_twice(escaped_orig, rf"\1\2{orig}", new_body)
    new_body = sub_twice(unescaped_new, rf"\1\\{new}", new_body)
    if new_body.count("\\") > body.count("\\"):
        return literal
    if new_body.count("\\") == body.count("\\") and orig == '"':
        return literal
    return f"{new}{new_body}{new}"


def _flat(node: Any) -> str:
    if isinstance(node, _Str):
        return py_str(node.value)
    if isinstance(node, _Raw):
        return node.code
    if isinstance(node, _Call):
        parts = [_flat(a) for a in node.args] + [f"{k}={_flat(v)}" for k, v in node.kwargs]
        return f"{node.func}({', '.join(parts)})"
    if isinstance(node, _List):
        return "[" + ", ".join(_flat(i) for i in node.items) + "]"
    if isinstance(node, _Dict):
        return "{" + ", ".join(f"{_flat(k)}: {_flat(v)}" for k, v in node.items) + "}"
    raise TypeError(node)


def _lay_out(node: Any, indent: int, prefix: str = "", suffix: str = "") -> list[str]:
    """Lines for `prefix + node + suffix` at `indent`: one line when it fits in black's 88 columns, else the
    brackets exploded one item a line with a trailing comma (black keeps that: the magic trailing comma)."""
    pad = " " * indent
    flat = f"{pad}{prefix}{_flat(node)}{suffix}"
    if len(flat) <= _PY_LINE:
        return [flat]
    if isinstance(node, _Call):
        opening, closing = f"{node.func}(", ")"
        items = [(None, a) for a in node.args] + [(f"{k}=", v) for k, v in node.kwargs]
    elif isinstance(node, _List):
        opening, closing = "[", "]"
        items = [(None, i) for i in node.items]
    elif isinstance(node, _Dict):
        opening, closing = "{", "}"
        items = [(f"{_flat(k)}: ", v) for k, v in node.items]
    else:
        return [flat]  # a string or name: nothing to split
    if not items:
        return [flat]
    lines = [f"{pad}{prefix}{opening}"]
    for item_prefix, item in items:
        lines.extend(_lay_out(item, indent + 4, item_prefix or "", ","))
    lines.append(f"{pad}{closing}{suffix}")
    return lines


def _render_module(
    *,
    project: ComposeProject,
    dag_id: str,
    schedule: str | None,
    params: Mapping[str, list[str]],
    tasks: Sequence[_Task],
    variables: Sequence[str],
    edges: Sequence[tuple[str, str]],
    notes: Sequence[list[str]],
) -> str:
    dag_kwargs: list[tuple[str, Any]] = [
        ("dag_id", _Str(dag_id)),
        ("description", _Str(f"ECS Fargate tasks of the compose project {project.name}, generated by ecsflow")),
        ("schedule", _Str(schedule) if schedule is not None else _Raw("None")),
        ("catchup", _Raw("False")),
        ("tags", _List([_Str("ecsflow")])),
    ]
    if schedule == "@continuous":  # ContinuousTimetable refuses more than one active run
        dag_kwargs.insert(3, ("max_active_runs", _Raw("1")))
    if params:
        dag_kwargs.append((
            "params",
            _Dict([
                (
                    _Str(name),
                    _Call(
                        "Param",
                        [_Str("")],
                        [
                            ("type", _Str("string")),
                            (
                                "description",
                                _Str(f"{name} for {', '.join(users)} (x-ecsflow.runtime_env)"),
                            ),
                        ],
                    ),
                )
                for name, users in params.items()
            ]),
        ))

    body: list[str] = []
    body.extend(_lay_out(_Call("DAG", [], dag_kwargs), 0, "with ", " as dag:"))
    for i, (task, variable) in enumerate(zip(tasks, variables, strict=True)):
        if i:
            body.append("")
        body.extend(_lay_out(_Call("EcsRunTaskOperator", [], task.kwargs), 4, f"{variable} = "))
    if edges or notes:
        body.append("")
    for a, b in edges:
        body.append(f"    {a} >> {b}")
    for note in notes:
        body.extend(f"    # {line}" for line in note)

    uses_literal = any("literal(" in line and not line.lstrip().startswith("#") for line in body)
    sdk_names = ["DAG", "Param"] if params else ["DAG"]
    if uses_literal:
        sdk_names.append("literal")
    head = [
        '"""Runs ECS Fargate task definitions from Airflow; generated by `ecsflow gen-dag`."""',
        "",
        "from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator",
        f"from airflow.sdk import {', '.join(sdk_names)}",
        "",
    ]
    return "\n".join(head + body) + "\n"


def _with_header(project: ComposeProject, body: str, pools_text: str) -> str:
    files = ", ".join(p.name for p in project.files) or "(none)"
    intro = [
        f"# Generated by `ecsflow gen-dag` from the compose project {py_str(project.name)} ({py_str(files)}).",
        "# Change the compose file and generate again rather than editing this file: gen-dag",
        "# refuses to overwrite it once its text no longer matches the hash (unless --force).",
    ]
    if any(len(line) > _PY_LINE for line in intro + body.split("\n")):
        # A value longer than a line (black leaves it whole): tell ruff that this is expected here.
        body = "# ruff: noqa: E501\n" + body
    hashes = [f"# ecsflow: sha256 {_sha(body)}", f"# ecsflow: pools sha256 {_sha(pools_text)}"]
    return "\n".join(intro + hashes) + "\n" + body


# --- files ---


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return None


def _dag_refusal(existing: str | None, recorded: tuple[str, str] | None) -> str | None:
    if existing is None:
        return None
    if recorded is None:
        return "it has no ecsflow hash header, so ecsflow did not generate it"
    if is_edited(existing):
        return "it was edited since ecsflow generated it"
    return None


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)  # mkstemp makes it 0600; the scheduler may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
