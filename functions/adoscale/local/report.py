"""The local run's verdict: what the jobs waited, what the agents cost, what went wrong.

``LocalReport.ok`` is the exit status of ``adoscale local``: every job ran and no busy
agent was stopped. The timeline PNG (matplotlib, Agg backend, imported only here) shows
per queue the waiting jobs against the agents busy, idle and starting.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from adoscale.local.fargate import BusyStop
from adoscale.local.organisation import JobOutcome
from adoscale.local.scenario import FaultWindow


@dataclass(frozen=True)
class Sample:
    """One moment of the timeline: per queue (waiting, busy, idle, starting)."""

    at: float  # simulated seconds
    queues: Mapping[str, tuple[int, int, int, int]]


@dataclass(frozen=True)
class QueueEnd:
    """A queue's state when the run ended."""

    idle: int
    busy: int
    starting: int
    offline: int
    standby: int
    placeholder: bool

    @property
    def at_standby(self) -> bool:
        return (
            self.idle == self.standby
            and self.busy == 0
            and self.starting == 0
            and self.offline == 0
            and self.placeholder
        )


@dataclass
class LocalReport:
    scenario: str
    speed: float
    real_seconds: float
    sim_seconds: float
    settled: bool
    jobs_expected: int
    jobs: list[JobOutcome]
    agent_minutes: float
    busy_stops: list[BusyStop]
    busy_deletes_refused: int
    alerts: list[dict[str, Any]]
    executions: dict[str, dict[str, int]]
    final: dict[str, QueueEnd]
    poll_cycles: int
    poll_failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timeline_png: str | None = None
    # simulated seconds each agent stayed offline after its job until the control plane
    # deleted it, and how many were never deleted
    offline_seconds: list[float] = field(default_factory=list)
    offline_left: int = 0
    hook_latencies: list[float] | None = None  # real s, webhook sent -> next RunTask

    @property
    def jobs_succeeded(self) -> int:
        return sum(1 for job in self.jobs if job.succeeded)

    @property
    def jobs_not_run(self) -> list[JobOutcome]:
        """Jobs that never completed: still waiting or running, failed at once, or cancelled."""
        return [job for job in self.jobs if not job.succeeded]

    @property
    def waits(self) -> list[float]:
        return sorted(job.wait for job in self.jobs if job.wait is not None)

    @property
    def ok(self) -> bool:
        return (
            not self.busy_stops and not self.jobs_not_run and len(self.jobs) == self.jobs_expected
        )

    def to_dict(self) -> dict[str, Any]:
        waits = self.waits
        return {
            "scenario": self.scenario,
            "ok": self.ok,
            "settled": self.settled,
            "speed": self.speed,
            "real_seconds": round(self.real_seconds, 1),
            "simulated_minutes": round(self.sim_seconds / 60, 1),
            "jobs": {
                "expected": self.jobs_expected,
                "seen": len(self.jobs),
                "succeeded": self.jobs_succeeded,
                # distinct agents that ran the succeeded jobs: fewer than jobs with reuse
                "agents": len({j.agent for j in self.jobs if j.succeeded and j.agent}),
                "not_run": [
                    {
                        "request_id": j.request_id,
                        "result": j.result,
                        "queued_at": j.queued_at,
                        "agent": j.agent,
                    }
                    for j in self.jobs_not_run
                ],
            },
            "wait_seconds": {
                "p50": percentile(waits, 50),
                "p95": percentile(waits, 95),
                "max": waits[-1] if waits else None,
            },
            "agent_minutes": round(self.agent_minutes, 1),
            "busy_agents_stopped": len(self.busy_stops),
            "busy_agent_stops": [asdict(stop) for stop in self.busy_stops],
            "busy_deletes_refused": self.busy_deletes_refused,
            "exited_agents": {
                "deleted": len(self.offline_seconds),
                "not_deleted": self.offline_left,
                "offline_seconds_max": max(self.offline_seconds, default=None),
            },
            "alerts": self.alerts,
            "executions": self.executions,
            "final": {
                name: {**asdict(end), "at_standby": end.at_standby}
                for name, end in self.final.items()
            },
            "poll_cycles": self.poll_cycles,
            "poll_failures": self.poll_failures,
            "notes": self.notes,
            "timeline_png": self.timeline_png,
            **(
                {"hook_latency_seconds": _latency(sorted(self.hook_latencies))}
                if self.hook_latencies is not None
                else {}
            ),
        }


