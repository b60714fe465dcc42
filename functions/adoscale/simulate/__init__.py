"""What-if simulator: replay job traces through the poller's own counting and policy code.

A discrete-event model of one queue: jobs arrive from a trace, Azure DevOps hands each
waiting job to an idle agent at once, agents are one-job Fargate tasks that take a start-up
time to register and exit after their job. adoscale's policy is the real
``counting.count_queue`` + ``policy.decide`` fed simulated jobs, agents and tasks; the peer
policies (KEDA-like, scale-set-like, a reactive oracle) run beside it on the same trace.

Operator-side only: never imported by a Lambda handler, never packed into the archive.
"""

from __future__ import annotations
