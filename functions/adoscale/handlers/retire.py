"""Step retire: delete each drained agent still idle, then stop its task; keep busy ones."""

from __future__ import annotations

import os
from typing import Any

from adoscale.workflow.runtime import StepRuntime
from adoscale.workflow.scale_in import retire

RUNTIME = StepRuntime.from_environ("retire", os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    step = RUNTIME.begin(event, context)
    queue, request = step.queue, step.request
    drained = step.result("drain").get("drained") or []
    return RUNTIME.run(
        lambda: retire(queue.queue, request.pool_id, drained, RUNTIME.ado(queue), RUNTIME.tasks)
    )
