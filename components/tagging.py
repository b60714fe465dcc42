"""Tags: every taggable resource gets the stack's tags, passed explicitly.

Explicit ``tags=`` (rather than the provider's ``default_tags``) keeps them visible in the
program, in ``pulumi preview`` and in the mocked tests, which check every taggable resource.
"""

from __future__ import annotations

from collections.abc import Mapping


def stack_tags(project: str, stack: str, extra: Mapping[str, str]) -> dict[str, str]:
    """The stack's own tags; keys from config win, so an operator can override any."""
    return {"adoscale:project": project, "adoscale:stack": stack, "managed-by": "pulumi", **extra}


def named(tags: Mapping[str, str], name: str) -> dict[str, str]:
    """Tags plus ``Name``, which the EC2 console shows as the resource's name."""
    return {**tags, "Name": name}
