"""The local mode's compressed clock: simulated time runs ``speed`` times faster than real.

Everything that reasons about scaling time (the fake Azure DevOps' timestamps, the
poller's ``now``, job durations, agent boot delays, the poll schedule) reads this one
clock, so ages and timeouts agree however fast the run goes. AWS itself (moto, the
Step Functions Wait states, leases) keeps real time: its waits are built short instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    """Simulated seconds since the start, and the simulated wall clock."""

    def __init__(
        self,
        speed: float,
        *,
        start: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed: must be positive")
        self.speed = speed
        self.start = start or datetime.now(UTC)
        self._pinned = start  # a scenario's own wall clock, kept by restart()
        self._monotonic = monotonic
        self._origin = monotonic()
        self._stopped = threading.Event()

    def restart(self) -> None:
        """Simulated time zero is now (call once the stack is up, before the scenario runs).

        The simulated wall clock starts on a whole minute, so cycles every N seconds from
        zero fall at the start of the poller's epoch-aligned slots (execution names).
        """
        now = self._pinned or datetime.now(UTC)
        self.start = now.replace(second=0, microsecond=0)
        self._origin = self._monotonic()

    def elapsed(self) -> float:
        """Simulated seconds since the start."""
        return (self._monotonic() - self._origin) * self.speed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed())

    def at(self, sim_seconds: float) -> datetime:
        return self.start + timedelta(seconds=sim_seconds)

    def real(self, sim_seconds: float) -> float:
        """Real seconds that ``sim_seconds`` of simulated time take."""
        return sim_seconds / self.speed

    def sleep_until(self, sim_seconds: float) -> bool:
        """Wait for a simulated moment; False when the clock was stopped meanwhile."""
        wait = self.real(sim_seconds - self.elapsed())
        if wait > 0:
            return not self._stopped.wait(wait)
        return not self._stopped.is_set()

    def stop(self) -> None:
        self._stopped.set()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()
