"""Step validate: check the input, re-read the queue item, take the queue's lease."""

from __future__ import annotations

import os
from typing import Any

from adoscale.workflow.admission import validate
from adoscale.workflow.runtime import StepRuntime

RUNTIME = StepRuntime.from_environ("validate", os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    step = RUNTIME.begin(event, context)
    return RUNTIME.run(
        lambda: validate(
            step.state,
            step.execution,
            RUNTIME.store,
            RUNTIME.lease,
            RUNTIME.settings.lease_seconds,
        )
    )
