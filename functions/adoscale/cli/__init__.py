"""The operator's ``adoscale`` command line (click + rich); never packed into a Lambda."""

from __future__ import annotations
