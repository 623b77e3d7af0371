"""Large tables printed to a pipe (`ecsflow sync` of 500 families): laid out as plain text by
ecsflow/output/tables.py, character for character what rich prints, without rich's cost per row."""

from __future__ import annotations

import io
import random
import string
import subprocess
import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ecsflow.output.tables import plain_table

HEADER = ("service", "family", "status", "revision", "detail")


def piped_console(width: int = 240) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, highlight=False, emoji=False)
    console.width = width
    return console, out


def rich_text(header, rows, width: int = 240) -> str:
    console, out = piped_console(width)
    table = Table(box=None, pad_edge=False)
    for column in header:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*[escape(cell) for cell in row])
    console.print(table)
    return out.getvalue()


def test_plain_tables_are_what_rich_prints_to_a_pipe():
    chance = random.Random(26)
    alphabet = string.ascii_letters + string.digits + " -_:/[]().,'\"=*"
    laid_out = 0
    for _ in range(400):
        header = chance.sample(HEADER, chance.randint(1, 5))
        rows = [["".join(chance.choice(alphabet) for _ in range(chance.choice([0, 1, 5, 30, 70])))
                 for _ in header] for _ in range(chance.randint(0, 6))]
        width = chance.choice([40, 80, 240])
        console, _ = piped_console(width)
        plain = plain_table(console, header, rows)
        if plain is not None:
            laid_out += 1
            assert plain == rich_text(header, rows, width), (header, rows, width)
    assert laid_out > 100


def test_rich_lays_out_what_plain_text_cannot():
    console, _ = piped_console(120)
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/etl-api:1"
    assert plain_table(console, HEADER, [("api", "etl-api", "unchanged", "1", arn)]) is not None
    assert plain_table(console, HEADER, [("api", "etl-api", "failed", "", "x" * 90)]) is None  # wider: folded
    assert plain_table(console, HEADER, [("api", "etl-api", "failed", "", "ça coûte")]) is None  # not ASCII
    assert plain_table(console, HEADER, [("api", "etl-api", "failed", "", "a\nb")]) is None
    assert plain_table(console, HEADER, [("api", "etl-api", "failed", "", "C:\\path")]) is None
    terminal = Console(file=io.StringIO(), force_terminal=True, width=240)
    assert plain_table(terminal, HEADER, [("api", "etl-api", "unchanged", "1", arn)]) is None  # styles


SYNC_TABLE = """
import io, sys, time
from ecsflow.ecs.register import RegisterOutcome
from ecsflow.output.console import Environment
from ecsflow.output.plans import write_sync_outcomes
outcomes = [RegisterOutcome(f"svc{i}", f"bench-svc{i}", "registered", 2,
                            f"arn:aws:ecs:us-east-1:123456789012:task-definition/bench-svc{i}:2") for i in range(500)]
out = io.StringIO()
write_sync_outcomes(outcomes, "text", env=Environment(stdout=out, stderr=io.StringIO()))
lines = out.getvalue().splitlines()
print(len(lines), lines[-1], "rich.table" in sys.modules)
"""


def test_syncs_table_of_500_families_to_a_pipe_is_plain_text():
    """rich's Table took 0.25 s for these 500 rows (a sixth of the no-op sync's round trips); not imported."""
    done = subprocess.run([sys.executable, "-c", SYNC_TABLE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["502", "500", "registered,", "0", "unchanged,", "0", "failed.", "False"]
