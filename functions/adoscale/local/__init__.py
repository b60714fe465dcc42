"""Operator-side local mode: stand-ins for the outside world (never packed into a Lambda).

``ado_server`` is a fake Azure DevOps organisation over real HTTP, used by the tests, the
local demo and the benchmarks; ``lambda_router`` runs the step Lambdas' handlers in
process under moto; ``workflow_stack`` deploys the workflow into moto. ``adoscale local``
(``run``) adds a moto server with the stack's resources (``stack``), a simulated
organisation (``organisation``) fed by a scenario (``scenario``), a Fargate stand-in
(``fargate``), the poller on a compressed clock (``clock``, ``schedule``), a live view
(``view``) and a report (``report``).
"""

from __future__ import annotations
