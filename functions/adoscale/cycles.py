"""Several poll cycles per scheduled invocation, while there is something to watch.

EventBridge Scheduler fires at most once a minute, but a job that waits for the next
poll waits for it in full: polling every ``interval`` seconds inside one invocation cuts
the mean delay before a launch from 30 s to interval / 2 (see the simulator's figures in
README). A sleeping Lambda is billed, so the invocation keeps cycling only while the
stack is active, or was within the last ``linger`` seconds (jobs come in bursts: the
next one is likely soon); a quiet stack costs one short cycle a minute. Cycles are
spaced from the invocation's start; one runs only while the invocation has a cycle's
budget left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from adoscale.actions import Action

CYCLE_BUDGET_SECONDS = 12.0  # time a cycle may need, retries included, before the timeout
SCHEDULE_PERIOD_SECONDS = 60.0  # the next scheduled invocation takes over after this


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
        """Whether to keep cycling after a cycle that returned ``result`` at ``now``."""
        if is_active(result):
            self.last_active = now
        return self.last_active is not None and now - self.last_active <= self.linger_seconds


def run_cycles(
    poller: _Polls,
    interval_seconds: float,
    time_left: Callable[[], float],
    activity: Activity,
    *,
    period_seconds: float = SCHEDULE_PERIOD_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    wall_clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """C4 of the last cycle, with every cycle's errors and the number of cycles run."""
    started = monotonic()
    errors: list[dict[str, Any]] = []
    cycles = 0
    while True:
        result = poller.poll().to_result()
        cycles += 1
        errors.extend(e for e in result["errors"] if e not in errors)
        keep_going = activity.observe(result, wall_clock())
        if cycles * interval_seconds >= period_seconds or not keep_going:
            break
        wait = max(0.0, started + cycles * interval_seconds - monotonic())
        if time_left() - wait < CYCLE_BUDGET_SECONDS:
            break
        sleep(wait)
    return {**result, "errors": errors, "cycles": cycles}
