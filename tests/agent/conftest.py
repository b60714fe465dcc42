"""Fixtures for the agent image tests; the harness itself is in harness.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.harness import Agent, MetadataServer, tool_variants


@pytest.fixture
def agent(tmp_path: Path) -> Agent:
    return Agent(tmp_path)


@pytest.fixture
def shimmed_agent(tmp_path: Path) -> Agent:
    """Uses the jq and curl shims even where the real tools exist (keeps them honest)."""
    return Agent(tmp_path, forced_shims=("jq", "curl"))


@pytest.fixture(params=tool_variants())
def any_agent(request: pytest.FixtureRequest, tmp_path: Path) -> Agent:
    forced = ("jq", "curl") if request.param == "shims" else ()
    return Agent(tmp_path, forced_shims=forced)


@pytest.fixture
def metadata() -> Iterator[MetadataServer]:
    with MetadataServer() as server:
        yield server
