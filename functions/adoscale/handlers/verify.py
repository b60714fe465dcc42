"""Step verify: did the launched agents register? Stop and report those that did not."""

from __future__ import annotations

from typing import Any

from adoscale.core.models import parse_time
from adoscale.handlers import step_lambda
from adoscale.workflow.runtime import StepInput, StepRuntime
from adoscale.workflow.scale_out import verify


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    queue, request = step.queue, step.request
    launch = step.result("launch")
    previous = step.result("verify")  # set when an earlier round left agents pending
    pending = previous.get("pending") if previous else launch.get("tasks")
    return runtime.run(
        lambda: verify(
            queue,
            request.pool_id,
            dict(pending or {}),
            runtime.ado(queue),
            runtime.tasks,
            runtime.alerter,
            now=runtime.now(),
            boot_timeout_seconds=runtime.settings.boot_timeout_for(queue.agent_profile),
            launched_at=parse_time(launch.get("launched_at"), "launch.launched_at"),
            round_number=int(previous.get("round", 0)) + 1,
        )
    )


handler = step_lambda("verify", work)
