"""A standby schedule recommended from an organisation's own job history, held out honestly.

The method, general rather than tuned to one trace:

1. Split: the last ``holdout_days`` (default a week) are held out; everything before is the
   fit period (a two-week trace: fit on week 1, evaluate on week 2). A trace shorter than
   two held-out periods has no held-out part and the figures are in-sample only.
2. Fit: the arrival rate of every hour of the week (168 of them, on the wall clock of the
   chosen time zone, so "Monday 09:00 in Berlin" stays put across daylight saving), as
   jobs per hour averaged over every time that hour occurred in the fit period.
3. Candidates: the k-th standby agent in hour h serves a job at once whenever k or more
   jobs arrive within one replenishment time (start-up + poll interval + launch delay):
   with Poisson arrivals it serves ``rate(h) * P(N >= k)`` jobs an hour, N ~ Poisson(rate(h)
   * replenishment). A threshold theta (jobs served per agent-hour) gives a level for every
   hour: the agents worth at least theta. One theta = one per-hour-of-week schedule; lower
   thetas buy more standby where it serves most.
4. Search: thetas on a geometric grid, each schedule evaluated by the simulator (the
   poller's own counting and policy code) on the latest fit week; the cheapest schedule that
   meets ``target_p95_s``, or the best p95 within ``budget`` x the oracle's agent-minutes.
   Binary search: waits fall and agent-minutes rise as theta falls.
5. Report the no-standby run, the best constant standby (chosen by the same rule), the
   recommendation and the peers, on the fit week and on the held-out week.

Levels become windows per day (each run of hours at one level, starting ``lead`` minutes
early so the agents are warm when the hour begins), merged across days that share them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from adoscale.core.counting import DEFAULT_BOOT_TIMEOUT, QueueCounts
from adoscale.core.policy import Decision, decide, standby_in_force
from adoscale.core.standby import MAX_WINDOWS, StandbyWindow, next_change, zone
from adoscale.simulate.engine import DRAINING, Simulation
from adoscale.simulate.metrics import RunResult, summarise
from adoscale.simulate.params import SimParams
from adoscale.simulate.policies import (
    EPOCH,
    KEDA,
    ORACLE,
    SCALE_SET,
    AdoscalePolicy,
    run_oracle,
)
from adoscale.simulate.runner import matching_jobs, run_policy
from adoscale.simulate.trace import Trace, TraceJob

HOUR, DAY, WEEK = 3600.0, 86_400.0, 7 * 86_400.0
HOURS = 168
DEFAULT_BUDGET = 1.2
POOLING = 0.5  # share of an hour's rate taken from the same hour of the same kind of day
THETAS = tuple(64.0 * 0.7**n for n in range(23))  # 64 .. ~0.02 jobs served per agent-hour
NO_STANDBY, CONSTANT, SCHEDULE = "no standby", "constant standby", "schedule"


# ---- the fast adoscale evaluator -------------------------------------------------------------


class EngineCountsPolicy(AdoscalePolicy):
    """adoscale's policy with the counts read from the engine instead of rebuilt models.

    The decision is still ``policy.decide``; only the counting differs, and a test proves
    the whole run identical to ``AdoscalePolicy`` (waits and agent-seconds) on generated
    traces with schedules. The standby in force is computed once per window change.
    """

    def __init__(self, params: SimParams) -> None:
        super().__init__(params)
        self._flat_queue = self.queue
        self._flat_until = -math.inf
        self._flat_from = math.inf

    def count(self, sim: Simulation, now: datetime) -> QueueCounts:
        if self.max_jobs_per_agent != 1:
            return super().count(sim, now)  # reusable agents: the full models, no shortcut
        starting = stale = draining = 0
        boot = sim.now - DEFAULT_BOOT_TIMEOUT.total_seconds()
        for agent in sim.agents.values():
            if agent.registered_at is None:
                if agent.launched_at < boot:
                    stale += 1
                else:
                    starting += 1
            elif agent.state == DRAINING:
                draining += 1
        # the engine keeps each agent's view as a plain object: the Agent this policy built
        idle: tuple[Any, ...] = tuple(a.agent_view or self._agent(a) for a in sim.idle.values())
        oldest = sim.waiting[0].queue_time if sim.waiting else None
        return QueueCounts(
            queued=len(sim.waiting),
            running=len(sim.running),
            idle=len(idle),
            busy=len(sim.running),
            starting=starting,
            draining=draining,
            stale=stale,
            oldest_queued_age_seconds=max(0.0, sim.now - oldest) if oldest is not None else 0.0,
            idle_agents=idle,
            placeholder_present=True,
        )

    def _next_threshold(self, counts: QueueCounts, sim: Simulation) -> float:
        """As the parent's, from the engine's seconds instead of the agents' datetimes."""
        if self.max_jobs_per_agent != 1:
            return super()._next_threshold(counts, sim)
        idle_s = self.queue.idle_timeout_minutes * 60.0
        boot_s = DEFAULT_BOOT_TIMEOUT.total_seconds()
        soonest = min(
            (a.registered_at + idle_s for a in sim.idle.values() if a.registered_at is not None),
            default=math.inf,
        )
        for agent in sim.agents.values():
            if agent.registered_at is None:
                soonest = min(soonest, agent.launched_at + boot_s)
        if self.queue.standby_schedule:
            soonest = min(soonest, self._next_schedule_change(sim.now))
        return soonest

    def decide(self, counts: QueueCounts, now: datetime) -> Decision:
        if self.queue.standby_schedule:
            seconds = (now - self.epoch).total_seconds()
            if not self._flat_from <= seconds < self._flat_until:
                standby = standby_in_force(self.queue, now)
                change = next_change(self.queue.standby_schedule, now)
                self._flat_from = seconds
                self._flat_until = (
                    math.inf if change is None else (change - self.epoch).total_seconds()
                )
                self._flat_queue = replace(self.queue, standby_agents=standby, standby_schedule=())
        return decide(self._flat_queue, counts, now)


