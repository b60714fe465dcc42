"""The input the poller gives a scaling execution, validated at the first state."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from adoscale.core.actions import WORKFLOW_ACTIONS
from adoscale.core.exceptions import WorkflowInputError

ACTIONS: tuple[str, ...] = tuple(str(action) for action in WORKFLOW_ACTIONS)


@dataclass(frozen=True)
class ScalingRequest:
    """One action for one queue. ``agent_ids`` are the surplus idle agents for scale_in."""

    queue: str
    action: str
    count: int
    pool_id: int
    requested_at: str
    agent_ids: tuple[int, ...] = ()

    def to_input(self) -> dict[str, Any]:
        return {
            "queue": self.queue,
            "action": self.action,
            "count": self.count,
            "pool_id": self.pool_id,
            "requested_at": self.requested_at,
            "agent_ids": list(self.agent_ids),
        }

    @classmethod
    def from_input(cls, data: Any) -> ScalingRequest:
        if not isinstance(data, Mapping):
            raise WorkflowInputError("input: expected a JSON object")
        problems = []
        queue, action = data.get("queue"), data.get("action")
        count, pool_id = data.get("count"), data.get("pool_id")
        agent_ids = data.get("agent_ids", [])
        if not isinstance(queue, str) or not queue:
            problems.append("queue: required string")
        if action not in ACTIONS:
            problems.append(f"action: must be one of {', '.join(ACTIONS)}")
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 1000:
            problems.append("count: whole number 0..1000")
        if not _whole(pool_id):
            problems.append("pool_id: whole number")
        if not isinstance(agent_ids, list) or not all(_whole(i) for i in agent_ids):
            problems.append("agent_ids: list of whole numbers")
        if not isinstance(data.get("requested_at"), str):
            problems.append("requested_at: ISO 8601 string")
        if problems:
            raise WorkflowInputError("; ".join(problems))
        # every field was checked above
        return cls(
            cast(str, queue),
            cast(str, action),
            cast(int, count),
            cast(int, pool_id),
            data["requested_at"],
            tuple(agent_ids),
        )


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
