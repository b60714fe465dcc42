"""Standby that follows the working day: the queue item's ``standby_schedule``, pure.

A schedule is a list of windows such as ``{days: "mon-fri", from: "08:00", to: "18:00",
timezone: "Europe/Berlin", agents: 2}``. A window is in force when the wall clock *in its
own time zone* shows one of its days and a time in ``[from, to)``; outside every window the
queue's ``standby_agents`` applies. Wall-clock evaluation is what teams mean by "08:00 in
Berlin": across a daylight-saving change the window moves with the office, not with UTC.

Decisions where a schedule could be read two ways:

- Overlapping windows are allowed and the largest ``agents`` wins. Windows in different
  zones (a Berlin team and a New York team sharing a pool) overlap for some hours of some
  weeks only, depending on both zones' daylight-saving rules, so "overlap is an error"
  could not be checked once at validation time. Taking the largest number means every
  window is a floor: "at least two agents while Berlin works".
- ``from`` must be before ``to``; ``to`` may be ``24:00`` (the end of the day). A window
  across midnight is two windows (``mon-fri 22:00-24:00`` and ``tue-sat 00:00-06:00``):
  with one window it would be unclear which day ``days`` names.
- A wall time skipped by a daylight-saving change (02:30 on a spring-forward night) never
  shows, so a window starting then starts at the first wall time after the gap; a wall
  time shown twice (autumn) is inside a window both times.

No I/O here: the poller's counting, the CLI's validation and the simulator call the same
functions, given the instant they are interested in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_WINDOWS = 64
WINDOW_FIELDS = ("days", "from", "to", "timezone", "agents")
MAX_AGENTS = 1000
_TIME = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class StandbyWindow:
    """One window: ``days`` are weekday numbers (Monday 0); minutes count from midnight."""

    days: frozenset[int]
    start_minute: int
    end_minute: int
    timezone: str
    agents: int

    def covers(self, now: datetime) -> bool:
        """Whether the wall clock in this window's zone is inside the window at ``now``."""
        local = _aware(now).astimezone(zone(self.timezone))
        minute = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start_minute <= minute < self.end_minute

    def to_item(self) -> dict[str, Any]:
        """As stored in the queue item (days written in their shortest form)."""
        return {
            "days": format_days(self.days),
            "from": format_minute(self.start_minute),
            "to": format_minute(self.end_minute),
            "timezone": self.timezone,
            "agents": self.agents,
        }


def standby_at(default: int, schedule: Iterable[StandbyWindow], now: datetime) -> int:
    """The standby in force at ``now``: the largest covering window, else ``default``."""
    covering = [window.agents for window in schedule if window.covers(now)]
    return max(covering) if covering else default


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """An IANA zone (cached: the poller asks every cycle)."""
    return ZoneInfo(name)


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


# ---- parsing and validation ---------------------------------------------------------------


