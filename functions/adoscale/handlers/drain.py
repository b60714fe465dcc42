"""Step drain: disable the surplus idle agents the poller chose (still idle ones only)."""

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
from adoscale.workflow.scale_in import drain


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    queue, request = step.queue, step.request
    return runtime.run(
        lambda: drain(queue.queue, request.pool_id, request.agent_ids, runtime.ado(queue))
    )


def make_handler(environ: Mapping[str, str], **options: Any) -> StepHandler:
    """This step's handler over ``environ`` (``session``/``clock`` options for local runs)."""
    return make_step_handler("drain", work, environ, **options)


handler = from_process_environment(make_handler)
