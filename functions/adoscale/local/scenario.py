"""Scenario files for ``adoscale local``: the organisation, the job load and the faults.

A scenario is YAML. Times are simulated: a number of seconds or a string such as
``45s``, ``3m``, ``1m30s`` or ``1h``; a duration may also be a ``[min, max]`` pair drawn
uniformly (seeded). ``speed`` compresses it all into real time (see ``clock.py``)::

    name: example
    speed: 20              # simulated seconds per real second
    poll_interval: 60s     # the scheduler's rate (one invocation a minute)
    cycle_interval: 60s    # cycles within an invocation while active (deployed: 20s)
    linger: 10m            # ... or was active this recently
    boot_delay: [30s, 50s] # RunTask -> agent registered
    profiles:              # agent profiles other than default, each with its own start-up
      docker: {boot_delay: [2m, 5m]}  # e.g. an ec2 profile: instance boot + image pull
    boot_window: 60s       # state machine Wait before verify
    confirm_window: 15s    # state machine Wait between drain and retire
    max_duration: 40m      # give up here if the fleet has not settled
    start: "2026-01-05T07:55:00+01:00"  # optional: the simulated wall clock's first minute
    queues:                # queue items, written with the same code as `adoscale queues put`
      - {queue: linux, pool: Linux, max_agents: 6, standby_agents: 1, idle_timeout_minutes: 3}
    jobs:
      - {kind: burst, at: 1m, count: 5, duration: [2m, 4m]}
      - {kind: steady, from: 6m, to: 14m, every: 1m, duration: 90s}
      - {kind: quiet, from: 9m, to: 11m}       # no generated jobs in this window
      - {kind: job, at: 16m, duration: 2m, demands: [docker]}
    faults:
      - {from: 18m, to: 21m, target: jobrequests, mode: status_500}

Every job goes to ``pool`` (default: the first queue's pool). ``start`` pins the simulated
wall clock (default: now), so a queue's ``standby_schedule`` windows open and close at the
same simulated moments on every run.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from adoscale.core.demands import demands_met
from adoscale.core.exceptions import InputError
from adoscale.core.schema import PROFILE_NAME_PATTERN, Queue
from adoscale.documents import load_queue_document, load_yaml_documents, read_source
from adoscale.local.ado_server import KINDS, MODES

DEFAULT_SCENARIO = Path(__file__).with_name("scenarios") / "default.yaml"
_TIME = re.compile(
    r"^\s*(?:(?P<h>\d+(?:\.\d+)?)h)?\s*(?:(?P<m>\d+(?:\.\d+)?)m)?\s*"
    r"(?:(?P<s>\d+(?:\.\d+)?)s?)?\s*$"
)
FAULT_TARGETS = ("*", *(kind for kind in KINDS if kind != "unknown"))


def parse_seconds(value: Any) -> float:
    """``90``, ``"90s"``, ``"1m30s"``, ``"2h"`` -> seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("not a time")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip() and (match := _TIME.match(value)):
        if not any(match.groupdict().values()):
            raise ValueError(f"not a time: {value!r}")
        seconds = sum(
            float(match[unit] or 0) * factor for unit, factor in (("h", 3600), ("m", 60), ("s", 1))
        )
    else:
        raise ValueError(f"not a time: {value!r} (use seconds or e.g. 45s, 3m, 1m30s)")
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds


class Seconds(fields.Field):
    default_error_messages = {"invalid": "{problem}"}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        try:
            return parse_seconds(value)
        except ValueError as error:
            raise self.make_error("invalid", problem=str(error)) from None


class Span(fields.Field):
    """A time, or ``[min, max]``: drawn uniformly per use."""

    default_error_messages = {"invalid": "{problem}"}

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[float, float]:
        try:
            if isinstance(value, list):
                if len(value) != 2:
                    raise ValueError("a range is [min, max]")
                low, high = parse_seconds(value[0]), parse_seconds(value[1])
                if low > high:
                    raise ValueError("min must not exceed max")
                return low, high
            seconds = parse_seconds(value)
        except ValueError as error:
            raise self.make_error("invalid", problem=str(error)) from None
        return seconds, seconds


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class BurstSchema(_Strict):
    kind = fields.String(required=True)
    at = Seconds(required=True)
    count = fields.Integer(required=True, strict=True, validate=validate.Range(1, 500))
    duration = Span(required=True)
    pool = fields.String(load_default=None)
    demands = fields.List(fields.String(), load_default=list)


