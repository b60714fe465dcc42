"""Synthetic traces, seeded so a run can be repeated: steady, bursty and working-hours load.

- ``steady``: a Poisson stream around the clock (a busy monorepo's nightly-and-daily CI).
- ``working_hours``: Poisson arrivals whose rate follows the working day (08:00-18:00 on
  weekdays carries 85 % of the jobs), the shape most teams see.
- ``bursty``: working-hours *bursts*: a merge or a release fans out into several parallel
  jobs queued within seconds of each other, the load that exposes slow scale-out.
- ``sparse``: a small team's day: most jobs arrive after a quiet spell (the previous one
  finished at least ``quiet_gap_s`` earlier, longer than the poller's linger), some with
  one to three companions seconds later: the load that exposes a slow quiet cadence.
- ``short-jobs``: working-hours arrivals of short jobs (lint, unit tests: median
  ``SHORT_JOBS_MEDIAN_S``, most between 30 s and 3 min), the load where an agent's
  start-up is most of a job's wait and bill, and where reusable agents pay.

Durations are lognormal (median ``duration_median_s``, shape ``duration_sigma``), clipped to
[30 s, 3 h]: CI jobs are mostly short with a long tail.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from adoscale.simulate.trace import Trace, TraceJob

DAY = 86_400.0
WORK_START, WORK_END = 8 * 3600.0, 18 * 3600.0
WORKING_SHARE = 0.85  # of a working-hours trace's jobs that fall in working hours
MIN_DURATION, MAX_DURATION = 30.0, 3 * 3600.0
KINDS = ("steady", "bursty", "working-hours", "short-jobs", "sparse")
SHORT_JOBS_MEDIAN_S, SHORT_JOBS_SIGMA = 90.0, 0.5


@dataclass(frozen=True)
class Shape:
    """What every generator takes; ``burst_mean`` only matters to ``bursty``."""

    jobs_per_day: float = 500.0
    days: float = 1.0
    duration_median_s: float = 360.0
    duration_sigma: float = 0.8
    burst_mean: float = 6.0  # jobs per burst, geometric
    burst_spread_s: float = 20.0  # a burst's jobs are queued within this many seconds
    seed: int = 7
    quiet_gap_s: float = 900.0  # sparse: at least this long between a job's end and the next

    def __post_init__(self) -> None:
        for name in ("jobs_per_day", "days", "duration_median_s", "burst_mean"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be > 0")
        if self.duration_sigma < 0 or self.burst_spread_s < 0:
            raise ValueError("duration_sigma and burst_spread_s: must be >= 0")
        if self.quiet_gap_s < 0:
            raise ValueError("quiet_gap_s: must be >= 0")


def generate(kind: str, shape: Shape) -> Trace:
    if kind == "steady":
        return steady(shape)
    if kind == "bursty":
        return bursty(shape)
    if kind == "working-hours":
        return working_hours(shape)
    if kind == "short-jobs":
        return short_jobs(shape)
    if kind == "sparse":
        return sparse(shape)
    raise ValueError(f"kind: one of {', '.join(KINDS)}, got {kind!r}")


def steady(shape: Shape) -> Trace:
    rng = random.Random(shape.seed)  # noqa: S311 - a seeded simulation
    span = shape.days * DAY
    rate = shape.jobs_per_day / DAY
    jobs, now = [], rng.expovariate(rate)
    while now < span:
        jobs.append(TraceJob(round(now, 1), _duration(rng, shape)))
        now += rng.expovariate(rate)
    return Trace(f"steady-{shape.jobs_per_day:g}x{shape.days:g}d", tuple(jobs), span)


def working_hours(shape: Shape) -> Trace:
    rng = random.Random(shape.seed)  # noqa: S311 - a seeded simulation
    jobs = [
        TraceJob(round(moment, 1), _duration(rng, shape))
        for moment in _working_moments(rng, shape, shape.jobs_per_day)
    ]
    return Trace(
        f"working-hours-{shape.jobs_per_day:g}x{shape.days:g}d", tuple(jobs), shape.days * DAY
    )


def short_jobs(shape: Shape) -> Trace:
    """Working-hours arrivals; durations lognormal around 90 s whatever the shape says."""
    short = replace(shape, duration_median_s=SHORT_JOBS_MEDIAN_S, duration_sigma=SHORT_JOBS_SIGMA)
    trace = working_hours(short)
    return Trace(f"short-jobs-{shape.jobs_per_day:g}x{shape.days:g}d", trace.jobs, trace.span_s)


def bursty(shape: Shape) -> Trace:
    """Bursts arrive like working-hours jobs; each burst holds a geometric number of jobs."""
    rng = random.Random(shape.seed)  # noqa: S311 - a seeded simulation
    bursts_per_day = shape.jobs_per_day / shape.burst_mean
    p = 1.0 / shape.burst_mean
    jobs = []
    for start in _working_moments(rng, shape, bursts_per_day):
        size = 1 + int(math.log(1.0 - rng.random()) / math.log(1.0 - p)) if p < 1 else 1
        for _ in range(size):
            queued = start + rng.uniform(0.0, shape.burst_spread_s)
            jobs.append(TraceJob(round(queued, 1), _duration(rng, shape)))
    return Trace(f"bursty-{shape.jobs_per_day:g}x{shape.days:g}d", tuple(jobs), shape.days * DAY)


SPARSE_COMPANION_SHARE = 0.3  # of sparse sessions that queue more than one job


def sparse(shape: Shape) -> Trace:
    """Sessions separated by quiet spells; a session is one job, or (30 %) two to four
    queued within ``burst_spread_s``. The next session starts ``quiet_gap_s`` plus an
    exponential pause after the previous one's last job ended, the pause sized so the
    day holds about ``jobs_per_day`` jobs when it can (it cannot when the gaps alone
    fill the day: then fewer jobs arrive)."""
    rng = random.Random(shape.seed)  # noqa: S311 - a seeded simulation
    span = shape.days * DAY
    per_session = 1.0 + SPARSE_COMPANION_SHARE * 2.0
    sessions = max(1.0, shape.jobs_per_day * shape.days / per_session)
    pause = max(60.0, span / sessions - shape.quiet_gap_s - shape.duration_median_s)
    jobs: list[TraceJob] = []
    now = rng.expovariate(1.0 / pause)
    while now < span:
        size = 1 if rng.random() >= SPARSE_COMPANION_SHARE else rng.randint(2, 4)
        ends = now
        for index in range(size):
            queued = now + (rng.uniform(0.0, shape.burst_spread_s) if index else 0.0)
            duration = _duration(rng, shape)
            jobs.append(TraceJob(round(queued, 1), duration))
            ends = max(ends, queued + duration)
        now = ends + shape.quiet_gap_s + rng.expovariate(1.0 / pause)
    jobs.sort(key=lambda job: job.queue_time)
    return Trace(f"sparse-{shape.jobs_per_day:g}x{shape.days:g}d", tuple(jobs), span)


def _working_moments(rng: random.Random, shape: Shape, per_day: float) -> list[float]:
    """Poisson moments: ``WORKING_SHARE`` of them on weekday working hours, the rest anytime."""
    moments: list[float] = []
    whole_days = math.ceil(shape.days)
    weekdays = [day for day in range(whole_days) if day % 7 < 5] or [0]
    total = per_day * shape.days
    work_rate = total * WORKING_SHARE / (len(weekdays) * (WORK_END - WORK_START))
    for day in weekdays:
        now = day * DAY + WORK_START + rng.expovariate(work_rate)
        while now < day * DAY + WORK_END:
            moments.append(now)
            now += rng.expovariate(work_rate)
    span = shape.days * DAY
    background = total * (1.0 - WORKING_SHARE) / span
    now = rng.expovariate(background)
    while now < span:
        moments.append(now)
        now += rng.expovariate(background)
    return sorted(moment for moment in moments if moment < span)


def _duration(rng: random.Random, shape: Shape) -> float:
    drawn = rng.lognormvariate(math.log(shape.duration_median_s), shape.duration_sigma)
    return round(min(MAX_DURATION, max(MIN_DURATION, drawn)), 1)
