"""Output for people (rich tables) and for scripts (JSON on stdout, nothing else there)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from adoscale.cli.terminal import literal
from adoscale.core.schema import Queue

QUEUE_COLUMNS = (
    ("queue", "queue"),
    ("pool", "pool"),
    ("enabled", "enabled"),
    ("max", "max_agents"),
    ("standby", "standby_agents"),
    ("idle min", "idle_timeout_minutes"),
    ("profile", "agent_profile"),
    ("spot", "spot"),
    ("capabilities", "capabilities"),
)


def console() -> Console:
    """Built per call so it writes to whatever ``sys.stdout`` is now (tests swap it)."""
    return Console(highlight=False, soft_wrap=False)


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def cell(value: Any) -> Text:
    """A table cell shown literally (no rich markup, no terminal control characters)."""
    return literal(_cell_text(value))


def _cell_text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        pairs = sorted(value.items(), key=lambda pair: str(pair[0]))
        return ", ".join(f"{k}={v}" if v else str(k) for k, v in pairs) or "{}"
    return str(value)


def queues_table(queues: Sequence[Queue]) -> Table:
    table = Table(title="queues", title_justify="left")
    for index, (header, _) in enumerate(QUEUE_COLUMNS):
        table.add_column(header, no_wrap=index < 2 or header == "enabled", overflow="fold")
    for queue in queues:
        item = queue.to_item()
        table.add_row(*(cell(item.get(key)) for _, key in QUEUE_COLUMNS))
    return table


def item_table(item: Mapping[str, Any]) -> Table:
    table = Table(show_header=False)
    table.add_column("attribute", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in item.items():
        table.add_row(cell(key), cell(value))
    return table


def rows_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(
            column, justify="left" if index == 0 or index == len(columns) - 1 else "right"
        )
    for row in rows:
        table.add_row(*(cell(value) for value in row))
    return table
