"""Per-profile launch facts: where an agent profile's tasks run and how long they may boot.

The stack writes this table into the Lambda environment (``ADOSCALE_PROFILE_LAUNCH``, a
JSON object keyed by profile name); the launch step, verify, reap and the poller read it.
A profile absent from the table runs on Fargate with the stack-wide boot timeout.

Each entry: ``capacityProvider`` (the ECS capacity provider of an ec2 profile's Auto
Scaling group), ``bootTimeoutSeconds`` (how long a task may take to register its agent,
instance boot included), ``onePerInstance`` (an agent that reaches the host's Docker
daemon never shares its instance).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KEYS = ("capacityProvider", "bootTimeoutSeconds", "onePerInstance")


@dataclass(frozen=True)
class ProfileLaunch:
    """How the tasks of one agent profile start."""

    capacity_provider: str | None = None  # None: Fargate (Spot/on-demand per queue)
    boot_timeout_seconds: int | None = None  # None: the stack-wide boot timeout
    one_per_instance: bool = False

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if self.capacity_provider:
            entry["capacityProvider"] = self.capacity_provider
        if self.boot_timeout_seconds is not None:
            entry["bootTimeoutSeconds"] = self.boot_timeout_seconds
        if self.one_per_instance:
            entry["onePerInstance"] = True
        return entry


def dumps(table: Mapping[str, ProfileLaunch]) -> str:
    """The environment value; profiles with nothing special are left out."""
    return json.dumps(
        {name: entry.to_json() for name, entry in sorted(table.items()) if entry.to_json()},
        sort_keys=True,
        separators=(",", ":"),
    )


def loads(text: str) -> dict[str, ProfileLaunch]:
    """Parse the environment value; ValueError names the profile and key that is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error.msg}") from None
    if not isinstance(raw, dict):
        raise ValueError("must be a JSON object keyed by agent profile")
    table: dict[str, ProfileLaunch] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict):
            raise ValueError(f"{name}: must be an object")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise ValueError(f"{name}: unknown keys {', '.join(unknown)}")
        provider = entry.get("capacityProvider")
        if provider is not None and (not isinstance(provider, str) or not provider.strip()):
            raise ValueError(f"{name}.capacityProvider: must be a non-empty string")
        timeout = entry.get("bootTimeoutSeconds")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0
        ):
            raise ValueError(f"{name}.bootTimeoutSeconds: must be a positive whole number")
        one = entry.get("onePerInstance", False)
        if not isinstance(one, bool):
            raise ValueError(f"{name}.onePerInstance: must be true or false")
        if one and not provider:
            raise ValueError(f"{name}.onePerInstance: needs a capacityProvider (EC2 only)")
        table[name] = ProfileLaunch(provider, timeout, one)
    return table
