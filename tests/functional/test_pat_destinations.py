"""Where a PAT may go: only to the organisations the stack lists, each with its own PAT.

People who write queue items are not trusted with the PAT. A listener on 127.0.0.1 that
the stack does not list stands for an attacker's host: queue items point at it in every
form a URL can take, and it must receive nothing, not even a connection. A second
listed organisation (its own fake Azure DevOps, its own PAT) is polled with its PAT; a
wrong PAT is refused there without touching the other organisation.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
from collections.abc import Iterator

import pytest

from adoscale.aws.store import to_attribute_map
from adoscale.core.settings import POLLER_REQUIRED, load_settings
from adoscale.local.ado_server import FakeAdoServer
from adoscale.poller.wiring import build_poller
from tests.support.stack import PollerStack, create_poller_stack

PAT = "pat-stack-org-7f3a9c1e"
SECOND_PAT = "pat-second-org-2b8d4e6f"


class Listener:
    """A TCP listener that records every connection and every byte it is sent."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(0.5)
            with contextlib.suppress(OSError):
                self.received += conn.recv(65536)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def orgs() -> Iterator[tuple[FakeAdoServer, FakeAdoServer]]:
    with (
        FakeAdoServer(pat=PAT, org="contoso", parallel_jobs=50) as own,
        FakeAdoServer(pat=SECOND_PAT, org="fabrikam", parallel_jobs=50) as second,
    ):
        for server in (own, second):
            server.add_pool("linux")
        yield own, second


def second_org_stack(aws, orgs, second_pat: str = SECOND_PAT) -> PollerStack:
    own, second = orgs
    stack = create_poller_stack(PAT, own.base_url)
    arn = stack.client("secretsmanager").create_secret(
        Name="fabrikam-pat", SecretString=second_pat
    )["ARN"]
    stack.env["ADOSCALE_ORGANIZATIONS"] = json.dumps(
        [{"name": "fabrikam", "url": second.base_url, "pat_secret_arn": arn}]
    )
    return stack


def put(stack: PollerStack, item: dict) -> None:
    stack.client("dynamodb").put_item(TableName="queues", Item=to_attribute_map(item))


def poll(stack: PollerStack) -> dict:
    runtime = build_poller(load_settings(stack.env, POLLER_REQUIRED), session=stack.session)
    return runtime.poller.poll().to_result()


def hostile_urls(port: int, seed: int) -> list[str]:
    """Forms a queue item could use to point at the listener (some invalid, some valid)."""
    rng = random.Random(seed)
    hosts = ["127.0.0.1", "localhost", "127.1", "[::ffff:127.0.0.1]", "LOCALHOST"]
    paths = ["/contoso", "/fabrikam", "", "/contoso/../fabrikam", "/_apis", "/contoso/"]
    tricks = [
        "https://{h}:{p}{path}",
        "http://{h}:{p}{path}",
        "https://dev.azure.com@{h}:{p}{path}",
        "https://{h}:{p}{path}?x=https://dev.azure.com/contoso",
        "https://{h}:{p}{path}#https://dev.azure.com/contoso",
        "HTTPS://{h}:{p}{path}",
        " https://{h}:{p}{path} ",
    ]
    return [
        rng.choice(tricks).format(h=rng.choice(hosts), p=port, path=rng.choice(paths))
        for _ in range(12)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_host_the_stack_does_not_list_receives_nothing(aws, orgs, listener, seed) -> None:
    # GIVEN a stack serving two organisations, and queue items pointing at a listener
    stack = second_org_stack(aws, orgs)
    urls = hostile_urls(listener.port, seed)
    for index, url in enumerate(urls):
        put(
            stack,
            {"queue": f"evil-{index}", "pool": "linux", "max_agents": 3, "organization_url": url},
        )
    put(
        stack,
        {"queue": "evil-name", "pool": "linux", "max_agents": 3, "organization_url": "listener"},
    )
    put(
        stack,
        {
            "queue": "evil-arn",
            "pool": "linux",
            "max_agents": 3,
            "pat_secret_arn": stack.env["ADOSCALE_PAT_SECRET_ARN"],
        },
    )
    put(stack, {"queue": "good", "pool": "linux", "max_agents": 3})

    # WHEN a poll cycle runs
    result = poll(stack)

    # THEN the listener saw no connection at all, and each such item is invalid, by field
    assert listener.connections == 0, listener.received[:200]
    assert PAT.encode() not in listener.received
    errors = {e["queue"]: e for e in result["errors"]}
    hostile = {f"evil-{i}" for i in range(len(urls))} | {"evil-name", "evil-arn"}
    assert hostile <= set(errors), (urls, result["errors"])
    for queue in hostile:
        assert errors[queue]["kind"] == "invalid_queue_config"
        assert (
            "organization_url" in errors[queue]["message"]
            or "pat_secret_arn" in (errors[queue]["message"])
        )
        assert queue not in result["queues"]
    # AND the honest queue was polled as usual
    assert "good" in result["queues"]
    assert PAT not in json.dumps(result)


def test_a_queue_of_a_second_listed_organisation_is_polled_with_its_own_pat(aws, orgs) -> None:
    own, second = orgs
    stack = second_org_stack(aws, orgs)
    for _ in range(2):
        second.queue_job("linux")
    put(stack, {"queue": "here", "pool": "linux", "max_agents": 3})
    put(stack, {"queue": "there", "pool": "linux", "max_agents": 3, "organization_url": "fabrikam"})
    put(
        stack,
        {
            "queue": "there-by-url",
            "pool": "linux",
            "max_agents": 3,
            "organization_url": second.base_url.replace("http://", "https://"),
        },
    )

    result = poll(stack)

    # THEN each queue was counted in its own organisation, with that organisation's PAT
    assert result["queues"]["there"]["queued"] == 2
    assert result["queues"]["here"]["queued"] == 0
    assert second.count(kind="jobrequests") >= 1
    assert own.count(kind="jobrequests") >= 1
    assert all(r.status != 401 for r in own.requests + second.requests)
    # a URL that differs from the listed one (https instead of the fake's http) is not it
    assert [e["queue"] for e in result["errors"]] == ["there-by-url"]


def test_a_wrong_pat_is_refused_by_that_organisation_only(aws, orgs) -> None:
    own, second = orgs
    stack = second_org_stack(aws, orgs, second_pat="pat-that-fabrikam-never-issued")
    put(stack, {"queue": "here", "pool": "linux", "max_agents": 3})
    put(stack, {"queue": "there", "pool": "linux", "max_agents": 3, "organization_url": "fabrikam"})

    result = poll(stack)

    assert [(e["queue"], e["kind"]) for e in result["errors"]] == [("there", "ado_auth")]
    assert "here" in result["queues"]
    assert any(r.status == 401 for r in second.requests)
    assert all(r.status != 401 for r in own.requests)