def run_adoscale(jobs: Sequence[TraceJob], span_s: float, params: SimParams) -> RunResult:
    started = time.perf_counter()
    outcome = Simulation(jobs, params, EngineCountsPolicy(params), span_s=span_s).run()
    return summarise("adoscale", outcome, params.prices, time.perf_counter() - started)


# ---- fitting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeekPattern:
    """Jobs per hour for each hour of the week (Monday 00:00 local = 0) in ``timezone``."""

    timezone: str
    rates: tuple[float, ...]
    hours_seen: tuple[int, ...]


def hour_of_week(instant: datetime, timezone: str) -> int:
    local = instant.astimezone(zone(timezone))
    return local.weekday() * 24 + local.hour


def fit_pattern(
    jobs: Sequence[TraceJob], start: datetime, span_s: float, timezone: str
) -> WeekPattern:
    """Average arrivals per hour of the week over every time each hour occurred."""
    seen = [0] * HOURS
    hour = start.replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(seconds=span_s)
    while hour < end:
        seen[hour_of_week(hour, timezone)] += 1
        hour += timedelta(hours=1)
    counts = [0] * HOURS
    for job in jobs:
        counts[hour_of_week(start + timedelta(seconds=job.queue_time), timezone)] += 1
    raw = [c / n if n else 0.0 for c, n in zip(counts, seen, strict=True)]
    return WeekPattern(timezone, pooled(raw), tuple(seen))


def pooled(raw: Sequence[float], weight: float = POOLING) -> tuple[float, ...]:
    """Each hour's rate shrunk towards the same hour of the other days of its kind (weekdays,
    weekend): one week holds few jobs per hour, and Tuesday 10:00 is rarely unlike Monday's."""
    rates = []
    for hour in range(HOURS):
        day, clock = divmod(hour, 24)
        kind = range(5) if day < 5 else range(5, 7)
        peers = [raw[other * 24 + clock] for other in kind]
        rates.append((1.0 - weight) * raw[hour] + weight * sum(peers) / len(peers))
    return tuple(rates)


def replenish_seconds(params: SimParams) -> float:
    """How long a standby agent that took a job is missing: poll, launch, start-up."""
    return params.poll_interval_s + params.launch_delay_s + params.startup.median_s


