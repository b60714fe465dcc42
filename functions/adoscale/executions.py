"""Starting scaling executions with deterministic names, so a repeated poll starts nothing twice."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adoscale.naming import execution_name
from adoscale.workflow.request import ScalingRequest

STARTED = "started"
ALREADY_STARTED = "already_started"


class ExecutionStarter:
    """StartExecution on the scaling state machine; ExecutionAlreadyExists means done."""

    def __init__(self, sfn: Any, state_machine_arn: str) -> None:
        self._sfn = sfn
        self._arn = state_machine_arn

    def start(self, request: ScalingRequest, slot: datetime) -> tuple[str, str]:
        """(execution name, STARTED or ALREADY_STARTED); other failures raise."""
        name = execution_name(request.queue, request.action, slot)
        try:
            self._sfn.start_execution(
                stateMachineArn=self._arn, name=name, input=json.dumps(request.to_input())
            )
        except self._sfn.exceptions.ExecutionAlreadyExists:
            return name, ALREADY_STARTED
        return name, STARTED
