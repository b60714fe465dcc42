"""Refresh the docs' generated blocks from ``bench/results/*.json``.

Only the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` is rewritten;
the prose around it is written by hand. A block whose results are missing keeps its text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Results = Mapping[str, dict[str, Any]]


def load_results(directory: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(directory.glob("*.json")):
        try:
            found[path.stem] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return found


def machine_line(record: Mapping[str, Any]) -> str:
    m = record.get("machine", {})
    load = m.get("load_average")
    loaded = f", load average {load[0]:g} at start" if load else ""
    return (
        f"{m.get('cores', '?')} cores, {m.get('cpu_model', '?')}, Python {m.get('python', '?')},"
        f" {m.get('date', '?')}{loaded}"
    )


def render_simulator(results: Results) -> str | None:
    record = results.get("simulator_bench")
    if not record or "results" not in record:
        return None
    r = record["results"]
    t = r["tables"]
    parts = [
        f"Measured by `make bench` (`bench/simulator_bench.py`) on {machine_line(record)}.",
        "",
        "**Bundled bursty trace** (" + t["bursty_params"] + ")",
        "",
        t["bursty"],
        "",
        f"![bursty trace: waits, agents, agent-minutes]({r['comparisons']['bursty']['png']})",
        "",
        "**Bundled steady trace**",
        "",
        t["steady"],
        "",
        f"![steady trace: waits, agents, agent-minutes]({r['comparisons']['steady']['png']})",
        "",
        "**Targets** (adoscale's defaults on the bursty trace):",
        "",
        t["targets"],
        "",
        "**What-ifs** on the bursty trace (peers as above):",
        "",
        t["what_ifs"],
        "",
        "**Sweep** of standby x idle timeout on the bursty trace:",
        "",
        t["sweep"],
        "",
        t["recommendation"] + ".",
        "",
        f"![sweep: p95 wait against agent-minutes]({r['sweep']['png']})",
    ]
    return "\n".join(parts)


def render_cost(results: Results) -> str | None:
    record = results.get("simulator_bench")
    if not record or "results" not in record:
        return None
    r = record["results"]
    return "\n".join(
        [
            f"Executions per queue and day: {r['cost']['executions_per_queue_day']} (what"
            " adoscale started on the bundled bursty trace: a busy queue).",
            "",
            r["tables"]["cost"],
            "",
            "<details><summary>prices used (overridable in "
            "<code>adoscale.simulate.cost</code>)</summary>",
            "",
            r["tables"]["prices"],
            "",
            "</details>",
        ]
    )


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, bool | int | float | str) or value is None:
        return {prefix: value}
    return {}


def _rows_for(name: str, owner: str, what: str, results: Results) -> list[str]:
    record = results.get(name)
    if not record:
        return [f"| {what} ({owner}) | _not run yet: `python -m bench {name}`_ | | |"]
    if "error" in record:
        return [f"| {what} ({owner}) | failed: {record['error']} | | {machine_line(record)} |"]
    data = record.get("results", {})
    targets = _flatten(data.get("targets", {}))
    figures = _flatten(data.get("summary") or {k: v for k, v in data.items() if k != "targets"})
    rows = []
    for key, value in figures.items():
        last = key.rsplit(".", 1)[-1]
        target = next((str(v) for k, v in targets.items() if last.startswith(k)), "")
        rows.append(f"| {what} ({owner}) | `{key}` | {value} | {target} |")
    rows.append(f"| {what} ({owner}) | machine | {machine_line(record)} | |")
    return rows


def render_performance(results: Results) -> str | None:
    lines = ["| benchmark | figure | measured | target |", "| --- | --- | ---: | ---: |"]
    lines += _rows_for("poll_bench", "lead", "poll cycle, 200 queues", results)
    lines += _rows_for("workflow_bench", "workflow", "workflow scale-out, 50 agents", results)
    sim = results.get("simulator_bench")
    if sim and "results" in sim:
        speed = sim["results"]["speed"]
        lines.append(
            f"| simulator | 30 days x 2,000 jobs/day ({speed['jobs']:,} jobs), adoscale policy"
            f" | {speed['adoscale_wall_s']} s wall ({speed['adoscale_cpu_s']} s CPU)"
            f" | {speed['target_s']:g} s |"
        )
        for policy, timing in speed["policies"].items():
            if policy != "adoscale":
                lines.append(f"| simulator | same trace, {policy} | {timing['wall_s']} s wall | |")
        lines.append(f"| simulator | machine | {machine_line(sim)} | |")
    else:
        lines.append("| simulator | _not run yet: `python -m bench simulator_bench`_ | | |")
    package = results.get("package_bench")
    if package and "results" in package:
        p = package["results"]
        sizes = p["sizes"]
        zipped = f"{sizes['zip_bytes'] / 1e6:.2f} MB" if sizes.get("zip_bytes") else "not built"
        lines.append(
            f"| Lambda package | archive ({p['built_with']}) | {zipped} zipped,"
            f" {sizes['unpacked_bytes'] / 1e6:.2f} MB unpacked, {sizes['entries']} files"
            f" | {p['limits_mb']['zip']:g} / {p['limits_mb']['unzipped']:g} MB |"
        )
        for module, timing in p["cold_import"].items():
            extra = timing.get("operator_libraries_loaded") or []
            note = f"; loaded {', '.join(extra)}!" if extra else ""
            lines.append(
                f"| Lambda package | cold import `{module}` | {timing['median_ms']} ms median"
                f" ({timing.get('cpu_median_ms', '?')} ms CPU, min {timing['min_ms']}){note} | |"
            )
        lines.append(f"| Lambda package | machine | {machine_line(package)} | |")
    else:
        lines.append("| Lambda package | _not run yet: `python -m bench package_bench`_ | | |")
    return "\n".join(lines)


def render_standby(results: Results) -> str | None:
    """The standby schedule benchmark: the held-out targets, other seeds, and speed."""
    record = results.get("standby_bench")
    if not record or "results" not in record:
        return None
    r = record["results"]
    t = r["targets"]
    yes = {True: "met", False: "**missed**"}
    lines = [
        f"Measured by `python -m bench standby_bench` on {machine_line(record)}.",
        "",
        "```",
        t["summary"],
        "```",
        "",
        t["fit_table"],
        "",
        t["held_out_table"],
        "",
        "| target (held-out week) | value | limit | |",
        "| --- | ---: | ---: | --- |",
    ]
    for name, check in t["checks"].items():
        lines.append(f"| {name} | {check['value']:g} | {check['limit']:g} | {yes[check['met']]} |")
    lines += [
        "",
        "Other seeds (same method, same budget, held-out week):",
        "",
        "| seed | p50 (s) | p95 (s) / oracle p95 | x oracle | constant standby with that p50:"
        " agent-minutes vs the schedule's | all targets |",
        "| ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for other in r["other_seeds"]:
        checks = list(other["checks"].values())
        same = other["constant_same_p50"] or {}
        constant = (
            f"standby {same['standby']}: {same['agent_minutes']:.0f} vs {checks[3]['value']:.0f}"
            if same and len(checks) > 3
            else "-"
        )
        lines.append(
            f"| {other['seed']} | {checks[0]['value']:g} | {checks[1]['value']:g} /"
            f" {checks[1]['limit']:g} | {checks[2]['value']:g} | {constant}"
            f" | {yes[other['all_met']]} |"
        )
    lines += [
        "",
        "| `adoscale recommend` on | jobs | wall (s) | CPU (s) | target (s) | wall target |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for speed in r["speed"]:
        lines.append(
            f"| {speed['trace']} ({speed['days']:g} days) | {speed['jobs']} | {speed['wall_s']:g}"
            f" | {speed['cpu_s']:g} | {speed['target_s']:g} | {yes[speed['met']]} |"
        )
    return "\n".join(lines)


def render_capacity(results: Results) -> str | None:
    """Simulated waits of an ec2 agent profile beside Fargate's (docs/ec2-capacity.md)."""
    record = results.get("capacity_bench")
    if not record or "results" not in record:
        return None
    return (
        f"Measured by `python -m bench capacity_bench` on {machine_line(record)}.\n\n"
        + record["results"]["table"]
    )


