"""Step drain: disable the surplus idle agents the poller chose (still idle ones only)."""

from __future__ import annotations

import os
from typing import Any

from adoscale.workflow.runtime import StepRuntime
from adoscale.workflow.scale_in import drain

RUNTIME = StepRuntime.from_environ("drain", os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    step = RUNTIME.begin(event, context)
    queue, request = step.queue, step.request
    return RUNTIME.run(
        lambda: drain(queue.queue, request.pool_id, request.agent_ids, RUNTIME.ado(queue))
    )
