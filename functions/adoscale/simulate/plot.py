"""PNG figures with matplotlib's Agg backend, imported only when a figure is asked for."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adoscale.simulate.policies import ADOSCALE, KEDA, ORACLE, SCALE_SET
from adoscale.simulate.runner import Comparison, Sweep

WINDOW_S = 3 * 3600.0  # the agents-over-time panel shows this much around the peak
COLOURS = {ADOSCALE: "#1f77b4", KEDA: "#ff7f0e", SCALE_SET: "#2ca02c", ORACLE: "#7f7f7f"}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_comparison(comparison: Comparison, path: Path, title: str | None = None) -> Path:
    """Wait CDF, billed agents over time (when the runs recorded it) and agent-minutes."""
    plt = _pyplot()
    timed = [r for r in comparison.results if r.timeline]
    panels = 3 if timed else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2))
    waits_ax, bars_ax = axes[0], axes[-1]
    for result in comparison.results:
        ordered = sorted(result.waits)
        if not ordered:
            continue
        share = [(i + 1) / len(ordered) for i in range(len(ordered))]
        waits_ax.step(
            ordered, share, where="post", label=result.policy, color=_colour(result.policy)
        )
    waits_ax.axhline(0.95, color="black", linewidth=0.6, linestyle=":")
    waits_ax.set_xlabel("wait for an agent (s)")
    waits_ax.set_ylabel("share of jobs")
    waits_ax.set_title("wait CDF (dotted: p95)")
    waits_ax.legend(loc="lower right", fontsize=8)
    if timed:
        time_ax = axes[1]
        start, end = _busiest_window(timed[0].timeline)
        demand_drawn = False
        for result in timed:
            points = [p for p in result.timeline if start <= p[0] <= end]
            hours = [t / 3600.0 for t, _, _ in points]
            time_ax.step(
                hours,
                [agents for _, agents, _ in points],
                where="post",
                label=result.policy,
                color=_colour(result.policy),
                linewidth=0.8,
            )
            if not demand_drawn:
                time_ax.step(
                    hours,
                    [demand for _, _, demand in points],
                    where="post",
                    label="jobs waiting or running",
                    color="black",
                    linewidth=0.6,
                    linestyle="--",
                )
                demand_drawn = True
        time_ax.set_xlabel("hours into the trace")
        time_ax.set_ylabel("billed agents")
        time_ax.set_title(f"agents around the busiest moment ({WINDOW_S / 3600:g} h)")
        time_ax.legend(loc="upper right", fontsize=7)
    names = [r.policy for r in comparison.results]
    minutes = [r.agent_minutes for r in comparison.results]
    bars = bars_ax.bar(names, minutes, color=[_colour(n) for n in names])
    for bar, result in zip(bars, comparison.results, strict=True):
        bars_ax.annotate(
            f"${result.cost_usd:,.2f}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    bars_ax.set_ylabel("agent-minutes (label: cost)")
    bars_ax.set_title("billed agent time")
    bars_ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    fig.suptitle(title or f"trace {comparison.trace}: {comparison.jobs} jobs")
    return _save(plt, fig, path)


def plot_sweep(result: Sweep, path: Path) -> Path:
    """p95 wait against agent-minutes for every setting; the front joined, the pick marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.8))
    xs = [p.result.agent_minutes for p in result.points]
    ys = [p.result.p95_wait_s for p in result.points]
    ax.scatter(xs, ys, s=18, color="#9ecae1", label="standby x idle timeout")
    front = sorted((p for p in result.points if p.on_front), key=lambda p: p.result.agent_minutes)
    ax.plot(
        [p.result.agent_minutes for p in front],
        [p.result.p95_wait_s for p in front],
        color=COLOURS[ADOSCALE],
        marker="o",
        label="front",
    )
    all_idle = {p.idle_timeout_minutes for p in result.points}
    groups: dict[tuple[float, float, int], list[int]] = {}
    for p in front:
        spot = (p.result.agent_minutes, p.result.p95_wait_s, p.standby_agents)
        groups.setdefault(spot, []).append(p.idle_timeout_minutes)
    for (minutes, wait, standby), idle in groups.items():
        timeouts = "any" if set(idle) == all_idle else ",".join(map(str, idle))
        ax.annotate(
            f"standby {standby}, timeout {timeouts}",
            (minutes, wait),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
        )
    pick = result.recommended.result
    ax.scatter(
        [pick.agent_minutes],
        [pick.p95_wait_s],
        s=120,
        facecolors="none",
        edgecolors="red",
        label="recommended",
    )
    ax.scatter(
        [result.oracle.agent_minutes],
        [result.oracle.p95_wait_s],
        marker="*",
        s=120,
        color=COLOURS[ORACLE],
        label="oracle",
    )
    ax.axvline(
        result.budget * result.oracle.agent_minutes,
        color="red",
        linestyle=":",
        linewidth=0.8,
        label=f"budget {result.budget:g}x oracle",
    )
    ax.set_xlabel("agent-minutes")
    ax.set_ylabel("p95 wait (s)")
    ax.set_title(f"adoscale sweep on {result.trace}: standby x idle timeout (min)")
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def _busiest_window(timeline: Sequence[tuple[float, int, int]]) -> tuple[float, float]:
    """``WINDOW_S`` centred on the moment most jobs were waiting or running."""
    if not timeline:
        return 0.0, WINDOW_S
    peak = max(timeline, key=lambda point: point[2])[0]
    start = max(timeline[0][0], peak - WINDOW_S / 2)
    return start, start + WINDOW_S


def _colour(policy: str) -> str:
    return COLOURS.get(policy, "#9467bd")


def _save(plt: Any, fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