def parse_days(text: Any) -> frozenset[int]:
    """``mon-fri``, ``sat,sun``, ``mon,wed-fri``, ``fri-mon`` (a range may wrap the week)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError('expected days such as "mon-fri" or "sat,sun"')
    days: set[int] = set()
    for part in text.lower().split(","):
        first, sep, last = (piece.strip() for piece in part.partition("-"))
        start = _day(first, text)
        end = _day(last, text) if sep else start
        day = start
        days.add(day)
        while day != end:
            day = (day + 1) % 7
            days.add(day)
    return frozenset(days)


def _day(name: str, text: str) -> int:
    if name not in DAY_NAMES:
        raise ValueError(f"unknown day {name!r} in {text!r}: use {', '.join(DAY_NAMES)}")
    return DAY_NAMES.index(name)


def format_days(days: Iterable[int]) -> str:
    """The shortest spelling: runs of three or more days as ranges (``mon-fri,sun``)."""
    ordered = sorted(set(days))
    if len(ordered) == 7:
        return "mon-sun"
    runs: list[list[int]] = []
    for day in ordered:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{DAY_NAMES[run[0]]}-{DAY_NAMES[run[-1]]}")
        else:
            parts.extend(DAY_NAMES[day] for day in run)
    return ",".join(parts)


def parse_time(text: Any, *, end: bool) -> int:
    """``HH:MM`` as minutes since midnight; ``24:00`` only as an end."""
    match = _TIME.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError('expected a time "HH:MM" (00:00..23:59, or 24:00 as an end)')
    minute = int(match.group(1)) * 60 + int(match.group(2))
    if minute > _MINUTES_PER_DAY or (minute == _MINUTES_PER_DAY and not end):
        raise ValueError(
            "24:00 is only an end time" if minute == _MINUTES_PER_DAY else "the latest end is 24:00"
        )
    return minute


def format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def parse_timezone(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValueError('expected an IANA time zone such as "Europe/Berlin"')
    try:
        zone(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{text!r} is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None
    return text


def parse_agents(value: Any, max_agents: int = MAX_AGENTS) -> int:
    """A whole number 0..max_agents (DynamoDB's Decimal accepted, bool and 1.5 refused)."""
    finite = isinstance(value, int | float | Decimal) and math.isfinite(value)
    if isinstance(value, bool) or not finite or value != int(value):
        raise ValueError("expected a whole number")
    whole = int(value)
    if not 0 <= whole <= max_agents:
        raise ValueError(f"must be between 0 and {max_agents}")
    return whole


def parse_schedule(
    raw: Any, max_agents: int = MAX_AGENTS
) -> tuple[tuple[StandbyWindow, ...], dict[str, list[str]]]:
    """The windows and, separately, errors keyed ``[i]`` or ``[i].field`` (0-based index)."""
    if not isinstance(raw, list | tuple):
        return (), {"": ["expected a list of windows {days, from, to, timezone, agents}"]}
    if len(raw) > MAX_WINDOWS:
        return (), {"": [f"at most {MAX_WINDOWS} windows, got {len(raw)}"]}
    windows: list[StandbyWindow] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(raw):
        window = _parse_window(item, f"[{index}]", max_agents, errors)
        if window is not None:
            windows.append(window)
    return tuple(windows), errors


def _parse_window(
    item: Any, where: str, max_agents: int, errors: dict[str, list[str]]
) -> StandbyWindow | None:
    if not isinstance(item, Mapping):
        errors[where] = ["expected a window {days, from, to, timezone, agents}"]
        return None
    before = len(errors)
    for name in sorted(set(map(str, item)) - set(WINDOW_FIELDS)):
        errors[f"{where}.{name}"] = ["unknown field"]
    for name in WINDOW_FIELDS:
        if name not in item:
            errors[f"{where}.{name}"] = ["required"]
    parsed: dict[str, Any] = {}
    checks: Sequence[tuple[str, Any]] = (
        ("days", parse_days),
        ("from", lambda v: parse_time(v, end=False)),
        ("to", lambda v: parse_time(v, end=True)),
        ("timezone", parse_timezone),
        ("agents", lambda v: parse_agents(v, max_agents)),
    )
    for name, check in checks:
        if name in item:
            try:
                parsed[name] = check(item[name])
            except ValueError as error:
                errors[f"{where}.{name}"] = [str(error)]
    if "from" in parsed and "to" in parsed and parsed["from"] >= parsed["to"]:
        errors[f"{where}.to"] = [
            "must be after from (a window across midnight is two windows, ending at 24:00"
            " and starting at 00:00)"
        ]
    if len(errors) != before:
        return None
    return StandbyWindow(
        days=parsed["days"],
        start_minute=parsed["from"],
        end_minute=parsed["to"],
        timezone=parsed["timezone"],
        agents=parsed["agents"],
    )


def schedule_items(schedule: Iterable[StandbyWindow]) -> list[dict[str, Any]]:
    return [window.to_item() for window in schedule]


def next_change(schedule: Iterable[StandbyWindow], now: datetime) -> datetime | None:
    """The earliest instant after ``now`` at which the window in force may change; ``now``
    itself while a window edge falls in a wall time a daylight-saving change skips or repeats
    (no promise then); None for an empty schedule. Lets a caller reuse an answer safely."""
    now = _aware(now)
    best: datetime | None = None
    for window in schedule:
        tz = zone(window.timezone)
        today = now.astimezone(tz).date()
        for offset in range(-1, 9):
            day = today + timedelta(days=offset)
            if day.weekday() not in window.days:
                continue
            midnight = datetime.combine(day, dt_time())
            for minute in (window.start_minute, window.end_minute):
                wall = midnight + timedelta(minutes=minute)
                first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
                second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
                low, high = min(first, second), max(first, second)
                if low > now:
                    candidate = low
                elif now < high:
                    candidate = now
                else:
                    continue
                if best is None or candidate < best:
                    best = candidate
    return best
