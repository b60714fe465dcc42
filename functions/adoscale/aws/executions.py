"""Starting scaling executions with deterministic names, so a repeated poll starts nothing twice.

Two state machines run the same definition: scale-outs on the Standard one (exactly-once
start by name, no time limit for the boot wait: billed per state transition), scale-ins and
reaps on the Express one when the stack has it (billed per execution and duration, which
is far cheaper for their short runs; at-least-once, which they tolerate: the queue's lease
lets one run at a time, and every step re-checks ADO and ECS before it acts).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adoscale.core.actions import Action
from adoscale.core.naming import execution_name
from adoscale.core.request import ScalingRequest

STARTED = "started"
ALREADY_STARTED = "already_started"
EXPRESS_ACTIONS = frozenset({Action.SCALE_IN, Action.REAP})


def machine_for(action: str, standard_arn: str, express_arn: str = "") -> str:
    """The state machine that runs ``action``: Express for short idempotent actions."""
    return express_arn if express_arn and action in EXPRESS_ACTIONS else standard_arn


class ExecutionStarter:
    """StartExecution on the scaling state machine; ExecutionAlreadyExists means done."""

    def __init__(self, sfn: Any, state_machine_arn: str, express_arn: str = "") -> None:
        self._sfn = sfn
        self._arn = state_machine_arn
        self._express_arn = express_arn

    def start(self, request: ScalingRequest, slot: datetime) -> tuple[str, str]:
        """(execution name, STARTED or ALREADY_STARTED); other failures raise."""
        name = execution_name(request.queue, request.action, slot)
        try:
            self._sfn.start_execution(
                stateMachineArn=machine_for(request.action, self._arn, self._express_arn),
                name=name,
                input=json.dumps(request.to_input()),
            )
        except self._sfn.exceptions.ExecutionAlreadyExists:
            return name, ALREADY_STARTED
        return name, STARTED
