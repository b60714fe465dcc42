"""The service-hook request, judged without I/O: every input gets a status, and nothing in
an answer comes from the request."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adoscale.core.hook import (
    JOB_STATE_EVENT,
    MAX_BODY_BYTES,
    Credentials,
    judge,
    waiting_project,
)

CREDENTIALS = Credentials("adoscale-hook", "s3cret-Pa55word-0123456789")
PROJECT = "be9b3917-87e6-42a4-a549-2bc06a7a878f"


def request(body: str, *, authorization: str | None = None, method: str = "POST", encoded=False):
    headers = {} if authorization is None else {"authorization": authorization}
    return {
        "headers": headers,
        "requestContext": {"http": {"method": method}},
        "body": body,
        "isBase64Encoded": encoded,
    }


def waiting(project: str = PROJECT, state: str = "waiting") -> dict:
    return {
        "eventType": JOB_STATE_EVENT,
        "resource": {"job": {"state": state}},
        "resourceContainers": {"project": {"id": project}},
    }


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.hex())),
    authorization=st.one_of(st.none(), st.text(max_size=80)),
    method=st.sampled_from(["POST", "GET", "PUT", "post", ""]),
    encoded=st.booleans(),
)
def test_any_request_gets_a_status_and_wrong_credentials_never_pass(
    body, authorization, method, encoded
):
    verdict = judge(
        request(body, authorization=authorization, method=method, encoded=encoded), CREDENTIALS
    )

    assert verdict.status in (202, 400, 401, 405, 413)
    if method.upper() != "POST":
        assert verdict.status == 405
    elif authorization != CREDENTIALS.header():
        assert verdict.status == 401
    response = json.dumps(verdict.response())
    assert CREDENTIALS.password not in response
    if len(body) > 8:
        assert body not in response


@pytest.mark.parametrize(
    ("document", "project"),
    [
        (waiting(), PROJECT),
        (waiting(state="Waiting"), PROJECT),
        (waiting(project=PROJECT.upper()), PROJECT),
        (waiting(state="running"), None),
        (waiting(state="completed"), None),
        ({**waiting(), "eventType": "build.complete"}, None),
        (waiting(project="not-a-guid"), None),
        (
            {
                "eventType": JOB_STATE_EVENT,
                "resource": {"job": {"state": "waiting"}, "projectId": PROJECT},
            },
            PROJECT,
        ),
        ({"eventType": JOB_STATE_EVENT, "resource": "waiting"}, None),
        ({"eventType": JOB_STATE_EVENT, "resource": {"job": None}}, None),
    ],
    ids=[
        "waiting",
        "state-case",
        "upper-case-id",
        "running",
        "completed",
        "other-event",
        "project-not-a-guid",
        "project-from-resource",
        "resource-not-an-object",
        "job-null",
    ],
)
def test_only_a_job_entering_the_waiting_state_names_its_project(document, project):
    assert waiting_project(document) == project


def test_size_is_checked_before_decoding():
    too_big = "x" * (MAX_BODY_BYTES + 1)
    plain = judge(request(too_big, authorization=CREDENTIALS.header()), CREDENTIALS)
    encoded_body = base64.b64encode(b"{" + b" " * MAX_BODY_BYTES + b"}").decode()
    encoded = judge(
        request(encoded_body, authorization=CREDENTIALS.header(), encoded=True), CREDENTIALS
    )
    fits = judge(request(json.dumps(waiting()), authorization=CREDENTIALS.header()), CREDENTIALS)

    assert (plain.status, encoded.status) == (413, 413)
    assert (fits.status, fits.project_id) == (202, PROJECT)


@pytest.mark.parametrize(
    "secret",
    ["", "[]", '{"username": "u"}', '{"username": "", "password": "p"}', "not json"],
    ids=["empty", "array", "no-password", "empty-user", "not-json"],
)
def test_a_malformed_hook_secret_is_refused_by_name(secret):
    with pytest.raises(ValueError, match="hook secret"):
        Credentials.from_secret(secret)
    assert "password" not in repr(Credentials("u", "p")).replace("password=", "")
