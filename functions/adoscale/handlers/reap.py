"""Step reap: delete dead agents, stop stale tasks, keep the queue's placeholder agent."""

from __future__ import annotations

import os
from typing import Any

from adoscale.workflow.reaper import placeholder_launcher, reap
from adoscale.workflow.runtime import StepRuntime

RUNTIME = StepRuntime.from_environ("reap", os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    step = RUNTIME.begin(event, context)
    queue, request = step.queue, step.request
    settings, tasks = RUNTIME.settings, RUNTIME.tasks
    return RUNTIME.run(
        lambda: reap(
            queue,
            request.pool_id,
            RUNTIME.ado(queue),
            tasks,
            placeholder_launcher(queue, settings, tasks),
            RUNTIME.alerter,
            now=RUNTIME.now(),
            boot_timeout_seconds=settings.boot_timeout_for(queue.agent_profile),
            max_task_lifetime_seconds=settings.max_task_lifetime_seconds,
        )
    )
