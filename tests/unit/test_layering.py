"""The runtime package's imports only point down its layers.

core (no I/O) <- the adapters (ado, aws) <- the poller and the workflow steps <- handlers;
the operator tools (queue documents, simulator, local mode, CLI) sit above all of them, so
nothing a Lambda loads can reach them. The rule is read from the source (every import,
including those inside functions and under ``TYPE_CHECKING``), so a new module that imports
upwards, or sits in no layer, fails here with its name.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "adoscale"

# group -> the module prefixes it holds (the longest prefix wins).
GROUPS: dict[str, tuple[str, ...]] = {
    "core": ("adoscale.core",),
    "aws": ("adoscale.aws",),
    "ado": ("adoscale.ado",),
    "poller": ("adoscale.poller",),
    "workflow": ("adoscale.workflow",),
    "handlers": ("adoscale.handlers",),
    "documents": ("adoscale.documents",),
    "simulate": ("adoscale.simulate",),
    "local": ("adoscale.local",),
    "cli": ("adoscale.cli",),
}
_LAMBDA = {"core", "aws", "ado", "poller", "workflow", "handlers"}
# group -> the groups its modules may import (itself included).
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "aws": {"core", "aws"},
    "ado": {"core", "aws", "ado"},  # the PAT secret comes from aws.pat
    "poller": {"core", "aws", "ado", "poller"},
    "workflow": {"core", "aws", "ado", "workflow"},
    "handlers": {"core", "aws", "ado", "poller", "workflow", "handlers"},
    "documents": {"core", "aws", "documents"},
    "simulate": {"core", "aws", "ado", "poller", "workflow", "simulate"},
    "local": _LAMBDA | {"documents", "local"},
    "cli": _LAMBDA | {"documents", "simulate", "local", "cli"},
}
# Third-party libraries the core may use: validation only, nothing that does I/O.
CORE_LIBRARIES = {"marshmallow"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def group_of(module: str) -> str | None:
    if module == "adoscale":  # the package itself: its version, nothing else
        return "core"
    best: tuple[int, str | None] = (-1, None)
    for group, prefixes in GROUPS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), group)
    return best[1]


def imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    known = modules()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                # ``from adoscale.core import schema`` imports the module adoscale.core.schema
                yield node.lineno, candidate if candidate in known else base


def test_every_module_of_the_package_sits_in_a_layer() -> None:
    homeless = [name for name in modules() if group_of(name) is None]
    assert not homeless, f"add these modules to a layer in {__file__}: {homeless}"


@pytest.mark.parametrize("module", sorted(modules()), ids=str)
def test_imports_point_down_the_layers(module: str) -> None:
    path, group = modules()[module], group_of(module)
    assert group is not None
    upward = []
    for line, imported in imports(path, module):
        if imported.split(".")[0] != "adoscale":
            continue
        target = group_of(imported)
        if target not in ALLOWED[group]:
            upward.append(f"line {line}: {imported} ({target})")
    assert not upward, f"{module} ({group}) imports from a higher layer: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in modules() if group_of(m) == "core"), ids=str)
def test_the_core_does_no_io(module: str) -> None:
    libraries = {
        imported.split(".")[0]
        for _, imported in imports(modules()[module], module)
        if imported.split(".")[0] not in sys.stdlib_module_names
    } - {"adoscale"}
    assert libraries <= CORE_LIBRARIES, f"{module} imports {sorted(libraries - CORE_LIBRARIES)}"


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    # GIVEN a core module that imports the poller (written to a scratch file)
    sample = tmp_path / "sample.py"
    sample.write_text("from adoscale.poller.poll import Poller\nimport boto3\n", encoding="utf-8")
    found = list(imports(sample, "adoscale.core.sample"))
    # THEN the walk sees both imports and the rule refuses the first
    assert [name for _, name in found] == ["adoscale.poller.poll", "boto3"]
    assert group_of("adoscale.poller.poll") not in ALLOWED["core"]
    assert group_of("adoscale.core.sample") == "core"
    assert group_of("adoscale.cli.main") == "cli"
    assert group_of("adoscale.newcomer") is None  # a module nobody placed is no layer's
