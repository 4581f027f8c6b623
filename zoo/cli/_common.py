"""Helpers shared by the CLI modules: JSON output and rich tables."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any


def print_json(obj: Any) -> None:
    """Pretty JSON on stdout (tuples become lists, dataclasses must be converted by the caller)."""
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def print_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    min_width: int = 160,
    no_wrap: Sequence[str] = (),
) -> None:
    """A rich table on stdout; ``None`` cells print as an em dash.

    The table is laid out for ``max(min_width, terminal width)`` columns; ``min_width=0`` fits the
    terminal (``COLUMNS``). Columns named in ``no_wrap`` are never folded (names people copy).
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col in no_wrap)
    for row in rows:
        table.add_row(*("—" if cell is None else str(cell) for cell in row))
    Console(width=max(min_width, Console().width)).print(table)


def percent(value: float | None, digits: int = 1) -> str | None:
    """0.7613 -> '76.1'; None stays None."""
    return None if value is None else f"{100 * value:.{digits}f}"
