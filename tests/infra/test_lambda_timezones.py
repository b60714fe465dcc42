"""The Lambda archive can evaluate standby schedules without the system's zone files.

Amazon Linux 2023 (the python3.12 Lambda runtime) ships no /usr/share/zoneinfo, so the
archive carries the ``tzdata`` package; a clean interpreter with the system search path
emptied must still read a Berlin window from a queue item.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from components.packaging import build_lambda_archive
from tests.infra.conftest import ROOT

DEPS = ROOT / "build" / "lambda-deps"

_CHECK = """
import sys, zoneinfo
sys.path[:0] = [sys.argv[1]]
zoneinfo.reset_tzpath([])  # no system zone files, as on the Lambda runtime
from datetime import datetime, timezone
from adoscale.core.schema import parse_queue
from adoscale.core.policy import standby_in_force
queue = parse_queue({"queue": "q", "pool": "p", "max_agents": 3, "standby_schedule": [
    {"days": "mon-fri", "from": "08:00", "to": "18:00", "timezone": "Europe/Berlin", "agents": 2}]})
summer = datetime(2026, 7, 8, 6, 30, tzinfo=timezone.utc)  # 08:30 in Berlin
winter = datetime(2026, 1, 7, 6, 30, tzinfo=timezone.utc)  # 07:30 in Berlin
print(standby_in_force(queue, summer), standby_in_force(queue, winter))
"""


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert (DEPS / ".installed").is_file(), "run `make lambda-deps` (part of `make install`)"
    package = ROOT / "functions" / "adoscale"
    archive = build_lambda_archive(package, DEPS, tmp_path_factory.mktemp("a") / "l.zip").path
    target = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(target)
    return target


def test_the_archive_reads_iana_zones_without_system_zone_files(unpacked: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _CHECK, str(unpacked)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=unpacked,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.split() == ["2", "0"]
