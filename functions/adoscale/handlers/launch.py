"""Step launch: one ECS task per missing agent (Spot first when the queue asks for it)."""

from __future__ import annotations

from typing import Any

from adoscale.handlers import step_lambda
from adoscale.workflow.runtime import StepInput, StepRuntime
from adoscale.workflow.scale_out import launch, launch_spec


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    queue, request = step.queue, step.request
    spec = launch_spec(queue, runtime.settings)
    return runtime.run(
        lambda: launch(
            queue, request.count, runtime.tasks, spec, runtime.alerter, now=runtime.now()
        )
    )


handler = step_lambda("launch", work)
