"""The scaling actions: what the poller decides for a queue and what a scaling execution does.

A ``StrEnum``, so each action is its plain string wherever it travels: the poller result's
``action`` field, the execution input and the state machine's Choice rules.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """One queue's action for this cycle."""

    SCALE_OUT = "scale_out"  # launch ``count`` agents
    SCALE_IN = "scale_in"  # retire ``count`` surplus idle agents
    REAP = "reap"  # clean up dead agents and stale tasks only
    NONE = "none"  # nothing to do


# What a scaling execution can be asked to do (``none`` never starts one).
WORKFLOW_ACTIONS: tuple[Action, ...] = (Action.SCALE_OUT, Action.SCALE_IN, Action.REAP)
