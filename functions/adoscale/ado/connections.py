"""One warm Azure DevOps client per (organisation, PAT secret), shared by every queue of it.

Clients live as long as the Lambda container so the pool-id cache and the HTTP
connections survive between invocations; the invocation's deadline is read through a
``Deadline`` the handler resets each time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from adoscale.ado.client import AdoClient
from adoscale.aws.pat import PatCache
from adoscale.core.deadline import Deadline
from adoscale.core.exceptions import QueueConfigError
from adoscale.core.organizations import OrganizationError
from adoscale.core.schema import Queue
from adoscale.core.settings import Settings


class AdoConnections:
    """Builds and caches AdoClients; forgets one whose PAT Azure DevOps refused."""

    def __init__(
        self,
        settings: Settings,
        pats: PatCache,
        deadline: Deadline,
        on_secret: Callable[[str], None] | None = None,
    ) -> None:
        self._settings = settings
        self._pats = pats
        self._deadline = deadline
        self._on_secret = on_secret
        self._clients: dict[tuple[str, str], AdoClient] = {}
        self._lock = threading.Lock()

    def key(self, queue: Queue) -> tuple[str, str]:
        """(URL, PAT secret) of the queue's organisation, always one the stack lists:
        raises OrganizationError for any other, so no PAT is sent to a queue's choice."""
        try:
            organization = self._settings.organizations().resolve(queue.organization_url)
        except OrganizationError as error:
            raise QueueConfigError(queue.queue, {"organization_url": [str(error)]}) from None
        return organization.url, organization.pat_secret_arn

    def client(self, key: tuple[str, str]) -> AdoClient:
        with self._lock:
            if key not in self._clients:
                org_url, secret_arn = key
                pat = self._pats.get(secret_arn)
                if self._on_secret is not None:
                    self._on_secret(pat)
                self._clients[key] = AdoClient(
                    org_url,
                    pat,
                    connect_timeout=self._settings.ado_connect_timeout,
                    read_timeout=self._settings.ado_read_timeout,
                    time_left=self._deadline.remaining,
                    pool_maxsize=self._settings.max_workers,
                )
            return self._clients[key]

    def existing(self, key: tuple[str, str]) -> AdoClient | None:
        """The organisation's client if one was built; never reads a secret."""
        with self._lock:
            return self._clients.get(key)

    def requests_to(self, key: tuple[str, str]) -> int:
        """Requests sent to one organisation so far by its current client."""
        client = self.existing(key)
        return client.requests_made if client is not None else 0

    def forget(self, key: tuple[str, str]) -> None:
        """After an auth failure: the next cycle re-reads the secret (it may have rotated)."""
        with self._lock:
            self._clients.pop(key, None)
        self._pats.forget(key[1])

    def known_secrets(self) -> list[str]:
        return self._pats.known()

    def requests_made(self) -> int:
        with self._lock:
            return sum(client.requests_made for client in self._clients.values())

    def rate_limit_remaining(self) -> float | None:
        with self._lock:
            seen = [
                client.rate_limit.remaining
                for client in self._clients.values()
                if client.rate_limit is not None and client.rate_limit.remaining is not None
            ]
        return min(seen) if seen else None
