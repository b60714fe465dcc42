"""Step retire: delete each drained agent still idle, then stop its task; keep busy ones."""

from __future__ import annotations

from typing import Any

from adoscale.handlers import step_lambda
from adoscale.workflow.runtime import StepInput, StepRuntime
from adoscale.workflow.scale_in import retire


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    queue, request = step.queue, step.request
    drained = step.result("drain").get("drained") or []
    return runtime.run(
        lambda: retire(queue.queue, request.pool_id, drained, runtime.ado(queue), runtime.tasks)
    )


handler = step_lambda("retire", work)
