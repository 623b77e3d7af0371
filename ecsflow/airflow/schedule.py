"""The DAG's schedule: which of the schedules given applies, and whether Airflow accepts it as written.

A schedule is one of Airflow's presets (`SCHEDULE_PRESETS`) or a 5-field cron expression; `schedule_problem`
says why any other value would be refused by Airflow (or read otherwise than it says), so that it is reported
by `gen-dag`, before anything is written, instead of as an import error in Airflow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ecsflow.airflow.model import DagError, shown
from ecsflow.compose.model import ComposeProject, Service

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


def _schedule_value(value: Any, where: str, project: ComposeProject | None = None,
                    service: Service | None = None) -> str:
    """The schedule `value` (from `where`), checked. A value from the compose file is shown as `shown` shows it
    (interpolation's variables named, not shown: the --schedule flag, without ``project``, is shown as typed)."""
    source = f"x-ecsflow.schedule of service {service.name!r}" if service else where
    key = "x-ecsflow.schedule" if "x-ecsflow" in where else None
    where = dict(service=service.name, **service.where(key)) if service else {}
    text = shown(value, project, service) if project is not None else repr(value)
    if not isinstance(value, str) or not value.strip():
        raise DagError(
            f"{source} must be a cron expression or a preset like '@daily', not {text}",
            key=key,
            hint=SCHEDULE_HINT,
            **where,
        )
    problem = schedule_problem(value.strip())
    if problem:
        # The problem quotes the fields it is about: for a value that interpolation made, that would show part
        # of a variable's value, so only the variables are named.
        why = f": {problem}" if text == repr(value) else " (what is wrong is not said: it would show the value)"
        raise DagError(
            f"{source} {text} is not a schedule Airflow accepts{why}",
            key=key,
            hint=SCHEDULE_HINT,
            **where,
        )
    return value.strip()



def choose_schedule(flag: str | None, project: ComposeProject, selected: Sequence[Service]) -> str | None:
    """The DAG's schedule: --schedule, else the selected services' (all the same), else the top-level one.

    Every schedule given is checked (even one that another overrides), so that a value Airflow would refuse
    is reported here, before anything is written, instead of as an import error in Airflow."""
    chosen = _schedule_value(flag, "--schedule") if flag not in (None, "") else None
    by_name = {s.name: s for s in selected}
    per_service = {
        s.name: _schedule_value(s.x_ecsflow.schedule, "x-ecsflow.schedule", project, s)
        for s in selected
        if s.x_ecsflow.schedule is not None
    }
    top = project.x_ecsflow.schedule
    top_value = _schedule_value(top, "top-level x-ecsflow.schedule", project) if top is not None else None
    if chosen is not None:
        return chosen
    distinct = set(per_service.values())
    if len(distinct) > 1:
        raise DagError(
            "the services of one DAG have different schedules: "
            + ", ".join(f"{name} {shown(value, project, by_name[name])}" for name, value in per_service.items()),
            key="x-ecsflow.schedule",
            hint="generate one DAG per schedule (gen-dag SERVICE... --dag-id ID), or pass --schedule",
        )
    if distinct:
        return distinct.pop()
    return top_value
