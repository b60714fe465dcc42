"""Step alert: publish C5 ``workflow_failed`` for a caught error, scrubbed of the PAT."""

from __future__ import annotations

import os
from typing import Any

from adoscale.workflow.admission import failure_alert
from adoscale.workflow.runtime import StepRuntime

RUNTIME = StepRuntime.from_environ("alert", os.environ)


def handler(event: Any, context: Any) -> dict[str, Any]:
    step = RUNTIME.begin(event, context)
    secrets = RUNTIME.secrets_for(step.queue_or_none)
    queue, message, detail = failure_alert(step.state, step.execution, secrets)
    alerter = RUNTIME.alerter
    for secret in secrets:
        alerter.add_secret(secret)
    return {"sent": alerter.publish("workflow_failed", queue, message, detail)}
