"""Step alert: publish the ``workflow_failed`` alert for a caught error, scrubbed of the PAT."""

from __future__ import annotations

from typing import Any

from adoscale.handlers import step_lambda
from adoscale.workflow.admission import failure_alert
from adoscale.workflow.runtime import StepInput, StepRuntime


def work(runtime: StepRuntime, step: StepInput) -> dict[str, Any]:
    secrets = runtime.secrets_for(step.queue_or_none)
    queue, message, detail = failure_alert(step.state, step.execution, secrets)
    alerter = runtime.alerter
    for secret in secrets:
        alerter.add_secret(secret)
    return {"sent": alerter.publish("workflow_failed", queue, message, detail)}


handler = step_lambda("alert", work)
