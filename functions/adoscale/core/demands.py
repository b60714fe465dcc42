"""Whether a job's demands are met by a queue's capabilities ."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

IGNORED_DEMANDS = frozenset({"agent.version"})
_DEMAND = re.compile(r"^\s*(?P<name>\S+)(?:\s+(?P<op>-\S+)(?:\s+(?P<value>.*?))?)?\s*$")


def normalise_capabilities(capabilities: Mapping[str, str]) -> dict[str, str]:
    """Names and values compare case-insensitively and without surrounding blanks."""
    return {name.strip().lower(): value.strip().lower() for name, value in capabilities.items()}


def demand_met(demand: str, capabilities: Mapping[str, str]) -> bool:
    """``capabilities`` must already be normalised."""
    match = _DEMAND.match(demand)
    if match is None:
        return False
    name = match["name"].lower()
    if name in IGNORED_DEMANDS:
        return True
    if name not in capabilities:
        return False
    operator = match["op"]
    if operator is None:
        return True
    if operator.lower() == "-equals":
        return capabilities[name] == (match["value"] or "").strip().lower()
    return False


def demands_met(demands: Iterable[str], capabilities: Mapping[str, str] | None) -> bool:
    """No capabilities declared means the queue takes every job of its pool."""
    if capabilities is None:
        return True
    return normalised_demands_met(demands, normalise_capabilities(capabilities))


def normalised_demands_met(demands: Iterable[str], normalised: Mapping[str, str] | None) -> bool:
    """``demands_met`` for capabilities already normalised (once per queue, not per job)."""
    if normalised is None:
        return True
    return all(demand_met(demand, normalised) for demand in demands if demand.strip())