def levels_for(pattern: WeekPattern, theta: float, replenish_s: float, cap: int) -> tuple[int, ...]:
    """Per hour, the standby agents that each serve at least ``theta`` jobs an hour."""
    levels = []
    for rate in pattern.rates:
        mean = rate * replenish_s / HOUR
        level, tail, pmf = 0, 1.0 - math.exp(-mean), math.exp(-mean)
        # the (level+1)-th agent serves rate * P(N >= level + 1) jobs an hour
        while level < cap and rate * tail >= theta:
            level += 1
            pmf = pmf * mean / level
            tail -= pmf
        levels.append(level)
    return tuple(levels)


# ---- levels <-> schedule --------------------------------------------------------------------


def schedule_from_levels(
    levels: Sequence[int], timezone: str, lead_minutes: int
) -> tuple[int, tuple[StandbyWindow, ...]]:
    """``(standby_agents, windows)``: the commonest level outside, a window per other run."""
    base = max(set(levels), key=lambda level: (list(levels).count(level), -level))
    by_shape: dict[tuple[int, int, int], set[int]] = {}
    for day in range(7):
        hours = levels[day * 24 : (day + 1) * 24]
        start = 0
        while start < 24:
            end = start
            while end < 24 and hours[end] == hours[start]:
                end += 1
            if hours[start] != base:
                begin = max(0, start * 60 - (lead_minutes if hours[start] > base else 0))
                by_shape.setdefault((begin, end * 60, hours[start]), set()).add(day)
            start = end
    windows = tuple(
        StandbyWindow(frozenset(days), begin, end, timezone, agents)
        for (begin, end, agents), days in sorted(
            by_shape.items(), key=lambda item: (min(item[1]), item[0])
        )
    )
    return base, windows


def levels_of(standby: int, windows: Sequence[StandbyWindow], start: datetime) -> list[int]:
    """The standby in force at the middle of each hour of the week starting ``start``."""
    from adoscale.core.standby import standby_at

    return [
        standby_at(standby, windows, start + timedelta(hours=hour, minutes=30))
        for hour in range(HOURS)
    ]


# ---- search and report --------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A slice of the trace, re-based to start at 0 on its own wall-clock instant."""

    label: str
    start: datetime
    span_s: float
    jobs: tuple[TraceJob, ...]


@dataclass(frozen=True)
class Row:
    label: str
    result: RunResult
    standby: str = ""

    def to_json(self, oracle_minutes: float) -> dict[str, Any]:
        return {
            "label": self.label,
            "standby": self.standby,
            **self.result.to_json(),
            "x_oracle": round(self.result.agent_minutes / oracle_minutes, 3)
            if oracle_minutes
            else None,
        }


@dataclass(frozen=True)
class Evaluation:
    period: Period
    rows: tuple[Row, ...]

    def row(self, label: str) -> Row:
        return next(row for row in self.rows if row.label == label)


@dataclass(frozen=True)
class Recommendation:
    trace: str
    timezone: str
    target_p95_s: float | None
    budget: float | None
    standby_agents: int
    schedule: tuple[StandbyWindow, ...]
    constant: int
    pattern: WeekPattern
    levels: tuple[int, ...]
    met: bool
    fit: Evaluation
    held_out: Evaluation | None
    candidates: int
    wall_s: float = 0.0
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        def evaluation(e: Evaluation | None) -> dict[str, Any] | None:
            if e is None:
                return None
            oracle = e.row(ORACLE).result.agent_minutes
            return {
                "period": e.period.label,
                "from": e.period.start.isoformat(),
                "days": round(e.period.span_s / DAY, 2),
                "rows": [row.to_json(oracle) for row in e.rows],
            }

        return {
            "trace": self.trace,
            "timezone": self.timezone,
            "target_p95_s": self.target_p95_s,
            "budget": self.budget,
            "met_on_fit": self.met,
            "recommendation": {
                "standby_agents": self.standby_agents,
                "standby_schedule": [w.to_item() for w in self.schedule],
            },
            "best_constant_standby": self.constant,
            "hourly": {
                "arrivals_per_hour": [round(r, 3) for r in self.pattern.rates],
                "standby": list(self.levels),
            },
            "fit": evaluation(self.fit),
            "held_out": evaluation(self.held_out),
            "candidates_simulated": self.candidates,
            "wall_s": round(self.wall_s, 2),
            "notes": list(self.notes),
        }


