"""Several poll cycles per scheduled invocation, while there is something to watch.

EventBridge Scheduler fires at most once a minute, but a job that waits for the next
poll waits for it in full: polling every ``interval`` seconds inside one invocation cuts
the mean delay before a launch from 30 s to interval / 2 (see the simulator's figures in
README). A sleeping Lambda is billed, so the invocation cycles every ``interval``
seconds only while the stack is active, or was within the last ``linger`` seconds (jobs
come in bursts: the next one is likely soon); a quiet stack cycles every
``quiet_interval`` seconds. A quiet interval of a whole minute made the first job after
a quiet spell wait up to 60 s before anyone looked (KEDA looks every 30 s): the shipped
quiet interval is 20 s, so no job waits more than 20 s for a look (docs/cadence.md has
the figures and the price).

``Cadence`` is the one definition of when cycles run: the poller's ``run_cycles``, the
local mode's loop and the simulator's adoscale policy all ask it. Cycles sit on a grid of
their step from the invocation's start; one runs only while the invocation has a cycle's
budget left.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from adoscale.core.actions import Action

CYCLE_BUDGET_SECONDS = 12.0  # time a cycle may need, retries included, before the timeout
POLLER_TIMEOUT_SECONDS = 55  # the poller Lambda's timeout: done before the next invocation
SCHEDULE_PERIOD_SECONDS = 60.0  # the next scheduled invocation takes over after this
QUIET_INTERVAL_SECONDS = 20.0  # Settings.poll_quiet_interval_seconds' default
_EPSILON = 1e-6


@dataclass(frozen=True)
class Cadence:
    """When the poller cycles: every ``interval_seconds`` while active or lingering, every
    ``quiet_interval_seconds`` otherwise, inside invocations ``period_seconds`` apart."""

    interval_seconds: float
    quiet_interval_seconds: float = QUIET_INTERVAL_SECONDS
    period_seconds: float = SCHEDULE_PERIOD_SECONDS
    # no cycle starts later than this in an invocation: it must finish before the timeout
    latest_start_seconds: float = POLLER_TIMEOUT_SECONDS - CYCLE_BUDGET_SECONDS

    def next_offset(self, offset: float, lingering: bool) -> float | None:
        """The next cycle's offset from the invocation's start after one at ``offset``,
        or None when the next scheduled invocation comes first."""
        step = self.interval_seconds if lingering else self.quiet_interval_seconds
        following = (math.floor(offset / step + _EPSILON) + 1) * step
        if following >= self.period_seconds - _EPSILON:
            return None
        return following if following <= self.latest_start_seconds + _EPSILON else None

    def next_cycle_at(self, now: float, lingering: bool, origin: float = 0.0) -> float:
        """Absolute form for a clock whose invocations start at ``origin`` + k periods."""
        period = self.period_seconds
        invocation = origin + math.floor((now - origin) / period + _EPSILON) * period
        offset = self.next_offset(now - invocation, lingering)
        return invocation + (offset if offset is not None else period)


class _Polls(Protocol):
    def poll(self, *, act: bool = True) -> Any: ...


def is_active(result: dict[str, Any]) -> bool:
    """Anything a faster next poll could act on: waiting, running or starting work."""
    return any(
        queue["queued"] or queue["busy"] or queue["starting"] or queue["action"] != Action.NONE
        for queue in result["queues"].values()
    )


@dataclass
class Activity:
    """When the stack was last active, kept by the warm container across invocations
    (wall-clock time: a frozen Lambda's monotonic clock may not advance)."""

    linger_seconds: float
    last_active: float | None = None

    def observe(self, result: dict[str, Any], now: float) -> bool:
        """Whether the next cycle comes at the active interval, after ``result`` at ``now``."""
        if is_active(result):
            self.last_active = now
        return self.lingering(now)

    def lingering(self, now: float) -> bool:
        return self.last_active is not None and now - self.last_active <= self.linger_seconds


def run_cycles(
    poller: _Polls,
    cadence: Cadence | float,
    time_left: Callable[[], float],
    activity: Activity,
    *,
    period_seconds: float = SCHEDULE_PERIOD_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The poller result of the last cycle, with every cycle's errors and the cycles run.

    A bare number is an active interval with a quiet one of a whole period (one cycle a
    minute when quiet, the cadence before the quiet interval existed), bounded by
    ``time_left`` alone."""
    if not isinstance(cadence, Cadence):
        cadence = Cadence(float(cadence), period_seconds, period_seconds, period_seconds)
    started = monotonic()
    errors: list[dict[str, Any]] = []
    cycles = 0
    offset = 0.0
    while True:
        result = poller.poll().to_result()
        cycles += 1
        errors.extend(e for e in result["errors"] if e not in errors)
        lingering = activity.observe(result, wall_clock())
        following = cadence.next_offset(offset, lingering)
        if following is None:
            break
        offset = following
        wait = max(0.0, started + offset - monotonic())
        if time_left() - wait < CYCLE_BUDGET_SECONDS:
            break
        sleep(wait)
    return {**result, "errors": errors, "cycles": cycles}
