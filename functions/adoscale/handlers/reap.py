"""Step reap: delete dead agents, stop stale tasks, keep the queue's placeholder agent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adoscale.handlers import from_process_environment
from adoscale.workflow.reaper import placeholder_launcher, reap
from adoscale.workflow.runtime import (
    StepHandler,
    StepInput,
    StepRuntime,
    make_step_handler,
)


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
            boot_timeout_seconds=settings.boot_timeout_seconds,
            max_task_lifetime_seconds=settings.max_task_lifetime_seconds,
        )
    )


def make_handler(environ: Mapping[str, str], **options: Any) -> StepHandler:
    """This step's handler over ``environ`` (``session``/``clock`` options for local runs)."""
    return make_step_handler("reap", work, environ, **options)


handler = from_process_environment(make_handler)