def _latency(values: Sequence[float]) -> dict[str, Any]:
    """Real seconds from a webhook sent to the next RunTask (the service hook's fast path)."""
    return {
        "webhooks": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "max": round(values[-1], 1) if values else None,  # as the percentiles
    }


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted ``values`` (None when empty)."""
    if not values:
        return None
    rank = max(1, math.ceil(p / 100 * len(values)))
    return round(values[rank - 1], 1)


def write_report(report: LocalReport, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "report.json"
    path.write_text(json.dumps(report.to_dict(), indent=2, default=str) + "\n")
    return path


def render_report(report: LocalReport, console: Console) -> None:
    data = report.to_dict()
    table = Table(
        title=f"adoscale local: {report.scenario}", title_justify="left", show_header=False
    )
    table.add_column("what", style="bold")
    table.add_column("value")
    waits = data["wait_seconds"]
    verdict = "[green]OK[/green]" if report.ok else "[red]FAILED[/red]"
    rows = [
        ("verdict", verdict),
        (
            "run",
            f"{data['simulated_minutes']} simulated min in {data['real_seconds']} s "
            f"(x{report.speed:g}), {report.poll_cycles} poll cycles",
        ),
        ("jobs run", f"{report.jobs_succeeded} of {report.jobs_expected}"),
        ("wait p50 / p95 / max", " / ".join(_seconds(waits[k]) for k in ("p50", "p95", "max"))),
        ("agent-minutes", f"{report.agent_minutes:.1f}"),
        ("busy agents stopped", _count(len(report.busy_stops), bad=True)),
        ("busy deletes refused by ADO", str(report.busy_deletes_refused)),
        ("alerts raised", _alerts(report.alerts)),
        ("executions", _executions(report.executions)),
        ("capacity at the end", _final(report.final, report.settled)),
    ]
    if report.timeline_png:
        rows.append(("timeline", report.timeline_png))
    for what, value in rows:
        table.add_row(what, value)
    console.print(table)
    for job in report.jobs_not_run[:10]:
        console.print(
            f"[red]job {job.request_id} (queued at {job.queued_at:.0f}s) did not run: "
            f"{job.result or 'still waiting or running'}[/red]"
        )
    for stop in report.busy_stops:
        console.print(
            f"[red]busy agent {stop.agent} of {stop.queue} stopped at {stop.at:.0f}s "
            f"(job {stop.job_id} lost)[/red]"
        )
    for note in [*report.poll_failures, *report.notes]:
        console.print(f"[yellow]{note}[/yellow]")


def draw_timeline(
    samples: Sequence[Sample],
    faults: Sequence[FaultWindow],
    path: Path,
    title: str,
    *,
    epoch: float | None = None,
) -> Path | None:
    """Per queue: waiting jobs (line) against busy, idle and starting agents (stacked)."""
    if not samples:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    queues = sorted({name for sample in samples for name in sample.queues})
    figure, axes = plt.subplots(
        len(queues), 1, figsize=(10, 2.6 * len(queues) + 0.6), sharex=True, squeeze=False
    )
    # steps are drawn "post": repeat the last sample so the final state has a width
    samples = [*samples, Sample(samples[-1].at + 5.0, samples[-1].queues)]
    minutes = [sample.at / 60 for sample in samples]
    for axis, queue in zip(axes[:, 0], queues, strict=True):
        series = [sample.queues.get(queue, (0, 0, 0, 0)) for sample in samples]
        waiting, busy, idle, starting = ([row[i] for row in series] for i in range(4))
        axis.stackplot(
            minutes,
            busy,
            idle,
            starting,
            labels=["busy agents", "idle agents", "starting agents"],
            colors=["#1f77b4", "#2ca02c", "#ff7f0e"],
            alpha=0.55,
            step="post",
        )
        axis.step(
            minutes, waiting, where="post", color="#d62728", linewidth=2, label="waiting jobs"
        )
        offset = epoch or 0.0
        for fault in faults:
            axis.axvspan(
                (offset + fault.start) / 60, (offset + fault.end) / 60, color="grey", alpha=0.15
            )
        if epoch is not None:
            axis.axvline(epoch / 60, color="black", linestyle=":", linewidth=1)
        axis.set_ylabel(queue)
        axis.grid(alpha=0.3)
        axis.set_ylim(bottom=0)
    axes[0, 0].legend(loc="upper right", fontsize="small", ncol=4)
    label = "simulated minutes (dotted: placeholders ready, jobs start"
    label += "; grey: Azure DevOps faults)" if faults else ")"
    axes[-1, 0].set_xlabel(label)
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def _count(value: int, *, bad: bool) -> str:
    return f"[red]{value}[/red]" if bad and value else str(value)


def _alerts(alerts: Sequence[Mapping[str, Any]]) -> str:
    if not alerts:
        return "0"
    kinds: dict[str, int] = {}
    for alert in alerts:
        key = f"{alert.get('kind')} ({alert.get('queue')})"
        kinds[key] = kinds.get(key, 0) + 1
    return f"{len(alerts)}: " + ", ".join(f"{k} x{n}" if n > 1 else k for k, n in kinds.items())


def _executions(executions: Mapping[str, Mapping[str, int]]) -> str:
    parts = []
    for action, statuses in sorted(executions.items()):
        detail = ", ".join(f"{n} {status.lower()}" for status, n in sorted(statuses.items()))
        parts.append(f"{action}: {detail}")
    return "; ".join(parts) or "none"


def _final(final: Mapping[str, QueueEnd], settled: bool) -> str:
    parts = [
        f"{name}: {end.idle} idle (standby {end.standby}), "
        f"placeholder {'present' if end.placeholder else 'MISSING'}"
        for name, end in sorted(final.items())
    ]
    return ("settled; " if settled else "NOT settled; ") + "; ".join(parts)
