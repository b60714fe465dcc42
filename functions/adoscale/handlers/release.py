"""Step release: give back the queue's lease (only if this execution holds it)."""

from __future__ import annotations

from typing import Any

from adoscale.handlers import step_lambda
from adoscale.workflow.admission import release
from adoscale.workflow.runtime import StepInput, StepRuntime


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    return runtime.run(lambda: release(step.state, step.execution, runtime.lease))


handler = step_lambda("release", work)
