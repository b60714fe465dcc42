"""Step drain: disable the surplus idle agents the poller chose (still idle ones only)."""

from __future__ import annotations

from typing import Any

from adoscale.handlers import step_lambda
from adoscale.workflow.runtime import StepInput, StepRuntime
from adoscale.workflow.scale_in import drain


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    queue, request = step.queue, step.request
    return runtime.run(
        lambda: drain(queue.queue, request.pool_id, request.agent_ids, runtime.ado(queue))
    )


handler = step_lambda("drain", work)
