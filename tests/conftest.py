"""Shared fixtures: the fake Azure DevOps organisation over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adoscale.local.ado_server import FakeAdoServer

pytest_plugins = ["tests.support.moto_server"]  # moto over HTTP: fixtures moto_endpoint, aws

FAKE_PAT = "adoscale-test-pat-4f9c2e7b1d8a6035"  # known, so tests can prove it never leaks


@pytest.fixture
def fake_ado() -> Iterator[FakeAdoServer]:
    """A started fake organisation on 127.0.0.1 (free port) accepting ``FAKE_PAT``."""
    with FakeAdoServer(pat=FAKE_PAT) as server:
        yield server
