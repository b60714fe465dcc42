"""Step launch: one ECS task per missing agent (Spot first when the queue asks for it)."""

from __future__ import annotations

import os
from typing import Any

from adoscale.workflow.runtime import StepRuntime
from adoscale.workflow.scale_out import launch, launch_spec

RUNTIME = StepRuntime.from_environ("launch", os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    step = RUNTIME.begin(event, context)
    queue, request = step.queue, step.request
    spec = launch_spec(queue, RUNTIME.settings)
    return RUNTIME.run(
        lambda: launch(
            queue, request.count, RUNTIME.tasks, spec, RUNTIME.alerter, now=RUNTIME.now()
        )
    )
