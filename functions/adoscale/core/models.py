"""What Azure DevOps and ECS tell us, parsed once into typed, immutable values.

Parsing is strict about the fields the scaling math needs and lenient about the rest,
so a shape change in the API becomes an ``AdoBadResponseError`` naming the field
instead of a KeyError deep inside counting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adoscale.core.exceptions import AdoBadResponseError


def parse_time(value: Any, field_name: str) -> datetime | None:
    """ADO sends ISO 8601 with up to 7 fractional digits and a Z; absent means unset."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise AdoBadResponseError(f"{field_name}: expected a timestamp, got {type(value).__name__}")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as error:
        raise AdoBadResponseError(f"{field_name}: not a timestamp: {value!r}") from error
    if parsed.year <= 1:
        return None  # ADO's "0001-01-01T00:00:00" means unset
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _required(obj: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise AdoBadResponseError(f"{where}.{key}: missing or not {kind.__name__}")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AdoBadResponseError(f"{where}: expected an object")
    return value


def _optional_id(value: Any, key: str, where: str) -> int | None:
    if value is None:
        return None
    found: int = _required(_object(value, where), key, int, where)
    return found


@dataclass(frozen=True, slots=True)
class JobRequest:
    """One entry of ``pools/{id}/jobrequests``."""

    request_id: int
    queue_time: datetime | None
    demands: tuple[str, ...] = ()
    assign_time: datetime | None = None
    receive_time: datetime | None = None
    finish_time: datetime | None = None
    result: str | None = None
    reserved_agent_id: int | None = None
    reserved_agent_name: str | None = None

    # Derived once at construction: counting asks each job these several times a cycle
    # (the simulator millions of times), and a frozen job never changes its answers.
    finished: bool = field(default=False, init=False, compare=False, repr=False)
    waiting: bool = field(default=False, init=False, compare=False, repr=False)
    taken: bool = field(default=False, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        finished = self.result is not None or self.finish_time is not None
        # waiting: no agent has taken it yet (no result, receiveTime or reservedAgent);
        # taken: reserved or received
        waiting = not finished and self.receive_time is None and self.reserved_agent_id is None
        object.__setattr__(self, "finished", finished)
        object.__setattr__(self, "waiting", waiting)
        object.__setattr__(self, "taken", not finished and not waiting)

    @classmethod
    def from_json(cls, obj: Any) -> JobRequest:
        where = "jobrequest"
        job = _object(obj, where)
        demands = job.get("demands") or []
        if not isinstance(demands, list) or not all(isinstance(d, str) for d in demands):
            raise AdoBadResponseError(f"{where}.demands: expected a list of strings")
        reserved = job.get("reservedAgent")
        return cls(
            request_id=_required(job, "requestId", int, where),
            queue_time=parse_time(job.get("queueTime"), f"{where}.queueTime"),
            demands=tuple(demands),
            assign_time=parse_time(job.get("assignTime"), f"{where}.assignTime"),
            receive_time=parse_time(job.get("receiveTime"), f"{where}.receiveTime"),
            finish_time=parse_time(job.get("finishTime"), f"{where}.finishTime"),
            result=job.get("result"),
            reserved_agent_id=_optional_id(reserved, "id", f"{where}.reservedAgent"),
            reserved_agent_name=reserved.get("name") if isinstance(reserved, Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class Agent:
    """One entry of ``pools/{id}/agents?includeAssignedRequest=true``."""

    agent_id: int
    name: str
    online: bool
    enabled: bool
    created_on: datetime | None
    assigned_request_id: int | None = None
    status_changed_on: datetime | None = None
    # lastCompletedRequest.finishTime: when the agent's last job ended (reusable agents)
    last_job_finished: datetime | None = None

    @property
    def busy(self) -> bool:
        return self.assigned_request_id is not None

    @property
    def idle_since(self) -> datetime | None:
        """Since when the agent waits for work: the end of its last job, else its registration."""
        if self.last_job_finished is None:
            return self.created_on
        if self.created_on is None:
            return self.last_job_finished
        return max(self.created_on, self.last_job_finished)

    @classmethod
    def from_json(cls, obj: Any) -> Agent:
        where = "agent"
        agent = _object(obj, where)
        status = _required(agent, "status", str, where)
        assigned = agent.get("assignedRequest")
        last = agent.get("lastCompletedRequest")
        last_where = f"{where}.lastCompletedRequest"
        return cls(
            agent_id=_required(agent, "id", int, where),
            name=_required(agent, "name", str, where),
            online=status.lower() == "online",
            enabled=bool(agent.get("enabled", True)),
            created_on=parse_time(agent.get("createdOn"), f"{where}.createdOn"),
            assigned_request_id=_optional_id(assigned, "requestId", f"{where}.assignedRequest"),
            status_changed_on=parse_time(agent.get("statusChangedOn"), f"{where}.statusChangedOn"),
            last_job_finished=(
                None
                if last is None
                else parse_time(
                    _object(last, last_where).get("finishTime"), f"{last_where}.finishTime"
                )
            ),
        )


STOPPING_STATUSES = frozenset({"DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED"})


@dataclass(frozen=True, slots=True)
class AgentTask:
    """An ECS task that runs (or ran) one agent container of a queue."""

    task_arn: str
    queue: str
    agent_name: str | None
    last_status: str
    desired_status: str
    created_at: datetime | None = None
    started_at: datetime | None = None
    stopped_reason: str | None = None
    placeholder: bool = False
    stop_code: str | None = None
    exit_code: int | None = None  # the agent container's, once it has exited

    @property
    def task_id(self) -> str:
        return self.task_arn.rsplit("/", 1)[-1]

    @property
    def born(self) -> datetime | None:
        """When the task came to be, as far as ECS says."""
        return self.created_at or self.started_at

    @property
    def agent_keys(self) -> tuple[str, ...]:
        """The names its agent may be registered under (the launch name, or the task id)."""
        return (self.agent_name, self.task_id) if self.agent_name else (self.task_id,)

    stopping: bool = field(default=False, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        stopping = self.desired_status == "STOPPED" or self.last_status in STOPPING_STATUSES
        object.__setattr__(self, "stopping", stopping)


@dataclass(frozen=True, slots=True)
class Headroom:
    """The organisation's self-hosted parallel jobs: how many more jobs may run now."""

    total: int
    used: int

    @property
    def free(self) -> int:
        return max(0, self.total - self.used)


def parse_list(body: Any, where: str) -> list[Any]:
    """ADO wraps lists as ``{"count": n, "value": [...]}``."""
    value = _object(body, where).get("value")
    if not isinstance(value, list):
        raise AdoBadResponseError(f"{where}.value: expected a list")
    return value
