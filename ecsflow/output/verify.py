"""`verify` output: one line per family and check."""

from __future__ import annotations

from ecsflow.output.console import STYLES, Environment, mask, md_cell, stdout_console, write_document


def write_verify(results, fmt: str, *, env: Environment) -> None:
    """`ecsflow verify`: one line per family and check (text table, markdown for a pull request, JSON)."""
    from ecsflow.verify import FAILING, summary_text, to_json

    if fmt == "json":
        write_document(to_json(results), env=env)
        return
    rows = [(r.family or "(settings)", r.check, mask(r.subject), r.status, mask(r.detail or "")) for r in results]
    if fmt == "markdown":
        lines = ["### ecsflow verify", "", f"**{summary_text(results)}.**", "",
                 "| family | check | subject | status | detail |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {md_cell(row[0])} | {row[1]} | {md_cell(row[2])} | "
                  f"{f'**{row[3]}**' if row[3] in FAILING else row[3]} | {row[4].replace('|', '/')} |" for row in rows]
        env.stdout.write("\n".join(lines) + "\n")
        env.stdout.flush()
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("family", "check", "subject", "status", "detail"):
        table.add_column(column, overflow="fold")
    for family, check, subject, status, detail in rows:
        table.add_row(escape(family), check, escape(subject), f"[{STYLES[status]}]{status}[/]", escape(detail))
    console = stdout_console(env)
    console.print(table)
    console.print(f"verify: {summary_text(results)}.")
