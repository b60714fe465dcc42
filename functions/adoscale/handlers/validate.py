"""Step validate: check the input, re-read the queue item, take the queue's lease."""

from __future__ import annotations

from typing import Any

from adoscale.handlers import step_lambda
from adoscale.workflow.admission import validate
from adoscale.workflow.runtime import StepInput, StepRuntime


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    return runtime.run(
        lambda: validate(
            step.state,
            step.execution,
            runtime.store,
            runtime.lease,
            runtime.settings.lease_seconds,
        )
    )


handler = step_lambda("validate", work)
