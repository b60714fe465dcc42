"""A trace from an organisation's own history: the finished jobs of one agent pool.

``GET pools/{id}/jobrequests?$top=N`` returns the pool's latest job requests, finished ones
included, each with ``queueTime``, ``receiveTime`` (an agent took it) and ``finishTime``.
A job becomes a trace job queued at ``queueTime`` that ran ``finishTime - receiveTime``;
``receiveTime - queueTime`` is the wait the organisation really saw, shown beside the
simulated policies. Jobs cancelled before an agent took them never ran and are left out.

The service caps such lists near 200 entries, so ``--days`` can ask for more history than
one answer holds: the trace then covers less, and ``HistoryTrace.covered_s`` says how much.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from adoscale.ado.client import AdoClient
from adoscale.core.models import JobRequest
from adoscale.simulate.trace import Trace, TraceJob

HISTORY_TOP = 1000  # asked for; the service answers with at most ~200
CAP_HINT = 150  # an answer this long that does not reach back far enough was cut short


def job_history(client: AdoClient, pool_id: int, top: int = HISTORY_TOP) -> list[JobRequest]:
    """The pool's latest job requests, finished ones included."""
    return client.job_history(pool_id, top)


@dataclass(frozen=True)
class HistoryTrace:
    trace: Trace
    skipped: int  # finished without ever running (cancelled while waiting), or still running
    covered_s: float  # from the oldest kept job's queue time to now
    capped: bool  # the answer was shorter than the days asked for


def history_trace(
    jobs: Sequence[JobRequest], now: datetime, days: float, name: str
) -> HistoryTrace:
    """The finished jobs queued in the last ``days`` days, as a trace starting at the first."""
    if not days > 0:
        raise ValueError(f"days: must be > 0, got {days}")
    since = now - timedelta(days=days)
    recent = [job for job in jobs if job.queue_time is not None and job.queue_time >= since]
    ran: list[tuple[datetime, datetime, datetime, tuple[str, ...]]] = [
        (job.queue_time, job.receive_time, job.finish_time, job.demands)
        for job in recent
        if job.queue_time is not None
        and job.receive_time is not None
        and job.finish_time is not None
    ]
    oldest = min((job.queue_time for job in jobs if job.queue_time is not None), default=None)
    capped = len(jobs) >= CAP_HINT and oldest is not None and oldest > since
    if not ran:
        return HistoryTrace(Trace(name, ()), len(recent), 0.0, capped)
    start = min(queued for queued, _, _, _ in ran)
    trace_jobs = tuple(
        TraceJob(
            queue_time=round((queued - start).total_seconds(), 1),
            duration=round(max(0.0, (finished - received).total_seconds()), 1),
            demands=demands,
            observed_wait=round(max(0.0, (received - queued).total_seconds()), 1),
        )
        for queued, received, finished, demands in ran
    )
    covered = (now - start).total_seconds()
    return HistoryTrace(
        Trace(name, trace_jobs, span_s=covered, start=start),
        len(recent) - len(ran),
        covered,
        capped,
    )
