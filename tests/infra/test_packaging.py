"""`pip install adoscale` gives a working `adoscale` command: its libraries are the package's
own dependencies, not an extra's."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.infra.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
# What only the extras bring: the command must start and run its basic commands without them.
EXTRAS_ONLY = ("moto", "matplotlib", "pulumi", "pulumi_aws")
# Runs the command in a fresh interpreter where the extras' libraries cannot be imported,
# then reports which distributions the process loaded.
PROBE = """
import importlib.abc, json, sys
BLOCKED = set(sys.argv[1].split(","))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: not a base dependency")
sys.meta_path.insert(0, Block())
from importlib import metadata
from adoscale.cli.main import cli
codes = []
for args in json.loads(sys.argv[2]):
    try:
        cli.main(args=args, prog_name="adoscale", standalone_mode=False)
        codes.append(0)
    except SystemExit as exit:
        codes.append(exit.code or 0)
roots = {name.split(".")[0] for name in sys.modules} - set(sys.stdlib_module_names)
roots.discard("_distutils_hack")  # setuptools' .pth hook, loaded by every venv interpreter
owners = metadata.packages_distributions()
print(json.dumps({"codes": codes, "dists": sorted({d for r in roots for d in owners.get(r, [])})}))
"""


def base_closure() -> set[str]:
    """The base dependencies and everything they require (no extras)."""
    seen: set[str] = set()
    stack = [Requirement(item).name for item in PYPROJECT["project"]["dependencies"]]
    while stack:
        name = canonicalize_name(stack.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                stack.append(requirement.name)
    return seen


def test_the_command_runs_on_the_base_dependencies_alone(tmp_path) -> None:
    queue = tmp_path / "queue.yaml"
    queue.write_text("queue: linux\npool: Linux\nmax_agents: 3\n", encoding="utf-8")
    commands = [["--help"], ["queues", "validate", str(queue)], ["simulate", "--help"]]
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(EXTRAS_ONLY), json.dumps(commands)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "functions"), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    assert report["codes"] == [0, 0, 0]
    loaded = {canonicalize_name(name) for name in report["dists"]} - {"adoscale"}
    assert loaded, "the probe saw no third-party library at all"
    assert loaded <= base_closure(), f"not base dependencies: {sorted(loaded - base_closure())}"


@pytest.mark.parametrize("library", ["click", "rich", "pyyaml"], ids=str)
def test_the_commands_libraries_are_base_dependencies(library: str) -> None:
    names = {canonicalize_name(Requirement(d).name) for d in PYPROJECT["project"]["dependencies"]}
    assert library in names


def test_moto_is_pinned_exactly_for_the_lambda_router() -> None:
    pins = [Requirement(item) for item in PYPROJECT["project"]["optional-dependencies"]["local"]]
    moto = next(item for item in pins if item.name == "moto")
    (only,) = moto.specifier
    assert only.operator == "==", "the local mode's Lambda router wraps a moto method"
    assert metadata.version("moto") == only.version
