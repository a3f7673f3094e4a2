"""How the command line shows things: tables, data frames, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from registry.cli.context import console

if TYPE_CHECKING:
    from registry.ledger.results import Result

__all__ = ["print_frame", "print_json", "print_table"]

_TONNES = {"issued", "active", "pledged", "retired", "cancelled", "in_buffer", "quantity"}


def print_json(data: Result | dict[str, Any] | list[Any]) -> None:
    """A typed result or plain data as indented JSON (UTF-8 kept) on standard output."""
    plain = data if isinstance(data, dict | list) else data.to_dict()
    sys.stdout.write(json.dumps(plain, ensure_ascii=False, indent=1) + "\n")


def print_table(
    title: str,
    rows: Sequence[Result | dict[str, Any]],
    columns: tuple[str, ...],
    out: Console = console,
) -> None:
    """Rows as a table: tonnes with thousands separators, lists (eco-labels) joined."""
    table = Table(title=title)
    for name in columns:
        table.add_column(name, justify="right" if name in _TONNES else "left")
    for item in rows:
        row = item if isinstance(item, dict) else item.to_dict()
        cells = []
        for name in columns:
            value = row[name]
            if name in _TONNES:
                cells.append(f"{value:,}")
            elif isinstance(value, list):
                cells.append(escape(", ".join(value)))
            else:
                cells.append(escape("" if value is None else str(value)))
        table.add_row(*cells)
    out.print(table)


def print_frame(frame: Any, title: str, fmt: str, out: Console = console) -> None:
    """A pandas frame as a table (numbers with separators) or, with ``fmt`` csv, as CSV."""
    if fmt == "csv":
        sys.stdout.write(frame.to_csv(index=False))
        return
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="right" if frame[col].dtype.kind in "fi" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(
            *[f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
              for v in row]
        )  # fmt: skip
    out.print(table)
