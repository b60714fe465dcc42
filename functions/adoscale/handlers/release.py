"""Step release: give back the queue's lease (only if this execution holds it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adoscale.handlers import from_process_environment
from adoscale.workflow.admission import release
from adoscale.workflow.runtime import (
    StepHandler,
    StepInput,
    StepRuntime,
    make_step_handler,
)


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    return runtime.run(lambda: release(step.state, step.execution, runtime.lease))


def make_handler(environ: Mapping[str, str], **options: Any) -> StepHandler:
    """This step's handler over ``environ`` (``session``/``clock`` options for local runs)."""
    return make_step_handler("release", work, environ, **options)


handler = from_process_environment(make_handler)
