"""The client's response rules without I/O: a stub transport answers canned responses,
and the recorded Azure DevOps fixtures parse into the models the poller counts with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter

from adoscale.ado.client import AdoClient, RateLimit
from adoscale.core.exceptions import (
    AdoAgentBusyError,
    AdoAuthError,
    AdoBadResponseError,
    AdoError,
    AdoPoolNotFoundError,
    AdoRateLimitedError,
)
from adoscale.core.models import Agent, Headroom, JobRequest, parse_list

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ado"
PAT = "unit-test-pat-9c1d7e3a"
ORG = "http://stub.invalid/org"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


class StubAdapter(BaseAdapter):
    """Answers each request with the next canned (status, headers, body)."""

    def __init__(self, replies: list[tuple[int, dict[str, str], bytes]]) -> None:
        super().__init__()
        self.replies: Iterator[tuple[int, dict[str, str], bytes]] = iter(replies)
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        status, headers, body = next(self.replies)
        self.sent.append(request)
        response = requests.Response()
        response.status_code = status
        response.headers.update(headers)
        response._content = body
        response.request = request
        response.url = request.url or ""
        return response

    def close(self) -> None:
        """Nothing to release."""


JSON = {"Content-Type": "application/json; charset=utf-8"}


def stub_client(*replies: tuple[int, dict[str, str], bytes], **options: Any) -> AdoClient:
    waits: list[float] = []
    client = AdoClient(ORG, PAT, sleep=waits.append, **options)
    client._session.mount("http://stub.invalid/", StubAdapter(list(replies)))
    client.waits = waits  # type: ignore[attr-defined]
    return client


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


# ---- fixtures parse into the models ------------------------------------------------------


def test_jobrequest_fixture_parses_into_running_and_waiting_jobs() -> None:
    running, waiting = (
        JobRequest.from_json(j) for j in parse_list(fixture("jobrequests.json"), "j")
    )

    assert running.taken
    assert running.reserved_agent_id == 11735
    assert waiting.waiting
    assert "Agent.Version -gtVersion 2.182.1" in waiting.demands


def test_top_fixture_includes_finished_jobs() -> None:
    jobs = [JobRequest.from_json(j) for j in parse_list(fixture("jobrequests_top.json"), "j")]

    assert [job.finished for job in jobs] == [True, False, False]


def test_agent_fixture_parses_busy_idle_and_offline_agents() -> None:
    busy, idle, placeholder = (Agent.from_json(a) for a in parse_list(fixture("agents.json"), "a"))

    assert busy.busy
    assert busy.assigned_request_id == 890659
    assert not idle.busy
    assert idle.online
    assert not placeholder.online


# ---- rate-limit headers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Content-Type": "application/json"}, None),
        (
            {"X-RateLimit-Remaining": "12", "X-RateLimit-Limit": "200"},
            RateLimit(remaining=12.0, limit=200.0, delay=None, reset=None, retry_after=None),
        ),
        (
            {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT", "X-RateLimit-Delay": "0.5"},
            RateLimit(remaining=None, limit=None, delay=0.5, reset=None, retry_after=None),
        ),
        (
            {"Retry-After": "7", "X-RateLimit-Reset": "1767225600"},
            RateLimit(remaining=None, limit=None, delay=None, reset=1767225600.0, retry_after=7.0),
        ),
    ],
    ids=["none", "unrelated", "remaining-limit", "http-date-ignored", "retry-after-reset"],
)
def test_rate_limit_headers(headers: dict[str, str], expected: RateLimit | None) -> None:
    assert RateLimit.from_headers(requests.structures.CaseInsensitiveDict(headers)) == expected


def test_429_without_retry_after_waits_one_second() -> None:
    client = stub_client(
        (429, {"X-RateLimit-Remaining": "0"}, b""),
        (200, JSON, body({"count": 0, "value": []})),
        time_left=lambda: 60.0,
    )

    assert client.agents(1) == []
    assert client.waits == [pytest.approx(1.0, abs=0.05)]  # type: ignore[attr-defined]
    assert client.requests_made == 2


def test_429_without_time_budget_waits_at_most_30_seconds() -> None:
    client = stub_client((429, {"Retry-After": "31"}, b""))

    with pytest.raises(AdoRateLimitedError):
        client.agents(1)

    assert client.waits == []  # type: ignore[attr-defined]


# ---- status mapping ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "payload", "error", "message"),
    [
        (302, {"Location": "https://app.vssps.visualstudio.com/_signin"}, b"", AdoAuthError, "302"),
        (403, JSON, body({"message": "TF401027: no permission"}), AdoAuthError, "TF401027"),
        (200, JSON, b"  <html><body>Sign in</body></html>", AdoAuthError, "HTML page"),
        (200, JSON, b"", AdoBadResponseError, "empty body"),
        (200, JSON, b"[1, 2", AdoBadResponseError, "not JSON"),
        (200, JSON, body({"count": 1}), AdoBadResponseError, "agents.value"),
        (
            200,
            JSON,
            body({"value": [{"id": "7", "name": "x", "status": "online"}]}),
            AdoBadResponseError,
            "agent.id",
        ),
        (
            409,
            JSON,
            body({"typeKey": "Conflict", "message": "busy"}),
            AdoBadResponseError,
            "HTTP 409",
        ),
        (
            404,
            JSON,
            body({"typeKey": "TaskAgentPoolNotFoundException"}),
            AdoPoolNotFoundError,
            "404",
        ),
    ],
    ids=[
        "redirect-to-sign-in",
        "403-no-scope",
        "html-body-with-json-type",
        "empty-200",
        "truncated-json",
        "no-value",
        "id-not-int",
        "other-4xx",
        "404-pool",
    ],
)
def test_status_mapping(
    status: int, headers: dict[str, str], payload: bytes, error: type[AdoError], message: str
) -> None:
    client = stub_client((status, headers, payload))

    with pytest.raises(error, match=message):
        client.agents(7)


def test_busy_refusal_is_recognised_by_its_type_key_not_its_wording() -> None:
    refusal = {"typeKey": "TaskAgentJobStillRunningException", "message": "Der Agent arbeitet"}
    client = stub_client((400, JSON, body(refusal)))

    with pytest.raises(AdoAgentBusyError):
        client.delete_agent(1, 2)


def test_delete_accepts_200_with_a_body() -> None:
    client = stub_client((200, JSON, body({})))

    assert client.delete_agent(1, 2) is True


# ---- pool lookup -----------------------------------------------------------------------------


def test_ambiguous_pool_name_is_an_error() -> None:
    pools = {"count": 2, "value": [{"id": 3, "name": "Linux"}, {"id": 9, "name": "linux"}]}
    client = stub_client((200, JSON, body(pools)))

    with pytest.raises(AdoPoolNotFoundError, match=r"2 agent pools named 'linux'.*\[3, 9\]"):
        client.pool_id("linux")


def test_pool_listing_with_a_nameless_pool_is_a_bad_response() -> None:
    client = stub_client((200, JSON, body({"count": 1, "value": [{"id": 3}]})))

    with pytest.raises(AdoBadResponseError, match=r"pools.value\[0\].name"):
        client.pool_id("linux")


def test_404_on_a_pool_path_forgets_the_cached_id() -> None:
    # GIVEN a cached pool id and a pool-relist window of zero
    pools = {"count": 1, "value": [{"id": 3, "name": "linux"}]}
    moved = {"count": 1, "value": [{"id": 4, "name": "linux"}]}
    client = stub_client(
        (200, JSON, body(pools)),
        (404, JSON, body({"typeKey": "TaskAgentPoolNotFoundException"})),
        (200, JSON, body(moved)),
        pool_relist_seconds=0.0,
    )
    assert client.pool_id("linux") == 3
    # WHEN the pool is gone behind our back
    with pytest.raises(AdoPoolNotFoundError):
        client.agents(3)
    # THEN the next lookup lists again and finds the new id
    assert client.pool_id("linux") == 4


# ---- headroom --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (fixture("resourceusage.json"), Headroom(total=3, used=1)),
        ({"resourceLimit": {"parallelismTag": "Private", "isHosted": False}}, None),
        ({"resourceLimit": {"totalCount": 2}}, Headroom(total=2, used=0)),
        ({"resourceLimit": {"totalCount": -1}, "usedCount": 0}, None),
    ],
    ids=["fixture", "no-count-limit", "used-omitted", "negative"],
)
def test_headroom_from_resourceusage(usage: Any, expected: Headroom | None) -> None:
    client = stub_client((200, JSON, body(usage)))

    assert client.headroom() == expected
    assert client.requests_made == 1


def test_headroom_fallback_reads_the_self_hosted_limit() -> None:
    client = stub_client(
        (200, JSON, body({"usedCount": 2})), (200, JSON, body(fixture("resourcelimits.json")))
    )

    assert client.headroom() == Headroom(total=3, used=2)


# ---- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("org_url", "pat", "message"),
    [(" ", PAT, "org_url"), (ORG, "", "pat")],
    ids=["no-url", "no-pat"],
)
def test_construction_names_the_bad_argument(org_url: str, pat: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AdoClient(org_url, pat)


def test_repr_never_shows_the_pat() -> None:
    client = AdoClient(ORG + "/", PAT)

    assert repr(client) == "AdoClient(org_url='http://stub.invalid/org', requests_made=0)"
    assert PAT not in repr(client)
    assert client.org_url == ORG
