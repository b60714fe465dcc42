"""Benchmark: each Lambda handler's cold start from the unpacked archive, and what it loads.

The archive is built as the stack builds it (``components.packaging.build_lambda_archive``)
and unpacked; each handler then starts in a fresh ``python -I -S`` whose path is the
unpacked archive followed by boto3 and its dependencies (what the Lambda runtime provides),
as a Lambda cold start does. Timed separately, median of ``RUNS``: importing the handler
module (``import_ms``, what the 300 ms target of the poller is about), and importing it
then building its handler from a complete Lambda environment (``start_ms``:
``handler.built``, what the first invocation adds: settings and collaborators; the
poller's AWS clients are built there too, a step's are built on first use).

Each start also reports which of the poller's and the adapters' modules it loaded: a step
loads only what its step uses (the ``launch`` step never loads the poller, counting, the
policy or requests). The poller's target is 300 ms on the 2-core benchmark machine.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from bench import package_bench

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "functions" / "adoscale"
DEPS = ROOT / "build" / "lambda-deps"
RUNS = 10
POLLER_TARGET_MS = 300.0
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py")
# Modules whose presence says what a handler pulled in.
WATCHED = (
    "adoscale.poller.poll",
    "adoscale.poller.wiring",
    "adoscale.core.counting",
    "adoscale.core.policy",
    "adoscale.ado.client",
    "requests",
    "marshmallow",
    "botocore",
)
# What a step must not load: the poller's modules, and the ADO client where it calls no ADO.
NEVER: dict[str, tuple[str, ...]] = {
    "launch": (
        "adoscale.poller.poll",
        "adoscale.core.counting",
        "adoscale.core.policy",
        "requests",
    ),
    "validate": ("adoscale.poller.poll", "adoscale.core.policy", "requests"),
    "release": ("adoscale.poller.poll", "adoscale.core.policy", "requests"),
}
LAMBDA_ENV = {"PATH": "/usr/bin:/bin", "AWS_REGION": "eu-west-1", **package_bench.LAMBDA_ENV}
PROBE = """
import importlib, json, sys, time
sys.path[:0] = {paths!r}
started = time.perf_counter()
handler = importlib.import_module({module!r}).handler
imported = time.perf_counter()
getattr(handler, "built", None)
built = time.perf_counter()
print(json.dumps({{
    "import_ms": (imported - started) * 1000,
    "start_ms": (built - started) * 1000,
    "loaded": [n for n in {watched!r} if n in sys.modules],
}}))
"""


def handlers() -> dict[str, str]:
    """Lambda name -> handler module, from the step registry (and the poller)."""
    sys.path[:0] = [str(ROOT / "functions")]
    from adoscale.core.steps import STEPS

    found = {"poller": "adoscale.handlers.poller"}
    found.update({step.name: step.handler.rsplit(".", 1)[0] for step in STEPS})
    for path in sorted((PACKAGE / "handlers").glob("*.py")):  # the service hook, and any other
        if path.stem != "__init__":
            found.setdefault(path.stem, f"adoscale.handlers.{path.stem}")
    return found


def unpack(workdir: Path) -> list[str]:
    """The unpacked archive and the runtime's boto3, as the Lambda's import path."""
    sys.path[:0] = [str(ROOT)]
    import boto3

    from components.packaging import build_lambda_archive

    archive = build_lambda_archive(PACKAGE, DEPS, workdir / "lambda.zip")
    task = workdir / "task"
    with zipfile.ZipFile(archive.path) as opened:
        opened.extractall(task)
    runtime = workdir / "runtime"
    runtime.mkdir()
    site = Path(boto3.__file__).resolve().parents[1]
    for name in RUNTIME_PROVIDED:
        (runtime / name).symlink_to(site / name)
    return [str(task), str(runtime)]


def cold_start(paths: list[str], module: str) -> dict[str, Any]:
    probe = PROBE.format(paths=paths, module=module, watched=WATCHED)
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", probe],
        capture_output=True,
        text=True,
        env=LAMBDA_ENV,
        timeout=120,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"{module}: {done.stderr.strip().splitlines()[-1:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        paths = unpack(Path(scratch))
        results: dict[str, Any] = {}
        for name, module in handlers().items():
            starts = [cold_start(paths, module) for _ in range(RUNS)]
            loaded = starts[-1]["loaded"]
            results[name] = {
                "import_ms": round(statistics.median(s["import_ms"] for s in starts), 1),
                "start_ms": round(statistics.median(s["start_ms"] for s in starts), 1),
                "max_import_ms": round(max(s["import_ms"] for s in starts), 1),
                "loaded": loaded,
                "loads_what_it_must_not": sorted(set(loaded) & set(NEVER.get(name, ()))),
            }
    poller = results["poller"]["import_ms"]
    return {
        "runs": RUNS,
        "how": "python -I -S on the unpacked archive; medians; start = import + handler built",
        "poller_target_ms": POLLER_TARGET_MS,
        "poller_within_target": poller <= POLLER_TARGET_MS,
        "handlers": results,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
