"""How the command line shows things: tables, data frames, JSON."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from registry.cli.context import console, err_console

if TYPE_CHECKING:
    from registry.results import Result

__all__ = ["json_safe", "print_frame", "print_json", "print_table", "warn_unverified"]

_TONNES = {"issued", "active", "pledged", "retired", "cancelled", "in_buffer", "quantity"}


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf) replaced by None: strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def print_json(data: Result | dict[str, Any] | list[Any]) -> None:
    """A typed result or plain data as indented, strict JSON (UTF-8 kept, no NaN or Infinity:
    those become null) on standard output."""
    plain = data if isinstance(data, dict | list) else data.to_dict()
    text = json.dumps(json_safe(plain), ensure_ascii=False, indent=1, default=str, allow_nan=False)
    sys.stdout.write(text + "\n")


def warn_unverified(names: list[str], out: Console = err_console) -> None:
    """Say which parameters behind a result have an unverified source (every output does)."""
    if names:
        out.print(
            f"[yellow]注意：{len(names)} 个参数来源未核实，结果须标注 / NOTE: {len(names)} "
            f"parameters have an unverified source:[/] {escape(', '.join(names))}"
        )


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
