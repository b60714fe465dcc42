"""Step release: give back the queue's lease (only if this execution holds it)."""

from __future__ import annotations

import os
from typing import Any

from adoscale.workflow.admission import release
from adoscale.workflow.runtime import StepRuntime

RUNTIME = StepRuntime.from_environ("release", os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    step = RUNTIME.begin(event, context)
    return RUNTIME.run(lambda: release(step.state, step.execution, RUNTIME.lease))
