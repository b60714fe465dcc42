"""The simulated Azure DevOps organisation: the fake server, fed by a scenario.

``FakeAdoServer`` is the organisation's REST face (and its dispatcher hands waiting jobs
to idle matching agents, as the service does); this module adds what happens around
it: jobs arriving on the scenario's schedule, fault windows opening and closing, and a
per-queue picture computed with the same counting code the poller runs.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from adoscale.core.counting import QueueCounts, assign_waiting_jobs, count_queue
from adoscale.core.models import Agent, JobRequest, parse_time
from adoscale.core.naming import is_placeholder_of
from adoscale.core.schema import Queue
from adoscale.local.ado_server import FakeAdoServer, Fault
from adoscale.local.clock import SimClock
from adoscale.local.scenario import FaultWindow, JobArrival, Scenario

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobOutcome:
    """One scenario job as the organisation saw it (simulated seconds since the start)."""

    request_id: int
    pool: str
    demands: tuple[str, ...]
    queued_at: float
    duration: float
    assigned_at: float | None
    finished_at: float | None
    result: str | None
    agent: str | None

    @property
    def wait(self) -> float | None:
        return None if self.assigned_at is None else max(0.0, self.assigned_at - self.queued_at)

    @property
    def succeeded(self) -> bool:
        return self.result == "succeeded"


class SimulatedOrganisation:
    """Owns the fake server; ``tick`` advances arrivals and faults to the clock's now."""

    def __init__(self, scenario: Scenario, clock: SimClock, *, pat: str | None = None) -> None:
        self.scenario = scenario
        self.clock = clock
        self.pat = pat or f"local-{secrets.token_hex(16)}"
        self.ado = FakeAdoServer(
            pat=self.pat,
            now=clock.now,
            dispatcher=True,
            fail_unmatched_jobs=True,
            parallel_jobs=scenario.parallel_jobs,
        )
        self._pending: deque[JobArrival] = deque(sorted(scenario.jobs, key=lambda j: j.at))
        self._durations: dict[int, float] = {}
        self._arrivals: dict[int, JobArrival] = {}
        self._faults: list[tuple[FaultWindow, Fault | None, bool]] = [
            (window, None, False) for window in scenario.faults
        ]
        self.fault_log: list[tuple[float, str]] = []
        self.epoch: float | None = None  # when the scenario's time zero fell (simulated s)
        self.on_queued: Callable[[int, str], None] | None = None  # e.g. a webhook sender
        self._lock = threading.Lock()

    # ---- lifecycle -------------------------------------------------------------------

    def start(self) -> SimulatedOrganisation:
        self.ado.start()
        for pool in self.scenario.pools:
            self.ado.add_pool(pool)
        return self

    def stop(self) -> None:
        self.ado.stop()

    @property
    def base_url(self) -> str:
        return self.ado.base_url

    # ---- time ------------------------------------------------------------------------

    def begin(self, elapsed: float) -> None:
        """The scenario's time zero: jobs and faults are scheduled from here on."""
        with self._lock:
            if self.epoch is None:
                self.epoch = elapsed

    @property
    def begun(self) -> bool:
        return self.epoch is not None

    def tick(self, elapsed: float) -> None:
        """Queue the jobs due by ``elapsed`` and open or close fault windows."""
        with self._lock:
            if self.epoch is None:
                return
            scenario_time = elapsed - self.epoch
            while self._pending and self._pending[0].at <= scenario_time:
                arrival = self._pending.popleft()
                request_id = self.ado.queue_job(
                    arrival.pool,
                    arrival.demands,
                    queue_time=self.clock.at(self.epoch + arrival.at),
                )
                self._durations[request_id] = arrival.duration
                self._arrivals[request_id] = arrival
                if self.on_queued is not None:
                    self.on_queued(request_id, arrival.pool)
            self._update_faults(scenario_time)

    def _update_faults(self, elapsed: float) -> None:
        """``elapsed`` is scenario time here; the log keeps it too."""
        for index, (window, fault, closed) in enumerate(self._faults):
            if fault is None and not closed and window.start <= elapsed < window.end:
                fault = self.ado.inject(window.target, window.mode)
                self.fault_log.append((elapsed, f"fault on: {window.target} {window.mode}"))
                self._faults[index] = (window, fault, False)
            elif fault is not None and elapsed >= window.end:
                fault.times = fault.hits  # exhausted: it matches nothing from now on
                self.fault_log.append((elapsed, f"fault off: {window.target} {window.mode}"))
                self._faults[index] = (window, None, True)

    def faults_active(self) -> list[str]:
        return [f"{w.target} {w.mode}" for w, fault, _ in self._faults if fault is not None]

    @property
    def all_queued(self) -> bool:
        with self._lock:
            return not self._pending

    def duration_of(self, request_id: int) -> float:
        with self._lock:
            return self._durations.get(request_id, 60.0)

    # ---- observation -----------------------------------------------------------------

    def pool_state(self, pool: str) -> tuple[list[JobRequest], list[Agent]]:
        jobs = [JobRequest.from_json(j) for j in self.ado.jobs(pool, include_finished=False)]
        agents = [Agent.from_json(a) for a in self.ado.agents(pool)]
        return jobs, agents

    def counts(self, queues: Sequence[Queue], now: datetime) -> dict[str, QueueCounts]:
        """Each queue's numbers, from the organisation's own state (no HTTP)."""
        by_pool: dict[str, list[Queue]] = {}
        for queue in queues:
            by_pool.setdefault(queue.pool, []).append(queue)
        result: dict[str, QueueCounts] = {}
        for pool, members in by_pool.items():
            jobs, agents = self.pool_state(pool)
            waiting = assign_waiting_jobs(members, jobs)
            for queue in members:
                result[queue.queue] = count_queue(
                    queue, waiting[queue.queue], jobs, agents, [], now
                )
        return result

    def placeholders(self, queues: Sequence[Queue]) -> dict[str, bool]:
        present: dict[str, bool] = {}
        for queue in queues:
            names = [a["name"] for a in self.ado.agents(queue.pool)]
            present[queue.queue] = any(is_placeholder_of(name, queue.queue) for name in names)
        return present

    def outcomes(self) -> list[JobOutcome]:
        """Every scenario job with its times, in simulated seconds since the start."""
        with self._lock:
            arrivals = dict(self._arrivals)
        found: list[JobOutcome] = []
        for pool in self.scenario.pools:
            for job in self.ado.jobs(pool, include_finished=True):
                arrival = arrivals.get(job["requestId"])
                if arrival is None:
                    continue
                reserved = job.get("reservedAgent")
                found.append(
                    JobOutcome(
                        request_id=job["requestId"],
                        pool=pool,
                        demands=arrival.demands,
                        queued_at=arrival.at + (self.epoch or 0.0),
                        duration=arrival.duration,
                        assigned_at=self._seconds(job.get("assignTime")),
                        finished_at=self._seconds(job.get("finishTime")),
                        result=job.get("result"),
                        agent=reserved.get("name") if isinstance(reserved, Mapping) else None,
                    )
                )
        return sorted(found, key=lambda o: o.request_id)

    def expected_jobs(self) -> int:
        return len(self.scenario.jobs)

    def busy_deletes_refused(self) -> int:
        """DELETEs of an agent that Azure DevOps refused because it was running a job."""
        return self.ado.count("agent", method="DELETE", status=400)

    def _seconds(self, value: Any) -> float | None:
        moment = parse_time(value, "time")
        return None if moment is None else (moment - self.clock.start).total_seconds()
