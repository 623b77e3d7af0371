"""A table of plain text, laid out as rich's ``Table(box=None, pad_edge=False)`` lays it out, for large tables
printed where rich would print no styles anyway.

rich spends about 0.5 ms a row measuring, wrapping and rendering a table's cells: a no-op `ecsflow sync` of
500 families spent 0.25 s printing its table to a pipe, a sixth of its round trips. When stdout is not a
terminal (no colour, no styles) and every cell is printable ASCII (one column a character) and the table fits
the console's width (nothing to fold), rich's layout is simple: each column as wide as its widest cell, cells
padded on the right, two spaces between columns. ``plain_table`` writes that; anything else is rich's.
"""

from __future__ import annotations

from collections.abc import Sequence


def plain_table(console, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str | None:
    """The text rich would print for this table on ``console``, or None where rich's own layout is needed (a
    terminal, a cell that is not printable ASCII, a table wider than the console)."""
    if console.is_terminal or console.is_jupyter:
        return None
    if not all(_plain(cell) for row in (header, *rows) for cell in row):
        return None
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    if sum(widths) + 2 * (len(widths) - 1) > console.width:
        return None
    return "".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + "\n"
                   for row in (header, *rows))


def _plain(cell: str) -> bool:
    # Leading or trailing spaces are left to rich, which may treat them as it wraps, and backslashes, which rich
    # does not always print as given once escaped (a trailing one twice, one before "[" not at all).
    return cell.isascii() and cell.isprintable() and cell == cell.strip(" ") and "\\" not in cell