def render_reuse(results: Results) -> str | None:
    """Reusable agents: the N x idle tables beside the peers, and the p50 target per seed."""
    record = results.get("reuse_bench")
    if not record or "results" not in record:
        return None
    r = record["results"]
    parts = [f"Measured by `python -m bench reuse_bench` on {machine_line(record)}.", ""]
    for sweep in r["sweeps"]:
        speedup = sweep["warm_speedup"]
        warm = "no warm speed-up" if speedup == 1 else f"warm speed-up {speedup:g}"
        parts += [f"**`{sweep['trace']}`** ({sweep['jobs']} jobs, {warm})", "", sweep["table"], ""]
    target = r["target"]
    parts += [
        f"**Target** ({target['rule']}), {target['met']}/{target['of']} generated days met:",
        "",
        "| trace seed | jobs | p50 wait (s) | p95 wait (s) | agent-minutes"
        " | one-job p50 (s) | x one-job agent-minutes | met |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for row in target["rows"]:
        parts.append(
            f"| {row['seed']} | {row['jobs']} | {row['p50_wait_s']:g} | {row['p95_wait_s']:g}"
            f" | {row['agent_minutes']:,.0f} | {row['one_job_p50_wait_s']:g}"
            f" | {row['agent_minutes_x_one_job']:.2f} | {'yes' if row['met'] else '**no**'} |"
        )
    return "\n".join(parts)


BLOCKS: Mapping[str, Callable[[Results], str | None]] = {
    "simulator": render_simulator,
    "cost": render_cost,
    "performance": render_performance,
    "standby": render_standby,
    "capacity": render_capacity,
    "reuse": render_reuse,
}


def update_readme(readme: Path, results_dir: Path) -> list[str]:
    """Rewrite the blocks present in one Markdown file; returns the names of those that changed.

    Links the renderers write from the repository's root (``docs/img/...``) are made relative
    to the file, so a page under ``docs/`` shows its pictures.
    """
    results = load_results(results_dir)
    text = readme.read_text(encoding="utf-8")
    in_docs = readme.parent.name == "docs"
    changed = []
    for name, render in BLOCKS.items():
        start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        head, found, rest = text.partition(start)
        body, closed, tail = rest.partition(end)
        if not (found and closed):
            continue
        fresh = render(results)
        if fresh is not None and in_docs:
            fresh = fresh.replace("](docs/", "](")
        if fresh is None or body.strip() == fresh.strip():
            continue
        text = f"{head}{start}\n{fresh}\n{end}{tail}"
        changed.append(name)
    if changed:
        temporary = readme.with_suffix(".md.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(readme)
    return changed


def update_docs(root: Path, results_dir: Path) -> list[str]:
    """Refresh the blocks of README and of every page under ``docs/``; returns ``page:block``."""
    changed = []
    for page in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        name = page.relative_to(root).as_posix()
        changed += [f"{name}:{block}" for block in update_readme(page, results_dir)]
    return changed
