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

    console = stdout_console(env)
    headers = ("family", "check", "subject", "status", "detail")
    widths = [max(len(text) for text in column) for column in zip(headers, *rows, strict=True)]
    if sum(widths) + 2 * (len(widths) - 1) > console.width:
        _write_stacked(console, rows)  # a table would fold ARNs and images mid-word
    else:
        table = Table(box=None, pad_edge=False)
        for column in headers:
            table.add_column(column, overflow="fold")
        for family, check, subject, status, detail in rows:
            table.add_row(escape(family), check, escape(subject), f"[{STYLES[status]}]{status}[/]", escape(detail))
        console.print(table)
    console.print(f"verify: {summary_text(results)}.")


def _write_stacked(console, rows: list[tuple[str, ...]]) -> None:
    """The checks when the table does not fit: family, check and status on one line, then the subject whole on
    a line of its own and the detail wrapped at words, both indented, so an ARN is never split."""
    from rich.markup import escape
    from rich.padding import Padding
    from rich.text import Text

    family_width = max(len(row[0]) for row in rows)
    check_width = max(len(row[1]) for row in rows)
    for family, check, subject, status, detail in rows:
        console.print(f"{escape(family.ljust(family_width))}  {check.ljust(check_width)}  "
                      f"[{STYLES[status]}]{status}[/]", soft_wrap=True)
        console.print(f"    {escape(subject)}", soft_wrap=True, highlight=False)
        if detail:
            console.print(Padding(Text(detail), (0, 0, 0, 4), expand=False))