def split(trace: Trace, holdout_days: float) -> tuple[list[Period], Period | None]:
    """The fit weeks (latest last) and the held-out period, or none when too short."""
    start = trace.start or EPOCH
    span = max(trace.span_s or 0.0, trace.end_s)
    holdout = holdout_days * DAY
    if span < 2 * holdout:
        return [_period("fit", trace, start, 0.0, span)], None
    cut = span - holdout
    fits = []
    begin = cut
    while begin > 1e-6:
        length = min(holdout, begin)
        begin -= length
        fits.append(_period("fit", trace, start, begin, length))
    fits.reverse()
    return fits, _period("held out", trace, start, cut, holdout)


def _period(label: str, trace: Trace, start: datetime, begin: float, length: float) -> Period:
    jobs = tuple(
        replace(job, queue_time=job.queue_time - begin)
        for job in trace.jobs
        if begin <= job.queue_time < begin + length
    )
    return Period(label, start + timedelta(seconds=begin), length, jobs)


def recommend(
    trace: Trace,
    params: SimParams,
    *,
    timezone: str = "UTC",
    target_p95_s: float | None = None,
    budget: float | None = None,
    holdout_days: float = 7.0,
    peers: bool = True,
) -> Recommendation:
    """Fit, search and evaluate (module docstring). Exactly one of target and budget."""
    if (target_p95_s is None) == (budget is None):
        raise ValueError("give one of target_p95_s and budget")
    started = time.perf_counter()
    zone(timezone)
    jobs, _ = matching_jobs(trace, params)
    matched = Trace(trace.name, tuple(jobs), trace.span_s, trace.start)
    fits, held = split(matched, holdout_days)
    notes = []
    if held is None:
        notes.append(
            f"the trace is shorter than {2 * holdout_days:g} days: no held-out period,"
            " figures are in-sample"
        )
    fit_jobs = [
        replace(job, queue_time=job.queue_time + (p.start - fits[0].start).total_seconds())
        for p in fits
        for job in p.jobs
    ]
    fit_span = sum(p.span_s for p in fits)
    pattern = fit_pattern(fit_jobs, fits[0].start, fit_span, timezone)
    search = fits[-1]  # the latest fit week: what the search simulates
    base_params = replace(params, clock_start=search.start, standby_agents=0, standby_schedule=())
    oracle = _oracle(search, base_params)
    limit = None if budget is None else budget * oracle.agent_minutes
    lead = math.ceil((params.startup.median_s + params.invocation_period_s) / 60.0)
    replenish = replenish_seconds(params)

    cache: dict[Any, RunResult] = {}

    def simulate(standby: int, windows: tuple[StandbyWindow, ...]) -> RunResult:
        key = (standby, windows)
        if key not in cache:
            run = replace(base_params, standby_agents=standby, standby_schedule=windows)
            cache[key] = run_adoscale(search.jobs, search.span_s, run)
        return cache[key]

    def meets(result: RunResult) -> bool:
        if target_p95_s is not None:
            return result.p95_wait_s <= target_p95_s
        return result.agent_minutes <= (limit or 0.0)

    # candidates: distinct schedules, from the least standby to the most
    candidates: list[tuple[tuple[int, ...], int, tuple[StandbyWindow, ...]]] = []
    seen: set[tuple[int, ...]] = set()
    for theta in THETAS:
        levels = levels_for(pattern, theta, replenish, params.max_agents)
        if levels in seen:
            continue
        seen.add(levels)
        base, windows = _fit_windows(levels, timezone, lead)
        candidates.append((levels, base, windows))
    chosen = _bisect(candidates, lambda c: simulate(c[1], c[2]), meets, target_p95_s is not None)
    levels, base, windows = candidates[chosen]

    # the best constant standby by the same rule, among 0 .. one above the schedule's peak
    top = min(params.max_agents, max(levels) + 1)
    constant = _bisect(
        list(range(top + 1)), lambda k: simulate(k, ()), meets, target_p95_s is not None
    )
    met = meets(simulate(base, windows))

    fit_eval = _evaluate(
        search, "fit week", base_params, base, windows, constant, oracle, peers, simulate
    )
    held_eval = None
    if held is not None:
        held_params = replace(base_params, clock_start=held.start)
        held_eval = _evaluate(
            held, "held-out week", held_params, base, windows, constant, None, peers, None
        )
    return Recommendation(
        trace=trace.name,
        timezone=timezone,
        target_p95_s=target_p95_s,
        budget=budget,
        standby_agents=base,
        schedule=windows,
        constant=constant,
        pattern=pattern,
        levels=levels,
        met=met,
        fit=fit_eval,
        held_out=held_eval,
        candidates=len(cache),
        wall_s=time.perf_counter() - started,
        notes=tuple(notes),
    )


