"""The service-hook request, judged without I/O: method, credentials, size, JSON, event.

Azure DevOps posts a webhook on every pipeline job state change (publisher ``pipelines``,
event ``ms.vss-pipelines.job-state-changed-event``). Its payload names the job's new state
in ``resource.job.state`` (``waiting``, ``running``, ``completed``) and the organisation
and project only as ids in ``resourceContainers`` (``account.id``, ``project.id``); it
names no agent pool. A waiting job therefore means "poll that project's organisation
now". Every other event is accepted (202) and ignored.

The answers never echo the credentials, the body or anything from it: each status has one
fixed reason.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 256 * 1024
# The body arrives base64-encoded when binary: its encoded length bounds the decoded one.
_MAX_ENCODED = (MAX_BODY_BYTES + 2) // 3 * 4
JOB_STATE_EVENT = "ms.vss-pipelines.job-state-changed-event"
WAITING = "waiting"
# One hook-triggered poll per organisation and debounce window: the window's first webhook
# waits for the window's end and polls once, so a fan-out's webhooks (all within about a
# second) cause at most two polls, and a job waits at most one window for its poll.
DEBOUNCE_WINDOW_SECONDS = 2.0
DELIVERY_SECONDS = 1.0  # Azure DevOps queued -> webhook received, assumed by the simulator

OK, UNAUTHORIZED, METHOD_NOT_ALLOWED, TOO_LARGE, BAD_REQUEST = 202, 401, 405, 413, 400
UNAVAILABLE = 503  # the credentials cannot be read: Azure DevOps retries later
REASONS = {
    UNAVAILABLE: "unavailable",
    OK: "accepted",
    UNAUTHORIZED: "unauthorized",
    METHOD_NOT_ALLOWED: "method not allowed",
    TOO_LARGE: "body too large",
    BAD_REQUEST: "body is not a JSON object",
}


@dataclass(frozen=True)
class Credentials:
    """The Basic credentials Azure DevOps sends; ``repr`` never shows the password."""

    username: str
    password: str = field(repr=False)

    @classmethod
    def from_secret(cls, secret_string: str) -> Credentials:
        """The secret's SecretString: JSON ``{"username": ..., "password": ...}``."""
        try:
            document = json.loads(secret_string)
        except json.JSONDecodeError:
            raise ValueError("hook secret: not JSON") from None
        if not isinstance(document, dict) or not all(
            isinstance(document.get(key), str) and document.get(key)
            for key in ("username", "password")
        ):
            raise ValueError("hook secret: needs non-empty username and password strings")
        return cls(document["username"], document["password"])

    def header(self) -> str:
        """The Authorization header value that carries these credentials."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


@dataclass(frozen=True)
class Verdict:
    """What to answer, and which project's organisation to poll (only for a waiting job)."""

    status: int
    project_id: str | None = None

    @property
    def triggers(self) -> bool:
        return self.project_id is not None

    def response(self) -> dict[str, Any]:
        """The function URL / HTTP API response: a fixed reason, nothing from the request."""
        headers = {"content-type": "application/json"}
        if self.status == UNAUTHORIZED:
            headers["www-authenticate"] = 'Basic realm="adoscale"'
        return {
            "statusCode": self.status,
            "headers": headers,
            "body": json.dumps({"status": REASONS[self.status]}),
        }


def judge(event: Mapping[str, Any], credentials: Credentials) -> Verdict:
    """A payload format 2.0 request -> the verdict, checking in order: method, credentials,
    size (before decoding anything), JSON object, event."""
    if not isinstance(event, Mapping):
        return Verdict(BAD_REQUEST)
    if _method(event) != "POST":
        return Verdict(METHOD_NOT_ALLOWED)
    if not authorized(_header(event, "authorization"), credentials):
        return Verdict(UNAUTHORIZED)
    body = event.get("body") or ""
    if not isinstance(body, str):
        return Verdict(BAD_REQUEST)
    encoded = bool(event.get("isBase64Encoded"))
    if len(body) > (_MAX_ENCODED if encoded else MAX_BODY_BYTES):
        return Verdict(TOO_LARGE)
    try:
        raw = base64.b64decode(body, validate=True) if encoded else body.encode()
    except (binascii.Error, ValueError):
        return Verdict(BAD_REQUEST)
    if len(raw) > MAX_BODY_BYTES:
        return Verdict(TOO_LARGE)
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return Verdict(BAD_REQUEST)
    if not isinstance(document, dict):
        return Verdict(BAD_REQUEST)
    return Verdict(OK, waiting_project(document))


def waiting_project(document: Mapping[str, Any]) -> str | None:
    """The project id of a job that entered the waiting state; None for anything else."""
    if document.get("eventType") != JOB_STATE_EVENT:
        return None
    resource = document.get("resource")
    job = resource.get("job") if isinstance(resource, dict) else None
    state = job.get("state") if isinstance(job, dict) else None
    if not isinstance(state, str) or state.lower() != WAITING:
        return None
    containers = document.get("resourceContainers")
    project = containers.get("project") if isinstance(containers, dict) else None
    project_id = project.get("id") if isinstance(project, dict) else None
    if not isinstance(project_id, str) or not project_id:
        project_id = resource.get("projectId") if isinstance(resource, dict) else None
    if not isinstance(project_id, str) or not _is_guid(project_id):
        return None
    return project_id.lower()


def authorized(header: str | None, credentials: Credentials) -> bool:
    """Constant-time comparison of both parts, whatever the input (no early exit)."""
    given_user, given_password = b"", b""
    if header:
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(token.strip(), validate=True)
            except (binascii.Error, ValueError):
                decoded = b""
            given_user, _, given_password = decoded.partition(b":")
    user_ok = hmac.compare_digest(given_user, credentials.username.encode())
    password_ok = hmac.compare_digest(given_password, credentials.password.encode())
    return bool(header) and user_ok & password_ok


def _method(event: Mapping[str, Any]) -> str:
    context = event.get("requestContext")
    http = context.get("http") if isinstance(context, dict) else None
    method = http.get("method") if isinstance(http, dict) else None
    return method.upper() if isinstance(method, str) else ""


def _header(event: Mapping[str, Any], name: str) -> str | None:
    headers = event.get("headers")
    if not isinstance(headers, dict):
        return None
    value = headers.get(name)
    if value is None:  # function URLs send lower-case names; tolerate others
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    return value if isinstance(value, str) else None


def _is_guid(text: str) -> bool:
    parts = text.split("-")
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(
        c in "0123456789abcdefABCDEF" for p in parts for c in p
    )
