"""The live terminal view of a local run (rich), or plain progress lines without a terminal.

Per queue: waiting and running jobs and idle and starting agents as the simulated
organisation sees them now, and the desired agents and action of the last poll.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

COLUMNS = ("queue", "waiting", "running", "idle", "starting", "desired", "last action")


@dataclass
class Frame:
    """Everything one refresh shows."""

    scenario: str
    elapsed: float  # simulated seconds
    speed: float
    jobs_done: int
    jobs_total: int
    rows: Mapping[str, Mapping[str, Any]]
    alerts: int
    faults: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


def clock_text(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes:02d}:{rest:02d}"


def render(frame: Frame) -> Group:
    header = Text.assemble(
        ("adoscale local ", "bold"),
        f"{frame.scenario}  ",
        ("t+" + clock_text(frame.elapsed), "cyan"),
        f" (x{frame.speed:g})  jobs {frame.jobs_done}/{frame.jobs_total}  ",
        (f"alerts {frame.alerts}", "red" if frame.alerts else "green"),
    )
    if frame.faults:
        header.append(f"  fault: {', '.join(frame.faults)}", style="bold red")
    table = Table(expand=False)
    for index, column in enumerate(COLUMNS):
        table.add_column(column, justify="left" if index in (0, len(COLUMNS) - 1) else "right")
    for name, row in sorted(frame.rows.items()):
        table.add_row(name, *(str(row.get(key, "-")) for key in COLUMNS[1:]))
    events = Text("\n".join(frame.events[-6:]), style="dim")
    return Group(header, table, events)


class LiveView:
    """A rich Live display when ``enabled``, else one progress line per simulated minute."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self._console = console
        self._enabled = enabled
        self._live: Live | None = None
        self._last_line_minute = -1
        self.events: deque[str] = deque(maxlen=50)

    def __enter__(self) -> LiveView:
        if self._enabled:
            self._live = Live(console=self._console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc_info)
            self._live = None

    def event(self, elapsed: float, text: str) -> None:
        line = f"t+{clock_text(elapsed)} {text}"
        self.events.append(line)
        if self._live is None:
            self._console.print(line, highlight=False)

    def update(self, frame: Frame) -> None:
        frame.events = list(self.events)
        if self._live is not None:
            self._live.update(render(frame))
            return
        minute = int(frame.elapsed // 60)
        if minute != self._last_line_minute:
            self._last_line_minute = minute
            parts = [
                f"{name} w{row.get('waiting')} r{row.get('running')} i{row.get('idle')} "
                f"s{row.get('starting')} d{row.get('desired')}"
                for name, row in sorted(frame.rows.items())
            ]
            self._console.print(
                f"t+{clock_text(frame.elapsed)} jobs {frame.jobs_done}/{frame.jobs_total} | "
                + " | ".join(parts),
                highlight=False,
            )