def _fit_windows(
    levels: tuple[int, ...], timezone: str, lead: int
) -> tuple[int, tuple[StandbyWindow, ...]]:
    """Windows for the levels; when there would be too many, coarsen to two-hour steps."""
    base, windows = schedule_from_levels(levels, timezone, lead)
    block = 2
    while len(windows) > MAX_WINDOWS and block <= 24:
        coarse = tuple(
            max(levels[(h // block) * block : (h // block) * block + block]) for h in range(HOURS)
        )
        base, windows = schedule_from_levels(coarse, timezone, lead)
        block *= 2
    return base, windows


def _bisect(
    candidates: Sequence[Any],
    run: Any,
    meets: Any,
    cheapest_meeting: bool,
) -> int:
    """Candidates run from least to most standby. Target: the first that meets it (the
    last candidate when none does). Budget: the last within it (the first when none is)."""
    low, high = 0, len(candidates) - 1
    if cheapest_meeting:
        if not meets(run(candidates[high])):
            return high
        while low < high:
            middle = (low + high) // 2
            if meets(run(candidates[middle])):
                high = middle
            else:
                low = middle + 1
        return low
    if not meets(run(candidates[low])):
        return low
    while low < high:
        middle = (low + high + 1) // 2
        if meets(run(candidates[middle])):
            low = middle
        else:
            high = middle - 1
    return low


def _oracle(period: Period, params: SimParams) -> RunResult:
    return summarise(ORACLE, run_oracle(period.jobs, params, period.span_s), params.prices)


def _evaluate(
    period: Period,
    label: str,
    params: SimParams,
    base: int,
    windows: tuple[StandbyWindow, ...],
    constant: int,
    oracle: RunResult | None,
    peers: bool,
    simulated: Callable[[int, tuple[StandbyWindow, ...]], RunResult] | None,
) -> Evaluation:
    """The rows for one period; ``simulated`` answers runs the search already made there."""
    period = replace(period, label=label)

    def adoscale(standby: int, schedule: tuple[StandbyWindow, ...]) -> RunResult:
        if simulated is not None:
            return simulated(standby, schedule)
        run = replace(params, standby_agents=standby, standby_schedule=schedule)
        return run_adoscale(period.jobs, period.span_s, run)

    rows = [
        Row(NO_STANDBY, adoscale(0, ()), "0"),
        Row(CONSTANT, adoscale(constant, ()), str(constant)),
        Row(SCHEDULE, adoscale(base, windows), describe_levels(base, windows)),
    ]
    if peers:
        sub = Trace(period.label, period.jobs, period.span_s, period.start)
        rows += [Row(name, run_policy(name, sub, params)) for name in (KEDA, SCALE_SET)]
    rows.append(Row(ORACLE, oracle or _oracle(period, params)))
    return Evaluation(period, tuple(rows))


def describe_levels(base: int, windows: Sequence[StandbyWindow]) -> str:
    peak = max([base, *(w.agents for w in windows)])
    return f"{base}..{peak}, {len(windows)} windows" if windows else str(base)


def utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC)


# ---- output ---------------------------------------------------------------------------------


def evaluation_table(evaluation: Evaluation) -> str:
    """A markdown table of one period: p50/p95 wait, agent-minutes and x oracle per row."""
    oracle = evaluation.row(ORACLE).result.agent_minutes
    lines = [
        f"{evaluation.period.label} (from {evaluation.period.start:%Y-%m-%d %H:%M %Z},"
        f" {len(evaluation.period.jobs)} jobs)",
        "",
        "| run | standby | p50 wait (s) | p95 wait (s) | agent-minutes | x oracle |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for row in evaluation.rows:
        r = row.result
        ratio = f"{r.agent_minutes / oracle:.2f}" if oracle else "-"
        lines.append(
            f"| {row.label} | {row.standby or '-'} | {r.p50_wait_s:.0f} | {r.p95_wait_s:.0f}"
            f" | {r.agent_minutes:.0f} | {ratio} |"
        )
    return "\n".join(lines)


def summary(rec: Recommendation) -> str:
    goal = (
        f"p95 wait <= {rec.target_p95_s:g} s"
        if rec.target_p95_s is not None
        else f"agent-minutes <= {rec.budget:g} x the oracle's"
    )
    verdict = "met" if rec.met else "NOT met by any candidate (the one closest to it is shown)"
    lines = [
        f"recommendation for `{rec.trace}` (time zone {rec.timezone}; goal {goal}: {verdict}"
        " on the fit week)",
        f"standby_agents: {rec.standby_agents}",
        "standby_schedule:" if rec.schedule else "standby_schedule: [] (no window needed)",
    ]
    lines += [
        f'  - {{days: {w["days"]}, from: "{w["from"]}", to: "{w["to"]}",'
        f" timezone: {w['timezone']}, agents: {w['agents']}}}"
        for w in (window.to_item() for window in rec.schedule)
    ]
    lines.append(f"best constant standby by the same rule: {rec.constant}")
    lines.append(f"{rec.candidates} settings simulated in {rec.wall_s:.1f} s")
    lines += [f"note: {note}" for note in rec.notes]
    return "\n".join(lines)


def plot_week(rec: Recommendation, path: Any) -> None:
    """Arrivals per hour of the week (bars) and the recommended standby (steps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monday = _monday(rec.held_out.period.start if rec.held_out else rec.fit.period.start, rec)
    standby = levels_of(rec.standby_agents, rec.schedule, monday)
    figure, rates_axis = plt.subplots(figsize=(12, 4))
    hours = list(range(HOURS))
    rates_axis.bar(
        hours,
        rec.pattern.rates,
        width=1.0,
        align="edge",
        color="#9ecae1",
        label="jobs per hour (fit)",
    )
    rates_axis.set_ylabel("jobs queued per hour")
    rates_axis.set_xlim(0, HOURS)
    rates_axis.set_xticks([day * 24 + 12 for day in range(7)])
    rates_axis.set_xticklabels(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    for day in range(1, 7):
        rates_axis.axvline(day * 24, color="#cccccc", linewidth=0.8)
    standby_axis = rates_axis.twinx()
    standby_axis.step(
        [*hours, HOURS],
        [*standby, standby[-1]],
        where="post",
        color="#d62728",
        linewidth=2,
        label="standby agents (recommended)",
    )
    standby_axis.axhline(
        rec.constant,
        color="#555555",
        linestyle="--",
        linewidth=1,
        label=f"best constant standby ({rec.constant})",
    )
    standby_axis.set_ylabel("standby agents")
    standby_axis.set_ylim(0, max([*standby, rec.constant, 1]) + 1)
    handles = rates_axis.get_legend_handles_labels()
    more = standby_axis.get_legend_handles_labels()
    standby_axis.legend(handles[0] + more[0], handles[1] + more[1], loc="upper right")
    rates_axis.set_title(f"{rec.trace}: the week in {rec.timezone}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _monday(instant: datetime, rec: Recommendation) -> datetime:
    """Monday 00:00 on the wall clock of the recommendation's zone, at or before ``instant``."""
    local = instant.astimezone(zone(rec.timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight - timedelta(days=local.weekday())
