"""Fixtures of the workflow step tests: a fake organisation and an ECS cluster in moto."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adoscale.local.ado_server import FakeAdoServer
from tests.support.workflow import EcsWorld, ecs_world, organisation_with_pool


@pytest.fixture
def org(request: pytest.FixtureRequest) -> Iterator[FakeAdoServer]:
    """A fake organisation with the test module's ``POOL``, accepting its ``PAT``."""
    with organisation_with_pool(request.module.PAT, request.module.POOL) as server:
        yield server


@pytest.fixture
def ecs() -> Iterator[EcsWorld]:
    with ecs_world() as world:
        yield world