class SteadySchema(_Strict):
    kind = fields.String(required=True)
    start = Seconds(required=True, data_key="from")
    end = Seconds(required=True, data_key="to")
    every = Seconds(required=True, validate=validate.Range(min=1))
    duration = Span(required=True)
    pool = fields.String(load_default=None)
    demands = fields.List(fields.String(), load_default=list)

    @validates_schema(skip_on_field_errors=True)
    def _ordered(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data["end"] <= data["start"]:
            raise ValidationError("must be after from", "to")


class JobSchema(_Strict):
    kind = fields.String(required=True)
    at = Seconds(required=True)
    duration = Span(required=True)
    pool = fields.String(load_default=None)
    demands = fields.List(fields.String(), load_default=list)


class QuietSchema(_Strict):
    kind = fields.String(required=True)
    start = Seconds(required=True, data_key="from")
    end = Seconds(required=True, data_key="to")


class ProfileSchema(_Strict):
    """An agent profile's start-up: an ec2 profile boots an instance before its agent."""

    boot_delay = Span(required=True)


class FaultSchema(_Strict):
    start = Seconds(required=True, data_key="from")
    end = Seconds(required=True, data_key="to")
    target = fields.String(load_default="jobrequests", validate=validate.OneOf(FAULT_TARGETS))
    mode = fields.String(required=True)

    @validates_schema(skip_on_field_errors=True)
    def _checks(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        if data["mode"] not in MODES:
            raise ValidationError(f"must be one of {', '.join(sorted(MODES))}", "mode")
        if data["end"] <= data["start"]:
            raise ValidationError("must be after from", "to")


JOB_KINDS: Mapping[str, type[Schema]] = {
    "burst": BurstSchema,
    "steady": SteadySchema,
    "job": JobSchema,
    "quiet": QuietSchema,
}


class ScenarioSchema(_Strict):
    name = fields.String(load_default="scenario")
    description = fields.String(load_default="")
    speed = fields.Float(load_default=20.0, validate=validate.Range(min=1, max=600))
    seed = fields.Integer(load_default=7, strict=True)
    poll_interval = Seconds(load_default=60.0, validate=validate.Range(min=5))
    cycle_interval = Seconds(load_default=60.0, validate=validate.Range(min=5, max=60))
    linger = Seconds(load_default=600.0)
    boot_delay = Span(load_default=(40.0, 40.0))
    boot_window = Seconds(load_default=60.0, validate=validate.Range(min=1))
    confirm_window = Seconds(load_default=15.0, validate=validate.Range(min=1))
    max_duration = Seconds(load_default=3600.0, validate=validate.Range(min=60))
    parallel_jobs = fields.Integer(load_default=20, strict=True, validate=validate.Range(1, 1000))
    service_hook = fields.Boolean(load_default=False, truthy={True}, falsy={False})
    start = fields.AwareDateTime(load_default=None)
    queues = fields.List(fields.Raw(), required=True, validate=validate.Length(min=1))
    profiles = fields.Dict(
        keys=fields.String(validate=validate.Regexp(PROFILE_NAME_PATTERN)),
        values=fields.Nested(ProfileSchema),
        load_default=dict,
    )
    jobs = fields.List(fields.Raw(), load_default=list)
    faults = fields.List(fields.Nested(FaultSchema), load_default=list)

    @validates_schema(skip_on_field_errors=True)
    def _cadence(self, data: Mapping[str, Any], **kwargs: Any) -> None:
        """The poller's settings take whole seconds; cycles happen within an invocation."""
        if data["cycle_interval"] != int(data["cycle_interval"]):
            raise ValidationError("must be a whole number of seconds", "cycle_interval")
        if data["cycle_interval"] > data["poll_interval"]:
            raise ValidationError("must not exceed poll_interval", "cycle_interval")


@dataclass(frozen=True)
class JobArrival:
    """One job the simulated organisation queues at ``at`` (simulated seconds)."""

    at: float
    pool: str
    duration: float
    demands: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaultWindow:
    start: float
    end: float
    target: str
    mode: str


@dataclass(frozen=True)
class Scenario:
    name: str
    queues: tuple[Queue, ...]
    queue_document: str  # the queues as written, for the CLI's own put path
    jobs: tuple[JobArrival, ...]
    faults: tuple[FaultWindow, ...] = ()
    description: str = ""
    speed: float = 20.0
    seed: int = 7
    poll_interval: float = 60.0
    cycle_interval: float = 60.0
    linger: float = 600.0
    boot_delay: tuple[float, float] = (40.0, 40.0)
    boot_window: float = 60.0
    confirm_window: float = 15.0
    max_duration: float = 3600.0
    parallel_jobs: int = 20
    service_hook: bool = False  # the organisation posts job-waiting webhooks to the stack
    start: datetime | None = None  # the simulated wall clock at second 0 (None: now)
    # agent profile -> its boot delay span; "default" and unlisted profiles use boot_delay
    profiles: Mapping[str, tuple[float, float]] = field(default_factory=dict, hash=False)
    source: str = field(default="", compare=False)

    @property
    def pools(self) -> list[str]:
        seen: dict[str, None] = {}
        for queue in self.queues:
            seen.setdefault(queue.pool, None)
        for job in self.jobs:
            seen.setdefault(job.pool, None)
        return list(seen)

    @property
    def last_arrival(self) -> float:
        return max((job.at for job in self.jobs), default=0.0)


def load_scenario(path: Path | str | None = None) -> Scenario:
    """The scenario at ``path`` (default: the bundled one); InputError naming each problem."""
    target = Path(path) if path is not None else DEFAULT_SCENARIO
    text, source = read_source(str(target))
    return parse_scenario(text, source)


def parse_scenario(text: str, source: str) -> Scenario:
    documents = [d for d in load_yaml_documents(text, source) if d is not None]
    if len(documents) != 1 or not isinstance(documents[0], Mapping):
        raise InputError([f"{source}: expected one YAML mapping (a scenario)"])
    raw = documents[0]
    problems: list[str] = []
    try:
        data = ScenarioSchema().load(raw)
    except ValidationError as error:
        data = None
        problems.extend(_lines(source, error.messages))
    queue_document = yaml.safe_dump(raw.get("queues"), sort_keys=False)
    queues: list[Queue] = []
    if isinstance(raw.get("queues"), list) and raw["queues"]:
        try:
            queues = load_queue_document(queue_document, f"{source} queues")
        except InputError as error:
            problems.extend(f"{source}: queues: {line}" for line in error.problems)
    if data is not None:
        known = {"default", *data["profiles"]}
        problems.extend(
            f"{source}: queues: {queue.queue}: agent_profile: {queue.agent_profile!r} is not "
            f"default nor one of the scenario's profiles"
            for queue in queues
            if queue.agent_profile not in known
        )
    if problems or data is None:
        raise InputError(problems)
    rng = random.Random(data["seed"])  # noqa: S311 - a reproducible scenario, not a secret
    jobs = _expand_jobs(source, data["jobs"], queues, rng)
    faults = tuple(
        FaultWindow(f["start"], f["end"], f["target"], f["mode"]) for f in data["faults"]
    )
    return Scenario(
        name=data["name"],
        description=data["description"].strip(),
        queues=tuple(queues),
        queue_document=queue_document,
        jobs=jobs,
        faults=faults,
        speed=data["speed"],
        seed=data["seed"],
        poll_interval=data["poll_interval"],
        cycle_interval=data["cycle_interval"],
        linger=data["linger"],
        boot_delay=data["boot_delay"],
        boot_window=data["boot_window"],
        confirm_window=data["confirm_window"],
        max_duration=data["max_duration"],
        parallel_jobs=data["parallel_jobs"],
        service_hook=data["service_hook"],
        start=data["start"],
        profiles={name: profile["boot_delay"] for name, profile in data["profiles"].items()},
        source=source,
    )


def _expand_jobs(
    source: str, specs: Sequence[Any], queues: Sequence[Queue], rng: random.Random
) -> tuple[JobArrival, ...]:
    """Bursts, steady load and single jobs into arrivals; quiet windows remove arrivals."""
    default_pool = queues[0].pool
    loaded: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, spec in enumerate(specs):
        where = f"{source}: jobs[{index}]"
        kind = spec.get("kind") if isinstance(spec, Mapping) else None
        if not isinstance(kind, str) or kind not in JOB_KINDS:
            problems.append(f"{where}.kind: must be one of {', '.join(JOB_KINDS)}")
            continue
        try:
            loaded.append(JOB_KINDS[kind]().load(spec))
        except ValidationError as error:
            problems.extend(_lines(f"{where}", error.messages, dot="."))
    if problems:
        raise InputError(problems)

    def draw(span: tuple[float, float]) -> float:
        return span[0] if span[0] == span[1] else round(rng.uniform(*span), 1)

    arrivals: list[JobArrival] = []
    quiet = [(s["start"], s["end"]) for s in loaded if s["kind"] == "quiet"]
    for spec in loaded:
        pool = spec.get("pool") or default_pool
        demands = tuple(spec.get("demands", ()))
        if spec["kind"] == "burst":
            times = [spec["at"]] * spec["count"]
        elif spec["kind"] == "steady":
            count = int((spec["end"] - spec["start"]) // spec["every"]) + 1
            times = [spec["start"] + n * spec["every"] for n in range(count)]
            times = [t for t in times if t <= spec["end"]]
        elif spec["kind"] == "job":
            times = [spec["at"]]
        else:
            continue
        for at in times:
            arrivals.append(JobArrival(at, pool, draw(spec["duration"]), demands))
    kept = [job for job in arrivals if not any(s <= job.at < e for s, e in quiet)]
    problems = _unrunnable(source, kept, queues)
    if problems:
        raise InputError(problems)
    return tuple(sorted(kept, key=lambda job: job.at))


def _unrunnable(source: str, jobs: Sequence[JobArrival], queues: Sequence[Queue]) -> list[str]:
    """Jobs no agent of the scenario could ever run, one line per kind of mistake.

    The poller counts a waiting job for the first enabled queue of its pool (by name)
    whose capabilities meet its demands, and a queue without ``capabilities`` counts every
    job; its agents then declare nothing, so a job with demands would wait forever.
    """
    problems: dict[str, str] = {}
    for job in jobs:
        demands = ", ".join(job.demands) or "none"
        candidates = sorted(
            (q for q in queues if q.enabled and q.pool == job.pool), key=lambda q: q.queue
        )
        counted_by = next((q for q in candidates if demands_met(job.demands, q.capabilities)), None)
        if counted_by is None:
            problems.setdefault(
                f"none:{job.pool}:{demands}",
                f"{source}: jobs with demands ({demands}): no queue of pool {job.pool} meets "
                "them; Azure DevOps would fail them at once",
            )
        elif counted_by.capabilities is None and not demands_met(job.demands, {}):
            problems.setdefault(
                f"none-declared:{counted_by.queue}:{demands}",
                f"{source}: jobs with demands ({demands}) count for queue {counted_by.queue}, "
                "which declares no capabilities, so its agents could never run them; give "
                f"{counted_by.queue} `capabilities: {{}}` (or the capabilities its agents have)",
            )
    return list(problems.values())


def _lines(prefix: str, messages: Any, dot: str = ": ") -> list[str]:
    lines: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, Mapping):
            for key, inner in value.items():
                if isinstance(key, int):
                    walk(inner, f"{path}[{key}]")
                    continue
                name = str(key) if key != "_schema" else ""
                walk(inner, f"{path}.{name}" if path and name else (name or path))
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            lines.extend(f"{prefix}{dot if path else ''}{path}: {v}" for v in value)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, path)
        else:
            lines.append(f"{prefix}{dot if path else ''}{path}: {value}")

    walk(messages, "")
    return lines
