"""Step reap: delete dead agents, stop stale tasks, keep the queue's placeholder agent."""

from __future__ import annotations

from typing import Any

from adoscale.handlers import step_lambda
from adoscale.workflow.reaper import placeholder_launcher, reap
from adoscale.workflow.runtime import StepInput, StepRuntime


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    queue, request = step.queue, step.request
    settings, tasks = runtime.settings, runtime.tasks
    return runtime.run(
        lambda: reap(
            queue,
            request.pool_id,
            runtime.ado(queue),
            tasks,
            placeholder_launcher(queue, settings, tasks),
            runtime.alerter,
            now=runtime.now(),
            boot_timeout_seconds=settings.boot_timeout_for(queue.agent_profile),
            max_task_lifetime_seconds=settings.max_task_lifetime_seconds,
        )
    )


handler = step_lambda("reap", work)
