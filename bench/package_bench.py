"""Benchmark: the Lambda archive's size and each handler's cold import from it.

The archive is built exactly as the stack builds it (``components.packaging.
build_lambda_archive``: the runtime package without its operator-only subpackages, plus the
pinned third-party libraries of ``build/lambda-deps``). Each handler module is then imported
in a fresh interpreter whose path starts with the unpacked archive, as a Lambda cold start
does; boto3 comes from the virtualenv, as the Lambda runtime provides it. The child also
reports any operator-only library (click, rich, yaml, matplotlib, moto) that the import
pulled in: there must be none.

When the archive cannot be built (no ``make lambda-deps`` yet), the sizes are those of the
unpacked runtime package alone, and the result says so.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "functions" / "adoscale"
DEPS = ROOT / "build" / "lambda-deps"
IMPORT_RUNS = 5
ZIP_LIMIT_MB = 50.0  # direct upload
UNZIPPED_LIMIT_MB = 250.0
OPERATOR_LIBRARIES = ("click", "rich", "yaml", "matplotlib", "moto", "pulumi")
PROBE = (
    "import json, sys, time\n"
    "t, c = time.perf_counter(), time.process_time()\n"
    "import {module}\n"
    "ms, cpu = (time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000\n"
    "print(json.dumps({{'ms': ms, 'cpu_ms': cpu,"
    " 'operator': sorted(n for n in {operator!r} if n in sys.modules),"
    " 'from': getattr(sys.modules['adoscale'], '__file__', '')}}))\n"
)


# A complete Lambda environment, as the stack gives it (handlers read it on first invocation).
LAMBDA_ENV = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "ADOSCALE_TABLE": "adoscale-queues",
    "ADOSCALE_STATE_TABLE": "adoscale-state",
    "ADOSCALE_ALERT_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:adoscale-alerts",
    "ADOSCALE_ORG_URL": "https://dev.azure.com/example",
    "ADOSCALE_PAT_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:pat-AbCdEf",
    "ADOSCALE_CLUSTER": "adoscale",
    "ADOSCALE_STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:123456789012:stateMachine:adoscale",
    "ADOSCALE_SUBNETS": "subnet-0123456789abcdef0",
    "ADOSCALE_SECURITY_GROUPS": "sg-0123456789abcdef0",
    "ADOSCALE_TASK_DEFINITIONS": json.dumps(
        {"default": "arn:aws:ecs:eu-west-1:123456789012:task-definition/agent:1"}
    ),
}


def handler_modules() -> list[str]:
    from adoscale.core.steps import STEPS

    modules = {"adoscale.handlers.poller"} | {step.handler.rsplit(".", 1)[0] for step in STEPS}
    return sorted(
        m for m in modules if (ROOT / "functions" / (m.replace(".", "/") + ".py")).exists()
    )


def build_archive(workdir: Path) -> tuple[Path | None, str]:
    try:
        from components.packaging import build_lambda_archive
    except ImportError as error:
        return None, f"no archive builder ({error}): unpacked runtime package measured"
    try:
        archive = build_lambda_archive(PACKAGE, DEPS, workdir / "lambda.zip")
    except Exception as error:  # noqa: BLE001 - fall back to the unpacked package, say why
        return None, f"archive not built ({error}): unpacked runtime package measured"
    return archive.path, "components.packaging.build_lambda_archive"


def sizes(archive: Path | None) -> dict[str, Any]:
    if archive is None:
        from components.packaging import is_operator_only

        files = [
            p
            for p in PACKAGE.rglob("*")
            if p.is_file()
            and "__pycache__" not in p.parts
            and not is_operator_only(p.relative_to(PACKAGE))
        ]
        unpacked = sum(p.stat().st_size for p in files)
        return {"zip_bytes": None, "unpacked_bytes": unpacked, "entries": len(files), "top": {}}
    with zipfile.ZipFile(archive) as opened:
        infos = opened.infolist()
    top: dict[str, int] = {}
    for info in infos:
        head = info.filename.split("/", 1)[0]
        if head.endswith(".dist-info"):
            head = "*.dist-info"
        top[head] = top.get(head, 0) + info.file_size
    return {
        "zip_bytes": archive.stat().st_size,
        "unpacked_bytes": sum(info.file_size for info in infos),
        "entries": len(infos),
        "top": dict(sorted(top.items(), key=lambda item: -item[1])),
        "operator_only_entries": [
            i.filename
            for i in infos
            if i.filename.startswith(("adoscale/cli/", "adoscale/local/", "adoscale/simulate/"))
        ],
    }


def cold_imports(path_head: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ADOSCALE_", "AWS_"))}
    env.update(LAMBDA_ENV, PYTHONPATH=str(path_head))
    found: dict[str, Any] = {}
    for module in handler_modules():
        runs = []
        for _ in range(IMPORT_RUNS):
            output = subprocess.check_output(
                [sys.executable, "-c", PROBE.format(module=module, operator=OPERATOR_LIBRARIES)],
                env=env,
                text=True,
                cwd=tempfile.gettempdir(),  # not the repository: only the archive is on the path
            )
            runs.append(json.loads(output))
        times = [run["ms"] for run in runs]
        found[module] = {
            "median_ms": round(statistics.median(times), 1),
            "min_ms": round(min(times), 1),
            "cpu_median_ms": round(statistics.median(run["cpu_ms"] for run in runs), 1),
            "operator_libraries_loaded": runs[0]["operator"],
            "adoscale_from": runs[0]["from"],
        }
    return found


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="adoscale-package-") as scratch:
        workdir = Path(scratch)
        archive, how = build_archive(workdir)
        measured = sizes(archive)
        if archive is not None:
            unpacked = workdir / "unpacked"
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(unpacked)
            imports = cold_imports(unpacked)
        else:
            imports = cold_imports(ROOT / "functions")
    poller = imports.get("adoscale.handlers.poller", {})
    zip_mb = measured["zip_bytes"] / 1e6 if measured["zip_bytes"] is not None else None
    return {
        "summary": {
            "zip_mb": round(zip_mb, 2) if zip_mb is not None else None,
            "unpacked_mb": round(measured["unpacked_bytes"] / 1e6, 2),
            "poller_cold_import_ms": poller.get("median_ms"),
            "slowest_handler_import_ms": max(
                (v["median_ms"] for v in imports.values()), default=None
            ),
        },
        "built_with": how,
        "sizes": measured,
        "limits_mb": {"zip": ZIP_LIMIT_MB, "unzipped": UNZIPPED_LIMIT_MB},
        "cold_import": imports,
        "import_runs": IMPORT_RUNS,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
