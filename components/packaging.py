"""The Lambda archive: a byte-for-byte reproducible zip of the runtime package and its deps.

Reproducible bytes mean an unchanged tree never shows up as a Lambda update in
``pulumi preview``. Every entry gets the same timestamp, permissions and host system, and
entries are written in sorted order.

What goes in (decided by a deny list, so a new runtime module is packed without anyone
remembering to list it):

- ``functions/adoscale/**`` except the operator-only subpackages in ``OPERATOR_ONLY``
  (CLI, local mode, simulator, benchmarks: they need click, rich, pyyaml, matplotlib and
  moto, which the Lambdas never load), byte code and caches;
- the third-party packages that ``make lambda-deps`` installed from
  ``requirements/lambda.txt`` into ``build/lambda-deps`` (binary wheels for python3.12 on
  arm64), minus their console scripts (``bin/``) and caches.

boto3/botocore stay out: the Lambda runtime provides them (see ``requirements/lambda.txt``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# First path component under adoscale/ (package dir or module stem) that is operator-only.
OPERATOR_ONLY = frozenset({"cli", "local", "simulate", "simulator", "bench", "documents"})
SKIPPED_DIRS = frozenset({"__pycache__", "bin", ".pytest_cache"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")
SKIPPED_NAMES = frozenset({".installed", ".DS_Store"})
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
FILE_MODE = 0o100644  # regular file, rw-r--r--: Lambda needs world-readable files
UNIX = 3  # ZipInfo.create_system for Unix, whatever host builds the archive


class ArchiveError(Exception):
    """The archive cannot be built; the message says what to run."""


@dataclass(frozen=True)
class LambdaArchive:
    """A built archive and the base64 SHA-256 Lambda's ``source_code_hash`` expects."""

    path: Path
    sha256_base64: str
    entries: tuple[str, ...]


def is_operator_only(relative: Path) -> bool:
    """``relative`` is a path under the adoscale package directory."""
    first = relative.parts[0] if relative.parts else ""
    return Path(first).stem in OPERATOR_ONLY


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part in SKIPPED_DIRS for part in relative.parts):
            continue
        if (
            path.is_file()
            and path.suffix not in SKIPPED_SUFFIXES
            and path.name not in SKIPPED_NAMES
        ):
            yield path


def archive_entries(package_dir: Path, deps_dir: Path) -> list[tuple[str, Path]]:
    """(name in the zip, file on disk), sorted by name; raises if deps are missing."""
    if not (deps_dir / ".installed").is_file():
        raise ArchiveError(
            f"{deps_dir} is missing or incomplete: run `make lambda-deps` "
            "(installs requirements/lambda.txt for python3.12 arm64)"
        )
    entries: dict[str, Path] = {}
    for path in _files(package_dir):
        relative = path.relative_to(package_dir)
        if not is_operator_only(relative):
            entries[(Path(package_dir.name) / relative).as_posix()] = path
    for path in _files(deps_dir):
        name = path.relative_to(deps_dir).as_posix()
        if name.split("/", 1)[0] == package_dir.name:
            raise ArchiveError(f"{deps_dir} contains a {package_dir.name} package of its own")
        entries[name] = path
    return sorted(entries.items())


def build_lambda_archive(package_dir: Path, deps_dir: Path, output: Path) -> LambdaArchive:
    """Write the zip atomically (parallel builds of the same tree give the same bytes)."""
    entries = archive_entries(package_dir, deps_dir)
    output.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    handle, temporary = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.")
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w") as archive:
            for name, path in entries:
                info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
                info.create_system = UNIX
                info.external_attr = FILE_MODE << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes(), compresslevel=9)
        digest.update(Path(temporary).read_bytes())
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return LambdaArchive(
        path=output,
        sha256_base64=base64.b64encode(digest.digest()).decode("ascii"),
        entries=tuple(name for name, _ in entries),
    )
