"""The poller on a compressed schedule, with the deployed cadence.

As deployed, EventBridge Scheduler invokes the poller once a minute and the invocation
runs a cycle every ``poll_interval_seconds`` while the stack is active or was within
``poll_linger_seconds``, and one every ``poll_quiet_interval_seconds`` otherwise
(``adoscale.poller.cycles.Cadence``). ``PollLoop`` keeps exactly that rhythm on the simulated
clock, with the same ``Cadence`` and ``Activity`` rule.

The Poller is ``adoscale.poller.wiring.build_poller``'s (clients reaching moto through
``AWS_ENDPOINT_URL``), with one difference: its clock is the simulation's, so agent ages,
idle timeouts, job ages and the per-slot execution names all run at the scenario's
speed, consistently with the simulated organisation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from adoscale.core.deadline import Deadline
from adoscale.core.settings import Settings
from adoscale.local.clock import SimClock
from adoscale.poller.cycles import Activity, Cadence
from adoscale.poller.poll import Poller, PollReport
from adoscale.poller.wiring import build_poller

LOG = logging.getLogger(__name__)


def build_local_poller(settings: Settings, clock: SimClock) -> tuple[Poller, Deadline]:
    runtime = build_poller(settings, clock=clock.now)
    return runtime.poller, runtime.deadline


@dataclass(frozen=True)
class PollRecord:
    at: float  # simulated seconds since the start
    report: PollReport
    real_seconds: float


@dataclass
class PollLoop:
    """Cycles on the simulated clock: one per ``period`` (the schedule), one every
    ``cycle`` seconds in between while ``activity`` says the stack is (or was) active, and
    one every ``quiet_cycle`` seconds (default: the period) while it is quiet."""

    poller: Poller
    deadline: Deadline
    clock: SimClock
    period: float
    cycle: float
    activity: Activity
    on_poll: Callable[[PollRecord], None] | None = None
    quiet_cycle: float | None = None
    records: list[PollRecord] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> PollLoop:
        self._thread = threading.Thread(target=self._run, name="local-poller", daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 30.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def latest(self) -> PollRecord | None:
        with self._lock:
            return self.records[-1] if self.records else None

    def _run(self) -> None:
        cadence = Cadence(self.cycle, self.quiet_cycle or self.period, self.period)
        at = 0.0
        while self.clock.sleep_until(at):
            lingering = self._cycle()
            following = cadence.next_cycle_at(at, lingering)
            elapsed = self.clock.elapsed()
            while following < elapsed:  # the next cycle on the cadence not passed yet
                following = cadence.next_cycle_at(following, lingering)
            at = following

    def _cycle(self) -> bool:
        started = self.clock.elapsed()
        real_start = self.clock.real(started)
        self.deadline.reset()
        try:
            report = self.poller.poll()
        except Exception as error:  # a crashed cycle is a finding, not the end of the run
            LOG.exception("poll cycle failed")
            with self._lock:
                self.failures.append(f"{started:.0f}s: {type(error).__name__}: {error}")
            return False
        real_seconds = self.clock.real(self.clock.elapsed()) - real_start
        record = PollRecord(started, report, real_seconds)
        with self._lock:
            self.records.append(record)
        if self.on_poll is not None:
            self.on_poll(record)
        return self.activity.observe(report.to_result(), started)
