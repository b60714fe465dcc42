"""Step retire: delete each drained agent still idle, then stop its task; keep busy ones."""

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
from adoscale.workflow.scale_in import retire


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    queue, request = step.queue, step.request
    drained = step.result("drain").get("drained") or []
    return runtime.run(
        lambda: retire(queue.queue, request.pool_id, drained, runtime.ado(queue), runtime.tasks)
    )


def make_handler(environ: Mapping[str, str], **options: Any) -> StepHandler:
    """This step's handler over ``environ`` (``session``/``clock`` options for local runs)."""
    return make_step_handler("retire", work, environ, **options)


handler = from_process_environment(make_handler)
