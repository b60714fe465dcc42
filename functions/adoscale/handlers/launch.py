"""Step launch: one ECS task per missing agent (Spot first when the queue asks for it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adoscale.handlers import from_process_environment
from adoscale.workflow.runtime import (
    StepHandler,
    StepInput,
    StepRuntime,
    make_step_handler,
)
from adoscale.workflow.scale_out import launch, launch_spec


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    queue, request = step.queue, step.request
    spec = launch_spec(queue, runtime.settings)
    return runtime.run(
        lambda: launch(
            queue, request.count, runtime.tasks, spec, runtime.alerter, now=runtime.now()
        )
    )


def make_handler(environ: Mapping[str, str], **options: Any) -> StepHandler:
    """This step's handler over ``environ`` (``session``/``clock`` options for local runs)."""
    return make_step_handler("launch", work, environ, **options)


handler = from_process_environment(make_handler)
