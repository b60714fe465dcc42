"""The Lambda archive: reproducible, without operator code, and enough to import every handler."""

from __future__ import annotations

import ast
import email.parser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from adoscale.core.steps import STEPS
from components.packaging import (
    FIXED_TIME,
    ArchiveError,
    archive_entries,
    build_lambda_archive,
    is_operator_only,
)
from tests.infra.conftest import REGION, ROOT, ProgramRun

PACKAGE = ROOT / "functions" / "adoscale"
DEPS = ROOT / "build" / "lambda-deps"
# handler -> the stack's Lambda resource that runs it
HANDLERS = {
    "adoscale.handlers.poller.handler": "poller-function",
    **{step.handler: f"workflow-{step.name}-function" for step in STEPS},
}
# Libraries of the operator side (pyproject's cli/infra extras): never imported by Lambda code.
OPERATOR_LIBRARIES = {"click", "rich", "yaml", "matplotlib", "moto", "pulumi", "pulumi_aws"}
# What the Lambda runtime itself provides besides the standard library.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py")
# The python3.12 arm64 Lambda environment, for the requirement markers of the deps.
LAMBDA_MARKERS = {
    **default_environment(),
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "platform_machine": "aarch64",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "implementation_name": "cpython",
    "extra": "",
}


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert (DEPS / ".installed").is_file(), "run `make lambda-deps` (part of `make install`)"
    return build_lambda_archive(PACKAGE, DEPS, tmp_path_factory.mktemp("a") / "lambda.zip").path


