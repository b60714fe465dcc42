"""Job traces: what the simulator replays (when each job was queued, how long it ran, its demands).

Two file formats, both small and hand-editable:

- CSV with the header ``queue_time,duration,demands``: seconds since the trace start,
  seconds the job ran once an agent had it, and the demands separated by ``;``. An
  optional fourth column ``observed_wait`` carries the wait the organisation really saw
  (traces taken from Azure DevOps history have it). Lines starting with ``#`` are comments;
  a comment ``# span_s=86400`` sets the span as JSON's ``span_s`` does, and
  ``# start=2026-01-05T00:00:00+00:00`` the instant of second 0 as JSON's ``start`` does.
- JSON: a list of ``{"queue_time", "duration", "demands"?, "observed_wait"?}`` objects, or
  ``{"name"?, "span_s"?, "jobs": [...]}``; ``span_s`` stretches the billed window past the
  last job (a trace of a whole day keeps standby agents billed until midnight); ``start``
  (ISO 8601 with a UTC offset) is the real instant of second 0, so standby schedules and
  weekly patterns see real weekdays and wall clocks (default: Monday 2026-01-05 00:00 UTC).

Every error names the file, the line (CSV) or index (JSON) and the field.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from adoscale.core.exceptions import InputError

BUNDLED = ("bursty", "steady")  # one day each
BUNDLED_WEEKS = ("working-hours",)  # a week of Berlin office hours with a weekend
CSV_FIELDS = ("queue_time", "duration", "demands", "observed_wait")
MAX_PROBLEMS = 20  # a broken file reports its first few problems, not thousands


@dataclass(frozen=True)
class TraceJob:
    """One job: queued ``queue_time`` s after the trace start, ran ``duration`` s."""

    queue_time: float
    duration: float
    demands: tuple[str, ...] = ()
    observed_wait: float | None = None


@dataclass(frozen=True)
class Trace:
    """Jobs sorted by queue time. ``span_s`` is the window billed even if no job runs then."""

    name: str
    jobs: tuple[TraceJob, ...]
    span_s: float | None = None
    start: datetime | None = None  # the instant of second 0 (None: the simulator's epoch)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.jobs, key=lambda job: job.queue_time))
        object.__setattr__(self, "jobs", ordered)

    @property
    def end_s(self) -> float:
        """The last queue time (the trace's own length, before any job ran)."""
        return self.jobs[-1].queue_time if self.jobs else 0.0

    def observed_waits(self) -> list[float]:
        return [job.observed_wait for job in self.jobs if job.observed_wait is not None]


def load_trace(source: str) -> Trace:
    """A bundled trace by name (``bursty``, ``steady``, ``working-hours``) or a file by path."""
    if source in BUNDLED or source in BUNDLED_WEEKS:
        text = resources.files("adoscale.simulate").joinpath(f"traces/{source}.csv").read_text()
        return parse_csv(text, source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            [
                f"trace: no such file {source!r} (or a bundled name:"
                f" {', '.join(BUNDLED + BUNDLED_WEEKS)})"
            ]
        ) from None
    except IsADirectoryError:
        raise InputError([f"trace: {source} is a directory"]) from None
    except UnicodeDecodeError:
        raise InputError([f"trace: {source} is not UTF-8 text"]) from None
    if path.suffix.lower() == ".json":
        return parse_json(text, path.stem)
    return parse_csv(text, path.stem)


def parse_csv(text: str, name: str) -> Trace:
    span = _csv_span(text, name)
    start = _csv_start(text, name)
    lines = [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not lines:
        raise InputError([f"{name}: empty trace (expected a header {','.join(CSV_FIELDS[:3])})"])
    header_number, header = lines[0]
    columns = [column.strip() for column in next(csv.reader([header]))]
    missing = [column for column in CSV_FIELDS[:2] if column not in columns]
    unknown = [column for column in columns if column not in CSV_FIELDS]
    if missing or unknown:
        raise InputError(
            [f"{name} line {header_number}: missing column {c!r}" for c in missing]
            + [f"{name} line {header_number}: unknown column {c!r}" for c in unknown]
        )
    jobs: list[TraceJob] = []
    problems: list[str] = []
    for number, line in lines[1:]:
        row = next(csv.reader([line]))
        if len(row) > len(columns):
            problems.append(f"{name} line {number}: {len(row)} values for {len(columns)} columns")
            continue
        values: dict[str, Any] = dict(zip(columns, (cell.strip() for cell in row), strict=False))
        values["demands"] = [d for d in values.get("demands", "").split(";") if d.strip()]
        _collect(jobs, problems, values, f"{name} line {number}")
    return _finish(name, jobs, problems, span, start)


def _csv_span(text: str, name: str) -> float | None:
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.strip().lstrip("#").strip()
        if line.lstrip().startswith("#") and body.startswith("span_s="):
            span = _number(body.partition("=")[2].strip())
            if span is None or span < 0:
                raise InputError([f"{name} line {number}: span_s: expected a number >= 0"])
            return span
    return None


def _csv_start(text: str, name: str) -> datetime | None:
    for number, line in enumerate(text.splitlines(), start=1):
        body = line.strip().lstrip("#").strip()
        if line.lstrip().startswith("#") and body.startswith("start="):
            return _instant(body.partition("=")[2].strip(), f"{name} line {number}: start")
    return None


def _instant(raw: Any, where: str) -> datetime:
    """An ISO 8601 instant with a UTC offset (a wall time alone names no instant)."""
    try:
        instant = (
            datetime.fromisoformat(raw.replace("Z", "+00:00")) if isinstance(raw, str) else None
        )
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise InputError(
            [
                f"{where}: expected an ISO 8601 instant with an offset, e.g."
                " 2026-01-05T00:00:00+00:00"
            ]
        )
    return instant


def parse_json(text: str, name: str) -> Trace:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError([f"{name}: not JSON: {error.msg} at line {error.lineno}"]) from None
    span: float | None = None
    start: datetime | None = None
    if isinstance(document, Mapping):
        unknown = sorted(set(document) - {"name", "span_s", "start", "jobs"})
        if unknown:
            raise InputError([f"{name}: unknown field {field!r}" for field in unknown])
        if "span_s" in document:
            span = _number(document["span_s"])
            if span is None or span < 0:
                raise InputError([f"{name}.span_s: expected a number >= 0"])
        if "start" in document:
            start = _instant(document["start"], f"{name}.start")
        name = str(document.get("name") or name)
        document = document.get("jobs")
    if not isinstance(document, list):
        raise InputError([f"{name}.jobs: expected a list of jobs"])
    jobs: list[TraceJob] = []
    problems: list[str] = []
    for index, item in enumerate(document):
        where = f"{name}.jobs[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: expected an object")
            continue
        unknown = sorted(set(item) - set(CSV_FIELDS))
        if unknown:
            problems.extend(f"{where}: unknown field {field!r}" for field in unknown)
            continue
        _collect(jobs, problems, dict(item), where)
    return _finish(name, jobs, problems, span, start)


def _collect(jobs: list[TraceJob], problems: list[str], values: dict[str, Any], where: str) -> None:
    before = len(problems)
    queue_time = _field(values, "queue_time", where, problems, required=True)
    duration = _field(values, "duration", where, problems, required=True)
    observed = _field(values, "observed_wait", where, problems, required=False)
    demands = values.get("demands") or []
    if not isinstance(demands, list) or not all(isinstance(d, str) for d in demands):
        problems.append(f"{where}: demands: expected a list of strings")
    if len(problems) == before:
        jobs.append(
            TraceJob(
                queue_time=float(queue_time or 0.0),
                duration=float(duration or 0.0),
                demands=tuple(d.strip() for d in demands if d.strip()),
                observed_wait=observed,
            )
        )


def _field(
    values: Mapping[str, Any], key: str, where: str, problems: list[str], *, required: bool
) -> float | None:
    raw = values.get(key)
    if raw is None or raw == "":
        if required:
            problems.append(f"{where}: {key}: required")
        return None
    number = _number(raw)
    if number is None:
        problems.append(f"{where}: {key}: not a number: {raw!r}")
    elif number < 0:
        problems.append(f"{where}: {key}: must be >= 0, got {number:g}")
    return number


def _number(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _finish(
    name: str,
    jobs: list[TraceJob],
    problems: list[str],
    span: float | None,
    start: datetime | None = None,
) -> Trace:
    if problems:
        extra = len(problems) - MAX_PROBLEMS
        shown = problems[:MAX_PROBLEMS] + ([f"... and {extra} more"] if extra > 0 else [])
        raise InputError(shown)
    if not jobs:
        raise InputError([f"{name}: the trace has no jobs"])
    return Trace(name=name, jobs=tuple(jobs), span_s=span, start=start)


def to_csv(trace: Trace, comments: Sequence[str] = ()) -> str:
    """CSV text that ``parse_csv`` reads back (observed waits kept when any job has one)."""
    jobs = trace.jobs
    with_observed = any(job.observed_wait is not None for job in jobs)
    out = io.StringIO()
    for comment in comments:
        out.write(f"# {comment}\n")
    if trace.span_s is not None:
        out.write(f"# span_s={trace.span_s:g}\n")
    if trace.start is not None:
        out.write(f"# start={trace.start.isoformat()}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS if with_observed else CSV_FIELDS[:3])
    for job in jobs:
        row = [f"{job.queue_time:.1f}", f"{job.duration:.1f}", ";".join(job.demands)]
        if with_observed:
            row.append("" if job.observed_wait is None else f"{job.observed_wait:.1f}")
        writer.writerow(row)
    return out.getvalue()
