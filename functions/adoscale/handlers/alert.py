"""Step alert: publish C5 ``workflow_failed`` for a caught error, scrubbed of the PAT."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adoscale.handlers import from_process_environment
from adoscale.workflow.admission import failure_alert
from adoscale.workflow.runtime import (
    StepHandler,
    StepInput,
    StepRuntime,
    make_step_handler,
)


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    secrets = runtime.secrets_for(step.queue_or_none)
    queue, message, detail = failure_alert(step.state, step.execution, secrets)
    alerter = runtime.alerter
    for secret in secrets:
        alerter.add_secret(secret)
    return {"sent": alerter.publish("workflow_failed", queue, message, detail)}


def make_handler(environ: Mapping[str, str], **options: Any) -> StepHandler:
    """This step's handler over ``environ`` (``session``/``clock`` options for local runs)."""
    return make_step_handler("alert", work, environ, **options)


handler = from_process_environment(make_handler)