@pytest.fixture(scope="module")
def unpacked(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("task")
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(target)
    return target


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What /var/runtime offers a python3.12 Lambda: boto3 and its own dependencies."""
    import boto3

    site = Path(boto3.__file__).resolve().parents[1]
    target = tmp_path_factory.mktemp("runtime")
    for name in RUNTIME_PROVIDED:
        assert (site / name).exists(), name
        (target / name).symlink_to(site / name)
    return target


def test_two_builds_give_the_same_bytes_whatever_the_file_times_and_modes(tmp_path: Path) -> None:
    # GIVEN two copies of the tree: one keeping file times, one with new times and modes
    kept = shutil.copytree(PACKAGE, tmp_path / "kept" / "adoscale", copy_function=shutil.copy2)
    fresh = shutil.copytree(kept, tmp_path / "fresh" / "adoscale", copy_function=shutil.copyfile)
    for path in sorted(fresh.rglob("*.py"))[::2]:
        path.chmod(0o600)
        os.utime(path, (2_000_000_000, 2_000_000_000))
    # WHEN each is built
    first = build_lambda_archive(kept, DEPS, tmp_path / "first.zip")
    second = build_lambda_archive(fresh, DEPS, tmp_path / "second.zip")
    # THEN the bytes, and so the hash Lambda sees, are the same
    assert first.path.read_bytes() == second.path.read_bytes()
    assert first.sha256_base64 == second.sha256_base64


def test_entries_carry_fixed_metadata_and_no_build_litter(archive: Path) -> None:
    with zipfile.ZipFile(archive) as opened:
        infos = opened.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {FIXED_TIME}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}
    assert not [
        n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.startswith("bin/")
    ]
    assert "adoscale/core/settings.py" in names
    assert "requests/__init__.py" in names
    assert not [n for n in names if n.split("/")[0] in {"boto3", "botocore"}]


def test_operator_modules_stay_out_of_the_real_tree(archive: Path) -> None:
    with zipfile.ZipFile(archive) as opened:
        packed = [Path(name) for name in opened.namelist() if name.startswith("adoscale/")]
    assert not [name for name in packed if is_operator_only(name.relative_to("adoscale"))]
    runtime = {
        p.relative_to(PACKAGE) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts
    }
    expected = {p for p in runtime if not is_operator_only(p)}
    assert {name.relative_to("adoscale") for name in packed if name.suffix == ".py"} == expected


def test_the_deny_list_drops_operator_packages_and_modules(tmp_path: Path) -> None:
    # GIVEN a package with runtime modules and every kind of operator-only module
    package = tmp_path / "adoscale"
    for relative in (
        "__init__.py",
        "workflow/definition.py",
        "handlers/poller.py",
        "cli/main.py",
        "local/stack.py",
        "simulate.py",
        "bench/run.py",
        "handlers/__pycache__/poller.cpython-311.pyc",
    ):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text("")
    deps = tmp_path / "deps"
    (deps / "bin").mkdir(parents=True)
    (deps / "bin" / "normalizer").write_text("")
    (deps / "requests").mkdir()
    (deps / "requests" / "__init__.py").write_text("")
    (deps / ".installed").write_text("")
    # WHEN the entries are chosen
    names = [name for name, _ in archive_entries(package, deps)]
    # THEN only runtime code and libraries remain
    assert names == [
        "adoscale/__init__.py",
        "adoscale/handlers/poller.py",
        "adoscale/workflow/definition.py",
        "requests/__init__.py",
    ]


def test_missing_dependencies_name_the_make_target(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="make lambda-deps"):
        archive_entries(PACKAGE, tmp_path / "nothing")


def test_no_packed_module_imports_an_operator_library(unpacked: Path) -> None:
    offenders = []
    for source in sorted((unpacked / "adoscale").rglob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                roots = {node.module.split(".")[0]}
            else:
                continue
            offenders += [
                f"{source.relative_to(unpacked)}: {root}" for root in roots & OPERATOR_LIBRARIES
            ]
    assert not offenders


def _dists(directory: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, Requires-Dist) of every distribution installed in ``directory``."""
    found = {}
    for metadata in directory.glob("*.dist-info/METADATA"):
        message = email.parser.Parser().parsestr(metadata.read_text(encoding="utf-8"))
        found[canonicalize_name(message["Name"])] = (
            message["Version"],
            message.get_all("Requires-Dist") or [],
        )
    return found


def test_requirements_are_pinned_complete_and_installed() -> None:
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements" / "lambda.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    pins = {canonicalize_name(Requirement(line).name): Requirement(line) for line in lines}
    assert all(str(req.specifier).startswith("==") for req in pins.values()), lines
    installed = _dists(DEPS)
    assert set(installed) == set(pins), "build/lambda-deps is stale: run `make lambda-deps`"
    for name, requirement in pins.items():
        assert requirement.specifier.contains(installed[name][0]), name
    for name, (_, requires) in installed.items():
        for text in requires:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(LAMBDA_MARKERS):
                assert canonicalize_name(requirement.name) in pins, f"{name} needs {text}: pin it"


_IMPORT = """
import importlib, json, sys, sysconfig
archive, runtime, target = sys.argv[1:4]
stdlib = (sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))
sys.path[:0] = [archive, runtime]
module_name, _, attribute = target.rpartition(".")
module = importlib.import_module(module_name)
handler = getattr(module, attribute)
assert callable(handler), f"{target} is not callable"
# what the first invocation does: build the handler from the Lambda's environment
getattr(handler, "built", None)
outside = sorted(
    name for name, loaded in sys.modules.items()
    if getattr(loaded, "__file__", None)
    and not loaded.__file__.startswith((archive, runtime, *stdlib))
)
print(json.dumps(outside))
"""


@pytest.mark.parametrize(
    "handler", sorted(HANDLERS), ids=[h.split(".")[-2] for h in sorted(HANDLERS)]
)
def test_every_handler_imports_from_the_archive_alone(
    unpacked: Path, runtime_dir: Path, full_stack: ProgramRun, handler: str
) -> None:
    # GIVEN exactly the environment the stack gives the Lambda that runs this handler
    variables = full_stack.named(HANDLERS[handler], "Function").inputs["environment"]["variables"]
    environment = {**variables, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
    # WHEN a clean interpreter imports it: -I ignores PYTHON* variables and the user site,
    # -S skips site-packages, so only the archive and the runtime's boto3 are importable
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _IMPORT, str(unpacked), str(runtime_dir), handler],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=unpacked,
        env=environment,
        check=False,
    )
    # THEN it loads and builds, and nothing came from outside the archive, the runtime or
    # the stdlib
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert completed.stdout.strip() == "[]"
