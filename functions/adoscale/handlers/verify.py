"""Step verify: did the launched agents register? Stop and report those that did not."""

from __future__ import annotations

import os
from typing import Any

from adoscale.models import parse_time
from adoscale.workflow.runtime import StepRuntime
from adoscale.workflow.scale_out import verify

RUNTIME = StepRuntime.from_environ("verify", os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    step = RUNTIME.begin(event, context)
    queue, request = step.queue, step.request
    launch = step.result("launch")
    previous = step.result("verify")  # set when an earlier round left agents pending
    pending = previous.get("pending") if previous else launch.get("tasks")
    return RUNTIME.run(
        lambda: verify(
            queue,
            request.pool_id,
            dict(pending or {}),
            RUNTIME.ado(queue),
            RUNTIME.tasks,
            RUNTIME.alerter,
            now=RUNTIME.now(),
            boot_timeout_seconds=RUNTIME.settings.boot_timeout_for(queue.agent_profile),
            launched_at=parse_time(launch.get("launched_at"), "launch.launched_at"),
            round_number=int(previous.get("round", 0)) + 1,
        )
    )
