"""`make bench`: run every benchmark in bench/, record it with the machine, summarise it.

A benchmark is any module ``bench/<name>.py`` that exposes ``run() -> dict``. Each result
is written to ``bench/results/<name>.json`` as ``{"benchmark", "machine", "seconds",
"results"}`` (or ``"error"`` when it raised: one failing benchmark never stops the others),
a summary table is printed, and the generated blocks of the docs (``<!-- bench:NAME -->`` in
``docs/*.md``) are refreshed from every result file present.

    python -m bench                      # all of them
    python -m bench simulator_bench      # some of them
    python -m bench --no-readme          # leave the docs alone
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
NOT_BENCHMARKS = frozenset({"__init__", "__main__", "readme"})


def machine() -> dict[str, Any]:
    """What the figures ran on: they mean little without it."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average": load,
    }


def discover() -> list[str]:
    return sorted(
        path.stem
        for path in BENCH_DIR.glob("*.py")
        if path.stem not in NOT_BENCHMARKS and not path.stem.startswith("_")
    )


def run_one(name: str) -> dict[str, Any]:
    started = time.perf_counter()
    record: dict[str, Any] = {"benchmark": name, "machine": machine()}
    try:
        module = importlib.import_module(f"bench.{name}")
        runner = getattr(module, "run", None)
        if not callable(runner):
            return {}
        record["results"] = runner()
    except Exception as error:  # noqa: BLE001 - one failing benchmark never stops the others
        record["error"] = f"{type(error).__name__}: {error}"
        record["traceback"] = traceback.format_exc()
    record["seconds"] = round(time.perf_counter() - started, 2)
    RESULTS.mkdir(exist_ok=True)
    temporary = RESULTS / f"{name}.json.tmp"
    temporary.write_text(json.dumps(record, indent=2, default=str) + "\n")
    temporary.replace(RESULTS / f"{name}.json")
    return record


def headline(record: dict[str, Any]) -> str:
    """The benchmark's own ``summary`` when it gives one, else its top-level numbers."""
    if "error" in record:
        return record["error"]
    results = record.get("results") or {}
    figures = results.get("summary")
    if not isinstance(figures, dict):
        figures = {k: v for k, v in results.items() if isinstance(v, int | float | str)}
    return ", ".join(f"{key} {value}" for key, value in list(figures.items())[:6])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--no-readme", action="store_true", help="do not refresh the docs' figures")
    args = parser.parse_args(argv)
    for path in (ROOT, ROOT / "functions"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    available = discover()
    unknown = [name for name in args.names if name not in available]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; have {', '.join(available)}")
    records = []
    for name in args.names or available:
        print(f"running {name} ...", flush=True)
        record = run_one(name)
        if record:
            records.append(record)
    print()
    print(f"{'benchmark':<22} {'seconds':>8}  figures")
    for record in records:
        print(f"{record['benchmark']:<22} {record['seconds']:>8}  {headline(record)}")
    info = machine()
    print(f"\nmachine: {info['cores']} cores, {info['cpu_model']}, Python {info['python']}")
    if not args.no_readme:
        from bench.readme import update_docs

        changed = update_docs(ROOT, RESULTS)
        print(f"doc blocks refreshed: {', '.join(changed) if changed else 'none'}")
    return 1 if any("error" in record for record in records) else 0


if __name__ == "__main__":
    sys.exit(main())
