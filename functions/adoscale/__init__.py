"""adoscale: autoscale one-job Azure DevOps agents on ECS Fargate."""

from __future__ import annotations

__version__ = "0.1.0"
