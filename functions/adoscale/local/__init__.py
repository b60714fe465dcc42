"""Operator-side local mode: stand-ins for the outside world (never packed into a Lambda).

``adoscale.local.ado_server`` is a fake Azure DevOps organisation over real HTTP, used by
the tests, the local demo and the benchmarks.
"""

from __future__ import annotations
