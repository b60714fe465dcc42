"""The PAT, read from Secrets Manager once per container and kept only in memory."""

from __future__ import annotations

import threading
from typing import Any

from adoscale.core.exceptions import ConfigError


class PatCache:
    """SecretString of each secret ARN, fetched on first use (never an environment variable)."""

    def __init__(self, secretsmanager: Any) -> None:
        self._secretsmanager = secretsmanager
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, secret_arn: str) -> str:
        with self._lock:
            if secret_arn not in self._values:
                response = self._secretsmanager.get_secret_value(SecretId=secret_arn)
                value = (response.get("SecretString") or "").strip()
                if not value:
                    raise ConfigError("ADOSCALE_PAT_SECRET_ARN", f"secret {secret_arn} is empty")
                self._values[secret_arn] = value
            return self._values[secret_arn]

    def forget(self, secret_arn: str) -> None:
        """Drop a PAT that Azure DevOps refused, so a rotated secret is picked up."""
        with self._lock:
            self._values.pop(secret_arn, None)

    def known(self) -> list[str]:
        with self._lock:
            return list(self._values.values())
