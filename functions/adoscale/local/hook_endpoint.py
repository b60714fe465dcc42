"""The service hook in local mode: the hook's real code behind an HTTP endpoint on
127.0.0.1, and a sender that posts Azure DevOps' job-waiting webhook (with the Basic
credentials) whenever the simulated organisation queues a job.

The endpoint turns each request into the Lambda function URL's payload format 2.0 and
answers with ``HookService.handle``; the sender records when each webhook left, so the
report can say how long it took from a webhook to the next RunTask.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from adoscale.core.hook import Credentials
from adoscale.poller.hook import HookService

LOG = logging.getLogger(__name__)
SAMPLE = Path(__file__).resolve().parent / "job_state_changed_event.json"

HOST = "127.0.0.1"  # the endpoint listens on loopback only


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        event = {
            "version": "2.0",
            "rawPath": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "requestContext": {"http": {"method": self.command, "path": self.path}},
            "body": body.decode("utf-8", errors="replace"),
            "isBase64Encoded": False,
        }
        response = self.server.service.handle(event)
        payload = str(response.get("body", "")).encode()
        self.send_response(int(response["statusCode"]))
        for name, value in (response.get("headers") or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_GET = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: HookService


class LocalHookEndpoint:
    """``HookService`` on http://127.0.0.1:PORT/ (any path)."""

    def __init__(self, service: HookService) -> None:
        self._httpd = _Server((HOST, 0), _Handler)
        self._httpd.service = service
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._httpd.server_address[1]}/"

    def start(self) -> LocalHookEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class WebhookSender:
    """Posts a job-waiting webhook per queued job, as a service-hook subscription would."""

    def __init__(
        self,
        url: str,
        credentials: Credentials,
        project_id: str,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._now = now
        self._header = credentials.header()
        self._project_id = project_id
        self._pool = ThreadPoolExecutor(16, thread_name_prefix="webhook")
        self._session = requests.Session()
        self.sent: list[float] = []  # when the webhooks left (``now``'s clock)
        self.statuses: list[int] = []
        self._lock = threading.Lock()

    def job_queued(self, request_id: int, pool: str) -> None:
        self._pool.submit(self._post, request_id)

    def _post(self, request_id: int) -> None:
        body = json.dumps(job_waiting_event(self._project_id, request_id))
        sent = self._now()
        try:
            response = self._session.post(
                self._url,
                data=body,
                headers={"authorization": self._header, "content-type": "application/json"},
                timeout=30,
            )
            status = response.status_code
        except requests.RequestException as error:
            LOG.warning("webhook failed: %s", type(error).__name__)
            status = 0
        with self._lock:
            self.sent.append(sent)
            self.statuses.append(status)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def job_waiting_event(project_id: str, request_id: int) -> dict[str, Any]:
    """Azure DevOps' documented ``ms.vss-pipelines.job-state-changed-event``, waiting."""
    document = json.loads(SAMPLE.read_text())
    document["id"] = f"00000000-0000-0000-0000-{request_id:012d}"
    document["resourceContainers"]["project"]["id"] = project_id
    document["resource"]["job"]["state"] = "waiting"
    return document


def latencies(sent: list[float], run_tasks: list[float], scale: float = 1.0) -> list[float]:
    """For each webhook, the time to the first RunTask at or after it (if any), divided by
    ``scale`` (the local mode's speed: simulated seconds back to real ones)."""
    launches = sorted(run_tasks)
    out = []
    for moment in sorted(sent):
        later = next((t for t in launches if t >= moment), None)
        if later is not None:
            out.append((later - moment) / scale)
    return out
